"""The JSON each function accepts and returns. These models are the public API; change them with care."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from memplane import spaces
from memplane.fields import (
    NO_NUL,
    Answer,
    ClientId,
    Cursor,
    LogPosition,
    NonBlank,
    OneClient,
    Query,
    ShortText,
    SpaceName,
    Timestamp,
    at_most_one,
    check_storable,
)
from memplane.model import ProfileUpdate


class _In(BaseModel):
    # An unknown field is refused, naming it: a misspelt "clientid" must not pass as a missing one.
    # (The platform's own keys are removed from the event before validation.)
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        check_storable(value)
        return value


_CONTENT = {
    "anyOf": [
        {"type": "string", "pattern": NO_NUL},
        {
            "type": "array",
            "description": "multimodal parts; the text of parts of type text is kept, the rest ignored",
            "items": {
                "anyOf": [
                    {
                        "type": "object",
                        "required": ["type"],
                        "properties": {
                            "type": {"const": "text"},
                            "text": {"type": "string", "pattern": NO_NUL},
                        },
                    },
                    {"type": "object", "properties": {"type": {"not": {"const": "text"}}}},
                ]
            },
        },
    ]
}


class _Scoped(_In):
    """A request about one client's memory, or one of its spaces (memplane.spaces)."""

    client_id: ClientId
    space: SpaceName | None = None

    @property
    def memory_key(self) -> str:
        """The key this request's memory is kept under: the client's, or its space's."""
        return spaces.key_of(self.client_id, self.space)


class ProfileIn(_In):
    full_name: ShortText | None = None
    email: ShortText | None = None
    tags: list[ShortText] | None = Field(None, max_length=100)


def profile_update(profile: ProfileIn | None) -> ProfileUpdate:
    """What a request's profile asks to change; an absent profile changes nothing."""
    if profile is None:
        return ProfileUpdate()
    tags = tuple(profile.tags) if profile.tags is not None else None
    return ProfileUpdate(full_name=profile.full_name, email=profile.email, tags=tags)


class MessageIn(_In):
    # Chat histories carry keys of their own (name, timestamp, tool calls...): only these are read.
    model_config = ConfigDict(extra="ignore", frozen=True)

    role: Literal["user", "assistant", "system", "tool"]
    content: Annotated[str | list[dict[str, Any]], WithJsonSchema(_CONTENT)]
    id: ShortText | None = None
    # When it was said (Open WebUI's message timestamp): a message said before its client or chat was
    # forgotten is never stored again.
    timestamp: Timestamp | None = None

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        # Of a multimodal message only the text parts are kept, so only they must be storable text.
        if isinstance(value, list) and value and isinstance(value[0], dict):
            texts = [p.get("text", "") for p in value if p.get("type") == "text"]
            if not all(isinstance(text, str) for text in texts):
                raise ValueError("a part of type text must have text as a string")
            check_storable(texts)
        else:
            check_storable(value)
        return value

    @property
    def text(self) -> str:
        """Open WebUI sends multimodal messages as a list of parts; only the text parts are memory."""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(str(part.get("text", "")) for part in self.content if part.get("type") == "text")


class WritebackRequest(_Scoped):
    conversation: list[MessageIn] = Field(default_factory=list, max_length=2000)
    response: Answer
    message_id: ShortText | None = None
    chat_id: ShortText | None = None
    timestamp: Timestamp | None = None
    profile: ProfileIn | None = None


class AssembleRequest(_Scoped):
    query: Query
    limit: int = Field(8, ge=1, le=50)
    timestamp: Timestamp | None = None
    profile: ProfileIn | None = None
    context_tokens: int | None = Field(None, ge=50, le=32_000)
    read_after: LogPosition | None = Field(
        None,
        description="the `read_after` of this client's last writeback: a read-only node answers only "
        "once it holds that write, so what the user just said is in the answer",
    )


_SCOPES = ("fact_key", "chat_id", "message_ids", "everything")
MessageIds = Annotated[list[ShortText], Field(min_length=1, max_length=1000)]
# A scope field is optional in Python and never null in JSON: its schema is its type's alone, and a
# null sent anyway is refused by name (below).
_ScopeText = Annotated[NonBlank | None, WithJsonSchema(TypeAdapter(NonBlank).json_schema())]
_ScopeIds = Annotated[MessageIds | None, WithJsonSchema(TypeAdapter(MessageIds).json_schema())]
_ScopeAll = Annotated[
    Literal[True] | None,
    WithJsonSchema(
        {"const": True, "description": "all of this client's memory, its profile and its history of calls"}
    ),
]


class ForgetIn(_Scoped):
    """Erase one client's memory: one fact key, one chat, some messages, or ``everything: true``.

    The scope is always said, never implied: a request that names none, or sends one as null (a model
    filling in a Tool argument it did not have), is refused rather than read as "erase everything".
    """

    model_config = ConfigDict(json_schema_extra={"oneOf": [{"required": [n]} for n in _SCOPES]})

    client_id: OneClient
    # Left out: the client's own memory and every space of it. Given: that space alone.
    space: SpaceName | None = None
    fact_key: _ScopeText = None
    chat_id: _ScopeText = None
    message_ids: _ScopeIds = None
    everything: _ScopeAll = None

    @model_validator(mode="before")
    @classmethod
    def _no_null_scope(cls, data: Any) -> Any:
        if isinstance(data, dict):
            nulls = [n for n in _SCOPES if n in data and data[n] is None]
            if nulls:
                raise ValueError(
                    f"{nulls[0]} is null: leave it out, or give a value (a null never means everything)"
                )
        return data

    @model_validator(mode="after")
    def _one_scope(self) -> ForgetIn:
        given = [n for n in _SCOPES if getattr(self, n) is not None]
        if len(given) > 1:
            raise ValueError(
                f"give one of fact_key, chat_id, message_ids and everything, not {', '.join(given)}"
            )
        if not given:
            raise ValueError(
                "say what to forget: fact_key, chat_id, message_ids, or everything: true for all of "
                "this client's memory"
            )
        return self

    @property
    def scope(self) -> str:
        if self.fact_key is not None:
            return "fact"
        if self.chat_id is not None:
            return "chat"
        return "messages" if self.message_ids is not None else "client"


class ExportIn(_Scoped):
    client_id: OneClient
    cursor: Cursor | None = None


class CleanupRequest(_In):
    """The nightly trigger sends ``{}``. ``forget`` erases, ``export`` reads one client's memory."""

    model_config = ConfigDict(json_schema_extra=at_most_one("forget", "export"))

    forget: ForgetIn | None = None
    export: ExportIn | None = None

    @model_validator(mode="after")
    def _one_action(self) -> CleanupRequest:
        if self.forget is not None and self.export is not None:
            raise ValueError("send forget or export, not both")
        return self

    @property
    def action(self) -> str | None:
        """What the audit log records of the call: its kind, never its subject."""
        if self.forget is not None:
            return f"forget:{self.forget.scope}"
        return "export" if self.export is not None else None


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class WarningOut(_Out):
    """A dependency that failed while the request still succeeded, with the same codes as errors."""

    code: str
    message: str


class WritebackResponse(_Out):
    episode_id: str | None
    facts_upserted: int
    chunks_written: int
    execution_time_ms: float
    # Set when assemble reads a read-only node: pass it as the next assemble's `read_after`.
    read_after: str | None = None
    degraded: list[str] = Field(default_factory=list)
    warnings: list[WarningOut] = Field(default_factory=list)


class ProfileOut(_Out):
    client_id: str
    full_name: str | None
    email: str | None
    tags: list[str]


class FactOut(_Out):
    key: str
    value: str
    confidence: float
    updated_at: datetime


class ChunkOut(_Out):
    id: str
    content: str
    role: str
    score: float
    message_id: str | None
    created_at: datetime


class EpisodeOut(_Out):
    id: str
    summary: str
    created_at: datetime


class AssembleResponse(_Out):
    profile: ProfileOut
    facts: list[FactOut]
    similar_chunks: list[ChunkOut]
    recent_episodes: list[EpisodeOut]
    context: str
    execution_time_ms: float
    timings_ms: dict[str, float] = Field(default_factory=dict)
    # "replica" when a read-only node answered, "primary" otherwise.
    read_from: Literal["primary", "replica"] = "primary"
    degraded: list[str] = Field(default_factory=list)
    warnings: list[WarningOut] = Field(default_factory=list)


class CleanupResponse(_Out):
    deleted_entries: int
    deleted_state: int
    archived_episodes: int
    embeddings_backfilled: int
    # Exchanges stored while the LLM failed whose facts were extracted now.
    facts_extracted: int = 0
    # A separate vector index (Qdrant): points written and deleted to match Postgres, and chunks still
    # waiting to be indexed (the index was down, or the time budget ran out). Zero with pgvector.
    index_upserted: int = 0
    index_deleted: int = 0
    index_pending: int = 0
    execution_time_ms: float
    degraded: list[str] = Field(default_factory=list)
    warnings: list[WarningOut] = Field(default_factory=list)


class ForgetResponse(_Out):
    scope: str
    # Rows deleted, table by table (0 everywhere when there was nothing left to forget).
    deleted: dict[str, int]
    # Points removed from a separate vector index now, and those left for cleanup to retry.
    index_deleted: int = 0
    index_pending: int = 0
    execution_time_ms: float
    degraded: list[str] = Field(default_factory=list)
    warnings: list[WarningOut] = Field(default_factory=list)


class ExportResponse(_Out):
    """One page of everything memplane holds about a client; follow ``next_cursor`` until null."""

    client_id: str
    space: str | None = None
    # The client's memory spaces, on the first page of its shared memory: export each with `space`.
    spaces: list[str] = Field(default_factory=list)
    profile: ProfileOut | None
    facts: list[dict[str, Any]] = Field(default_factory=list)
    episodes: list[dict[str, Any]] = Field(default_factory=list)
    chunks: list[dict[str, Any]] = Field(default_factory=list)
    working_state: list[dict[str, Any]] = Field(default_factory=list)
    calls: list[dict[str, Any]] = Field(default_factory=list)
    next_cursor: str | None


class ErrorDetail(_Out):
    code: str
    message: str
    field: str | None = None
    request_id: str | None = None


class ErrorBody(_Out):
    error: ErrorDetail
