"""Embeddings and fact extraction through the ``openai`` client: OpenAI or any compatible endpoint.

Imported only when settings choose it, so functions that run offline never pay for ``import openai``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated

import openai
from pydantic import BaseModel, Field, ValidationError

from memplane.errors import EmbeddingsFailed, ExtractionFailed
from memplane.model import Extraction, Fact, FactCandidate, Turn, Vector


def make_client(
    api_key: str | None, base_url: str | None, timeout_s: float, retries: int = 1
) -> openai.OpenAI:
    # Local compatible servers often need no key, but the client insists on one.
    return openai.OpenAI(
        api_key=api_key or "not-needed", base_url=base_url, timeout=timeout_s, max_retries=retries
    )


class OpenAIEmbedder:
    offline = False

    def __init__(self, client: openai.OpenAI, model: str, dim: int) -> None:
        self._client = client
        self.model = model
        self.dim = dim
        self.name = f"openai:{model}"

    def embed(self, texts: Sequence[str]) -> list[Vector]:
        if not texts:
            return []
        # Only the text-embedding-3 family accepts `dimensions`; other endpoints may reject it.
        extra = {"dimensions": self.dim} if self.model.startswith("text-embedding-3") else {}
        try:
            reply = self._client.embeddings.create(model=self.model, input=list(texts), **extra)  # type: ignore[arg-type]
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


class OpenAIExtractor:
    offline = False

    def __init__(self, client: openai.OpenAI, model: str) -> None:
        self._client = client
        self.model = model
        self.name = f"openai:{model}"

    def extract(self, turns: Sequence[Turn], known: Sequence[Fact] = ()) -> Extraction:
        facts = "\n".join(f"{f.key}: {f.value}" for f in known) or "(none yet)"
        exchange = "\n".join(f"{t.role}: {t.content}" for t in turns)
        transcript = f"Known facts:\n{facts}\n\nExchange:\n{exchange}"
        try:
            reply = self._client.chat.completions.create(
                model=self.model,
                temperature=0,
                response_format={"type": "json_object"},
                messages=[
                    {"role": "system", "content": _PROMPT},
                    {"role": "user", "content": transcript},
                ],
            )
        except openai.APIError as exc:
            raise ExtractionFailed(f"the chat endpoint failed: {_describe(exc)}") from exc
        content = reply.choices[0].message.content if reply.choices else None
        try:
            parsed = _Reply.model_validate(json.loads(content or ""))
        except (json.JSONDecodeError, ValidationError) as exc:
            raise ExtractionFailed(
                f"the model's reply is not the JSON asked for ({type(exc).__name__})"
            ) from exc
        found = tuple(
            FactCandidate(key=f.key.strip().lower(), value=f.value.strip(), confidence=f.confidence)
            for f in parsed.facts
        )
        ended = tuple(k.strip().lower() for k in parsed.ended)
        return Extraction(facts=found, summary=parsed.summary.strip(), ended=ended)


def _describe(exc: openai.APIError) -> str:
    """Name the failure without echoing the request, which may carry user text or keys."""
    status = getattr(exc, "status_code", None)
    return f"{type(exc).__name__}" + (f" (HTTP {status})" if status else "")
