"""Embeddings and fact extraction through the ``openai`` client: OpenAI or any compatible endpoint.

Imported only when settings choose it, so functions that run offline never pay for ``import openai``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import openai
from pydantic import BaseModel, Field, ValidationError

from memplane.adapters import llm_reply
from memplane.errors import EmbeddingsFailed, ExtractionFailed
from memplane.model import Extraction, Fact, FactCandidate, Turn, Usage, Vector
from memplane.text import summarize


def make_client(
    api_key: str | None,
    base_url: str | None,
    timeout_s: float,
    retries: int = 1,
    headers: Mapping[str, str] | None = None,
) -> openai.OpenAI:
    # Local compatible servers often need no key, but the client insists on one.
    return openai.OpenAI(
        api_key=api_key or "not-needed",
        base_url=base_url,
        timeout=timeout_s,
        max_retries=retries,
        default_headers=dict(headers or {}),
    )


class OpenAIEmbedder:
    offline = False

    def __init__(self, client: openai.OpenAI, model: str, dim: int, prefix: str = "") -> None:
        self._client = client
        self.model = model
        self.dim = dim
        self.name = f"openai:{model}"
        # What the model wants in front of each text it embeds here (a question, or a stored text).
        self._prefix = prefix

    def embed(self, texts: Sequence[str]) -> list[Vector]:
        if not texts:
            return []
        # Only the text-embedding-3 family accepts `dimensions`; other endpoints may reject it.
        extra = {"dimensions": self.dim} if self.model.startswith("text-embedding-3") else {}
        marked = [f"{self._prefix}{t}" for t in texts]
        try:
            reply = self._client.embeddings.create(model=self.model, input=marked, **extra)  # type: ignore[arg-type]
        except openai.APIError as exc:
            raise EmbeddingsFailed(f"the embedding endpoint failed: {_describe(exc)}") from exc
        vectors = [item.embedding for item in sorted(reply.data, key=lambda d: d.index)]
        if len(vectors) != len(texts) or any(len(v) != self.dim for v in vectors):
            got = len(vectors[0]) if vectors else 0
            raise EmbeddingsFailed(
                f"the embedding endpoint returned {len(vectors)} vectors of {got} dimensions for "
                f"{len(texts)} texts; MEMPLANE_EMBEDDING_DIM is {self.dim}"
            )
        return vectors


_PROMPT = """You maintain long-term memory about a user of a chat assistant.
From the exchange below, extract durable facts about the user that will still be true and useful in
future conversations (identity, location, work, family, preferences, plans, explicit requests to
remember). Ignore small talk, questions, and anything only true in this conversation. Never extract
facts about the assistant.

The facts already known about the user come first, as "key: value" lines. When the exchange changes
one of them, reuse its key, so that the new value replaces the old one. When the user says a known fact
is no longer true and gives no new value ("I'm not vegetarian any more"), list its key in "ended".

Reply with one JSON object and nothing else:
{"facts": [{"key": "snake_case_topic", "value": "short statement", "confidence": 0.0-1.0}],
 "ended": ["key of a known fact that stopped being true"],
 "summary": "one or two sentences on what this exchange was about"}
Use stable keys (name, location, job, employer, diet, family:daughter, preference:coffee, ...) so that
a later value for the same key replaces the earlier one. "facts" and "ended" may be empty."""


class _FactReply(BaseModel):
    key: str = Field(min_length=1, max_length=120)
    value: str = Field(min_length=1, max_length=1000)
    confidence: float = Field(ge=0, le=1)


class _Reply(BaseModel):
    facts: list[_FactReply]
    ended: list[Annotated[str, Field(min_length=1, max_length=120)]] = Field(
        default_factory=list, max_length=100
    )
    summary: str = Field(min_length=1, max_length=2000)


# How a request asks for JSON, best first. OpenRouter serves models whose providers support structured
# outputs, JSON mode only, or neither (some refuse the request, some answer an empty message); each
# container learns the first way its model accepts and keeps it, so a refusal costs one request per
# container, not one per writeback.
MODES = ("json_schema", "json_object", "plain")
_SCHEMA = {
    "name": "memory",
    "strict": True,
    "schema": {
        "type": "object",
        "additionalProperties": False,
        "required": ["facts", "ended", "summary"],
        "properties": {
            "facts": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["key", "value", "confidence"],
                    "properties": {
                        "key": {"type": "string"},
                        "value": {"type": "string"},
                        "confidence": {"type": "number"},
                    },
                },
            },
            "ended": {"type": "array", "items": {"type": "string"}},
            "summary": {"type": "string"},
        },
    },
}
_FORMATS: dict[str, dict[str, Any]] = {
    "json_schema": {"response_format": {"type": "json_schema", "json_schema": _SCHEMA}},
    "json_object": {"response_format": {"type": "json_object"}},
    "plain": {},
}
_MAX_TOKENS, _NEWER_MAX_TOKENS = "max_tokens", "max_completion_tokens"  # parameter names, not secrets
# A reply cut at max_tokens is asked again with twice the room, up to this many times the setting.
_MAX_GROWTH = 4


class OpenAIExtractor:
    offline = False

    def __init__(self, client: openai.OpenAI, model: str, max_tokens: int = 1024) -> None:
        self._client = client
        self.model = model
        self.name = f"openai:{model}"
        self.max_tokens = max_tokens
        self.mode = MODES[0]  # learned: the first way of asking for JSON this model accepted
        # OpenAI's newer models take only max_completion_tokens; most other servers only max_tokens.
        self.token_parameter = _MAX_TOKENS

    def extract(self, turns: Sequence[Turn], known: Sequence[Fact] = ()) -> Extraction:
        facts = "\n".join(f"{f.key}: {f.value}" for f in known) or "(none yet)"
        exchange = "\n".join(f"{t.role}: {t.content}" for t in turns)
        messages = [
            {"role": "system", "content": _PROMPT},
            {"role": "user", "content": f"Known facts:\n{facts}\n\nExchange:\n{exchange}"},
        ]
        mode, limit = MODES.index(self.mode), self.max_tokens
        spent = Usage()
        for _ in range(len(MODES) + 4):  # each turn changes the mode, the parameter or the room
            try:
                reply = self._ask(messages, MODES[mode], limit)
            except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
                spent = _plus(spent, None)
                if _NEWER_MAX_TOKENS in str(exc) and self.token_parameter == _MAX_TOKENS:
                    self.token_parameter = _NEWER_MAX_TOKENS
                    continue
                if mode + 1 < len(MODES):
                    mode += 1  # the provider refuses this way of asking for JSON: the next one
                    continue
                raise ExtractionFailed(f"the chat endpoint refused the request: {_describe(exc)}") from exc
            except openai.APIError as exc:
                raise ExtractionFailed(f"the chat endpoint failed: {_describe(exc)}") from exc
            spent = _plus(spent, reply.usage)
            choice = reply.choices[0] if reply.choices else None
            message = choice.message if choice is not None else None
            cut = choice is not None and choice.finish_reason == "length"
            if message is not None and message.refusal:
                self.mode = MODES[mode]
                return Extraction(facts=(), summary=summarize(turns), usage=spent, refused=True)
            content = (message.content if message is not None else None) or ""
            if not content.strip() and not cut and mode + 1 < len(MODES):
                mode += 1  # some providers answer nothing at all in a JSON mode they lack
                continue
            try:
                parsed = _Reply.model_validate(llm_reply.json_object(content))
            except (llm_reply.Unreadable, ValidationError) as exc:
                if cut and limit < self.max_tokens * _MAX_GROWTH:
                    limit *= 2
                    continue
                raise _unreadable(content, cut, limit) from exc
            self.mode = MODES[mode]
            return Extraction(
                facts=tuple(
                    FactCandidate(key=f.key.strip().lower(), value=f.value.strip(), confidence=f.confidence)
                    for f in parsed.facts
                ),
                summary=parsed.summary.strip(),
                ended=tuple(k.strip().lower() for k in parsed.ended),
                usage=spent,
            )
        raise ExtractionFailed("the chat endpoint gave no usable reply in any mode", kind="unreadable")

    def _ask(self, messages: list[dict[str, str]], mode: str, limit: int) -> Any:
        return self._client.chat.completions.create(  # type: ignore[call-overload]
            model=self.model,
            temperature=0,
            messages=messages,
            **{self.token_parameter: limit},
            **_FORMATS[mode],
        )


def _plus(spent: Usage, usage: Any) -> Usage:
    return Usage(
        prompt_tokens=spent.prompt_tokens + int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=spent.completion_tokens + int(getattr(usage, "completion_tokens", 0) or 0),
        requests=spent.requests + 1,
    )


def _unreadable(content: str, cut: bool, limit: int) -> ExtractionFailed:
    if not content.strip():
        kind, what = ("cut", f"used all {limit} tokens before answering") if cut else ("empty", "was empty")
    elif cut:
        kind, what = "cut", f"was cut at {limit} tokens (MEMPLANE_EXTRACTION_MAX_TOKENS)"
    else:
        kind, what = "unreadable", "holds no JSON object with facts and a summary"
    excerpt = llm_reply.redacted_excerpt(content) if content.strip() else None
    return ExtractionFailed(f"the model's reply {what}", kind=kind, excerpt=excerpt)


def _describe(exc: openai.APIError) -> str:
    """Name the failure without echoing the request, which may carry user text or keys."""
    status = getattr(exc, "status_code", None)
    return f"{type(exc).__name__}" + (f" (HTTP {status})" if status else "")
