"""A stand-in chat model behind an OpenAI-compatible API, for the Open WebUI end-to-end run: it lists
two models, answers from what its system prompt says, calls the memplane Tool when asked to remember
or forget, and records every request so the run can check what the model was given."""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODELS = ("local-llama", "cloud-gpt")
DIM = 64


class StandInModel:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        model = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    data = [{"id": m, "object": "model", "owned_by": "standin", "created": 0} for m in MODELS]
                    return self._json({"object": "list", "data": data})
                return self._json({"error": "not found"}, 404)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if self.path.endswith("/embeddings"):
                    texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
                    vectors = [_vector(str(t)) for t in texts]
                    return self._json({"data": [{"index": i, "embedding": v} for i, v in enumerate(vectors)]})
                model.requests.append(body)
                message = model.answer(body)
                if body.get("stream"):
                    return self._stream(body, message)
                reason = "tool_calls" if message.get("tool_calls") else "stop"
                return self._json(
                    {
                        "id": f"chatcmpl-{uuid.uuid4().hex}",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body.get("model"),
                        "choices": [{"index": 0, "message": message, "finish_reason": reason}],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                    }
                )

            def _stream(self, body: dict[str, Any], message: dict[str, Any]) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                delta: dict[str, Any] = {"role": "assistant"}
                if message.get("tool_calls"):
                    delta["tool_calls"] = [{"index": i, **c} for i, c in enumerate(message["tool_calls"])]
                else:
                    delta["content"] = message["content"]
                reason = "tool_calls" if message.get("tool_calls") else "stop"
                for choice in (
                    {"index": 0, "delta": delta},
                    {"index": 0, "delta": {}, "finish_reason": reason},
                ):
                    chunk = {
                        "id": "chatcmpl-s",
                        "object": "chat.completion.chunk",
                        "model": body.get("model"),
                        "choices": [choice],
                    }
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")

            def _json(self, body: Any, status: int = 200) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = body.get("messages") or []
        last = messages[-1] if messages else {}
        tools = [t["function"]["name"] for t in body.get("tools") or []]
        said = _text(last.get("content")).lower()
        if last.get("role") == "tool":
            return {"role": "assistant", "content": f"From my memory tool: {_text(last.get('content'))}"}
        for wish, name in (
            ("what do you remember", "what_do_you_remember"),
            ("forget everything", "forget_everything"),
        ):
            offered = next((t for t in tools if t.endswith(name)), None)
            if wish in said and offered:
                call = {
                    "id": f"call_{uuid.uuid4().hex[:8]}",
                    "type": "function",
                    "function": {"name": offered, "arguments": "{}"},
                }
                return {"role": "assistant", "content": None, "tool_calls": [call]}
        system = " ".join(_text(m.get("content")) for m in messages if m.get("role") == "system")
        if "where do i live" in said:
            return {
                "role": "assistant",
                "content": "You live in Lisbon." if "Lisbon" in system else "I don't know.",
            }
        return {"role": "assistant", "content": "Noted."}

    def systems(self) -> list[str]:
        """The system prompt of each chat request, in order."""
        return [
            " ".join(_text(m.get("content")) for m in r.get("messages") or [] if m.get("role") == "system")
            for r in self.requests
        ]

    def close(self) -> None:
        self.server.shutdown()


def _text(content: Any) -> str:
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content or "")


def _vector(text: str) -> list[float]:
    v = [0.0] * DIM
    for word in text.lower().split():
        v[hash(word) % DIM] += 1.0
    norm = sum(x * x for x in v) ** 0.5 or 1.0
    return [x / norm for x in v]
