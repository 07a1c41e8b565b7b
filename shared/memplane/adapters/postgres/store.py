"""The memory store on Postgres + pgvector: sessions of one transaction, made of one part per concern
(writes, reads, erasure, repairs, the index queue), each with its own SQL in its own module."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from psycopg.rows import dict_row

from memplane.adapters.postgres import queries as q
from memplane.adapters.postgres.connection import Database, scalar
from memplane.adapters.postgres.erasure import Erasure
from memplane.adapters.postgres.index_queue import IndexQueue
from memplane.adapters.postgres.reads import Reads
from memplane.adapters.postgres.repairs import Repairs
from memplane.adapters.postgres.versions import iterative_scan
from memplane.adapters.postgres.writes import Writes
from memplane.errors import DatabaseError
from memplane.model import (
    Execution,
)


class PostgresStore:
    """``MemoryStore`` over a ``Database``. Each session is one transaction with a statement budget."""

    def __init__(self, db: Database, *, statement_timeout_ms: int = 5000) -> None:
        self._db = db
        self._timeout = str(int(statement_timeout_ms))

    @contextmanager
    def session(self, timeout_ms: int | None = None) -> Iterator[PostgresSession]:
        budget = str(int(timeout_ms)) if timeout_ms is not None else self._timeout
        with self._db.connection() as conn, conn.transaction():
            # Both budgets are transaction-local, so they also hold behind PgBouncer's transaction mode.
            conn.execute(q.SET_BUDGET, (budget, budget))
            yield PostgresSession(conn)

    def log_execution(self, e: Execution) -> None:
        with self._db.connection() as conn, conn.transaction():
            conn.execute(
                q.LOG_EXECUTION,
                (
                    e.function,
                    e.request_id,
                    e.client_id,
                    e.status,
                    e.error_code,
                    e.duration_ms,
                    list(e.degraded),
                    e.action,
                ),
            )

    def ping(self) -> dict[str, str]:
        with self._db.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(q.PING).fetchone()
            conn.rollback()
        if row is None or row["schema_version"] is None:
            raise DatabaseError("the database has no memplane schema; run `memplane migrate`")
        version = str(row["pgvector"])
        return {
            "schema_version": str(row["schema_version"]),
            "pgvector": version,
            "iterative_scan": "true" if iterative_scan(version) else "false",
        }

    def log_position(self) -> str:
        with self._db.connection() as conn:
            position = scalar(conn, q.LOG_POSITION)
            conn.rollback()
        return str(position)

    def vacuum(self) -> None:
        """VACUUM cannot run inside a transaction: borrow a connection and switch it to autocommit."""
        with self._db.connection() as conn:
            conn.rollback()
            conn.autocommit = True
            try:
                for table, options in q.VACUUMED_TABLES:
                    conn.execute(f"VACUUM ({options}) {table}")
            finally:
                conn.autocommit = False


class PostgresSession(Writes, Reads, Erasure, Repairs, IndexQueue):
    """``StoreSession`` bound to one connection inside an open transaction."""
