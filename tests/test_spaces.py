"""Memory spaces: a model or persona keeps a memory of its own within a user's, which recall, export and
forget respect as they respect clients."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
from flask.testing import FlaskClient

from tests.test_memory import exchange, post
from tests.test_openwebui_choices import PERSONA
from tests.test_openwebui_filter import METADATA, USER, inlet_body, make_filter, outlet_body, owui

PIRATE = {
    "space": "pirate-captain",
    "chat_id": "chat-sea",
    "message_id": "p2",
    "conversation": [{"role": "user", "id": "p1", "content": "Arr, my parrot is called Polly."}],
    "response": "A fine parrot, captain!",
}


def recalled(client: FlaskClient, query: str, **extra: Any) -> str:
    status, body = post(client, "/assemble", {"client_id": "alice", "query": query, "profile": {}, **extra})
    assert status == 200, body
    return " ".join(c["content"] for c in body["similar_chunks"]) + str(body["facts"])


def test_a_space_recalls_only_its_own_memory_and_the_client_never_sees_it(client: FlaskClient) -> None:
    assert post(client, "/writeback", exchange())[0] == 200
    assert post(client, "/writeback", exchange(**PIRATE))[0] == 200
    assert "Polly" in recalled(client, "what is my parrot called?", space="pirate-captain")
    assert "Lisbon" not in recalled(client, "where do I live?", space="pirate-captain")
    assert "Polly" not in recalled(client, "what is my parrot called?")
    assert "Lisbon" in recalled(client, "where do I live?")
    # Another user's space of the same name is another memory.
    status, body = post(
        client, "/assemble", {"client_id": "bob", "query": "parrot", "space": "pirate-captain"}
    )
    assert status == 404
    assert body["error"]["code"] == "client_not_found"


def test_an_export_lists_the_spaces_and_reads_each(client: FlaskClient) -> None:
    post(client, "/writeback", exchange())
    post(client, "/writeback", exchange(**PIRATE))
    status, shared = post(client, "/cleanup", {"export": {"client_id": "alice"}})
    assert status == 200
    assert shared["spaces"] == ["pirate-captain"]
    assert all("Polly" not in c["content"] for c in shared["chunks"])
    status, pirate = post(client, "/cleanup", {"export": {"client_id": "alice", "space": "pirate-captain"}})
    assert status == 200
    assert pirate["client_id"] == "alice"
    assert pirate["space"] == "pirate-captain"
    assert pirate["profile"]["client_id"] == "alice"
    assert any("Polly" in c["content"] for c in pirate["chunks"])


def test_forgetting_a_client_forgets_its_spaces_and_they_stay_forgotten(
    client: FlaskClient, db: psycopg.Connection[Any]
) -> None:
    post(client, "/writeback", exchange())
    post(client, "/writeback", exchange(**PIRATE))
    status, body = post(client, "/cleanup", {"forget": {"client_id": "alice", "everything": True}})
    assert status == 200
    assert body["deleted"]["profile"] == 2
    assert body["deleted"]["chunks"] == 4
    assert db.execute("SELECT count(*) FROM client_profiles").fetchone() == (0,)
    # Open WebUI resends the persona's chat: what was said before the forget is not stored again.
    assert post(client, "/writeback", exchange(**PIRATE))[1]["chunks_written"] == 0


def test_forgetting_a_space_leaves_the_rest_of_the_client(client: FlaskClient) -> None:
    post(client, "/writeback", exchange())
    post(client, "/writeback", exchange(**PIRATE))
    forget = {"client_id": "alice", "space": "pirate-captain", "everything": True}
    assert post(client, "/cleanup", {"forget": forget})[0] == 200
    assert "Lisbon" in recalled(client, "where do I live?")
    _, shared = post(client, "/cleanup", {"export": {"client_id": "alice"}})
    assert shared["spaces"] == []
    # A forget of a chat without a space reaches the chat in whichever space it was kept.
    post(client, "/writeback", exchange(**{**PIRATE, "message_id": "p4", "conversation": []}))
    assert post(client, "/cleanup", {"forget": {"client_id": "alice", "chat_id": "chat-sea"}})[0] == 200
    _status, pirate = post(client, "/cleanup", {"export": {"client_id": "alice", "space": "pirate-captain"}})
    assert pirate["chunks"] == []


def test_the_mark_that_separates_a_space_is_refused_in_names(client: FlaskClient) -> None:
    for body in (exchange(client_id="alice\x1fpirate"), exchange(space="a\x1fb")):
        status, reply = post(client, "/writeback", body)
        assert status == 400, reply
        assert "U+001F" in reply["error"]["message"]


def test_the_filter_keeps_a_persona_in_its_own_space(memplane_url: str) -> None:
    f = make_filter(memplane_url, spaces="pirate-captain")
    asyncio.run(owui(f.outlet, outlet_body(), __user__=USER))  # the shared memory: Lisbon
    persona_chat = {
        **outlet_body(),
        "chat_id": "chat-sea",
        "messages": [
            {
                "id": "p1",
                "role": "user",
                "content": "Arr, my parrot is called Polly.",
                "timestamp": 1714000100,
            },
            {"id": "p2", "role": "assistant", "content": "A fine parrot!", "timestamp": 1714000105},
        ],
    }
    asyncio.run(owui(f.outlet, persona_chat, __user__=USER, __model__=PERSONA))

    def context(question: str, model: dict[str, Any] | None = None) -> str:
        extra = {"__model__": model} if model else {}
        body = asyncio.run(owui(f.inlet, inlet_body(question), __user__=USER, __metadata__=METADATA, **extra))
        return str(body["messages"][0]["content"])

    assert "Polly" in context("What is my parrot called?", PERSONA)
    assert "Lisbon" not in context("Where do I live?", PERSONA)
    assert "Polly" not in context("What is my parrot called?")
