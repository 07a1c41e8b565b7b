"""Cleanup, run nightly: expire what outlived its TTL, archive old episodes, fill in missing vectors.

Vectors go missing when the embedder was down during a writeback (the exchange was stored anyway);
re-embedding them here is what keeps vector search consistent with what Postgres holds.
"""

from __future__ import annotations

import time
from datetime import datetime

from memplane.contracts import CleanupRequest, CleanupResponse
from memplane.errors import EmbeddingsFailed
from memplane.model import Policy
from memplane.ports import Embedder, MemoryStore
from memplane.usecases._degrade import Degradation


def cleanup(
    req: CleanupRequest,
    *,
    store: MemoryStore,
    embedder: Embedder,
    policy: Policy,
    now: datetime,
) -> CleanupResponse:
    started = time.perf_counter()
    notes = Degradation()
    with store.session() as s:
        counts = s.expire(now, now - policy.episode_archive_after)
    backfilled = _backfill(store, embedder, policy.backfill_batch, notes)
    store.vacuum()
    return CleanupResponse(
        deleted_entries=counts.deleted_entries,
        deleted_state=counts.deleted_state,
        archived_episodes=counts.archived_episodes,
        embeddings_backfilled=backfilled,
        execution_time_ms=round((time.perf_counter() - started) * 1000, 2),
        degraded=notes.degraded,
        warnings=notes.warnings,
    )


def _backfill(store: MemoryStore, embedder: Embedder, batch: int, notes: Degradation) -> int:
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
    return len(missing)
