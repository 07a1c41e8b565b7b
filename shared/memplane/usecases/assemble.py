"""Assemble: everything memplane knows that helps answer the next message, plus a ready context."""

from __future__ import annotations

import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import datetime

from memplane import spaces
from memplane.contracts import (
    AssembleRequest,
    AssembleResponse,
    ChunkOut,
    EpisodeOut,
    FactOut,
    ProfileOut,
    profile_update,
)
from memplane.dates import named_period
from memplane.deadline import NONE, Deadline, workers
from memplane.errors import (
    ClientNotFound,
    DatabaseError,
    EmbeddingsFailed,
    IndexWarmingUp,
    Timeout,
    VectorIndexFailed,
)
from memplane.language import configuration
from memplane.model import Episode, Fact, Hit, Profile, Vector
from memplane.policy import Policy
from memplane.ports import Embedder, MemoryReads, MemoryStore, ReadNode, VectorIndex
from memplane.usecases._degrade import Degradation
from memplane.usecases.context import build_context
from memplane.usecases.retrieval import rank


def assemble(
    req: AssembleRequest,
    *,
    store: MemoryStore,
    embedder: Embedder,
    index: VectorIndex,
    fallback: VectorIndex,
    policy: Policy,
    now: datetime,
    deadline: Deadline = NONE,
    replica: ReadNode | None = None,
) -> AssembleResponse:
    """``index`` is searched for vectors; ``fallback`` (pgvector) answers when it cannot.

    The query's embedding and vector search run beside the database work that needs neither (profile,
    facts, keyword search, episodes): a remote embedding takes longer than all of that, so it is hidden.
    Near the platform's time limit the answer goes without the vector side rather than not at all.
    With a read-only node (``replica``), every read goes there once it holds the caller's last write
    (``read_after``), and the one write assemble may make, a changed profile, goes to ``store``.
    """
    started = time.perf_counter()
    as_of = req.timestamp or now
    notes = Degradation()
    reader, pgvector = _reader(req, store, fallback, replica, policy, notes)
    try:
        read = _read(req, embedder, index, reader, pgvector, policy, as_of, now, deadline)
    except DatabaseError as exc:
        if reader is store:
            raise
        notes.record("read_replica", exc)  # the read-only node failed mid-way: the primary answers
        reader = store
        read = _read(req, embedder, index, store, fallback, policy, as_of, now, deadline)
    profile = _profile(store, read.profile, req, deadline.budget_ms(policy.statement_timeout_ms))
    budget = req.context_tokens or policy.context_token_budget
    context = build_context(read.facts, read.hits, read.episodes, now=as_of, token_budget=budget)
    done = time.perf_counter()
    side = read.side
    timings = {"embedding": _ms(side.embedding_s), "search": _ms(done - started - read.waited)}
    notes.merge(side.notes)
    read_from = "primary" if reader is store else "replica"
    return _response(
        profile, read.facts, read.hits, read.episodes, context, _ms(done - started), timings, notes, read_from
    )


@dataclass
class _Read:
    profile: Profile | None
    facts: list[Fact]
    hits: list[Hit]
    episodes: list[Episode]
    side: _VectorSide
    waited: float  # seconds spent only waiting for the query's embedding


def _read(
    req: AssembleRequest,
    embedder: Embedder,
    index: VectorIndex,
    reader: MemoryStore,
    pgvector: VectorIndex,
    policy: Policy,
    as_of: datetime,
    now: datetime,
    deadline: Deadline,
) -> _Read:
    """Everything assemble reads, from ``reader`` (and ``pgvector``, the vectors it holds)."""
    if not index.separate:
        index = pgvector
    vector_weight = policy.offline_vector_weight if embedder.offline else policy.vector_weight
    vector_side: Future[_VectorSide] | None = None
    if vector_weight > 0:
        query = (req.memory_key, req.query, as_of, now, policy.search_pool)
        vector_side = workers().submit(_vector_side, embedder, index, pgvector, query)
    with reader.session(deadline.budget_ms(policy.statement_timeout_ms)) as s:
        found = s.get_profile(req.memory_key)
        facts = s.current_facts(req.memory_key, as_of, policy.facts_in_context)
        by_text = _keyword_side(s, req, as_of, policy)
        episodes = s.recent_episodes(req.memory_key, as_of, policy.episodes_in_context)
        ready = time.perf_counter()
        pending = vector_side is not None and not vector_side.done()
        if not pending:
            side = _outcome(vector_side, deadline, policy)
            hits = _hits(s, req, by_text, side, as_of, policy, vector_weight)
            return _Read(found, facts, hits, episodes, side, waited=0.0)
    # A remote embedder is still answering: wait outside the transaction, so that no pooled
    # connection sits idle meanwhile, and finish in a second one.
    side = _outcome(vector_side, deadline, policy)
    # Time spent only waiting for the embedding is the embedder's, not ours: "search" leaves it out.
    waited = max(0.0, (side.embedded or time.perf_counter()) - ready)
    with reader.session(deadline.budget_ms(policy.statement_timeout_ms)) as s:
        hits = _hits(s, req, by_text, side, as_of, policy, vector_weight)
    return _Read(found, facts, hits, episodes, side, waited)


def _reader(
    req: AssembleRequest,
    store: MemoryStore,
    pgvector: VectorIndex,
    replica: ReadNode | None,
    policy: Policy,
    notes: Degradation,
) -> tuple[MemoryStore, VectorIndex]:
    """The read-only node when there is one and it holds the caller's last write; else the primary.

    A replica a little behind would answer without the message the user sent a moment ago: waiting a
    short while for it costs less than reading the primary, which carries every write.
    """
    if replica is None:
        return store, pgvector
    try:
        if req.read_after is None or replica.holds(req.read_after, policy.replica_wait_s):
            return replica.store, replica.vectors
    except DatabaseError as exc:
        notes.record("read_replica", exc)  # the primary answers alone; the response says so
    return store, pgvector


def _response(
    profile: Profile,
    facts: list[Fact],
    hits: list[Hit],
    episodes: list[Episode],
    context: str,
    took_ms: float,
    timings: dict[str, float],
    notes: Degradation,
    read_from: str,
) -> AssembleResponse:
    return AssembleResponse(
        profile=ProfileOut(
            client_id=spaces.client_of(profile.client_id),
            full_name=profile.full_name,
            email=profile.email,
            tags=list(profile.tags),
        ),
        facts=[
            FactOut(key=f.key, value=f.value, confidence=f.confidence, updated_at=f.valid_from) for f in facts
        ],
        similar_chunks=[
            ChunkOut(
                id=h.id,
                content=h.content,
                role=h.role,
                score=h.score,
                message_id=h.message_id,
                created_at=h.created_at,
            )
            for h in hits
        ],
        recent_episodes=[EpisodeOut(id=e.id, summary=e.summary, created_at=e.created_at) for e in episodes],
        context=context,
        execution_time_ms=took_ms,
        timings_ms=timings,
        degraded=notes.degraded,
        warnings=notes.warnings,
        read_from=read_from,
    )


def _keyword_side(
    s: MemoryReads, req: AssembleRequest, as_of: datetime, policy: Policy
) -> list[tuple[list[Hit], float]]:
    """BM25 over the client's memory; and when the question names a period ("in May 2023"), BM25
    among the messages of that period too, so that one of them is found among the client's other
    talk of the same thing."""
    reading = configuration(req.query, policy.text_language)

    def search(until: datetime, k: int) -> list[Hit]:
        return s.keyword_search(
            req.memory_key, req.query, until, k, policy.bm25_k1, policy.bm25_b, policy.keyword_budget, reading
        )

    rankings = [(search(as_of, policy.search_pool), 1.0)]
    period = named_period(req.query, as_of)
    if period is not None and period[0] < as_of:
        start, end = period
        inside = [h for h in search(min(end, as_of), policy.period_pool) if h.created_at >= start]
        rankings.append((inside[: policy.search_pool], policy.period_weight))
    return rankings


def _hits(
    s: MemoryReads,
    req: AssembleRequest,
    by_text: list[tuple[list[Hit], float]],
    side: _VectorSide,
    as_of: datetime,
    policy: Policy,
    vector_weight: float,
) -> list[Hit]:
    by_vector = s.chunks(req.memory_key, side.nearest, as_of) if side.nearest else []
    return rank(
        [*by_text, (by_vector, vector_weight)],
        lambda ids: s.neighbours(req.memory_key, ids, as_of),
        limit=req.limit,
        neighbour_weight=policy.neighbour_weight,
    )


def _profile(store: MemoryStore, found: Profile | None, req: AssembleRequest, budget_ms: int) -> Profile:
    """The client's profile as read, or as written on the primary when the request changes it. A
    client the reader does not know yet may be one a lagging replica has not seen: the primary says."""
    update = profile_update(req.profile)
    if found is not None and not update.changes(found):
        return found
    with store.session(budget_ms) as w:
        if req.profile is not None:
            return w.upsert_profile(req.memory_key, update)
        found = w.get_profile(req.memory_key)
    if found is None:
        where = f" in space '{req.space}'" if req.space is not None else ""
        raise ClientNotFound(f"no memory for client_id '{req.client_id}'{where}; send a profile to create it")
    return found


@dataclass
class _VectorSide:
    nearest: list[tuple[str, float]] = field(default_factory=list)
    notes: Degradation = field(default_factory=Degradation)
    embedding_s: float = 0.0
    embedded: float = 0.0  # perf_counter() when the embedding was in hand


def _outcome(side: Future[_VectorSide] | None, deadline: Deadline, policy: Policy) -> _VectorSide:
    if side is None:
        return _VectorSide()
    try:
        return side.result(timeout=deadline.wait_s(keep_s=policy.assemble_reserve_to_answer_s))
    except FutureTimeout:
        late = _VectorSide()
        late.notes.record("embeddings", Timeout("the query's embedding was not back before the time limit"))
        return late


def _vector_side(
    embedder: Embedder,
    index: VectorIndex,
    fallback: VectorIndex,
    query: tuple[str, str, datetime, datetime, int],
) -> _VectorSide:
    client_id, text, as_of, now, limit = query
    side = _VectorSide()
    began = time.perf_counter()
    try:
        vector = embedder.embed([text])[0]
    except EmbeddingsFailed as exc:
        # Full-text search and recent episodes still answer; the response says what is missing.
        side.notes.record("embeddings", exc)
        return side
    finally:
        side.embedded = time.perf_counter()
        side.embedding_s = side.embedded - began
    side.nearest = _nearest(index, fallback, (client_id, vector, as_of, now, limit), side.notes)
    return side


def _nearest(
    index: VectorIndex,
    fallback: VectorIndex,
    query: tuple[str, Vector, datetime, datetime, int],
    notes: Degradation,
) -> list[tuple[str, float]]:
    try:
        return index.search(*query)
    except IndexWarmingUp:
        pass  # a cold container: pgvector holds the same vectors and answers alike, so not degraded
    except VectorIndexFailed as exc:
        notes.record("vector_index", exc)
        if index is fallback:
            return []  # keywords and recent episodes still answer
    try:
        return fallback.search(*query)
    except VectorIndexFailed as exc:
        notes.record("vector_index", exc)
        return []


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)
