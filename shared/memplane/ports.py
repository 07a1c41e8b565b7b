"""The small interfaces the use cases depend on. Adapters implement them; only ``wiring`` picks one."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from memplane.model import (
    CleanupCounts,
    CleanupHistory,
    Episode,
    Erased,
    Execution,
    Extraction,
    ExtractionBacklog,
    ExtractionHealth,
    Fact,
    FactCandidate,
    ForgetScope,
    Hit,
    IndexPoint,
    NewChunk,
    NewEpisode,
    OwedExtraction,
    PastChat,
    PastUser,
    Profile,
    ProfileUpdate,
    SavedMemory,
    Turn,
    Vector,
)


class Embedder(Protocol):
    """Turns texts into vectors of ``dim`` floats. Raises ``EmbeddingsFailed``."""

    name: str
    dim: int
    offline: bool

    def embed(self, texts: Sequence[str]) -> list[Vector]: ...


class Extractor(Protocol):
    """Finds durable facts and a one-paragraph summary in an exchange. Raises ``ExtractionFailed``.

    A reply that cannot be understood is an error, never an empty ``Extraction``.
    """

    name: str
    offline: bool

    def extract(self, turns: Sequence[Turn], known: Sequence[Fact] = ()) -> Extraction:
        """``known`` are the client's current facts: their keys are reused, and a fact that stopped
        being true is listed in ``Extraction.ended``."""
        ...


class MemoryWrites(Protocol):
    """What a writeback reads and writes: profiles, the ledger and tombstones, chunks, episodes, facts."""

    def get_profile(self, client_id: str) -> Profile | None: ...
    def upsert_profile(self, client_id: str, update: ProfileUpdate) -> Profile: ...
    def known_turn_keys(self, client_id: str, keys: Sequence[str]) -> set[str]: ...
    def forgotten_at(self, client_id: str, chat_id: str | None) -> datetime | None:
        """When the client, or this chat of it, was last forgotten (None: never)."""
        ...

    def find_episode(self, client_id: str, dedupe_key: str) -> str | None: ...
    def insert_chunks(self, chunks: Sequence[NewChunk]) -> tuple[int, list[IndexPoint]]:
        """Store the chunks not stored before: how many, and those with a vector, to be indexed."""
        ...

    def insert_episode(self, episode: NewEpisode) -> tuple[str, bool]: ...
    def upsert_fact(
        self, client_id: str, fact: FactCandidate, at: datetime, episode_id: str | None
    ) -> bool: ...
    def touch_working_state(
        self, client_id: str, session_id: str, state: dict[str, object], expires_at: datetime
    ) -> None: ...
    def end_fact(self, client_id: str, key: str, at: datetime) -> bool:
        """Close the current value of ``key`` at ``at`` (it stopped being true); False if none."""
        ...


class MemoryReads(Protocol):
    """What assemble reads: facts, ranked chunks and their neighbours, recent episodes."""

    def current_facts(self, client_id: str, as_of: datetime, limit: int) -> list[Fact]: ...
    def chunks(self, client_id: str, scored: Sequence[tuple[str, float]], as_of: datetime) -> list[Hit]:
        """The live chunks among ``scored`` (id, score) pairs, with those scores, best first.

        Vector indexes return ids; Postgres decides what is still there to be remembered.
        """
        ...

    def keyword_search(
        self,
        client_id: str,
        text: str,
        as_of: datetime,
        limit: int,
        k1: float,
        b: float,
        budget: int,
        language: str = "english",
    ) -> list[Hit]:
        """Chunks sharing a word with ``text``, ranked by BM25 with parameters ``k1`` and ``b``.

        Candidates come from the rarest words, about ``budget`` chunks at most: the cost of a search
        stays bounded however large the client's memory grows. ``language`` is the text search
        configuration the question is read with (besides English and unstemmed).
        """
        ...

    def neighbours(
        self, client_id: str, ids: Sequence[str], as_of: datetime
    ) -> dict[str, tuple[Hit | None, Hit | None]]:
        """For each chunk id, the chunks stored just before and after it in the same conversation
        (its chat; without a chat id, the client's chat-less messages within the hour), none of them
        from after ``as_of``."""
        ...

    def recent_episodes(self, client_id: str, as_of: datetime, limit: int) -> list[Episode]: ...


class Erasure(Protocol):
    """Retention and erasure: expiry, forget, and export of one client."""

    def expire(
        self, now: datetime, archive_before: datetime, ledger_before: datetime | None, audit_before: datetime
    ) -> CleanupCounts:
        """Delete what outlived its TTL, archive old episodes, drop message keys stored before
        ``ledger_before`` whose memory is gone, and audit rows older than ``audit_before``."""
        ...

    def forget(self, scope: ForgetScope) -> Erased:
        """Delete what ``scope`` names of one client, counting rows table by table; a whole client or
        chat leaves a tombstone, and episodes that kept other messages are returned, owed again."""
        ...

    def set_summary(self, client_id: str, episode_id: str, summary: str) -> None: ...

    def spaces_of(self, client_id: str) -> list[str]:
        """The memory keys of the client's spaces (memplane.spaces), in name order."""
        ...

    def export_rows(
        self, client_id: str, section: str, after: str | None, limit: int
    ) -> list[tuple[str, dict[str, Any]]]:
        """Up to ``limit`` records of one export section after position ``after``, with positions."""
        ...


class Repairs(Protocol):
    """What the nightly run mends: facts still owed by the LLM, vectors still owed by the embedder."""

    def owed_extractions(self, limit: int) -> list[OwedExtraction]:
        """Episodes whose facts are still owed (the LLM failed at the time), oldest first."""
        ...

    def extraction_settled(self, episode_id: str, succeeded: bool, max_attempts: int) -> None:
        """Record a retry: done, or one more failed attempt (given up after ``max_attempts``)."""
        ...

    def missing_embeddings(self, limit: int) -> list[tuple[str, str, str]]: ...
    def set_embedding(self, kind: str, row_id: str, vector: Vector) -> None: ...


class IndexQueue(Protocol):
    """The separate vector index's queue in Postgres: what it still has to take, and to drop."""

    def unindexed(self, limit: int, client_id: str | None = None) -> list[IndexPoint]:
        """Chunks queued for a separate index that are still live and have a vector, in no set order."""
        ...

    def queue_for_index(self, ids: Sequence[str]) -> None:
        """Queue these chunks (those with a vector) for a separate index, in the transaction that wrote
        them, so that a failed or interrupted upsert is sent again later."""
        ...

    def mark_indexed(self, ids: Sequence[str]) -> set[str]:
        """Take these chunks off the index's queue; return the ids that no longer exist."""
        ...

    def mark_unindexed(self, client_id: str | None = None) -> int:
        """Queue every chunk (of one client) with a vector for the index again; return how many were added."""
        ...

    def index_deletions(self, limit: int) -> list[tuple[str, str]]:
        """(client_id, chunk id) of deleted chunks whose points the index may still hold."""
        ...

    def forget_index_deletions(self, ids: Sequence[str] | None) -> None:
        """Drop these deletion records (all of them with ``None``): their points are gone."""
        ...

    def live_chunk_ids(self, client_id: str, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` are chunks of this client that still exist with a vector."""
        ...

    def count_unindexed(self, client_id: str | None = None) -> int: ...


class StoreSession(MemoryWrites, MemoryReads, Erasure, Repairs, IndexQueue, Protocol):
    """One connection and one transaction: everything done in a session commits together or not at all.

    Every method raises ``DatabaseError`` or ``Timeout``. Helpers take the narrow part they use.
    """


class VectorIndex(Protocol):
    """Where vectors are searched. Postgres keeps every vector; an index may be Postgres itself.

    Every call is scoped to one client. Methods raise ``VectorIndexFailed`` (searches
    ``VectorSearchFailed``, and ``IndexWarmingUp`` while a cold container is still loading the client).
    """

    name: str
    # False when the index is Postgres itself: nothing to upsert, delete or reconcile.
    separate: bool

    def warm_up(self) -> None:
        """Start loading what the index needs in the background; return at once."""
        ...

    def search(
        self, client_id: str, vector: Vector, as_of: datetime, now: datetime, limit: int
    ) -> list[tuple[str, float]]:
        """(chunk id, similarity) of the nearest live chunks written at or before ``as_of``, best first."""
        ...

    def upsert(self, points: Sequence[IndexPoint], wait_s: float) -> None:
        """Add or replace points; ``wait_s`` bounds the wait for a client that is still loading."""
        ...

    def delete(self, client_id: str, ids: Sequence[str], wait_s: float) -> None: ...
    def point_ids(self, client_id: str | None, wait_s: float) -> Iterator[list[tuple[str, str]]]:
        """(client_id, point id) of every point the index holds (of one client), in pages."""
        ...

    def ensure(self, dim: int) -> str:
        """Create the index if needed (an explicit command, never at import); refuse a mismatch."""
        ...

    def ping(self) -> dict[str, object]:
        """What an operator wants to see on /health; raises when the index cannot answer."""
        ...

    def close(self) -> None: ...


class CleanupRunLog(Protocol):
    """Where each nightly cleanup records itself, so a schedule that never fires shows in health.
    Each method raises ``DatabaseError``."""

    def started(self, at: datetime) -> int: ...
    def finished(
        self, run_id: int, at: datetime, outcome: str, counts: dict[str, int], error_code: str | None = None
    ) -> None: ...
    def history(self) -> CleanupHistory: ...


class ExtractionLog(Protocol):
    """How extraction is going, per chat model, so a model whose replies cannot be read is named in
    health instead of failing silently. Each method raises ``DatabaseError``."""

    def succeeded(self, model: str, at: datetime) -> None: ...
    def failed(self, model: str, at: datetime, kind: str, error: str, excerpt: str | None) -> None: ...
    def refused(self, model: str, at: datetime) -> None: ...
    def health(self, model: str) -> ExtractionHealth | None: ...
    def backlog(self) -> ExtractionBacklog: ...
    def requeue(self) -> int:
        """Queue every given-up extraction again (the operator fixed or changed the model)."""
        ...


class MemoryStore(Protocol):
    """The source of truth. Creating it does no I/O; the first session connects."""

    def session(self, timeout_ms: int | None = None) -> AbstractContextManager[StoreSession]:
        """A transaction whose statements get ``timeout_ms`` each (default: the configured budget)."""
        ...

    def log_execution(self, execution: Execution) -> None: ...
    def ping(self) -> dict[str, str]:
        """Check the database answers and is migrated; return what an operator wants to see."""
        ...

    def vacuum(self) -> None: ...
    def log_position(self) -> str:
        """Where the database's write-ahead log ends now: everything committed so far lies before it."""
        ...


class ReadNode(Protocol):
    """A read-only copy of the store (a streaming replica), and the vectors it holds."""

    store: MemoryStore
    vectors: VectorIndex

    def holds(self, position: str, wait_s: float) -> bool:
        """Whether it has replayed the primary's log up to ``position``, waiting up to ``wait_s``."""
        ...

    def replayed(self) -> str | None:
        """How far it has replayed the primary's log (None: it is not a replica)."""
        ...

    def close(self) -> None: ...


class ChatSource(Protocol):
    """A chat platform's history, read for ``memplane import`` (Open WebUI's API)."""

    def version(self) -> str: ...
    def users(self) -> list[PastUser]: ...
    def chat_ids(self, user_id: str) -> Iterator[tuple[str, int]]:
        """The user's chats, newest first: id and last update (epoch seconds)."""
        ...

    def chat(self, chat_id: str) -> PastChat: ...
    def saved_memories(self, database: str | None) -> list[SavedMemory]:
        """Every user's saved memories (from ``database`` when given)."""
        ...

    def memory_valves(self, filter_id: str) -> dict[str, Any]:
        """The memplane filter's valves as the admin set them ({} when it is not installed)."""
        ...

    def models(self) -> dict[str, dict[str, Any]]:
        """The platform's models by id, with what it says of each (its connection, its base model)."""
        ...
