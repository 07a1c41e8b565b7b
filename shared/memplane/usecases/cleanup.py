"""Cleanup, run nightly: expire what outlived its TTL, archive old episodes, fill in missing vectors,
and bring a separate vector index in step with Postgres.

Vectors go missing when the embedder was down during a writeback (the exchange was stored anyway);
re-embedding them here, then indexing what is not indexed and deleting the points of deleted chunks,
is what keeps vector search consistent with what Postgres holds.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from memplane.contracts import CleanupRequest, CleanupResponse
from memplane.deadline import NONE, Deadline
from memplane.errors import EmbeddingsFailed, MemplaneError, VectorIndexFailed
from memplane.policy import Policy
from memplane.ports import CleanupRunLog, Embedder, ExtractionLog, Extractor, MemoryStore, VectorIndex
from memplane.usecases._degrade import Degradation
from memplane.usecases.indexing import SyncCounts, sync
from memplane.usecases.owed import extract_all


def cleanup(
    req: CleanupRequest,
    *,
    store: MemoryStore,
    runs: CleanupRunLog,
    embedder: Embedder,
    extractor: Extractor,
    extractions: ExtractionLog,
    index: VectorIndex,
    policy: Policy,
    now: datetime,
    deadline: Deadline = NONE,
) -> CleanupResponse:
    """One nightly run, recorded in the run log from start to end: health reads it to say when the
    schedule stopped firing. A run the platform kills stays unfinished, which health counts as missed."""
    run_id = runs.started(now)
    began = time.perf_counter()
    try:
        response = _run(store, embedder, extractor, extractions, index, policy, now, deadline)
    except MemplaneError as exc:
        runs.finished(run_id, _later(now, began), "failed", {}, exc.code)
        raise
    counts = response.model_dump(exclude=_NOT_COUNTED)
    runs.finished(run_id, _later(now, began), "degraded" if response.degraded else "ok", counts)
    return response


# A run records what it changed (every other field of the response), not how long it took or why.
_NOT_COUNTED = {"execution_time_ms", "degraded", "warnings"}


def _later(now: datetime, began: float) -> datetime:
    # `now` is the request's clock (tests move it); the run's length is measured, not read again.
    return now + timedelta(seconds=time.perf_counter() - began)


def _run(
    store: MemoryStore,
    embedder: Embedder,
    extractor: Extractor,
    extractions: ExtractionLog,
    index: VectorIndex,
    policy: Policy,
    now: datetime,
    deadline: Deadline,
) -> CleanupResponse:
    started = time.perf_counter()
    notes = Degradation()
    with store.session(deadline.budget_ms(policy.cleanup_statement_timeout_ms)) as s:
        counts = s.expire(
            now, now - policy.episode_archive_after, _ledger_before(policy, now), now - policy.audit_retention
        )
    backfilled = _backfill(store, embedder, index.separate, policy.backfill_batch, notes)
    extracted = _retry_extractions(store, extractor, extractions, policy, notes, deadline)
    try:
        spent = time.perf_counter() - started
        left = min(
            policy.cleanup_index_budget_s - spent, deadline.left() - policy.cleanup_reserve_after_index_s
        )
        synced = sync(store, index, policy, budget_s=max(1.0, left))
    except VectorIndexFailed as exc:
        notes.record("vector_index", exc)  # what is not done stays recorded for the next run
        synced = SyncCounts()
    store.vacuum()
    return CleanupResponse(
        deleted_entries=counts.deleted_entries,
        deleted_state=counts.deleted_state,
        archived_episodes=counts.archived_episodes,
        embeddings_backfilled=backfilled,
        facts_extracted=extracted,
        index_upserted=synced.upserted,
        index_deleted=synced.deleted,
        index_pending=synced.pending,
        execution_time_ms=round((time.perf_counter() - started) * 1000, 2),
        degraded=notes.degraded,
        warnings=notes.warnings,
    )


def _retry_extractions(
    store: MemoryStore,
    extractor: Extractor,
    extractions: ExtractionLog,
    policy: Policy,
    notes: Degradation,
    deadline: Deadline,
) -> int:
    """Extract the facts of exchanges stored while the LLM failed; stop at the first failure (it is
    likely still down: the next run tries again, and an episode is given up after a few attempts)."""
    with store.session() as s:
        owed = s.owed_extractions(policy.extraction_retry_batch)
    keep_s = policy.cleanup_reserve_after_extractions_s
    return extract_all(store, extractor, extractions, owed, policy, notes, deadline, keep_s)


def _ledger_before(policy: Policy, now: datetime) -> datetime | None:
    # A message's key outlives its memory by one TTL: Open WebUI resending an old chat soon after its
    # memory expired must not store it again; later, the key goes too, so the ledger stays bounded.
    return now - 2 * policy.memory_ttl if policy.memory_ttl is not None else None


def _backfill(store: MemoryStore, embedder: Embedder, queue: bool, batch: int, notes: Degradation) -> int:
    with store.session() as s:
        missing = s.missing_embeddings(batch)
    if not missing:
        return 0
    try:
        vectors = embedder.embed([text for _, _, text in missing])
    except EmbeddingsFailed as exc:
        notes.record("embeddings", exc)
        return 0
    with store.session() as s:
        for (kind, row_id, _), vector in zip(missing, vectors, strict=True):
            s.set_embedding(kind, row_id, vector)
        if queue:  # the separate index gets them in this run's sync
            s.queue_for_index([row_id for kind, row_id, _ in missing if kind == "chunk"])
    return len(missing)
