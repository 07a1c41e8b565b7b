"""Postgres keeps an HNSW graph over chunk vectors only where it is the index that searches them.

With pgvector as the index (the default) the graph is what makes a large client's vector search fast.
With Qdrant as the index, Postgres searches vectors only while Qdrant cannot answer, and then ranks the
client's own rows exactly (its ``client_id`` index, then a sort): right, and a few milliseconds a
thousand chunks slower than the graph, which is a fair price for an outage and cheaper than updating a
graph on every writeback and keeping it on disk forever. `memplane migrate` moves a deployment to
whichever its configuration says, in both directions, without locking writes (``CONCURRENTLY``).
"""

from __future__ import annotations

from typing import Any

import psycopg

INDEX = "memory_entries_embedding"
_STATE = "SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass(%s)"
_BUILD = f"CREATE INDEX CONCURRENTLY {INDEX} ON memory_entries USING hnsw (embedding vector_cosine_ops)"
_DROP = f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}"


def converge(url: str, *, keep: bool) -> str:
    """Build the graph (``keep``) or drop it, whichever is not already so; say what was done."""
    with psycopg.connect(url, autocommit=True) as conn:
        valid = _state(conn)
        if not keep:
            if valid is None:
                return "no HNSW graph in Postgres (Qdrant is the index; Postgres ranks exactly if it is down)"
            conn.execute(_DROP)
            return "HNSW graph on memory_entries dropped (Qdrant is the index)"
        if valid:
            return "HNSW graph on memory_entries in place"
        if valid is False:  # an earlier concurrent build was interrupted and left an unusable index
            conn.execute(_DROP)
        conn.execute(_BUILD)
        return "HNSW graph on memory_entries built (pgvector is the index)"


def _state(conn: psycopg.Connection[Any]) -> bool | None:
    """True for a usable graph, False for one left invalid by an interrupted build, None for none."""
    row = conn.execute(_STATE, (INDEX,)).fetchone()
    return None if row is None else bool(row[0])
