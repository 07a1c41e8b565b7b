"""Keeping a separate vector index (Qdrant) in step with Postgres, which holds every vector.

Postgres commits first, each chunk queued for the index in the same transaction; the index is
updated after, and the chunk leaves the queue once its point is in. A chunk still queued (the index
was down, the function was killed in between) is sent again by the next writeback of its client, by
cleanup, or by `memplane reindex`; a deleted chunk leaves a record until its point is gone. So the
index can lag, but never loses or keeps anything for good.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from memplane.errors import VectorIndexFailed
from memplane.model import IndexPoint
from memplane.policy import Policy
from memplane.ports import MemoryStore, VectorIndex
from memplane.usecases._degrade import Degradation


@dataclass(frozen=True)
class SyncCounts:
    upserted: int = 0
    deleted: int = 0
    pending: int = 0  # still waiting when the time budget ran out


def index_new(
    store: MemoryStore,
    index: VectorIndex,
    client_id: str,
    points: Sequence[IndexPoint],
    policy: Policy,
    notes: Degradation,
) -> None:
    """After a writeback commits: index its chunks, and any of the client's that an outage left behind."""
    if not index.separate:
        return
    with store.session() as s:
        behind = s.unindexed(policy.index_retry_batch, client_id)
    mine = {p.id for p in points}
    todo = [*points, *(p for p in behind if p.id not in mine)]
    if not todo:
        return
    try:
        _upsert(store, index, todo, policy.index_wait_s)
    except VectorIndexFailed as exc:
        # Committed in Postgres and queued for the index: found by keyword search meanwhile, and sent
        # to the index by the next writeback or cleanup.
        notes.record("vector_index", exc)


def sync(
    store: MemoryStore,
    index: VectorIndex,
    policy: Policy,
    *,
    client_id: str | None = None,
    budget_s: float = 15.0,
    progress: Callable[[int], None] | None = None,
) -> SyncCounts:
    """Delete the points of deleted chunks, then upsert unindexed chunks, batch by batch, within budget.

    Raises ``VectorIndexFailed`` when the index fails; what was done until then stays done.
    """
    if not index.separate:
        with store.session() as s:  # pgvector: deleted rows took their vectors with them
            s.forget_index_deletions(None)
        return SyncCounts()
    started = time.monotonic()
    deleted = upserted = 0
    while time.monotonic() - started < budget_s:
        with store.session() as s:
            gone = s.index_deletions(policy.index_batch)
        if not gone:
            break
        for owner in {c for c, _ in gone}:
            index.delete(owner, [i for c, i in gone if c == owner], policy.index_wait_s)
        with store.session() as s:
            s.forget_index_deletions([i for _, i in gone])
        deleted += len(gone)
    while time.monotonic() - started < budget_s:
        with store.session() as s:
            todo = s.unindexed(policy.index_batch, client_id)
        if not todo:
            break
        _upsert(store, index, todo, policy.index_wait_s)
        upserted += len(todo)
        if progress is not None:
            progress(len(todo))
    with store.session() as s:
        pending = s.count_unindexed()
    return SyncCounts(upserted=upserted, deleted=deleted, pending=pending)


def _upsert(store: MemoryStore, index: VectorIndex, points: Sequence[IndexPoint], wait_s: float) -> None:
    index.upsert(points, wait_s)
    with store.session() as s:
        vanished = s.mark_indexed([p.id for p in points])
    # Deleted (forgotten, expired) while the upsert was on its way: the point must not outlive it.
    for owner in {p.client_id for p in points if p.id in vanished}:
        index.delete(owner, [p.id for p in points if p.id in vanished and p.client_id == owner], wait_s)


def sweep(store: MemoryStore, index: VectorIndex, client_id: str | None, wait_s: float) -> int:
    """Delete every point whose chunk Postgres no longer holds; return how many. Reads the whole index."""
    removed = 0
    for page in index.point_ids(client_id, wait_s):
        for owner in {c for c, _ in page}:
            ids = [i for c, i in page if c == owner]
            with store.session() as s:
                live = s.live_chunk_ids(owner, ids)
            stale = [i for i in ids if i not in live]
            index.delete(owner, stale, wait_s)
            removed += len(stale)
    return removed
