"""With Qdrant as the index Postgres keeps no vector graph, yet still answers when Qdrant cannot; and
`memplane migrate` moves a deployment between the two, in both directions."""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

from memplane.adapters.postgres import migrations, vector_graph
from memplane.wiring import Container
from tests.conftest import TEST_DIM, client_for, memplane_cli
from tests.openai_stub import OpenAIStub
from tests.test_memory import exchange, post
from tests.test_vector_index import BOB

LISBON = "My name is Alice and I live in Lisbon."


def graphs(url: str) -> dict[str, bool]:
    """The HNSW indexes in the database, by name, and whether each is usable."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_am a ON a.oid = c.relam WHERE a.amname = 'hnsw'"
        ).fetchall()
    return {name: valid for name, valid in rows}


def test_migrate_drops_the_graph_for_qdrant_and_builds_it_again_for_pgvector(
    new_database: Callable[[str], str], tmp_path: Path
) -> None:
    url = new_database("graph_both_ways")
    pgvector = {"DATABASE_URL": url, "MEMPLANE_EMBEDDING_DIM": str(TEST_DIM)}
    qdrant = {**pgvector, "MEMPLANE_VECTOR_BACKEND": "qdrant", "MEMPLANE_DATA_DIR": str(tmp_path)}

    first = memplane_cli("migrate", cwd=tmp_path, **pgvector)
    assert first.returncode == 0, first.stderr
    assert "vector graph: HNSW graph on memory_entries in place" in first.stdout  # migration 0001 built it
    # Episode summaries are read by time, never by vector: no graph for them on either backend.
    assert graphs(url) == {"memory_entries_embedding": True}

    to_qdrant = memplane_cli("migrate", cwd=tmp_path, **qdrant)
    assert to_qdrant.returncode == 0, to_qdrant.stderr
    assert "HNSW graph on memory_entries dropped (Qdrant is the index)" in to_qdrant.stdout
    assert graphs(url) == {}
    again = memplane_cli("migrate", cwd=tmp_path, **qdrant)
    assert "no HNSW graph in Postgres (Qdrant is the index" in again.stdout

    back = memplane_cli("migrate", cwd=tmp_path, **pgvector)
    assert back.returncode == 0, back.stderr
    assert "HNSW graph on memory_entries built (pgvector is the index)" in back.stdout
    assert graphs(url) == {"memory_entries_embedding": True}


def test_a_graph_left_unusable_by_an_interrupted_build_is_built_again(
    new_database: Callable[[str], str],
) -> None:
    url = new_database("graph_invalid")
    migrations.apply(url, migrations.default_migrations_dir(), TEST_DIM)
    with psycopg.connect(url, autocommit=True) as conn:
        # What a CREATE INDEX CONCURRENTLY killed half-way leaves behind.
        conn.execute(
            "UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'memory_entries_embedding'::regclass"
        )
    assert graphs(url) == {"memory_entries_embedding": False}
    assert "built" in vector_graph.converge(url, keep=True)
    assert graphs(url) == {"memory_entries_embedding": True}


def test_qdrant_down_and_no_graph_postgres_still_ranks_the_clients_vectors_exactly(
    new_database: Callable[[str], str], build_container: Callable[..., Container], openai_stub: OpenAIStub
) -> None:
    url = new_database("graph_none")
    migrations.apply(url, migrations.default_migrations_dir(), TEST_DIM)
    vector_graph.converge(url, keep=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        nobody = f"http://127.0.0.1:{s.getsockname()[1]}"
    container = build_container(
        database_url=url,
        embedder="openai",
        openai_base_url=openai_stub.base_url,
        embedding_model="text-embedding-3-small",
        vector_backend="qdrant",
        qdrant_url=nobody,
        qdrant_timeout_s=1,
        vector_search_deadline_s=0.3,
    )
    client = client_for(container)
    for body in (exchange(), BOB, exchange(message_id="m4", conversation=[], response="Porto is nice too.")):
        assert post(client, "/writeback", body)[0] == 200

    status, memory = post(client, "/assemble", {"client_id": "alice", "query": "Where do I live?"})
    assert status == 200
    assert memory["degraded"] == ["vector_index"]
    assert memory["similar_chunks"][0]["content"] == LISBON
    assert "Oslo" not in str(memory)

    # The fallback's ranking is the exact one: every one of Alice's vectors, nearest first.
    query = container.query_embedder.embed(["Where do I live?"])[0]
    now = datetime.now(UTC)
    found = container.pgvector.search("alice", query, now, now, 10)
    with psycopg.connect(url) as conn:
        register_vector(conn)
        stored: list[tuple[Any, Any]] = conn.execute(
            "SELECT id, embedding FROM memory_entries WHERE client_id = 'alice'"
        ).fetchall()
    q = np.asarray(query)
    cosine = {
        str(i): float(np.dot(q, v.to_numpy()) / (np.linalg.norm(q) * np.linalg.norm(v.to_numpy())))
        for i, v in stored
    }
    assert [i for i, _ in found] == sorted(cosine, key=lambda i: cosine[i], reverse=True)
    assert all(abs(score - cosine[i]) < 1e-5 for i, score in found)
