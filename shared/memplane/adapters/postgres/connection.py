"""Connections to Postgres: a lazily opened pool whose connections are checked before each use.

Serverless containers get paused between requests and idle TCP connections may be dropped meanwhile,
so the pool validates a connection when it is handed out instead of trusting it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from threading import Lock
from typing import Any

import psycopg
from pgvector.psycopg import register_vector
from psycopg import errors as pg_errors
from psycopg_pool import ConnectionPool, PoolTimeout

from memplane.errors import DatabaseError, Timeout

Connection = psycopg.Connection[Any]


def translate(exc: psycopg.Error) -> DatabaseError | Timeout:
    """Map a driver error to ours. The message names the failure, never connection secrets."""
    if isinstance(exc, pg_errors.QueryCanceled | pg_errors.LockNotAvailable):
        return Timeout("the database did not answer within the time budget; retry later")
    if isinstance(exc, pg_errors.UndefinedTable | pg_errors.UndefinedFunction):
        return DatabaseError("the memplane schema is missing or out of date; run `memplane migrate`")
    state = exc.sqlstate or "connection"
    return DatabaseError(f"the database failed ({state}: {type(exc).__name__})")


class Database:
    """A pool over one database URL. Creating it does no I/O; the first ``connection()`` connects."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 4,
        connect_timeout_s: float = 5.0,
        prepared_statements: bool = True,
    ) -> None:
        kwargs: dict[str, Any] = {"connect_timeout": max(1, round(connect_timeout_s))}
        if not prepared_statements:
            kwargs["prepare_threshold"] = None
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs=kwargs,
            configure=_configure,
            check=ConnectionPool.check_connection,
            timeout=connect_timeout_s,
            open=False,
            name="memplane",
        )
        self._opened = False
        self._lock = Lock()

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """Yield a checked connection; translate driver errors raised inside the block to ours."""
        self._ensure_open()
        try:
            with self._pool.connection() as conn:
                yield conn
        except PoolTimeout as exc:
            raise DatabaseError("the database is unreachable; check DATABASE_URL") from exc
        except psycopg.Error as exc:
            raise translate(exc) from exc

    def close(self) -> None:
        with self._lock:
            if self._opened:
                self._pool.close()
                self._opened = False

    def _ensure_open(self) -> None:
        with self._lock:
            if not self._opened:
                self._pool.open(wait=False)
                self._opened = True


def _configure(conn: Connection) -> None:
    # register_vector costs a few catalogue queries: once per connection, not per request.
    # The vector extension is missing until `memplane migrate` has run; queries then say so.
    with suppress(psycopg.ProgrammingError):
        register_vector(conn)
    conn.commit()
