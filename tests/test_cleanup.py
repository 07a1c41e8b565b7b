"""Cleanup removes exactly what expired, archives old episodes, and does not let expired memory return."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from flask.testing import FlaskClient

from memplane.wiring import Container
from tests.conftest import client_for
from tests.test_memory import exchange, post


def expire_message(db: psycopg.Connection[Any], message_id: str) -> None:
    """Age a message past its TTL, as time would."""
    db.execute(
        "UPDATE memory_entries SET expires_at = now() - interval '1 minute' WHERE message_id = %s",
        (message_id,),
    )


def test_cleanup_removes_exactly_what_expired(
    build_container: Callable[..., Container], db: psycopg.Connection[Any]
) -> None:
    client = client_for(build_container(memory_ttl_days=30))
    post(client, "/writeback", exchange())
    expire_message(db, "m2")

    status, cleaned = post(client, "/cleanup", {})
    assert status == 200
    assert cleaned["deleted_entries"] == 1
    assert cleaned["archived_episodes"] == 0
    _, memory = post(client, "/assemble", {"client_id": "alice", "query": "Alice Lisbon spring"})
    assert [c["message_id"] for c in memory["similar_chunks"]] == ["m1"]

    # Open WebUI keeps resending the old history: the expired message must not come back.
    _, resent = post(client, "/writeback", exchange())
    assert resent["chunks_written"] == 0


def test_expired_memory_is_not_recalled_even_before_cleanup_runs(
    build_container: Callable[..., Container], db: psycopg.Connection[Any]
) -> None:
    client = client_for(build_container(memory_ttl_days=30))
    post(client, "/writeback", exchange())
    expire_message(db, "m1")
    _, memory = post(client, "/assemble", {"client_id": "alice", "query": "Lisbon"})
    assert "m1" not in [c["message_id"] for c in memory["similar_chunks"]]


def test_memory_without_a_ttl_is_kept(client: FlaskClient) -> None:
    post(client, "/writeback", exchange())
    _, cleaned = post(client, "/cleanup", {})
    assert cleaned["deleted_entries"] == 0
    _, memory = post(client, "/assemble", {"client_id": "alice", "query": "Lisbon"})
    assert len(memory["similar_chunks"]) == 2


def test_working_state_expires(client: FlaskClient, db: psycopg.Connection[Any]) -> None:
    post(client, "/writeback", exchange())
    post(client, "/writeback", exchange("bob", chat_id="chat-b", profile={"full_name": "Bob"}))
    db.execute("UPDATE working_state SET expires_at = now() - interval '1 second' WHERE client_id = 'alice'")
    _, cleaned = post(client, "/cleanup", {})
    assert cleaned["deleted_state"] == 1
    assert db.execute("SELECT client_id FROM working_state").fetchall() == [("bob",)]


def test_old_episodes_are_archived_and_no_longer_recent(client: FlaskClient) -> None:
    post(client, "/writeback", exchange(timestamp="2020-01-01T10:00:00Z"))
    post(
        client,
        "/writeback",
        exchange(
            conversation=[{"role": "user", "id": "m3", "content": "Any plans?"}],
            message_id="m4",
            response="Let's plan a trip.",
        ),
    )
    _, cleaned = post(client, "/cleanup", {})
    assert cleaned["archived_episodes"] == 1
    _, memory = post(client, "/assemble", {"client_id": "alice", "query": "Lisbon"})
    assert [e["summary"] for e in memory["recent_episodes"]] == [
        "User: Any plans? / Assistant: Let's plan a trip."
    ]
    # Archived episodes leave the recent list; the messages themselves are still memory.
    assert any(c["message_id"] == "m1" for c in memory["similar_chunks"])
