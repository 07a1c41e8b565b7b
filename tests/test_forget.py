"""Memory people can see, correct and forget: forget and export over HTTP, the commands, and retention."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient

from memplane.wiring import Container
from tests.conftest import client_for, memplane_cli
from tests.qdrant_stub import QdrantStub
from tests.test_cleanup import expire_message
from tests.test_memory import exchange, post
from tests.test_vector_index import BOB, point_ids

# Every table that holds something of a client, and how to find it there.
CLIENT_ROWS = {
    "client_profiles": "id = %s",
    "memory_facts": "client_id = %s",
    "memory_entries": "client_id = %s",
    "memory_postings": "client_id = %s",
    "episodes": "client_id = %s",
    "working_state": "client_id = %s",
    "stored_turns": "client_id = %s",
    "client_term_stats": "client_id = %s",
    "client_doc_stats": "client_id = %s",
    "webhook_executions": "client_id = %s",
    "vector_index_deletions": "client_id = %s",
    "vector_index_pending": "client_id = %s",
}


def rows_of(db: psycopg.Connection[Any], client_id: str) -> dict[str, int]:
    counts = {}
    for table, where in CLIENT_ROWS.items():
        row = db.execute(f"SELECT count(*) FROM {table} WHERE {where}", (client_id,)).fetchone()
        counts[table] = int(row[0]) if row else -1
    return counts


def second_chat(client_id: str = "alice") -> dict[str, Any]:
    return exchange(
        client_id,
        chat_id="chat-2",
        message_id="m4",
        conversation=[{"role": "user", "id": "m3", "content": "I am allergic to peanuts."}],
        response="Noted: no peanuts.",
    )


def remember_alice(client: FlaskClient) -> None:
    assert post(client, "/writeback", exchange())[0] == 200
    assert post(client, "/writeback", second_chat())[0] == 200
    assert post(client, "/assemble", {"client_id": "alice", "query": "Lisbon"})[0] == 200


def test_forgetting_a_client_erases_every_table_and_nobody_else(
    client: FlaskClient, db: psycopg.Connection[Any]
) -> None:
    remember_alice(client)
    post(client, "/writeback", BOB)
    before = rows_of(db, "alice")
    bob = rows_of(db, "bob")
    assert all(before[t] > 0 for t in CLIENT_ROWS if not t.startswith("vector_index"))

    status, erased = post(client, "/cleanup", {"forget": {"client_id": "alice", "everything": True}})
    assert status == 200
    assert erased["scope"] == "client"
    print("forget deleted:", json.dumps(erased["deleted"]))  # the closing note's table comes from here
    assert erased["deleted"] == {
        "facts": before["memory_facts"],
        "postings": before["memory_postings"],
        "chunks": before["memory_entries"],
        "episodes": before["episodes"],
        "working_state": before["working_state"],
        "keyword_terms": before["client_term_stats"],
        "keyword_totals": 1,
        "calls": before["webhook_executions"],
        "profile": 1,
    }
    # The writeback ledger keeps the message keys (Open WebUI's ids, or hashes: no text), so a resent
    # history is not stored again.
    assert rows_of(db, "alice") == {**dict.fromkeys(CLIENT_ROWS, 0), "stored_turns": before["stored_turns"]}
    assert rows_of(db, "bob") == bob

    status, again = post(client, "/cleanup", {"forget": {"client_id": "alice", "everything": True}})
    assert status == 200
    assert set(again["deleted"].values()) == {0}  # forgetting twice is a harmless no-op
    # The audit log says a forget happened, and nothing of whom or what.
    audit = db.execute(
        "SELECT function, action, client_id, status FROM webhook_executions WHERE action IS NOT NULL"
    )
    assert audit.fetchall() == [("cleanup", "forget:client", None, 200)] * 2
    assert post(client, "/assemble", {"client_id": "alice", "query": "Lisbon"})[0] == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"forget": {}}, "forget.client_id"),
        ({"forget": {"client_id": ""}}, "forget.client_id"),
        ({"forget": {"client_id": "   "}}, "forget.client_id"),
        ({"forget": {"client_id": "*"}}, "forget.client_id"),
        ({"forget": {"client_id": "%"}}, "forget.client_id"),
        ({"forget": {"client_id": None}}, "forget.client_id"),
        ({"forget": {"client_id": "alice", "chat_id": "chat-1", "fact_key": "location"}}, "forget"),
        ({"forget": {"client_id": "alice", "message_ids": []}}, "forget.message_ids"),
        ({"forget": {"client_id": "alice", "everything": True}, "export": {"client_id": "alice"}}, None),
        ({"forget": "alice"}, "forget"),
        ({"export": {"client_id": "*"}}, "export.client_id"),
    ],
)
def test_a_forget_that_does_not_name_one_client_is_refused(
    client: FlaskClient, db: psycopg.Connection[Any], body: dict[str, Any], field: str | None
) -> None:
    remember_alice(client)
    before = rows_of(db, "alice")
    status, reply = post(client, "/cleanup", body)
    assert status == 400
    assert reply["error"]["code"] == "invalid_request"
    assert reply["error"].get("field") == field
    after = rows_of(db, "alice")
    assert {**after, "webhook_executions": 0} == {**before, "webhook_executions": 0}


def test_forgetting_one_fact_keeps_the_rest(client: FlaskClient) -> None:
    remember_alice(client)
    _, memory = post(client, "/assemble", {"client_id": "alice", "query": "Lisbon"})
    keys = {f["key"] for f in memory["facts"]}
    assert {"location", "allergy:peanuts"} <= keys

    status, erased = post(client, "/cleanup", {"forget": {"client_id": "alice", "fact_key": "location"}})
    assert (status, erased["deleted"]) == (200, {"facts": 1})
    _, memory = post(client, "/assemble", {"client_id": "alice", "query": "Lisbon"})
    assert {f["key"] for f in memory["facts"]} == keys - {"location"}
    _, everything = post(client, "/cleanup", {"export": {"client_id": "alice"}})
    assert "location" not in {f["key"] for f in everything["facts"]}  # its history too


def test_forgetting_a_chat_stays_forgotten_when_open_webui_resends_it(
    client: FlaskClient, db: psycopg.Connection[Any]
) -> None:
    remember_alice(client)
    status, erased = post(client, "/cleanup", {"forget": {"client_id": "alice", "chat_id": "chat-1"}})
    assert status == 200
    assert erased["deleted"] == {"facts": 2, "chunks": 2, "episodes": 1, "working_state": 1}
    _, memory = post(client, "/assemble", {"client_id": "alice", "query": "Lisbon"})
    assert "Lisbon" not in json.dumps(memory)
    assert "peanuts" in json.dumps(memory)  # the other chat is kept

    # Open WebUI sends the chat's history again with the next message: it is not stored again.
    resent = exchange(
        message_id="m6",
        conversation=[*exchange()["conversation"], {"role": "assistant", "id": "m2", "content": "Hi"}],
        response="Anything else?",
    )
    post(client, "/writeback", resent)
    contents = {r[0] for r in db.execute("SELECT content FROM memory_entries WHERE client_id = 'alice'")}
    assert not any("Lisbon" in c for c in contents)
    assert "Anything else?" in contents


def test_forgetting_messages_by_id(client: FlaskClient) -> None:
    remember_alice(client)
    status, erased = post(client, "/cleanup", {"forget": {"client_id": "alice", "message_ids": ["m3"]}})
    assert status == 200
    assert erased["deleted"]["chunks"] == 1
    _, memory = post(client, "/assemble", {"client_id": "alice", "query": "peanuts allergic"})
    assert "allergic to peanuts" not in json.dumps(memory["similar_chunks"])
    assert "Lisbon" in json.dumps(memory)


def test_a_forget_reaches_qdrant_and_is_retried_when_qdrant_is_down(
    indexed: Callable[..., Container], qdrant_server: QdrantStub, db: psycopg.Connection[Any]
) -> None:
    c = indexed()
    client = client_for(c)
    post(client, "/writeback", exchange())
    post(client, "/writeback", BOB)
    alice = {str(r[0]) for r in db.execute("SELECT id FROM memory_entries WHERE client_id = 'alice'")}
    assert alice <= point_ids(c)

    qdrant_server.behaviour.failing = {"delete"}
    status, erased = post(client, "/cleanup", {"forget": {"client_id": "alice", "everything": True}})
    assert status == 200
    assert erased["degraded"] == ["vector_index"]
    assert erased["index_pending"] == len(alice)
    assert alice <= point_ids(c)  # still in Qdrant, but never returned: answers come from Postgres

    qdrant_server.behaviour.failing = set()
    _, cleaned = post(client, "/cleanup", {})
    assert cleaned["index_deleted"] == len(alice)
    assert not alice & point_ids(c)
    assert point_ids(c)  # Bob's points stay
    assert rows_of(db, "alice") == {**dict.fromkeys(CLIENT_ROWS, 0), "stored_turns": 2}  # keys, no text


def test_export_pages_everything_under_the_response_limit(
    client: FlaskClient, db: psycopg.Connection[Any]
) -> None:
    remember_alice(client)
    long_text = "I keep a diary of my garden. " * 70  # about 2,000 characters a message
    for n in range(3):
        conversation = [
            {"role": "user", "id": f"d{n}-{i}", "content": f"{i}: {long_text}"} for i in range(200)
        ]
        body = exchange(
            chat_id=f"diary-{n}", message_id=f"d{n}-answer", conversation=conversation, response="ok"
        )
        assert post(client, "/writeback", body)[0] == 200

    pages, cursor = [], None
    while True:
        response = client.post("/cleanup", json={"export": {"client_id": "alice", "cursor": cursor}})
        assert response.status_code == 200
        assert len(response.data) < 1_000_000
        page = response.get_json()
        pages.append(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(pages) > 1
    assert pages[0]["profile"]["full_name"] == "Alice Doe"
    chunks = [c for p in pages for c in p["chunks"]]
    stored = db.execute("SELECT count(*) FROM memory_entries WHERE client_id = 'alice'").fetchone()
    assert stored is not None
    assert stored[0] > 1000
    assert len(chunks) == len({c["id"] for c in chunks}) == stored[0]  # each once, none missing
    assert {f["key"] for p in pages for f in p["facts"]} >= {"name", "location"}
    assert all("embedding" not in c for c in chunks)

    status, reply = post(client, "/cleanup", {"export": {"client_id": "alice", "cursor": "chunks:oops"}})
    assert (status, reply["error"]["field"]) == (400, "export.cursor")
    status, reply = post(client, "/cleanup", {"export": {"client_id": "nobody"}})
    assert (status, reply["error"]["code"]) == (404, "client_not_found")


def test_operators_forget_and_export_from_the_command_line(
    client: FlaskClient, db_url: str, db: psycopg.Connection[Any], tmp_path: Path
) -> None:
    remember_alice(client)
    exported = memplane_cli(
        "export", "--client", "alice", "--out", "alice.json", cwd=tmp_path, DATABASE_URL=db_url
    )
    assert exported.returncode == 0, exported.stderr
    whole = json.loads((tmp_path / "alice.json").read_text())
    assert whole["profile"]["email"] == "alice@example.com"
    assert any("Lisbon" in c["content"] for c in whole["chunks"])

    forgotten = memplane_cli("forget", "--client", "alice", "--everything", cwd=tmp_path, DATABASE_URL=db_url)
    assert forgotten.returncode == 0, forgotten.stderr
    assert json.loads(forgotten.stdout)["deleted"]["profile"] == 1
    assert rows_of(db, "alice")["memory_entries"] == 0
    refused = memplane_cli("forget", "--client", "*", "--everything", cwd=tmp_path, DATABASE_URL=db_url)
    assert refused.returncode == 2
    assert "wildcards" in refused.stderr


def test_retention_ledger_keys_outlive_their_memory_by_one_ttl_and_old_audit_rows_go(
    build_container: Callable[..., Container], db: psycopg.Connection[Any]
) -> None:
    client = client_for(build_container(memory_ttl_days=30, audit_retention_days=30))
    post(client, "/writeback", exchange())
    db.execute("UPDATE webhook_executions SET created_at = now() - interval '31 days'")
    post(client, "/assemble", {"client_id": "alice", "query": "Lisbon"})  # a recent call, kept
    expire_message(db, "m1")
    expire_message(db, "m2")
    db.execute("UPDATE stored_turns SET stored_at = now() - interval '61 days' WHERE turn_key = 'm1'")
    db.execute("UPDATE stored_turns SET stored_at = now() - interval '59 days' WHERE turn_key = 'm2'")

    status, cleaned = post(client, "/cleanup", {})
    assert status == 200
    assert cleaned["deleted_entries"] == 2
    keys = {r[0] for r in db.execute("SELECT turn_key FROM stored_turns WHERE client_id = 'alice'")}
    assert keys == {"m2"}  # m1 was stored two TTLs ago: its key went; m2's is kept one TTL more
    functions = [r[0] for r in db.execute("SELECT function FROM webhook_executions ORDER BY id")]
    assert functions == ["assemble", "cleanup"]
