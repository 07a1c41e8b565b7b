"""The extraction log on Postgres (``ExtractionLog``): one row per failing chat model, read by name."""

from __future__ import annotations

from datetime import datetime

from psycopg.rows import class_row

from memplane.adapters.postgres.connection import Database
from memplane.model import ExtractionBacklog, ExtractionHealth

_SUCCEEDED = """
UPDATE extraction_health SET failing_since = NULL, failures = 0, last_ok_at = %(at)s
WHERE model = %(model)s AND (failing_since IS NOT NULL OR last_ok_at IS NULL)
"""
_FAILED = """
INSERT INTO extraction_health AS h
    (model, failing_since, last_failure_at, failures, last_kind, last_error, last_excerpt)
VALUES (%(model)s, %(at)s, %(at)s, 1, %(kind)s, %(error)s, %(excerpt)s)
ON CONFLICT (model) DO UPDATE SET
    failing_since = coalesce(h.failing_since, excluded.failing_since),
    last_failure_at = excluded.last_failure_at,
    failures = h.failures + 1,
    last_kind = excluded.last_kind,
    last_error = excluded.last_error,
    last_excerpt = coalesce(excluded.last_excerpt, h.last_excerpt)
"""
_REFUSED = """
INSERT INTO extraction_health AS h (model, refusals, last_refusal_at) VALUES (%(model)s, 1, %(at)s)
ON CONFLICT (model) DO UPDATE SET refusals = h.refusals + 1, last_refusal_at = excluded.last_refusal_at
"""
_HEALTH = "SELECT * FROM extraction_health WHERE model = %s"
_BACKLOG = """
SELECT count(*) FILTER (WHERE extraction_given_up_at IS NULL) AS waiting,
       count(*) FILTER (WHERE extraction_given_up_at IS NOT NULL) AS given_up
FROM episodes WHERE extraction_turns IS NOT NULL
"""
_REQUEUE = """
UPDATE episodes SET extraction_given_up_at = NULL, extraction_next_at = NULL, extraction_attempts = 0
WHERE extraction_given_up_at IS NOT NULL
"""


class PostgresExtractionLog:
    def __init__(self, db: Database) -> None:
        self._db = db
        # Models this container has seen recorded as working: a success then costs no statement, and
        # after a failure (here or, unseen, in another container) the first success clears the row.
        self._clear: set[str] = set()

    def succeeded(self, model: str, at: datetime) -> None:
        if model in self._clear:
            return
        with self._db.connection() as conn, conn.transaction():
            conn.execute(_SUCCEEDED, {"model": model, "at": at})
        self._clear.add(model)

    def failed(self, model: str, at: datetime, kind: str, error: str, excerpt: str | None) -> None:
        self._clear.discard(model)
        with self._db.connection() as conn, conn.transaction():
            conn.execute(
                _FAILED, {"model": model, "at": at, "kind": kind, "error": error[:500], "excerpt": excerpt}
            )

    def refused(self, model: str, at: datetime) -> None:
        with self._db.connection() as conn, conn.transaction():
            conn.execute(_REFUSED, {"model": model, "at": at})

    def health(self, model: str) -> ExtractionHealth | None:
        with self._db.connection() as conn, conn.transaction():
            cursor = conn.cursor(row_factory=class_row(ExtractionHealth))
            return cursor.execute(_HEALTH, (model,)).fetchone()

    def backlog(self) -> ExtractionBacklog:
        with self._db.connection() as conn, conn.transaction():
            cursor = conn.cursor(row_factory=class_row(ExtractionBacklog))
            row = cursor.execute(_BACKLOG).fetchone()
        return row if row is not None else ExtractionBacklog(0, 0)

    def requeue(self) -> int:
        with self._db.connection() as conn, conn.transaction():
            return conn.execute(_REQUEUE).rowcount
