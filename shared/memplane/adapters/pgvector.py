"""pgvector as the vector index: the vectors Postgres already holds, searched with their HNSW index.

There is nothing to upsert, delete or reconcile: a chunk's row is its point. This is the default
backend, and the fallback that answers whenever a separate index (Qdrant) cannot.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from pgvector import Vector as PgVector
from psycopg import errors as pg_errors

from memplane.adapters.postgres import Database
from memplane.adapters.postgres import queries as q
from memplane.errors import VectorSearchFailed
from memplane.model import IndexPoint, Vector

# relaxed_order lets pgvector 0.8 keep scanning the HNSW graph until enough rows pass the client
# filter, instead of returning fewer rows than asked for.
_ITERATIVE_SCAN = "SET LOCAL hnsw.iterative_scan = relaxed_order"

_SEARCH = """
SELECT id, 1 - (embedding <=> %(v)s) AS score
FROM memory_entries
WHERE client_id = %(c)s AND embedding IS NOT NULL AND created_at <= %(as_of)s
  AND (expires_at IS NULL OR expires_at > %(now)s)
ORDER BY embedding <=> %(v)s
LIMIT %(k)s
"""


class PgvectorIndex:
    """``VectorIndex`` over the ``embedding`` column of ``memory_entries``."""

    name = "pgvector"
    separate = False

    def __init__(self, db: Database, *, statement_timeout_ms: int = 5000) -> None:
        self._db = db
        self._timeout = str(int(statement_timeout_ms))

    def warm_up(self) -> None:
        return None

    def search(
        self, client_id: str, vector: Vector, as_of: datetime, now: datetime, limit: int
    ) -> list[tuple[str, float]]:
        params = {"v": PgVector(vector), "c": client_id, "as_of": as_of, "now": now, "k": limit}
        with self._db.connection() as conn:
            try:
                with conn.transaction():
                    conn.execute(q.SET_BUDGET, (self._timeout, self._timeout))
                    conn.execute(_ITERATIVE_SCAN)
                    rows = conn.execute(_SEARCH, params).fetchall()
            except (pg_errors.DataException, pg_errors.UndefinedFunction, pg_errors.UndefinedObject) as exc:
                # A vector of another size than the column's, typically: the embedder changed.
                raise VectorSearchFailed(f"vector search failed: {exc.sqlstate}") from exc
        # relaxed_order may return rows slightly out of order; the score is exact, so sort by it.
        return sorted(((str(r[0]), float(r[1])) for r in rows), key=lambda r: r[1], reverse=True)

    def upsert(self, points: Sequence[IndexPoint], wait_s: float) -> None:
        return None

    def delete(self, client_id: str, ids: Sequence[str], wait_s: float) -> None:
        return None

    def point_ids(self, client_id: str | None, wait_s: float) -> Iterator[list[tuple[str, str]]]:
        return iter(())

    def ensure(self, dim: int) -> str:
        return "pgvector: vectors are searched in Postgres (created by the migrations)"

    def ping(self) -> dict[str, object]:
        return {}

    def close(self) -> None:
        return None
