"""Connections to Postgres: a lazily opened pool whose connections are checked before each use.

Serverless containers get paused between requests and idle TCP connections may be dropped meanwhile,
so the pool validates a connection when it is handed out instead of trusting it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from threading import Lock
from typing import Any

import psycopg
from pgvector.psycopg import register_vector
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.rows import scalar_row
from psycopg_pool import ConnectionPool, PoolTimeout

from memplane.errors import DatabaseError, Timeout

Connection = psycopg.Connection[Any]
Statement = str | sql.SQL | sql.Composed  # SQL text, or composed by psycopg: never spliced by hand


def scalar(conn: Connection, statement: Statement, params: Any = None) -> Any:
    """The first column of a statement's first row, or None when it returns no row."""
    with conn.cursor(row_factory=scalar_row) as cur:
        return cur.execute(statement, params).fetchone()


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
        self._breaker = Breaker()

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """Yield a checked connection; translate driver errors raised inside the block to ours.

        Once the database has been found unreachable, callers are answered at once for a second
        rather than each waiting out the connect timeout, which is longer than a function's patience;
        then one caller at a time tries again, briefly (see ``Breaker``).
        """
        self._ensure_open()
        timeout = self._breaker.admit()
        try:
            with self._pool.connection(timeout=timeout) as conn:
                self._breaker.succeeded()
                yield conn
        except PoolTimeout as exc:
            self._breaker.failed()
            raise DatabaseError("the database is unreachable; check DATABASE_URL") from exc
        except psycopg.Error as exc:
            if _lost(exc):
                self._breaker.failed()
            raise translate(exc) from exc

    def stats(self) -> dict[str, int]:
        """The pool's counters (connections held, idle, callers waiting): for health and tests."""
        stats = self._pool.get_stats()
        return {k: int(stats.get(k, 0)) for k in ("pool_size", "pool_available", "requests_waiting")}

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


class Breaker:
    """A short circuit breaker on reaching the database.

    Closed: every caller connects normally. After a failure to reach the database it opens: callers
    get ``DatabaseError`` at once, and every ``open_s`` one of them is let through to try, waiting at
    most ``probe_timeout_s``; the first success closes it again.
    """

    def __init__(self, open_s: float = 1.0, probe_timeout_s: float = 0.8) -> None:
        self.open_s = open_s
        self.probe_timeout_s = probe_timeout_s
        self._down = False
        self._next_try = 0.0
        self._lock = Lock()

    def admit(self) -> float | None:
        """The time this caller may wait for a connection (None: the pool's own), or raise."""
        with self._lock:
            if not self._down:
                return None
            now = time.monotonic()
            if now < self._next_try:
                raise DatabaseError("the database was unreachable a moment ago; retry shortly")
            self._next_try = now + self.open_s
            return self.probe_timeout_s

    def failed(self) -> None:
        with self._lock:
            self._down = True
            self._next_try = time.monotonic() + self.open_s

    def succeeded(self) -> None:
        if self._down:
            with self._lock:
                self._down = False


def _lost(exc: psycopg.Error) -> bool:
    """The connection or the server went away (not a query's own failure)."""
    if not isinstance(exc, psycopg.OperationalError):
        return False
    state = exc.sqlstate
    return state is None or state.startswith("08") or state in ("57P01", "57P02", "57P03")


def _configure(conn: Connection) -> None:
    # register_vector costs a few catalogue queries: once per connection, not per request.
    # The vector extension is missing until `memplane migrate` has run; queries then say so.
    with suppress(psycopg.ProgrammingError):
        register_vector(conn)
    conn.commit()
