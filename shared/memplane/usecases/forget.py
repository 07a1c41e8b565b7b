"""Forget: erase what a person asked memplane to forget, in Postgres and in the vector index.

Postgres deletes in one transaction, so a forget is all or nothing there. The vector index is told
after the commit; deletions it has not confirmed stay recorded (``vector_index_deletions``), and
cleanup retries them, so a point can outlive its chunk for a while but is never returned meanwhile:
search results are read back from Postgres.

A forget stays forgotten: forgetting a client or a chat leaves a tombstone and keeps the writeback
ledger's keys, so Open WebUI resending the history stores none of it again. Forgetting some messages
of an exchange keeps the rest of it: its summary is rewritten from what remains and its facts are
found again in the remaining messages, at once, or by the next cleanup if the LLM cannot answer now.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from memplane.contracts import ForgetIn, ForgetResponse
from memplane.deadline import NONE, Deadline
from memplane.errors import VectorIndexFailed
from memplane.model import Erased, ForgetScope
from memplane.policy import Policy
from memplane.ports import ExtractionLog, Extractor, MemoryStore, VectorIndex
from memplane.text import summarize
from memplane.usecases._degrade import Degradation
from memplane.usecases.owed import extract_all


def forget(
    req: ForgetIn,
    *,
    store: MemoryStore,
    index: VectorIndex,
    extractor: Extractor,
    extractions: ExtractionLog,
    policy: Policy,
    deadline: Deadline = NONE,
) -> ForgetResponse:
    started = time.perf_counter()
    ids = tuple(req.message_ids) if req.message_ids is not None else None
    erased: dict[str, Erased] = {}
    with store.session(deadline.budget_ms(policy.cleanup_statement_timeout_ms)) as s:
        # Without a space, the client's own memory and every space of it; with one, that space alone.
        keys = [req.client_id, *s.spaces_of(req.client_id)] if req.space is None else [req.memory_key]
        for key in keys:
            scope = ForgetScope(key, fact_key=req.fact_key, chat_id=req.chat_id, message_ids=ids)
            erased[key] = s.forget(scope)
            for episode in erased[key].reopened:  # in the same transaction: no summary outlives its message
                s.set_summary(key, episode.episode_id, summarize(episode.turns))
    notes = Degradation()
    removed = sum(_unindex(store, index, key, e.chunk_ids, policy, notes) for key, e in erased.items())
    # What the remaining messages of a reopened exchange teach, found again (or owed to cleanup).
    keep_s = policy.forget_reserve_after_extraction_s
    reopened = [episode for e in erased.values() for episode in e.reopened]
    extract_all(store, extractor, extractions, reopened, policy, notes, deadline, keep_s)
    counts: dict[str, int] = {}
    for e in erased.values():
        for table, n in e.counts.items():
            counts[table] = counts.get(table, 0) + n
    return ForgetResponse(
        scope=req.scope,
        deleted=counts,
        index_deleted=removed if index.separate else 0,
        index_pending=sum(len(e.chunk_ids) for e in erased.values()) - removed,
        execution_time_ms=round((time.perf_counter() - started) * 1000, 2),
        degraded=notes.degraded,
        warnings=notes.warnings,
    )


def _unindex(
    store: MemoryStore,
    index: VectorIndex,
    client_id: str,
    ids: Sequence[str],
    policy: Policy,
    notes: Degradation,
) -> int:
    done = 0
    try:
        for start in range(0, len(ids), policy.index_batch):
            batch = ids[start : start + policy.index_batch]
            index.delete(client_id, batch, policy.index_wait_s)
            with store.session() as s:
                s.forget_index_deletions(batch)
            done += len(batch)
    except VectorIndexFailed as exc:
        notes.record("vector_index", exc)  # the rest stay recorded; cleanup deletes them later
    return done
