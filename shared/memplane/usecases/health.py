"""Health: what an uptime monitor polls. Unhealthy only when memplane cannot serve at all."""

from __future__ import annotations

import time
from typing import Any

from memplane.errors import DependencyError
from memplane.ports import Embedder, Extractor, MemoryStore


def health(
    *, store: MemoryStore, embedder: Embedder, extractor: Extractor, auth_enabled: bool
) -> tuple[bool, dict[str, Any]]:
    """Return (healthy, report). Postgres down or not migrated is unhealthy; an offline model is not."""
    started = time.perf_counter()
    try:
        store.ping()
        postgres: dict[str, Any] = {"status": "ok"}
    except DependencyError as exc:
        postgres = {"status": "error", "code": exc.code, "message": exc.message}
    postgres["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    report = {
        "status": "ok" if postgres["status"] == "ok" else "error",
        "postgres": postgres,
        "embedder": _backend(embedder.name, embedder.offline),
        "extractor": _backend(extractor.name, extractor.offline),
        "auth": "bearer token" if auth_enabled else "disabled (loopback only)",
    }
    return postgres["status"] == "ok", report


def _backend(name: str, offline: bool) -> dict[str, Any]:
    if offline:
        return {
            "status": "fallback",
            "name": name,
            "note": "offline fallback; configure OPENAI_API_KEY for semantic memory",
        }
    return {"status": "ok", "name": name}
