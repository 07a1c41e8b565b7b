"""pgvector as the vector index: the vectors Postgres already holds, searched with their HNSW index.

There is nothing to upsert, delete or reconcile: a chunk's row is its point. This is the default
backend, and the fallback that answers whenever a separate index (Qdrant) cannot. Behind Qdrant,
Postgres keeps no graph (adapters/postgres/vector_graph.py) and the same query ranks the client's rows
exactly, found through the client's index: the plan the planner picks when no graph exists.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from pgvector import Vector as PgVector
from psycopg import errors as pg_errors
from psycopg.rows import dict_row

from memplane.adapters.postgres import Database
from memplane.adapters.postgres import queries as q
from memplane.adapters.postgres.connection import scalar
from memplane.adapters.postgres.versions import PGVECTOR_VERSION, iterative_scan
from memplane.errors import VectorSearchFailed
from memplane.model import IndexPoint, Vector

# relaxed_order lets pgvector 0.8 keep scanning the HNSW graph until enough rows pass the client
# filter, instead of returning fewer rows than asked for. Before 0.8 the setting does not exist (and
# naming it is an error), and a filtered HNSW scan can return too few of one client's rows; there,
# search leaves the HNSW index aside and ranks the client's rows exactly (a bitmap scan on the
# client's index, then a sort): always right, slower for clients with very large memories.
_ITERATIVE_SCAN = "SET LOCAL hnsw.iterative_scan = relaxed_order"
_EXACT_SCAN = "SET LOCAL enable_indexscan = off"

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

    def __init__(
        self, db: Database, *, statement_timeout_ms: int = 5000, iterative: bool | None = None
    ) -> None:
        """``iterative`` is found from the installed pgvector on first use, unless given."""
        self._db = db
        self._timeout = str(int(statement_timeout_ms))
        self._iterative = iterative

    def warm_up(self) -> None:
        return None

    def search(
        self, client_id: str, vector: Vector, as_of: datetime, now: datetime, limit: int
    ) -> list[tuple[str, float]]:
        params = {"v": PgVector(vector), "c": client_id, "as_of": as_of, "now": now, "k": limit}
        with self._db.connection() as conn:
            try:
                with conn.transaction():
                    if self._iterative is None:
                        version = scalar(conn, PGVECTOR_VERSION)
                        self._iterative = iterative_scan(str(version) if version else None)
                    conn.execute(q.SET_BUDGET, (self._timeout, self._timeout))
                    conn.execute(_ITERATIVE_SCAN if self._iterative else _EXACT_SCAN)
                    with conn.cursor(row_factory=dict_row) as cur:
                        # Planned afresh each time, never prepared: a prepared plan made while the
                        # HNSW graph was absent (Qdrant's fallback, or a rebuild under way) kept the
                        # exact scan after `memplane migrate` rebuilt it (180 ms against 0.6 ms for a
                        # 100,000-chunk client), and whether the graph or the client's index is the
                        # better path depends on the client's size, which a generic plan cannot see.
                        rows = cur.execute(_SEARCH, params, prepare=False).fetchall()
            except (pg_errors.DataException, pg_errors.UndefinedFunction, pg_errors.UndefinedObject) as exc:
                # A vector of another size than the column's, typically: the embedder changed.
                raise VectorSearchFailed(f"vector search failed: {exc.sqlstate}") from exc
        # relaxed_order may return rows slightly out of order; the score is exact, so sort by it.
        found = [(str(r["id"]), float(r["score"])) for r in rows]
        return sorted(found, key=lambda hit: hit[1], reverse=True)

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
