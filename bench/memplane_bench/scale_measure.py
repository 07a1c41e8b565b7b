"""What `memplane-bench bench --scale` measures on a running memplane, over the functions' HTTP path.

Server figures are each response's own ``timings_ms.search``: its time less any wait for the embedding (the
targets exclude it); client figures are wall clock around the HTTP call.
"""

from __future__ import annotations

import http.client
import json
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from memplane_bench.scale_data import ChatText
from memplane_bench.stats import percentiles

Post = Callable[[str, dict[str, Any]], dict[str, Any]]


class KeepAlivePoster:
    """POSTs JSON over one kept-alive connection per calling thread, as a long-lived caller would."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._local = threading.local()

    def __call__(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = http.client.HTTPConnection("127.0.0.1", self._port, timeout=60)
        try:
            conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self._local.conn = None
            conn.close()
            raise
        if response.status != 200:
            raise RuntimeError(f"{path} answered {response.status}: {data.decode(errors='replace')}")
        reply: dict[str, Any] = json.loads(data)
        return reply


def assembles(
    post: Post, client_id: str, questions: Sequence[str], embedding: bool = False
) -> dict[str, Any]:
    """p50/p95/p99 of assemble for one client: server time without the embedding, and HTTP time."""
    server: list[float] = []
    http: list[float] = []
    for question in questions:
        started = time.perf_counter()
        reply = post("/assemble", {"client_id": client_id, "query": question, "limit": 10})
        http.append((time.perf_counter() - started) * 1000)
        spent = float(reply["execution_time_ms"])
        server.append(spent if embedding else float(reply["timings_ms"].get("search", spent)))
    return {"calls": len(questions), "server": percentiles(server), "http": percentiles(http)}


def writebacks(post: Post, client_id: str, text: ChatText, calls: int, rng: random.Random) -> dict[str, Any]:
    """A chat that grows by one exchange a call, its recent history resent each time, as Open WebUI does."""
    history: list[dict[str, str]] = []
    server: list[float] = []
    chat = f"bench-{rng.randrange(1 << 62)}"
    for n in range(calls):
        history.append({"role": "user", "id": f"{chat}-u{n}", "content": text.message()})
        answer = text.message()
        body = {
            "client_id": client_id,
            "chat_id": chat,
            "message_id": f"{chat}-a{n}",
            "conversation": history[-20:],
            "response": answer,
        }
        server.append(float(post("/writeback", body)["execution_time_ms"]))
        history.append({"role": "assistant", "id": f"{chat}-a{n}", "content": answer})
    return {"calls": calls, "server": percentiles(server)}


def concurrent(
    post: Post, clients: Sequence[str], questions: Sequence[str], callers: int, seconds: float
) -> dict[str, Any]:
    """Throughput of assemble with ``callers`` at once for ``seconds``, across the given clients."""
    deadline = time.monotonic() + seconds

    def caller(i: int) -> tuple[list[float], int]:
        times: list[float] = []
        errors = 0
        n = i
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                post(
                    "/assemble",
                    {"client_id": clients[n % len(clients)], "query": questions[n % len(questions)]},
                )
                times.append((time.perf_counter() - started) * 1000)
            except (RuntimeError, OSError, http.client.HTTPException):
                errors += 1
            n += callers
        return times, errors

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=callers) as pool:
        results = list(pool.map(caller, range(callers)))
    elapsed = time.monotonic() - started
    times = [t for ts, _ in results for t in ts]
    return {
        "callers": callers,
        "seconds": round(elapsed, 1),
        "requests": len(times),
        "errors": sum(e for _, e in results),
        "per_second": round(len(times) / elapsed, 1),
        "http": percentiles(times),
    }


def cleanup(post: Post, expire: Callable[[], int]) -> dict[str, Any]:
    """Age ``expire()`` chunks past their TTL, then time one cleanup call that deletes them."""
    expired = expire()
    started = time.perf_counter()
    reply = post("/cleanup", {})
    return {
        "expired": expired,
        "deleted": reply["deleted_entries"],
        "server_ms": float(reply["execution_time_ms"]),
        "http_ms": round((time.perf_counter() - started) * 1000, 1),
    }


@contextmanager
def served(env: dict[str, str]) -> Iterator[tuple[Post, subprocess.Popen[bytes]]]:
    """`memplane serve` in its own process, so that the callers' threads do not share its GIL; the
    poster and the process (for its memory)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and command
        [sys.executable, "-m", "memplane.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2) as r:  # noqa: S310 - loopback
                    # A cold Qdrant client loads in the background: measure the warm service.
                    if json.loads(r.read())["vector_index"]["status"] != "starting":
                        break
            except OSError:
                pass
            time.sleep(0.1)
        yield KeepAlivePoster(port), server
    finally:
        server.terminate()
        server.wait(30)
