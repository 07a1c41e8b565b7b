"""The one way the evaluation tools summarise timings."""

from __future__ import annotations

import statistics


def percentiles(values: list[float]) -> dict[str, float]:
    """p50, p95 and p99 (nearest rank) and max, rounded to hundredths; empty for no values."""
    if not values:
        return {}
    ordered = sorted(values)

    def rank(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 2)

    return {
        "p50": round(statistics.median(ordered), 2),
        "p95": rank(0.95),
        "p99": rank(0.99),
        "max": rank(1.0),
    }
