"""Health: what an uptime monitor polls. Unhealthy (503) only when memplane cannot serve at all.

Each dependency reports a status and the latency of a real call: Postgres and the vector index by a
query, the embedder by embedding one word when asked to (a paid call: the HTTP layer asks only for an
authenticated caller). The extractor is not probed (an LLM call per poll would cost money and
seconds); it is reported as configured.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from memplane.errors import DependencyError, IndexWarmingUp
from memplane.ports import Embedder, Extractor, MemoryStore, VectorIndex


def health(
    *,
    store: MemoryStore,
    embedder: Embedder,
    extractor: Extractor,
    index: VectorIndex,
    secrets: str,
    probe_embedder: bool = True,
) -> tuple[bool, dict[str, Any]]:
    """Return (healthy, report). Postgres down or not migrated is unhealthy; a failing model or index
    is not (pgvector answers for the index)."""
    postgres, facts = _probe(store.ping)
    vector = {"status": postgres["status"], "name": "pgvector", "latency_ms": postgres["latency_ms"]}
    if facts:
        postgres["schema_version"] = int(facts["schema_version"])
        vector["version"] = facts["pgvector"]
        # Without iterative scans (pgvector < 0.8) search ranks each client's rows exactly instead.
        vector["iterative_scan"] = facts["iterative_scan"] == "true"
    if index.separate:
        vector = _separate_index(store, index, vector) if postgres["status"] == "ok" else vector
    if probe_embedder:
        embedding, _ = _probe(lambda: embedder.embed(["health"]))
    else:
        embedding = {
            "status": "not probed",
            "note": "an embedding costs money: send the bearer token to probe it",
        }
    embedding["name"] = embedder.name
    if embedder.offline and embedding["status"] in ("ok", "not probed"):
        embedding["status"] = "fallback"
        embedding["note"] = "offline hashing embedder; configure OPENAI_API_KEY for semantic memory"
    report = {
        "status": "ok" if postgres["status"] == "ok" else "error",
        "postgres": postgres,
        "vector_index": vector,
        "embedder": embedding,
        "extractor": {"status": "fallback" if extractor.offline else "configured", "name": extractor.name},
        # "cached": Infisical was unreachable at cold start and recent cached secrets are in use.
        "secrets": {
            "status": "cached" if secrets == "cached" else "ok",
            "source": "infisical" if secrets == "cached" else secrets,
        },
    }
    return postgres["status"] == "ok", report


def _separate_index(store: MemoryStore, index: VectorIndex, pgvector: dict[str, Any]) -> dict[str, Any]:
    report, facts = _probe(index.ping)
    if report.get("code") == IndexWarmingUp.code:
        report["status"] = "starting"  # a cold container loading the client; pgvector answers meanwhile
    report["name"] = index.name
    report.update(facts or {})
    with store.session() as s:
        # Chunks Postgres holds that the index does not yet: what an outage left for cleanup to send.
        report["pending"] = s.count_unindexed()
    report["fallback"] = pgvector
    return report


def _probe(call: Callable[[], Any]) -> tuple[dict[str, Any], Any]:
    started = time.perf_counter()
    try:
        result = call()
        status: dict[str, Any] = {"status": "ok"}
    except DependencyError as exc:
        result = None
        status = {"status": "error", "code": exc.code, "message": exc.message}
    status["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return status, result
