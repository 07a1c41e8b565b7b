"""`memplane-bench bench --load`: `memplane serve` under many concurrent callers for a while, on loopback.

A throwaway service on its own embedded Postgres, in its own process. ``callers`` threads call it
without pause for ``seconds``: four assembles for each writeback (a new exchange each time), across
a few clients. Reported: requests, errors, latency percentiles, and the server's resident memory
sampled every second. Under a steady load memory should level off after warming up; memory that
keeps climbing is a leak.
"""

from __future__ import annotations

import http.client
import os
import random
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from memplane.adapters import embedded_postgres
from memplane.adapters.postgres import migrations
from memplane_bench import scale_measure
from memplane_bench.stats import percentiles

CLIENTS = [f"load-{i}" for i in range(8)]
QUESTIONS = ["Where do I live?", "What is my job?", "Which books did I mention?", "When is the trip?"]
_DIM = 384


def run(seconds: float, callers: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="memplane-load-") as tmp:
        url = embedded_postgres.start(Path(tmp) / "pg")
        try:
            migrations.apply(url, migrations.default_migrations_dir(), _DIM)
            env = {
                **{
                    k: v
                    for k, v in os.environ.items()
                    if not k.startswith(("MEMPLANE_", "OPENAI_", "QDRANT_"))
                },
                "DATABASE_URL": url,
                "MEMPLANE_DATA_DIR": tmp,
                "MEMPLANE_EMBEDDING_DIM": str(_DIM),
                "MEMPLANE_EMBEDDER": "hash",
                "MEMPLANE_EXTRACTOR": "rules",
            }
            with scale_measure.served(env) as (post, server):
                return _load(post, server.pid, seconds, callers)
        finally:
            embedded_postgres.stop(Path(tmp) / "pg")


def _load(post: scale_measure.Post, pid: int, seconds: float, callers: int) -> dict[str, Any]:
    for n, client in enumerate(CLIENTS):
        post("/writeback", _exchange(client, f"seed-{n}"))
    memory: list[tuple[float, int]] = []
    done = threading.Event()

    def sample() -> None:
        started = time.monotonic()
        while not done.wait(1.0):
            memory.append((round(time.monotonic() - started, 1), _rss_kb(pid)))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    deadline = time.monotonic() + seconds

    def caller(i: int) -> tuple[list[float], list[float], int]:
        rng = random.Random(i)  # noqa: S311 - load, not secrets
        reads: list[float] = []
        writes: list[float] = []
        errors = 0
        n = 0
        while time.monotonic() < deadline:
            client = rng.choice(CLIENTS)
            started = time.perf_counter()
            try:
                if n % 5 == 4:
                    post("/writeback", _exchange(client, f"c{i}-{n}"))
                    writes.append((time.perf_counter() - started) * 1000)
                else:
                    post("/assemble", {"client_id": client, "query": rng.choice(QUESTIONS)})
                    reads.append((time.perf_counter() - started) * 1000)
            except (RuntimeError, OSError, http.client.HTTPException):
                errors += 1
            n += 1
        return reads, writes, errors

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=callers) as pool:
        results = list(pool.map(caller, range(callers)))
    elapsed = time.monotonic() - started
    done.set()
    sampler.join()
    reads = [t for r, _, _ in results for t in r]
    writes = [t for _, w, _ in results for t in w]
    rss = [kb for _, kb in memory]
    warm = rss[len(rss) // 4 :] or rss  # after the first quarter: imports and pools are done by then
    return {
        "callers": callers,
        "seconds": round(elapsed, 1),
        "requests": len(reads) + len(writes),
        "errors": sum(e for _, _, e in results),
        "per_second": round((len(reads) + len(writes)) / elapsed, 1),
        "assemble_ms": percentiles(reads),
        "writeback_ms": percentiles(writes),
        "server_rss_kb": {
            "first": rss[0] if rss else 0,
            "warm_min": min(warm, default=0),
            "warm_max": max(warm, default=0),
            "last": rss[-1] if rss else 0,
        },
        "server_rss_samples": memory,
    }


def _exchange(client: str, key: str) -> dict[str, Any]:
    return {
        "client_id": client,
        "chat_id": f"{client}-chat",
        "conversation": [{"role": "user", "id": f"{key}-u", "content": f"I live in Lisbon and note {key}."}],
        "response": f"Noted {key}.",
        "message_id": f"{key}-a",
        "profile": {"full_name": client},
    }


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def table(figures: dict[str, Any]) -> str:
    a, w, m = figures["assemble_ms"], figures["writeback_ms"], figures["server_rss_kb"]
    return "\n".join(
        [
            f"{figures['callers']} callers for {figures['seconds']} s: {figures['requests']} requests "
            f"({figures['per_second']}/s), {figures['errors']} errors",
            f"assemble over HTTP  p50 {a.get('p50')}  p95 {a.get('p95')}  p99 {a.get('p99')} ms",
            f"writeback over HTTP p50 {w.get('p50')}  p95 {w.get('p95')}  p99 {w.get('p99')} ms",
            f"server memory (RSS) first {m['first'] // 1024} MB, after warm-up {m['warm_min'] // 1024}-"
            f"{m['warm_max'] // 1024} MB, last {m['last'] // 1024} MB",
        ]
    )
