"""A read-only node: a streaming replica of the primary, read by assemble.

A replica replays the primary's write-ahead log a little behind it (milliseconds on a healthy managed
cluster, seconds under load or after a network hiccup). A caller that has just written passes the log
position its write ended at, and the replica is read only once it has replayed that far; otherwise the
primary answers. That keeps "what I just said" in the next answer without sending every read to the
primary.
"""

from __future__ import annotations

import time

from memplane.adapters.postgres.connection import Database, scalar
from memplane.ports import MemoryStore, VectorIndex

# A node that is not in recovery is a primary (or a promoted replica): it holds everything.
_HOLDS = "SELECT NOT pg_is_in_recovery() OR coalesce(pg_last_wal_replay_lsn() >= %s::pg_lsn, false)"


_REPLAYED = "SELECT pg_last_wal_replay_lsn()::text"


class PostgresReadNode:
    """``ReadNode`` over a replica's ``Database``, its store and its pgvector index."""

    def __init__(self, db: Database, store: MemoryStore, vectors: VectorIndex) -> None:
        self._db = db
        self.store = store
        self.vectors = vectors

    def holds(self, position: str, wait_s: float) -> bool:
        deadline = time.monotonic() + wait_s
        pause = 0.002
        while True:
            with self._db.connection() as conn:
                caught_up = bool(scalar(conn, _HOLDS, (position,)))
                conn.rollback()
            if caught_up or time.monotonic() >= deadline:
                return caught_up
            time.sleep(pause)
            pause = min(pause * 2, 0.02)

    def replayed(self) -> str | None:
        with self._db.connection() as conn:
            position = scalar(conn, _REPLAYED)
            conn.rollback()
        return None if position is None else str(position)

    def close(self) -> None:
        self._db.close()
