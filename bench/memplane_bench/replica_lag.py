"""`memplane-bench bench --replica`: what a read-only node costs a user right after they spoke.

An embedded primary and a streaming replica of it (``pg_basebackup``), and `memplane serve` with
``DATABASE_READ_URL`` pointing at the replica. Two passes of ``rounds`` writebacks of a new message:
- the replica's lag as a user meets it: from writeback's answer until the replica has replayed its
  ``read_after`` (polled every half millisecond);
- as a chat goes, the next assemble at once: whether one *without* ``read_after`` (a plain API caller)
  finds the new message, and for one *with* it (Open WebUI's filter), which node answered and how fast.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

from memplane.adapters import embedded_postgres
from memplane.adapters.postgres import migrations
from memplane_bench import scale_measure, standby
from memplane_bench.stats import percentiles

_DIM = 384
_DB = "memplane_bench"


def run(rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="memplane-replica-") as tmp:
        home = Path(tmp)
        server = embedded_postgres.start(home / "primary")
        replica = None
        try:
            with psycopg.connect(server, autocommit=True) as conn:
                conn.execute(f"CREATE DATABASE {_DB}")
            primary = server.replace("/postgres?", f"/{_DB}?")
            migrations.apply(primary, migrations.default_migrations_dir(), _DIM)
            replica = standby.start(server, home / "standby")
            ours = ("MEMPLANE_", "OPENAI_", "QDRANT_")
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith(ours)},
                "DATABASE_URL": primary,
                "DATABASE_READ_URL": replica.url(_DB),
                "MEMPLANE_DATA_DIR": tmp,
                "MEMPLANE_EMBEDDING_DIM": str(_DIM),
                "MEMPLANE_EMBEDDER": "hash",
                "MEMPLANE_EXTRACTOR": "rules",
            }
            with scale_measure.served(env) as (post, _server), psycopg.connect(replica.url(_DB)) as watch:
                watch.autocommit = True
                return _rounds(post, watch, rounds)
        finally:
            if replica is not None:
                replica.stop()
            embedded_postgres.stop(home / "primary")


def _rounds(post: scale_measure.Post, watch: psycopg.Connection[Any], rounds: int) -> dict[str, Any]:
    # First the lag alone: after each writeback, poll the replica until it holds the write.
    lag_ms: list[float] = []
    for n in range(rounds):
        written = post("/writeback", _said(n, f"lag{n:05d}"))
        answered = time.perf_counter()
        while not _holds(watch, written["read_after"]):
            time.sleep(0.0005)
        lag_ms.append((time.perf_counter() - answered) * 1000)
    # Then as a chat goes: after each writeback, the next assemble at once, without and with read_after.
    plain_found = 0
    with_token_ms: list[float] = []
    answered_by: dict[str, int] = {}
    for n in range(rounds):
        word = f"zq{n:05d}x"  # a word no other message has: found only if this round's write is read
        said = _said(rounds + n, word)
        written = post("/writeback", said)
        ask = {"client_id": said["client_id"], "query": f"locker code {word}"}
        plain = post("/assemble", ask)
        plain_found += word in str(plain["similar_chunks"])
        started = time.perf_counter()
        fresh = post("/assemble", {**ask, "read_after": written["read_after"]})
        with_token_ms.append((time.perf_counter() - started) * 1000)
        answered_by[fresh["read_from"]] = answered_by.get(fresh["read_from"], 0) + 1
        if word not in str(fresh["similar_chunks"]):
            raise RuntimeError(f"round {n}: the assemble with read_after missed the message just written")
    return {
        "rounds": rounds,
        "replica_lag_ms": percentiles(lag_ms),
        "found_without_read_after": round(plain_found / rounds, 3),
        "assemble_with_read_after_ms": percentiles(with_token_ms),
        "answered_by": answered_by,
    }


def _said(n: int, word: str) -> dict[str, Any]:
    who = f"user-{n % 20}"
    return {
        "client_id": who,
        "chat_id": f"{who}-chat",
        "conversation": [{"role": "user", "id": f"u{n}", "content": f"My locker code is {word}."}],
        "response": "Noted.",
        "message_id": f"a{n}",
        "profile": {"full_name": "Bench"},
    }


def _holds(conn: psycopg.Connection[Any], position: str) -> bool:
    row = conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (position,)).fetchone()
    return bool(row and row[0])


def table(figures: dict[str, Any]) -> str:
    lag, fresh = figures["replica_lag_ms"], figures["assemble_with_read_after_ms"]
    return "\n".join(
        [
            f"{figures['rounds']} rounds of writeback, then assemble at once",
            f"replica lag after writeback's answer  p50 {lag.get('p50')}  p95 {lag.get('p95')}  "
            f"max {lag.get('max')} ms",
            f"assemble without read_after found the new message in {figures['found_without_read_after']:.1%}",
            f"assemble with read_after: p50 {fresh.get('p50')}  p95 {fresh.get('p95')} ms over HTTP, "
            f"answered by {figures['answered_by']}",
        ]
    )
