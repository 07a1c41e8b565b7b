"""The cleanup run log on Postgres (``CleanupRunLog``): one row a run, read back by column name."""

from __future__ import annotations

from datetime import datetime, timedelta

from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from memplane.adapters.postgres.connection import Database, scalar
from memplane.model import CleanupHistory, CleanupRun

_START = "INSERT INTO cleanup_runs (started_at) VALUES (%s) RETURNING id"
_FINISH = """
UPDATE cleanup_runs SET finished_at = %(at)s, outcome = %(outcome)s, counts = %(counts)s,
                        error_code = %(error_code)s
WHERE id = %(id)s
"""
_FORGET_OLD = "DELETE FROM cleanup_runs WHERE started_at < %s"
_LAST = """
SELECT started_at, finished_at, outcome, counts, error_code FROM cleanup_runs
ORDER BY started_at DESC LIMIT 1
"""
_LAST_COMPLETED = """
SELECT max(finished_at) FROM cleanup_runs WHERE outcome IN ('ok', 'degraded')
"""
# When this deployment's schema was first created: a deployment younger than the allowed age has
# not missed a run yet.
_DEPLOYED = "SELECT min(applied_at) FROM memplane_migrations"
_KEPT = timedelta(days=366)


class PostgresCleanupRuns:
    def __init__(self, db: Database) -> None:
        self._db = db

    def started(self, at: datetime) -> int:
        with self._db.connection() as conn, conn.transaction():
            run_id = scalar(conn, _START, (at,))
            conn.execute(_FORGET_OLD, (at - _KEPT,))
        return int(run_id)  # INSERT ... RETURNING always returns the row

    def finished(
        self, run_id: int, at: datetime, outcome: str, counts: dict[str, int], error_code: str | None = None
    ) -> None:
        with self._db.connection() as conn, conn.transaction():
            conn.execute(
                _FINISH,
                {
                    "id": run_id,
                    "at": at,
                    "outcome": outcome,
                    "counts": Jsonb(counts),
                    "error_code": error_code,
                },
            )

    def history(self) -> CleanupHistory:
        with self._db.connection() as conn, conn.transaction():
            last = conn.cursor(row_factory=class_row(CleanupRun)).execute(_LAST).fetchone()
            completed = scalar(conn, _LAST_COMPLETED)
            deployed = scalar(conn, _DEPLOYED)
        return CleanupHistory(last=last, last_completed_at=completed, deployed_at=deployed)
