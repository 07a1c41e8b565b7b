"""A local OpenAI-compatible HTTP server: /v1/embeddings and /v1/chat/completions.

Tests drive the real ``openai`` client against it and choose how it behaves: healthy, failing with a
status, or replying with content that does not validate.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from memplane.adapters.hash_embedder import HashEmbedder
from tests.http_stub import JsonHandler, StubServer


@dataclass
class StubBehaviour:
    embedding_status: int = 200
    embedding_dim: int | None = None  # None: the dimension asked for, or 64
    embedding_delay_s: float = 0.0
    chat_status: int = 200
    chat_delay_s: float = 0.0
    chat_content: str = json.dumps({"facts": [], "summary": "A short exchange."})
    # A provider's way of answering a chat request (status, body), in place of the settings above.
    chat_provider: Callable[[dict[str, Any]], tuple[int, dict[str, Any]]] | None = None
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)


class OpenAIStub(StubServer):
    def __init__(self) -> None:
        self.behaviour = StubBehaviour()
        stub = self

        class Handler(JsonHandler):
            def do_POST(self) -> None:
                body = self.read_json()
                stub.behaviour.requests.append((self.path, body))
                stub.behaviour.headers.append({k.lower(): v for k, v in self.headers.items()})
                if self.path.endswith("/embeddings"):
                    self.reply(*stub._embeddings(body))
                elif self.path.endswith("/chat/completions"):
                    self.reply(*stub._chat(body))
                else:
                    self.reply(404, {"error": {"message": "no such route"}})

        super().__init__(Handler)

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def start(self) -> OpenAIStub:
        super().start()
        return self

    def _embeddings(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        b = self.behaviour
        time.sleep(b.embedding_delay_s)
        if b.embedding_status != 200:
            return b.embedding_status, {"error": {"message": "embedding backend down"}}
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        dim = b.embedding_dim or body.get("dimensions") or 64
        vectors = HashEmbedder(dim).embed(texts)
        data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
        return 200, {
            "object": "list",
            "data": data,
            "model": body["model"],
            "usage": {"prompt_tokens": 1, "total_tokens": 1},
        }

    def _chat(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        b = self.behaviour
        time.sleep(b.chat_delay_s)
        if b.chat_provider is not None:
            return b.chat_provider(body)
        if b.chat_status != 200:
            return b.chat_status, {"error": {"message": "chat backend down"}}
        return 200, {
            "id": "chatcmpl-stub",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": b.chat_content},
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
