"""The small interfaces the use cases depend on. Adapters implement them; only ``wiring`` picks one."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from memplane.model import (
    CleanupCounts,
    Episode,
    Execution,
    Extraction,
    Fact,
    FactCandidate,
    Hit,
    NewChunk,
    NewEpisode,
    Profile,
    ProfileUpdate,
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

    def extract(self, turns: Sequence[Turn]) -> Extraction: ...


class StoreSession(Protocol):
    """One connection and one transaction: everything done in a session commits together or not at all.

    Every method raises ``DatabaseError`` or ``Timeout``; the searches may raise ``VectorSearchFailed``
    without spoiling the rest of the session.
    """

    def get_profile(self, client_id: str) -> Profile | None: ...
    def upsert_profile(self, client_id: str, update: ProfileUpdate) -> Profile: ...
    def known_turn_keys(self, client_id: str, keys: Sequence[str]) -> set[str]: ...
    def find_episode(self, client_id: str, dedupe_key: str) -> str | None: ...
    def insert_chunks(self, chunks: Sequence[NewChunk]) -> int: ...
    def insert_episode(self, episode: NewEpisode) -> tuple[str, bool]: ...
    def upsert_fact(
        self, client_id: str, fact: FactCandidate, at: datetime, episode_id: str | None
    ) -> bool: ...
    def touch_working_state(
        self, client_id: str, session_id: str, state: dict[str, object], expires_at: datetime
    ) -> None: ...
    def current_facts(self, client_id: str, as_of: datetime, limit: int) -> list[Fact]: ...
    def vector_search(self, client_id: str, vector: Vector, as_of: datetime, limit: int) -> list[Hit]: ...
    def keyword_search(
        self, client_id: str, text: str, as_of: datetime, limit: int, k1: float, b: float
    ) -> list[Hit]:
        """Chunks sharing a word with ``text``, ranked by BM25 with parameters ``k1`` and ``b``."""
        ...

    def neighbours(self, client_id: str, ids: Sequence[str]) -> dict[str, tuple[Hit | None, Hit | None]]:
        """For each chunk id, the chunks stored just before and after it in the same chat."""
        ...

    def recent_episodes(self, client_id: str, as_of: datetime, limit: int) -> list[Episode]: ...
    def expire(self, now: datetime, archive_before: datetime) -> CleanupCounts: ...
    def missing_embeddings(self, limit: int) -> list[tuple[str, str, str]]: ...
    def set_embedding(self, kind: str, row_id: str, vector: Vector) -> None: ...


class MemoryStore(Protocol):
    """The source of truth. Creating it does no I/O; the first session connects."""

    def session(self) -> AbstractContextManager[StoreSession]: ...
    def log_execution(self, execution: Execution) -> None: ...
    def ping(self) -> dict[str, str]:
        """Check the database answers and is migrated; return what an operator wants to see."""
        ...

    def vacuum(self) -> None: ...
