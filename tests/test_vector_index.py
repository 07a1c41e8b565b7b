"""The same behaviour from every vector index: pgvector, Qdrant in local mode, and Qdrant over its REST API.

Each test writes through the functions as a user would, then looks at what assemble answers and what
the index itself returns for a client: isolation, ranking, as-of, expiry and deletion.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient

from memplane.adapters.hash_embedder import HashEmbedder
from memplane.adapters.pgvector import PgvectorIndex
from memplane.adapters.postgres.versions import iterative_scan
from memplane.wiring import Container
from tests.conftest import TEST_DIM, client_for
from tests.test_cleanup import expire_message
from tests.test_memory import exchange, post

BACKENDS = ("pgvector", "qdrant-local", "qdrant-server")


def point_ids(c: Container) -> set[str]:
    return {point for page in c.index.point_ids(None, 5) for _, point in page}


def live_ids(db: psycopg.Connection[Any]) -> set[str]:
    return {str(r[0]) for r in db.execute("SELECT id FROM memory_entries WHERE embedding IS NOT NULL")}


def ids_of(db: psycopg.Connection[Any], client_id: str) -> set[str]:
    rows = db.execute("SELECT id FROM memory_entries WHERE client_id = %s", (client_id,))
    return {str(r[0]) for r in rows}


def search(
    c: Container, client_id: str, text: str, as_of: datetime | None = None, now: datetime | None = None
) -> list[str]:
    now = now or datetime.now(UTC)
    vector = HashEmbedder(TEST_DIM).embed([text])[0]  # what the stub embedder returns for this text
    return [i for i, _ in c.index.search(client_id, vector, as_of or now, now, 10)]


BOB = exchange(
    "bob",
    chat_id="chat-b",
    conversation=[{"role": "user", "id": "b1", "content": "I live in Oslo and I play the cello."}],
    message_id="b2",
    response="Oslo and the cello, noted.",
    profile={"full_name": "Bob"},
)


@pytest.mark.parametrize("indexed", BACKENDS, indirect=True)
def test_memory_comes_back_by_meaning_without_degrading(
    indexed: Callable[..., Container], db: psycopg.Connection[Any]
) -> None:
    c = indexed()
    client = client_for(c)
    _, written = post(client, "/writeback", exchange())
    assert written["degraded"] == []
    status, memory = post(client, "/assemble", {"client_id": "alice", "query": "Where do I live?"})
    assert status == 200
    assert memory["degraded"] == []
    assert memory["similar_chunks"][0]["message_id"] == "m1"
    if c.index.separate:
        assert point_ids(c) == live_ids(db)  # indexed as written, no cleanup needed
        assert db.execute("SELECT count(*) FROM vector_index_pending").fetchone() == (0,)


@pytest.mark.parametrize("indexed", BACKENDS, indirect=True)
def test_the_index_never_returns_another_clients_memory(
    indexed: Callable[..., Container], db: psycopg.Connection[Any]
) -> None:
    c = indexed()
    client = client_for(c)
    post(client, "/writeback", exchange())
    post(client, "/writeback", BOB)
    found = search(c, "bob", "My name is Alice and I live in Lisbon.")
    assert found
    assert set(found) <= ids_of(db, "bob")
    _, memory = post(
        client, "/assemble", {"client_id": "bob", "query": "My name is Alice and I live in Lisbon"}
    )
    assert "Lisbon" not in str(memory["similar_chunks"])


@pytest.mark.parametrize("indexed", BACKENDS, indirect=True)
def test_the_nearest_chunk_ranks_first(
    indexed: Callable[..., Container], db: psycopg.Connection[Any]
) -> None:
    c = indexed()
    post(client_for(c), "/writeback", BOB)
    row = db.execute("SELECT id FROM memory_entries WHERE message_id = 'b1'").fetchone()
    assert row is not None
    assert search(c, "bob", "I live in Oslo and I play the cello.")[0] == str(row[0])


@pytest.mark.parametrize("indexed", BACKENDS, indirect=True)
def test_as_of_sees_only_what_was_written_by_then(indexed: Callable[..., Container]) -> None:
    c = indexed()
    client = client_for(c)
    post(client, "/writeback", exchange(timestamp="2024-01-01T10:00:00Z"))
    post(client, "/writeback", {**BOB, "client_id": "alice", "timestamp": "2025-01-01T10:00:00Z"})
    before = datetime(2024, 6, 1, tzinfo=UTC)
    assert len(search(c, "alice", "Oslo cello", as_of=before)) == 2  # only the 2024 exchange's chunks
    _, memory = post(
        client, "/assemble", {"client_id": "alice", "query": "Oslo cello", "timestamp": before.isoformat()}
    )
    assert "Oslo" not in str(memory["similar_chunks"])


@pytest.mark.parametrize("indexed", BACKENDS, indirect=True)
def test_expired_memory_is_never_returned(
    indexed: Callable[..., Container], db: psycopg.Connection[Any]
) -> None:
    c = indexed(memory_ttl_days=1)
    client = client_for(c)
    post(client, "/writeback", exchange())
    assert search(c, "alice", "Lisbon")
    # Two days on. The clock is given rather than slept through: on a busy machine a short TTL could
    # run out before the first search.
    later = datetime.now(UTC) + timedelta(days=2)
    assert search(c, "alice", "Lisbon", now=later) == []  # filtered in the index itself, before any cleanup
    db.execute("UPDATE memory_entries SET expires_at = now() - interval '1 minute' WHERE client_id = 'alice'")
    _, memory = post(client, "/assemble", {"client_id": "alice", "query": "Lisbon"})
    assert memory["similar_chunks"] == []


@pytest.mark.parametrize("indexed", BACKENDS, indirect=True)
def test_after_cleanup_the_index_holds_exactly_the_live_chunks(
    indexed: Callable[..., Container], db: psycopg.Connection[Any]
) -> None:
    c = indexed(memory_ttl_days=30)
    client = client_for(c)
    post(client, "/writeback", exchange())
    post(client, "/writeback", BOB)
    expired = db.execute("SELECT id FROM memory_entries WHERE message_id = 'm1'").fetchone()
    assert expired is not None
    expire_message(db, "m1")
    _, cleaned = post(client, "/cleanup", {})
    assert cleaned["deleted_entries"] == 1
    assert cleaned["degraded"] == []
    if c.index.separate:
        assert cleaned["index_deleted"] == 1
        assert point_ids(c) == live_ids(db)
    assert str(expired[0]) not in search(c, "alice", "My name is Alice and I live in Lisbon.")
    assert db.execute("SELECT count(*) FROM vector_index_deletions").fetchone() == (0,)


@pytest.mark.parametrize(
    ("version", "iterative"), [("0.7.4", False), ("0.8.0", True), ("0.10.2", True), (None, False)]
)
def test_iterative_scans_are_known_by_version(version: str | None, iterative: bool) -> None:
    assert iterative_scan(version) is iterative


def test_without_iterative_scans_search_ranks_a_clients_rows_exactly(
    client: FlaskClient, container: Container, db: psycopg.Connection[Any]
) -> None:
    # pgvector before 0.8 has no hnsw.iterative_scan (naming it is an error): the same answers, found
    # by ranking the client's rows instead of walking the HNSW graph.
    post(client, "/writeback", exchange())
    post(client, "/writeback", BOB)
    older = PgvectorIndex(container.database, iterative=False)
    now = datetime.now(UTC)
    vector = HashEmbedder(TEST_DIM).embed(["Lisbon"])[0]
    found = older.search("alice", vector, now, now, 10)
    assert found == container.pgvector.search("alice", vector, now, now, 10)
    assert {i for i, _ in found} == ids_of(db, "alice")
    report = client.get("/health").get_json()
    assert report["vector_index"]["iterative_scan"] is True  # the embedded server's pgvector is 0.8
