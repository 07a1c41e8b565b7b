"""Qdrant failing in every way we know: answers stay right from pgvector, nothing is lost, and once
Qdrant is back, cleanup (or the next writeback) leaves it holding exactly the live chunks."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from memplane.wiring import Container
from tests.conftest import client_for
from tests.openai_stub import OpenAIStub
from tests.qdrant_stub import QdrantStub
from tests.test_cleanup import expire_message
from tests.test_memory import exchange, post
from tests.test_vector_index import BOB, live_ids, point_ids

LISBON = "My name is Alice and I live in Lisbon."


def unindexed(db: psycopg.Connection[Any]) -> int:
    row = db.execute("SELECT count(*) FROM vector_index_pending").fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture
def closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"  # nothing listens there once closed


@pytest.fixture
def hanging_server() -> Iterator[str]:
    """Accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


@pytest.mark.parametrize("where", ["closed_port", "hanging_server"])
def test_qdrant_unreachable_or_hanging_degrades_and_loses_nothing(
    where: str,
    request: pytest.FixtureRequest,
    indexed: Callable[..., Container],
    db: psycopg.Connection[Any],
) -> None:
    url = request.getfixturevalue(where)
    client = client_for(
        indexed(qdrant_url=url, qdrant_timeout_s=1, vector_search_deadline_s=0.3, ensure=False)
    )

    status, written = post(client, "/writeback", exchange())
    assert status == 200
    assert written["degraded"] == ["vector_index"]
    assert written["warnings"][0]["code"] == "vector_index_failed"
    assert written["chunks_written"] == 2
    assert unindexed(db) == 2  # kept in Postgres, marked for the index

    started = time.monotonic()
    status, memory = post(client, "/assemble", {"client_id": "alice", "query": "Where do I live?"})
    assert time.monotonic() - started < 1.0  # the search deadline, well inside assemble's 2 s SLA
    assert status == 200
    assert memory["degraded"] == ["vector_index"]
    assert memory["warnings"][0]["code"] == "vector_search_failed"
    assert memory["similar_chunks"][0]["content"] == LISBON  # from pgvector and keywords

    status, cleaned = post(client, "/cleanup", {})
    assert status == 200
    assert cleaned["degraded"] == ["vector_index"]
    assert unindexed(db) == 2


def test_upserts_failing_after_the_commit_are_caught_up_by_cleanup(
    indexed: Callable[..., Container], qdrant_server: QdrantStub, db: psycopg.Connection[Any]
) -> None:
    c = indexed()
    client = client_for(c)
    qdrant_server.behaviour.failing = {"upsert"}
    _, written = post(client, "/writeback", exchange())
    assert written["degraded"] == ["vector_index"]
    assert point_ids(c) == set()
    _, memory = post(client, "/assemble", {"client_id": "alice", "query": "Where do I live in Lisbon?"})
    assert memory["degraded"] == []  # the search itself works; keywords find the unindexed chunk
    assert memory["similar_chunks"][0]["content"] == LISBON

    qdrant_server.behaviour.failing = set()
    _, cleaned = post(client, "/cleanup", {})
    assert cleaned["degraded"] == []
    assert cleaned["index_upserted"] == 2
    assert cleaned["index_pending"] == 0
    assert point_ids(c) == live_ids(db)


def test_the_next_writeback_sends_what_an_outage_left_behind(
    indexed: Callable[..., Container], qdrant_server: QdrantStub, db: psycopg.Connection[Any]
) -> None:
    c = indexed()
    client = client_for(c)
    qdrant_server.behaviour.failing = {"upsert"}
    post(client, "/writeback", exchange())
    qdrant_server.behaviour.failing = set()
    later = exchange(
        message_id="m4",
        conversation=[{"role": "user", "id": "m3", "content": "I also have a beagle called Max."}],
        response="Max the beagle, lovely.",
    )
    _, written = post(client, "/writeback", later)
    assert written["degraded"] == []
    assert point_ids(c) == live_ids(db)
    assert len(live_ids(db)) == 4
    assert unindexed(db) == 0


def test_a_chunk_forgotten_while_its_point_was_on_its_way_leaves_no_point(
    indexed: Callable[..., Container], qdrant_server: QdrantStub, db: psycopg.Connection[Any]
) -> None:
    c = indexed()
    client = client_for(c)

    def forget_alice() -> None:  # an erasure that commits between the upsert and its bookkeeping
        db.execute("DELETE FROM memory_entries WHERE client_id = 'alice'")

    qdrant_server.behaviour.meanwhile["upsert"] = forget_alice
    _, written = post(client, "/writeback", exchange())
    assert written["degraded"] == []
    assert point_ids(c) == live_ids(db) == set()
    assert unindexed(db) == 0


def test_vectors_filled_in_by_cleanup_reach_the_index(
    indexed: Callable[..., Container], openai_stub: OpenAIStub, db: psycopg.Connection[Any]
) -> None:
    c = indexed()
    client = client_for(c)
    openai_stub.behaviour.embedding_status = 503
    _, written = post(client, "/writeback", exchange())
    assert written["degraded"] == ["embeddings"]
    assert point_ids(c) == set()  # stored without vectors: nothing to index yet
    openai_stub.behaviour.embedding_status = 200
    _, cleaned = post(client, "/cleanup", {})
    assert cleaned["embeddings_backfilled"] == 3  # the two chunks and the episode's summary
    assert (cleaned["index_upserted"], cleaned["index_pending"]) == (2, 0)
    assert point_ids(c) == live_ids(db) != set()


def test_forgetting_a_client_leaves_nothing_waiting_for_the_index(
    indexed: Callable[..., Container], qdrant_server: QdrantStub, db: psycopg.Connection[Any]
) -> None:
    client = client_for(indexed())
    qdrant_server.behaviour.failing = {"upsert"}
    post(client, "/writeback", exchange())
    post(client, "/writeback", BOB)
    assert unindexed(db) == 4
    status, _ = post(client, "/cleanup", {"forget": {"client_id": "alice", "everything": True}})
    assert status == 200
    assert unindexed(db) == 2  # Bob's chunks still wait; nothing of Alice's is left to send
    qdrant_server.behaviour.failing = set()
    _, cleaned = post(client, "/cleanup", {})
    assert (cleaned["index_upserted"], cleaned["index_pending"]) == (2, 0)


def test_a_failing_search_is_answered_from_pgvector(
    indexed: Callable[..., Container], qdrant_server: QdrantStub
) -> None:
    client = client_for(indexed())
    post(client, "/writeback", exchange())
    post(client, "/writeback", BOB)
    qdrant_server.behaviour.failing = {"query"}
    status, memory = post(client, "/assemble", {"client_id": "alice", "query": "Where do I live?"})
    assert status == 200
    assert memory["degraded"] == ["vector_index"]
    assert memory["similar_chunks"][0]["content"] == LISBON
    assert "Oslo" not in str(memory)


def test_deletes_failing_during_cleanup_are_retried_by_the_next_one(
    indexed: Callable[..., Container], qdrant_server: QdrantStub, db: psycopg.Connection[Any]
) -> None:
    c = indexed(memory_ttl_days=30)
    client = client_for(c)
    post(client, "/writeback", exchange())
    expire_message(db, "m1")
    qdrant_server.behaviour.failing = {"delete"}
    _, cleaned = post(client, "/cleanup", {})
    assert cleaned["deleted_entries"] == 1  # Postgres is the truth: the memory is gone there
    assert cleaned["degraded"] == ["vector_index"]
    assert len(point_ids(c)) == 2  # the point lingers, recorded for the next run
    _, memory = post(client, "/assemble", {"client_id": "alice", "query": LISBON})
    assert LISBON not in str(memory["similar_chunks"])  # and it is never returned meanwhile

    qdrant_server.behaviour.failing = set()
    _, cleaned = post(client, "/cleanup", {})
    assert cleaned["index_deleted"] == 1
    assert point_ids(c) == live_ids(db)


def test_health_shows_the_index_its_latency_and_what_waits(
    indexed: Callable[..., Container], qdrant_server: QdrantStub, closed_port: str
) -> None:
    client = client_for(indexed())
    post(client, "/writeback", exchange())
    report = client.get("/health").get_json()
    index = report["vector_index"]
    assert (index["name"], index["status"], index["points"], index["pending"]) == ("qdrant", "ok", 2, 0)
    assert index["latency_ms"] > 0
    assert index["fallback"]["name"] == "pgvector"

    down = client_for(indexed(qdrant_url=closed_port, ensure=False))
    post(down, "/writeback", exchange(message_id="m9"))
    response = down.get("/health")
    assert response.status_code == 200  # memplane still serves, from pgvector
    index = response.get_json()["vector_index"]
    assert (index["status"], index["code"], index["pending"]) == ("error", "vector_index_failed", 1)
