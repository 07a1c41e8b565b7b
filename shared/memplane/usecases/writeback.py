"""Writeback: remember an exchange (chunks, an episode, extracted facts) exactly once.

Order matters for "nothing half-written": the model calls (extraction, embeddings) happen before the
write transaction opens, everything the exchange produces commits in that one transaction, and a
separate vector index is updated only after the commit (see ``indexing``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from hashlib import sha256

from memplane.contracts import WritebackRequest, WritebackResponse, profile_update
from memplane.deadline import NONE, Deadline
from memplane.errors import DatabaseError, EmbeddingsFailed, ExtractionFailed, InvalidRequest, Timeout
from memplane.language import configuration
from memplane.model import (
    Extraction,
    Fact,
    IndexPoint,
    NewChunk,
    NewEpisode,
    Turn,
    Vector,
)
from memplane.policy import Policy
from memplane.ports import Embedder, ExtractionLog, Extractor, MemoryStore, VectorIndex
from memplane.text import chunks, strip_recalled, summarize
from memplane.usecases._degrade import Degradation
from memplane.usecases.extracting import extract
from memplane.usecases.facts import record_facts
from memplane.usecases.indexing import index_new

_REMEMBERED_ROLES = ("user", "assistant")


def writeback(
    req: WritebackRequest,
    *,
    store: MemoryStore,
    embedder: Embedder,
    extractor: Extractor,
    extractions: ExtractionLog,
    index: VectorIndex,
    policy: Policy,
    now: datetime,
    deadline: Deadline = NONE,
    report_position: bool = False,
) -> WritebackResponse:
    """Near the platform's time limit a model call is cut short rather than the function killed: the
    exchange is stored without its facts (cleanup extracts them) or without vectors (cleanup adds them).
    With ``report_position`` (assemble reads a read-only node) the answer says where this write ends in
    the primary's log, for the next assemble's ``read_after``."""
    started = time.perf_counter()
    at = req.timestamp or now
    turns = turns_of(req)
    seen = _what_is_known(store, req, turns, at, policy, deadline)
    new = [t for t in turns if t.key not in seen.keys and not _forgotten(t, req.timestamp, seen.forgotten_at)]
    if not new:
        # A replay, or a resent history with nothing new in it: nothing to do, same answer.
        return WritebackResponse(
            episode_id=seen.episode_id,
            facts_upserted=0,
            chunks_written=0,
            execution_time_ms=_ms(started),
            read_after=_position(store) if report_position else None,
        )

    notes = Degradation()
    extraction = _extract(extractor, extractions, new, seen.facts, notes, deadline, policy)
    pieces = [(turn, i, text) for turn in new for i, text in enumerate(chunks(turn.content))]
    texts = [text for _, _, text in pieces] + [extraction.summary]
    vectors = _embed(embedder, texts, notes, deadline, policy.writeback_reserve_after_embedding_s)
    stored = _store(store, index, req, new, pieces, vectors, extraction, notes, at, now, policy, deadline)
    # Only after the commit: the index never holds a point that Postgres could still roll back.
    index_new(store, index, req.memory_key, stored.points, policy, notes)
    return WritebackResponse(
        episode_id=stored.episode_id,
        facts_upserted=stored.facts,
        chunks_written=stored.chunks,
        execution_time_ms=_ms(started),
        read_after=_position(store) if report_position else None,
        degraded=notes.degraded,
        warnings=notes.warnings,
    )


@dataclass(frozen=True)
class _Known:
    """What memplane already holds of this exchange: stored message keys, the client's (or chat's)
    tombstone, the episode a replay made, and the current facts the extractor is shown."""

    keys: set[str]
    forgotten_at: datetime | None
    episode_id: str | None
    facts: list[Fact]


def _what_is_known(
    store: MemoryStore,
    req: WritebackRequest,
    turns: list[Turn],
    at: datetime,
    policy: Policy,
    deadline: Deadline,
) -> _Known:
    with store.session(deadline.budget_ms(policy.statement_timeout_ms)) as s:
        keys = s.known_turn_keys(req.memory_key, [t.key for t in turns])
        shown = policy.known_facts_for_extraction
        return _Known(
            keys=keys,
            forgotten_at=s.forgotten_at(req.memory_key, req.chat_id),
            episode_id=s.find_episode(req.memory_key, turns[-1].key),
            facts=s.current_facts(req.memory_key, at, shown) if len(keys) < len(turns) else [],
        )


@dataclass(frozen=True)
class _Stored:
    episode_id: str
    chunks: int
    facts: int
    points: list[IndexPoint]


def _store(
    store: MemoryStore,
    index: VectorIndex,
    req: WritebackRequest,
    new: list[Turn],
    pieces: list[tuple[Turn, int, str]],
    vectors: list[Vector] | None,
    extraction: Extraction,
    notes: Degradation,
    at: datetime,
    now: datetime,
    policy: Policy,
    deadline: Deadline,
) -> _Stored:
    """Everything the exchange produces, in one transaction: profile, chunks, episode, facts, state."""
    answer_key = new[-1].key
    expires_at = now + policy.memory_ttl if policy.memory_ttl is not None else None
    with store.session(deadline.budget_ms(policy.statement_timeout_ms)) as s:
        s.upsert_profile(req.memory_key, profile_update(req.profile))
        written, points = s.insert_chunks(
            [
                NewChunk(
                    client_id=req.memory_key,
                    turn_key=turn.key,
                    chunk_index=i,
                    role=turn.role,
                    content=text,
                    message_id=turn.message_id,
                    chat_id=req.chat_id,
                    created_at=at,
                    expires_at=expires_at,
                    embedding=vectors[n] if vectors else None,
                    lang=configuration(text, policy.text_language),
                )
                for n, (turn, i, text) in enumerate(pieces)
            ]
        )
        if index.separate:
            s.queue_for_index([p.id for p in points])  # dequeued once the index has them
        episode_id, created = s.insert_episode(
            NewEpisode(
                client_id=req.memory_key,
                dedupe_key=answer_key,
                chat_id=req.chat_id,
                summary=extraction.summary,
                embedding=vectors[-1] if vectors else None,
                message_ids=tuple(t.message_id for t in new if t.message_id),
                created_at=at,
                # The LLM failed: cleanup extracts this exchange's facts later.
                extraction_owed=tuple(t.key for t in new) if "extraction" in notes.degraded else (),
            )
        )
        # Only the writer that created the episode records its facts, so a concurrent replay
        # cannot count them twice.
        upserted = record_facts(s, req.memory_key, extraction, at, episode_id) if created else 0
        if req.chat_id:
            s.touch_working_state(
                req.memory_key,
                req.chat_id,
                {"last_message_key": answer_key, "last_exchange_at": at.isoformat()},
                now + policy.working_state_ttl,
            )
    return _Stored(episode_id=episode_id, chunks=written, facts=upserted, points=points)


def turns_of(req: WritebackRequest) -> list[Turn]:
    """The messages worth remembering, each once, the answer last.

    System messages and the memory block that assemble handed out are never stored: re-extracting
    recalled memory as new memory is a feedback loop that fills a store with copies.
    """
    answer_text = strip_recalled(req.response)
    if not answer_text:
        raise InvalidRequest(
            "response is empty once recalled memory is removed; send the assistant's answer",
            field="response",
        )
    answer_key = req.message_id or _content_key(req.chat_id, "assistant", answer_text)
    history: dict[str, Turn] = {}
    for m in req.conversation:
        text = strip_recalled(m.text)
        if m.role not in _REMEMBERED_ROLES or not text:
            continue
        key = m.id or _content_key(req.chat_id, m.role, text)
        if key != answer_key:  # Open WebUI's outlet already lists the answer among the messages
            turn = Turn(key=key, role=m.role, content=text, message_id=m.id, said_at=m.timestamp)
            history.setdefault(key, turn)
    answer = Turn(
        key=answer_key,
        role="assistant",
        content=answer_text,
        message_id=req.message_id,
        said_at=req.timestamp,
    )
    return [*history.values(), answer]


def _forgotten(turn: Turn, exchange_at: datetime | None, forgotten_at: datetime | None) -> bool:
    """Said at or before the client (or this chat) was forgotten, by the caller's own dates: a message
    without a date of its own is as old as the exchange at most (the history comes before the answer)."""
    said = turn.said_at or exchange_at
    return forgotten_at is not None and said is not None and said <= forgotten_at


def _content_key(chat_id: str | None, role: str, text: str) -> str:
    digest = sha256(f"{chat_id or ''}\x1f{role}\x1f{text}".encode()).hexdigest()[:32]
    return f"sha256:{digest}"


def _extract(
    extractor: Extractor,
    extractions: ExtractionLog,
    turns: list[Turn],
    known: list[Fact],
    notes: Degradation,
    deadline: Deadline,
    policy: Policy,
) -> Extraction:
    try:
        return extract(
            extractor, extractions, turns, known, deadline, policy.writeback_reserve_after_extraction_s
        )
    except (ExtractionFailed, Timeout) as exc:
        # The exchange is still stored; only its facts are missing (for now), and the response says so.
        notes.record("extraction", exc)
        return Extraction(facts=(), summary=summarize(turns))


def _embed(
    embedder: Embedder, texts: list[str], notes: Degradation, deadline: Deadline, keep_s: float
) -> list[Vector] | None:
    try:
        return deadline.run(lambda: embedder.embed(texts), keep_s=keep_s, what="embedding")
    except (EmbeddingsFailed, Timeout) as exc:
        # Stored without vectors, still found by keyword; cleanup fills the vectors in later.
        notes.record("embeddings", exc)
        return None


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _position(store: MemoryStore) -> str | None:
    """Where the write just committed ends in the log. Not knowing it loses nothing: the next assemble
    then reads the read-only node without waiting for it."""
    try:
        return store.log_position()
    except DatabaseError:
        return None
