"""Health: what an uptime monitor polls. Unhealthy (503) only when memplane cannot serve at all.

Each dependency reports a status and the latency of a real call: Postgres and the vector index by a
query, the embedder by embedding one word when asked to (a paid call: the HTTP layer asks only for an
authenticated caller). The extractor is not probed (an LLM call per poll would cost money and
seconds); it is reported as configured.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from memplane import __version__
from memplane.errors import DependencyError, IndexWarmingUp
from memplane.model import CleanupHistory
from memplane.ports import (
    CleanupRunLog,
    Embedder,
    ExtractionLog,
    Extractor,
    MemoryStore,
    ReadNode,
    VectorIndex,
)


def health(
    *,
    store: MemoryStore,
    embedder: Embedder,
    extractor: Extractor,
    index: VectorIndex,
    runs: CleanupRunLog,
    extractions: ExtractionLog,
    secrets: str,
    now: datetime,
    cleanup_max_age: timedelta,
    probe_embedder: bool = True,
    replica: ReadNode | None = None,
) -> tuple[bool, dict[str, Any]]:
    """Return (healthy, report). Postgres down or not migrated is unhealthy; a failing model or index
    is not (pgvector answers for the index). A nightly cleanup that has not completed within
    ``cleanup_max_age`` makes the report ``degraded`` with the reason: still healthy (HTTP 200), but a
    monitor that polls health starts to alert."""
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
    report: dict[str, Any] = {
        "status": "ok" if postgres["status"] == "ok" else "error",
        "version": __version__,
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
    if postgres["status"] == "ok":
        cleanup, overdue = _cleanup(runs, now, cleanup_max_age)
        report["cleanup"] = cleanup
        failing = None if extractor.offline else _extraction(extractions, extractor, report["extractor"])
        lagging = None
        if replica is not None:
            report["read_replica"], lagging = _replica(store, replica)
        reasons = [reason for reason in (overdue, failing, lagging) if reason]
        if reasons:
            report["status"] = "degraded"
            report["reasons"] = reasons
    return postgres["status"] == "ok", report


def _extraction(extractions: ExtractionLog, extractor: Extractor, section: dict[str, Any]) -> str | None:
    """Add how the model's extractions are going to ``section``; the reason to alert, if failing."""
    try:
        found = extractions.health(extractor.name)
        backlog = extractions.backlog()
    except DependencyError as exc:
        section.update(status="error", code=exc.code, message=exc.message)
        return None
    section.update(waiting=backlog.waiting, given_up=backlog.given_up)
    if found is not None and found.refusals:
        section["refusals"] = found.refusals
    if found is None or found.failing_since is None:
        return None
    section.update(
        status="failing",
        since=found.failing_since.isoformat(),
        failures=found.failures,
        last_kind=found.last_kind,
        last_error=found.last_error,
        last_excerpt=found.last_excerpt,
    )
    given_up = (
        f"; {backlog.given_up} given up after every attempt: run `memplane extractions --retry` once "
        "the model works"
        if backlog.given_up
        else ""
    )
    return (
        f"extraction failing for model {extractor.name} since {found.failing_since.isoformat()} "
        f"({found.failures} failures, last: {found.last_kind}): {backlog.waiting} exchanges waiting for "
        f"their facts{given_up}. See extractor.last_error; README, 'Choosing a chat model'"
    )


def public_view(report: dict[str, Any]) -> dict[str, Any]:
    """What anyone may see: whether memplane and each dependency is up, and nothing that names a
    version, a model, a secret's source, a count or an error's text (all in the full report)."""
    checks = {
        name: report[name]["status"]
        for name in ("postgres", "vector_index", "embedder", "extractor", "secrets", "cleanup")
        if isinstance(report.get(name), dict)
    }
    return {
        "status": report["status"],
        "checks": checks,
        "note": "send the bearer token for the full report",
    }


def _cleanup(runs: CleanupRunLog, now: datetime, max_age: timedelta) -> tuple[dict[str, Any], str | None]:
    """The nightly job's last run, and the reason to alert if none completed within ``max_age``."""
    try:
        history = runs.history()
    except DependencyError as exc:
        return {"status": "error", "code": exc.code, "message": exc.message}, None
    report: dict[str, Any] = {
        "max_age_hours": round(max_age.total_seconds() / 3600, 2),
        "last_run": _run(history),
    }
    if history.last_completed_at is not None:
        report["last_completed_at"] = history.last_completed_at.isoformat()
    if history.last_completed_at is not None and now - history.last_completed_at <= max_age:
        report["status"] = "ok"
        return report, None
    if history.deployed_at is None or now - history.deployed_at <= max_age:
        report["status"] = "not due"  # a deployment this young has not missed a night yet
        return report, None
    report["status"] = "overdue"
    since = (
        f"the last completed at {history.last_completed_at.isoformat()}"
        if history.last_completed_at is not None
        else "none has ever completed"
    )
    hours = report["max_age_hours"]
    return report, (
        f"no nightly cleanup has completed in the last {hours:g} hours ({since}): expired memory is kept "
        "and missing vectors are not filled in. Check the cleanup-nightly trigger "
        "(`doctl serverless triggers list`) or the external schedule (docs/deploy.md)"
    )


def _run(history: CleanupHistory) -> dict[str, Any] | None:
    last = history.last
    if last is None:
        return None
    return {
        "started_at": last.started_at.isoformat(),
        "finished_at": last.finished_at.isoformat() if last.finished_at is not None else None,
        # "running" with no end: still going, or killed by the platform's time limit.
        "outcome": last.outcome,
        "counts": last.counts,
        **({"error_code": last.error_code} if last.error_code else {}),
    }


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


def _replica(store: MemoryStore, replica: ReadNode) -> tuple[dict[str, Any], str | None]:
    """The read-only node's state and how many bytes of the primary's log it has yet to replay. Not
    reachable: assemble reads the primary, so memplane is degraded, not down."""
    status, replayed = _probe(replica.replayed)
    if status["status"] != "ok":
        return status, "read_replica: unreachable, assemble reads the primary"
    primary, written = _probe(store.log_position)
    if primary["status"] == "ok" and replayed is not None:
        status["behind_bytes"] = max(0, _lsn(written) - _lsn(replayed))
    return status, None


def _lsn(position: str) -> int:
    high, low = position.split("/")
    return (int(high, 16) << 32) | int(low, 16)


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
