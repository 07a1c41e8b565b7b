"""`memplane-bench bench --capacity`: what a deployment costs as it grows, measured on a real Postgres.

For each embedding size and vector backend, a throwaway `memplane serve` (its own process, its own
embedded Postgres; Qdrant in local mode) replays LoCoMo-format conversations through writeback, asks
their questions through assemble, and reports:
- storage after VACUUM: bytes per stored chunk for each table (indexes and TOAST included), and per
  chat turn (one writeback: the user's message and the answer);
- Postgres' work per call: CPU milliseconds of the server's processes, write-ahead log bytes, and
  shared buffers touched (hit + read), each the change over the phase divided by its calls;
- chat turns a second at saturation (an assemble then a writeback each) with 16, 32 and 64 callers,
  with the Postgres CPU each turn took (pgvector only: Qdrant's local mode is no server).

On one machine the callers, memplane and Postgres share the cores, so turns a second here are a floor
for one memplane process; what the database alone can carry follows from its CPU time a turn, which
is what docs/scaling.md turns into a plan size.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from memplane.adapters import embedded_postgres
from memplane.provision import prepare_storage
from memplane.settings import Settings
from memplane_bench import locomo, scale_measure

# Qdrant as the index with the Postgres graphs memplane kept before 0.5 (on chunks and episodes):
# the "before" of the same run, for what dropping them saves.
LEGACY = "qdrant+graphs"
# Stats of idle backends reach pg_stat_database within this long (PostgreSQL's idle flush interval).
_STATS_SETTLE_S = 11.0


@dataclass(frozen=True)
class Options:
    data: Path
    dims: tuple[int, ...] = (384, 1536)
    backends: tuple[str, ...] = ("pgvector", "qdrant", LEGACY)
    callers: tuple[int, ...] = (16, 32, 64)
    seconds: float = 10.0


@dataclass(frozen=True)
class Counters:
    cpu_s: float
    wal: int
    buffers: int


def run(options: Options) -> list[dict[str, Any]]:
    samples = locomo.load(options.data)
    return [_one(samples, dim, backend, options) for dim in options.dims for backend in options.backends]


def _one(samples: list[dict[str, Any]], dim: int, backend: str, options: Options) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="memplane-capacity-") as tmp, _postgres(Path(tmp)) as url:
        index = "qdrant" if backend.startswith("qdrant") else "pgvector"
        settings = Settings(
            _env_file=None,
            database_url=url,
            embedding_dim=dim,
            embedder="hash",
            extractor="rules",
            vector_backend=index,
            data_dir=Path(tmp),
            allow_unauthenticated=True,
        )
        prepare_storage(settings)
        if backend == LEGACY:
            _old_graphs(url)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("MEMPLANE_", "OPENAI_", "QDRANT_"))},
            "DATABASE_URL": url,
            "MEMPLANE_DATA_DIR": tmp,
            "MEMPLANE_EMBEDDING_DIM": str(dim),
            "MEMPLANE_EMBEDDER": "hash",
            "MEMPLANE_EXTRACTOR": "rules",
            "MEMPLANE_VECTOR_BACKEND": index,
        }
        replay = locomo.build_replay(samples, "cap-")
        with scale_measure.served(env) as (post, _server):
            before = _counters(url)
            for body in replay.writebacks:
                post("/writeback", body)
            written = _counters(url)
            for q in replay.questions:
                post("/assemble", {"client_id": q.client_id, "query": q.text, "limit": 10})
            asked = _counters(url)
            storage = _storage(url)
            # Qdrant's local mode scans every point in memplane's own process: its throughput says
            # nothing of a Qdrant server's, so saturation is measured where Postgres does the search.
            callers = options.callers if index == "pgvector" else ()
            saturation = [_saturate(post, url, replay, n, options.seconds) for n in callers]
        return {
            "dim": dim,
            "backend": backend,
            "writebacks": len(replay.writebacks),
            "assembles": len(replay.questions),
            "per_writeback": _per(before, written, len(replay.writebacks)),
            "per_assemble": _per(written, asked, len(replay.questions)),
            "storage": storage,
            "saturation": saturation,
        }


def _old_graphs(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for table in ("memory_entries", "episodes"):
            graph = f"CREATE INDEX {table}_embedding ON {table} USING hnsw (embedding vector_cosine_ops)"
            conn.execute(graph)


@contextmanager
def _postgres(tmp: Path) -> Iterator[str]:
    url = embedded_postgres.start(tmp / "pg")
    try:
        yield url
    finally:
        embedded_postgres.stop(tmp / "pg")


def _postgres_cpu_s(url: str) -> float:
    """CPU seconds used so far by the postmaster and the processes it started (backends, WAL writer,
    checkpointer...), from /proc: the benchmark runs on Linux, like the deployments it sizes."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT setting FROM pg_settings WHERE name = 'data_directory'").fetchone()
    postmaster = (Path(str(row[0] if row else "")) / "postmaster.pid").read_text().split()[0]
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid, rest = stat.parent.name, stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        if pid == postmaster or rest[1] == postmaster:  # rest: state, ppid, ... utime (12), stime (13)
            total += (int(rest[11]) + int(rest[12])) / tick
    return total


def _counters(url: str, settle: bool = True) -> Counters:
    if settle:
        time.sleep(_STATS_SETTLE_S)
    cpu = _postgres_cpu_s(url)
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint, "
            "(SELECT blks_hit + blks_read FROM pg_stat_database WHERE datname = current_database())"
        ).fetchone()
    wal, buffers = row if row else (0, 0)
    return Counters(cpu, int(wal), int(buffers))


def _per(a: Counters, b: Counters, calls: int) -> dict[str, float]:
    n = max(calls, 1)
    return {
        "cpu_ms": round((b.cpu_s - a.cpu_s) * 1000 / n, 2),
        "wal_bytes": round((b.wal - a.wal) / n),
        "buffers": round((b.buffers - a.buffers) / n, 1),
    }


def _storage(url: str) -> dict[str, Any]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        # The tables that grow with memory: every one keyed by the client (tests/test_sharding.py),
        # not the deployment's own few fixed-size ones.
        sizes = {
            str(name): int(size)
            for name, size in conn.execute(
                "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
                "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND (c.relname = "
                "'client_profiles' OR EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid "
                "AND a.attname = 'client_id' AND NOT a.attisdropped))"
            ).fetchall()
        }
        chunks = conn.execute("SELECT count(*) FROM memory_entries").fetchone()
        turns = conn.execute("SELECT count(*) FROM episodes").fetchone()
        database = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        graphs = conn.execute(
            "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_am a ON a.oid = c.relam WHERE a.amname = 'hnsw'"
        ).fetchone()
    n = int(chunks[0]) if chunks else 0
    return {
        "chunks": n,
        "episodes": int(turns[0]) if turns else 0,
        "hnsw_graphs": int(graphs[0]) if graphs else 0,
        "bytes_per_chunk": {t: round(size / max(n, 1)) for t, size in sizes.items()},
        "total_per_chunk": round(sum(sizes.values()) / max(n, 1)),
        "database_bytes": int(database[0]) if database else 0,
    }


def _saturate(
    post: scale_measure.Post, url: str, replay: locomo.Replay, callers: int, seconds: float
) -> dict[str, Any]:
    """``callers`` threads, each a user taking turns without pause: assemble, then writeback."""
    clients = sorted({q.client_id for q in replay.questions})
    questions = [q.text for q in replay.questions]
    before = _counters(url, settle=False)
    deadline = time.monotonic() + seconds
    turns = [0] * callers
    errors = [0] * callers

    def caller(i: int) -> None:
        rng = random.Random(i)  # noqa: S311 - load, not secrets
        n = 0
        while time.monotonic() < deadline:
            client = rng.choice(clients)
            try:
                post("/assemble", {"client_id": client, "query": rng.choice(questions), "limit": 10})
                post("/writeback", _turn(client, f"sat{callers}-{i}-{n}", rng.choice(questions)))
                turns[i] += 1
            except (RuntimeError, OSError):
                errors[i] += 1
            n += 1

    started = time.monotonic()
    with ThreadPoolExecutor(callers) as pool:
        list(pool.map(caller, range(callers)))
    elapsed = time.monotonic() - started
    after = _counters(url, settle=False)
    done = sum(turns)
    return {
        "callers": callers,
        "turns_per_s": round(done / elapsed, 1),
        "errors": sum(errors),
        "postgres_cpu_ms_per_turn": round((after.cpu_s - before.cpu_s) * 1000 / max(done, 1), 2),
    }


def _turn(client: str, key: str, text: str) -> dict[str, Any]:
    return {
        "client_id": client,
        "chat_id": f"{client}-load",
        "conversation": [{"role": "user", "id": f"{key}-u", "content": f"About {text.lower()} {key}"}],
        "response": f"Here is what I know ({key}).",
        "message_id": f"{key}-a",
    }


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        f"{'dim':>5} {'backend':<9} {'bytes/chunk':>11} {'entries':>8} {'postings':>9} {'episodes':>9} "
        f"{'graphs':>6} | {'writeback cpu ms':>16} {'wal B':>7} {'bufs':>6} | {'assemble cpu ms':>15} "
        f"{'bufs':>6} | turns/s (callers)"
    ]
    for r in results:
        s, w, a = r["storage"], r["per_writeback"], r["per_assemble"]
        per = s["bytes_per_chunk"]
        sat = ", ".join(f"{x['turns_per_s']} ({x['callers']})" for x in r["saturation"])
        lines.append(
            f"{r['dim']:>5} {r['backend']:<9} {s['total_per_chunk']:>11} {per['memory_entries']:>8} "
            f"{per['memory_postings']:>9} {per['episodes']:>9} {s['hnsw_graphs']:>6} | {w['cpu_ms']:>16} "
            f"{w['wal_bytes']:>7} {w['buffers']:>6} | {a['cpu_ms']:>15} {a['buffers']:>6} | {sat}"
        )
    lines.append("storage after VACUUM, indexes and TOAST included; Postgres work per call over each phase")
    return "\n".join(lines)
