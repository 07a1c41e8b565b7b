"""The one way the evaluation tools summarise timings."""

from __future__ import annotations

import statistics


def percentiles(values: list[float]) -> dict[str, float]:
    """p50, p95 (nearest rank) and max, rounded to hundredths; empty for no values."""
    if not values:
        return {}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50": round(statistics.median(ordered), 2), "p95": round(p95, 2), "max": round(ordered[-1], 2)}
