"""Assemble: everything memplane knows that helps answer the next message, plus a ready context."""

from __future__ import annotations

import time
from datetime import datetime

from memplane.contracts import (
    AssembleRequest,
    AssembleResponse,
    ChunkOut,
    EpisodeOut,
    FactOut,
    ProfileOut,
    profile_update,
)
from memplane.errors import ClientNotFound, EmbeddingsFailed, IndexWarmingUp, VectorIndexFailed
from memplane.model import Policy, Profile, Vector
from memplane.ports import Embedder, MemoryStore, StoreSession, VectorIndex
from memplane.usecases._degrade import Degradation
from memplane.usecases.context import build_context
from memplane.usecases.retrieval import rank

_FACTS = 30
_EPISODES = 3


def assemble(
    req: AssembleRequest,
    *,
    store: MemoryStore,
    embedder: Embedder,
    index: VectorIndex,
    fallback: VectorIndex,
    policy: Policy,
    now: datetime,
) -> AssembleResponse:
    """``index`` is searched for vectors; ``fallback`` (pgvector) answers when it cannot."""
    started = time.perf_counter()
    as_of = req.timestamp or now
    notes = Degradation()
    vector_weight = policy.offline_vector_weight if embedder.offline else policy.vector_weight
    query_vector = _embed_query(embedder, req.query, notes) if vector_weight > 0 else None
    embedded = time.perf_counter()
    nearest: list[tuple[str, float]] = []
    if query_vector is not None:
        query = (req.client_id, query_vector, as_of, now, policy.search_pool)
        nearest = _nearest(index, fallback, query, notes)
    with store.session() as s:
        profile = _profile(s, req)
        facts = s.current_facts(req.client_id, as_of, _FACTS)
        by_text = s.keyword_search(
            req.client_id,
            req.query,
            as_of,
            policy.search_pool,
            policy.bm25_k1,
            policy.bm25_b,
            policy.keyword_budget,
        )
        by_vector = s.chunks(req.client_id, nearest, as_of) if nearest else []
        hits = rank(
            [(by_text, 1.0), (by_vector, vector_weight)],
            lambda ids: s.neighbours(req.client_id, ids),
            limit=req.limit,
            neighbour_weight=policy.neighbour_weight,
        )
        episodes = s.recent_episodes(req.client_id, as_of, _EPISODES)
    budget = req.context_tokens or policy.context_token_budget
    context = build_context(facts, hits, episodes, now=as_of, token_budget=budget)
    done = time.perf_counter()
    return AssembleResponse(
        profile=ProfileOut(
            client_id=profile.client_id,
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
        execution_time_ms=_ms(done - started),
        timings_ms={"embedding": _ms(embedded - started), "search": _ms(done - embedded)},
        degraded=notes.degraded,
        warnings=notes.warnings,
    )


def _profile(s: StoreSession, req: AssembleRequest) -> Profile:
    if req.profile is not None:
        return s.upsert_profile(req.client_id, profile_update(req.profile))
    found = s.get_profile(req.client_id)
    if found is None:
        raise ClientNotFound(f"no memory for client_id '{req.client_id}'; send a profile to create it")
    return found


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


def _embed_query(embedder: Embedder, query: str, notes: Degradation) -> Vector | None:
    try:
        return embedder.embed([query])[0]
    except EmbeddingsFailed as exc:
        # Full-text search and recent episodes still answer; the response says what is missing.
        notes.record("embeddings", exc)
        return None


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)
