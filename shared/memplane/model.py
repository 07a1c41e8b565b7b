"""Domain types shared by the use cases and the adapters. Plain frozen dataclasses: no I/O, no driver."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Role = Literal["user", "assistant", "system", "tool"]
Vector = list[float]


@dataclass(frozen=True)
class Profile:
    client_id: str
    full_name: str | None = None
    email: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProfileUpdate:
    """Fields a caller wants set; ``None`` leaves the stored value alone."""

    full_name: str | None = None
    email: str | None = None
    tags: tuple[str, ...] | None = None

    def changes(self, current: Profile) -> bool:
        """Whether applying this update to ``current`` would change anything."""
        return not (
            self.full_name in (None, current.full_name)
            and self.email in (None, current.email)
            and (self.tags is None or tuple(self.tags) == current.tags)
        )


@dataclass(frozen=True)
class Turn:
    """One message of an exchange, as memplane will store it.

    ``key`` identifies the message across resends: its id when the caller gave one, otherwise a hash of
    its chat, role and content. It is what makes writeback idempotent.
    """

    key: str
    role: Role
    content: str
    message_id: str | None
    said_at: datetime | None = None  # when the caller says it was said, if it does


@dataclass(frozen=True)
class NewChunk:
    client_id: str
    turn_key: str
    chunk_index: int
    role: Role
    content: str
    message_id: str | None
    chat_id: str | None
    created_at: datetime
    expires_at: datetime | None
    embedding: Vector | None
    lang: str = "english"  # the Postgres text search configuration its words are read with


@dataclass(frozen=True)
class IndexPoint:
    """A chunk's vector as the vector index holds it: enough to filter by client, time and expiry."""

    id: str
    client_id: str
    vector: Vector
    created_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True)
class FactCandidate:
    """A durable fact proposed by an extractor, before it is stored."""

    key: str
    value: str
    confidence: float


@dataclass(frozen=True)
class Usage:
    """What one extraction cost: the model's tokens, over every request it took."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    requests: int = 0


@dataclass(frozen=True)
class ExtractionHealth:
    """How one chat model's extractions are going, as the log recorded it (read by column name)."""

    model: str
    failing_since: datetime | None
    last_failure_at: datetime | None
    failures: int
    last_kind: str | None
    last_error: str | None
    last_excerpt: str | None
    refusals: int
    last_refusal_at: datetime | None
    last_ok_at: datetime | None


@dataclass(frozen=True)
class ExtractionBacklog:
    """Exchanges whose facts are still owed: waiting for a retry, and given up after every attempt."""

    waiting: int
    given_up: int


@dataclass(frozen=True)
class Extraction:
    facts: tuple[FactCandidate, ...]
    summary: str
    ended: tuple[str, ...] = ()  # keys of facts that stopped being true ("I'm not vegetarian any more")
    usage: Usage | None = None
    refused: bool = False  # the model declined this exchange: no facts, and no reason to ask again


@dataclass(frozen=True)
class Fact:
    key: str
    value: str
    confidence: float
    valid_from: datetime
    valid_to: datetime | None = None
    source_episode_id: str | None = None


@dataclass(frozen=True)
class Hit:
    """A stored chunk returned by a search, with the score that ranked it."""

    id: str
    content: str
    role: str
    score: float
    message_id: str | None
    created_at: datetime


@dataclass(frozen=True)
class Episode:
    id: str
    summary: str
    created_at: datetime


@dataclass(frozen=True)
class NewEpisode:
    client_id: str
    dedupe_key: str
    chat_id: str | None
    summary: str
    embedding: Vector | None
    message_ids: tuple[str, ...]
    created_at: datetime
    extraction_owed: tuple[str, ...] = ()  # turn keys whose facts the LLM failed to give; retried


@dataclass(frozen=True)
class OwedExtraction:
    """An episode whose extraction failed when it was written, with its messages to try again."""

    episode_id: str
    client_id: str
    created_at: datetime
    turns: list[Turn]


@dataclass(frozen=True)
class CleanupCounts:
    deleted_entries: int = 0
    deleted_state: int = 0
    archived_episodes: int = 0
    deleted_turns: int = 0
    deleted_calls: int = 0


@dataclass(frozen=True)
class CleanupRun:
    """One nightly cleanup: ``outcome`` is running (or was killed), ok, degraded or failed."""

    started_at: datetime
    finished_at: datetime | None
    outcome: str
    counts: dict[str, int]
    error_code: str | None


@dataclass(frozen=True)
class CleanupHistory:
    """What health needs to tell whether the nightly job runs: the last run, the last one that
    completed, and when this deployment's schema was created."""

    last: CleanupRun | None
    last_completed_at: datetime | None
    deployed_at: datetime | None


@dataclass(frozen=True)
class ForgetScope:
    """What to erase of one client: everything, or one fact key, one chat, or some messages."""

    client_id: str
    fact_key: str | None = None
    chat_id: str | None = None
    message_ids: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Erased:
    """Rows a forget deleted, table by table, and the chunk ids a vector index may still hold."""

    counts: dict[str, int]
    chunk_ids: list[str]
    # Episodes that kept other messages than the forgotten ones: their facts are owed again.
    reopened: list[OwedExtraction] = field(default_factory=list)


@dataclass(frozen=True)
class Execution:
    """One audit row: a call to a function and how it ended."""

    function: str
    request_id: str
    status: int
    duration_ms: float
    client_id: str | None = None
    error_code: str | None = None
    degraded: tuple[str, ...] = field(default=())
    action: str | None = None  # forget:<scope> or export: what kind of call, never its subject


# A chat platform's history, as ``memplane import`` reads it (adapters/openwebui.py).
@dataclass(frozen=True)
class PastUser:
    id: str
    name: str
    email: str


@dataclass(frozen=True)
class PastMessage:
    id: str
    role: str
    content: Any  # a string, or a list of parts
    timestamp: float | None
    author_id: str | None  # who wrote a user message (another user, in a chat shared to continue)
    model: str | None = None  # the model that wrote an answer


@dataclass(frozen=True)
class PastChat:
    id: str
    user_id: str
    title: str
    updated_at: int
    messages: list[PastMessage]


@dataclass(frozen=True)
class SavedMemory:
    """A memory a user saved in the platform's own memory feature."""

    id: str
    user_id: str
    content: str
    created_at: int
