"""A local OpenAI-compatible ``/v1/embeddings`` endpoint serving the offline hashing vectors.

Benchmarks that compare memplane with another memory system point both at this one endpoint, so that
both pay the same embedding call and search the same vectors. It needs no model and no network.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from memplane.adapters.hash_embedder import HashEmbedder


class EmbeddingsServer:
    """Serves on 127.0.0.1 and a free port, in a daemon thread, until ``stop()``."""

    def __init__(self, dim: int) -> None:
        embedder = HashEmbedder(dim)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
                texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
                vectors = embedder.embed([str(t) for t in texts])
                reply = json.dumps(
                    {
                        "object": "list",
                        "data": [
                            {"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)
                        ],
                        "model": body.get("model", "hash"),
                        "usage": {"prompt_tokens": 0, "total_tokens": 0},
                    }
                ).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
