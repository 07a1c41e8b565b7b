"""A local OpenAI-compatible HTTP server: /v1/embeddings and /v1/chat/completions.

Tests drive the real ``openai`` client against it and choose how it behaves: healthy, failing with a
status, or replying with content that does not validate.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from memplane.adapters.hash_embedder import HashEmbedder


@dataclass
class StubBehaviour:
    embedding_status: int = 200
    embedding_dim: int | None = None  # None: the dimension asked for, or 64
    chat_status: int = 200
    chat_content: str = json.dumps({"facts": [], "summary": "A short exchange."})
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


class OpenAIStub:
    def __init__(self) -> None:
        self.behaviour = StubBehaviour()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                stub.behaviour.requests.append((self.path, body))
                if self.path.endswith("/embeddings"):
                    self._reply(*stub._embeddings(body))
                elif self.path.endswith("/chat/completions"):
                    self._reply(*stub._chat(body))
                else:
                    self._reply(404, {"error": {"message": "no such route"}})

            def _reply(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> OpenAIStub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _embeddings(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        b = self.behaviour
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
