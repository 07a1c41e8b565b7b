"""Assemble: everything memplane knows that helps answer the next message, plus a ready context."""

from __future__ import annotations

import time
from collections.abc import Sequence
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
from memplane.errors import ClientNotFound, EmbeddingsFailed, VectorSearchFailed
from memplane.model import Hit, Policy, Vector
from memplane.ports import Embedder, MemoryStore
from memplane.usecases._degrade import Degradation
from memplane.usecases.context import build_context

_FACTS = 30
_EPISODES = 3
_RRF_K = 60


def assemble(
    req: AssembleRequest,
    *,
    store: MemoryStore,
    embedder: Embedder,
    policy: Policy,
    now: datetime,
) -> AssembleResponse:
    started = time.perf_counter()
    as_of = req.timestamp or now
    notes = Degradation()
    query_vector = _embed_query(embedder, req.query, notes)
    pool = req.limit * 3
    with store.session() as s:
        if req.profile is not None:
            profile = s.upsert_profile(req.client_id, profile_update(req.profile))
        else:
            found = s.get_profile(req.client_id)
            if found is None:
                raise ClientNotFound(
                    f"no memory for client_id '{req.client_id}'; send a profile to create it"
                )
            profile = found
        facts = s.current_facts(req.client_id, as_of, _FACTS)
        by_text = s.text_search(req.client_id, req.query, as_of, pool)
        by_vector: list[Hit] = []
        if query_vector is not None:
            try:
                by_vector = s.vector_search(req.client_id, query_vector, as_of, pool)
            except VectorSearchFailed as exc:
                notes.record("vector_search", exc)
        episodes = s.recent_episodes(req.client_id, as_of, _EPISODES)
    # A hashing embedder only sees shared words, which full text already scores better: give it
    # less say, because fusing a weak ranking at equal weight makes results worse.
    vector_weight = 0.5 if embedder.offline else 1.0
    hits = fuse([(by_text, 1.0), (by_vector, vector_weight)], req.limit)
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
                score=round(h.score, 6),
                message_id=h.message_id,
                created_at=h.created_at,
            )
            for h in hits
        ],
        recent_episodes=[EpisodeOut(id=e.id, summary=e.summary, created_at=e.created_at) for e in episodes],
        context=build_context(facts, hits, episodes, now=as_of, token_budget=policy.context_token_budget),
        execution_time_ms=round((time.perf_counter() - started) * 1000, 2),
        degraded=notes.degraded,
        warnings=notes.warnings,
    )


def fuse(rankings: Sequence[tuple[Sequence[Hit], float]], limit: int) -> list[Hit]:
    """Weighted reciprocal rank fusion: a hit's score is the sum of weight / (k + rank)."""
    scores: dict[str, float] = {}
    first: dict[str, Hit] = {}
    for hits, weight in rankings:
        for rank, hit in enumerate(hits, start=1):
            scores[hit.id] = scores.get(hit.id, 0.0) + weight / (_RRF_K + rank)
            first.setdefault(hit.id, hit)
    ranked = sorted(scores, key=lambda i: scores[i], reverse=True)[:limit]
    return [_with_score(first[i], scores[i]) for i in ranked]


def _with_score(hit: Hit, score: float) -> Hit:
    return Hit(
        id=hit.id,
        content=hit.content,
        role=hit.role,
        score=score,
        message_id=hit.message_id,
        created_at=hit.created_at,
    )


def _embed_query(embedder: Embedder, query: str, notes: Degradation) -> Vector | None:
    try:
        return embedder.embed([query])[0]
    except EmbeddingsFailed as exc:
        # Full-text search and recent episodes still answer; the response says what is missing.
        notes.record("embeddings", exc)
        return None
