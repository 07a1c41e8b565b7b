"""A forget means forgotten: in a real chat, where Open WebUI resends the history on every turn, where
the model writes the Tool's arguments, and where one message is forgotten among others."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient

from tests.test_forget import rows_of
from tests.test_memory import exchange, post
from tests.test_openwebui_filter import USER, make_filter, owui
from tests.test_openwebui_tool import Browser, call, load_tools

CHAT = "chat-9"


def turn(history: list[dict[str, Any]], question: str, answer: str, n: int, at: float) -> dict[str, Any]:
    """The outlet's body after turn ``n``, as open_webui/utils/middleware.py builds it: every message
    with its id and timestamp (the answer's is when Open WebUI created it, before the model ran)."""
    messages = [
        *history,
        {"id": f"u{n}", "role": "user", "content": question, "timestamp": int(at)},
        {"id": f"a{n}", "role": "assistant", "content": answer, "timestamp": int(at)},
    ]
    return {"model": "llama3", "chat_id": CHAT, "session_id": "sess-1", "id": f"a{n}", "messages": messages}


def export(client: FlaskClient, client_id: str = USER["id"]) -> tuple[int, dict[str, Any]]:
    return post(client, "/cleanup", {"export": {"client_id": client_id}})


def test_forget_everything_then_the_outlet_resends_the_history_and_nothing_comes_back(
    memplane_url: str, client: FlaskClient
) -> None:
    outlet = make_filter(memplane_url)
    started = time.time() - 3600
    first = turn([], "My name is Alice and I live in Lisbon.", "Nice to meet you, Alice!", 1, started)
    asyncio.run(owui(outlet.outlet, first, __user__=USER))
    second = turn(first["messages"], "I am allergic to peanuts.", "Noted.", 2, started + 60)
    asyncio.run(owui(outlet.outlet, second, __user__=USER))
    assert len(export(client)[1]["chunks"]) == 4

    # Turn 3: "forget everything". Open WebUI creates the answer, the model calls the Tool, the user
    # clicks yes, and then the outlet runs for this very turn with the whole history.
    asked = time.time() - 1
    browser = Browser(True)
    tools = load_tools(memplane_url)
    assert call(tools, "forget_everything", browser=browser).startswith("Forgotten")
    third = turn(second["messages"], "Please forget everything about me.", "Done, all forgotten.", 3, asked)
    asyncio.run(owui(outlet.outlet, third, __user__=USER))

    assert export(client)[0] == 404  # nothing at all: not the old messages, not the forget request
    status, recalled = post(client, "/assemble", {"client_id": USER["id"], "query": "Lisbon peanuts"})
    assert status == 404

    # A later turn of the same old chat: only what is said from now on is remembered.
    fourth = turn(third["messages"], "I like green tea.", "Good choice.", 4, time.time() + 1)
    asyncio.run(owui(outlet.outlet, fourth, __user__=USER))
    _, kept = export(client)
    assert sorted(c["content"] for c in kept["chunks"]) == ["Good choice.", "I like green tea."]
    assert [f["value"] for f in kept["facts"]] == ["likes green tea"]
    _, recalled = post(client, "/assemble", {"client_id": USER["id"], "query": "Lisbon peanuts Alice"})
    assert "Lisbon" not in recalled["context"]
    assert "peanuts" not in recalled["context"]


def test_a_client_that_sends_no_dates_is_kept_out_by_the_ledger(client: FlaskClient) -> None:
    # A 0.2 filter, or another integration: no message timestamps. The ledger still knows the keys.
    post(client, "/writeback", exchange())
    assert post(client, "/cleanup", {"forget": {"client_id": "alice", "everything": True}})[0] == 200
    status, replay = post(client, "/writeback", exchange())
    assert (status, replay["chunks_written"]) == (200, 0)
    assert export(client, "alice")[0] == 404


def test_forgetting_a_chat_stays_forgotten_for_the_turn_that_asked(
    client: FlaskClient, db: psycopg.Connection[Any]
) -> None:
    long_ago = "2024-04-25T00:00:00Z"
    body = exchange(timestamp=long_ago)
    body["conversation"][0]["timestamp"] = long_ago
    post(client, "/writeback", body)
    assert post(client, "/cleanup", {"forget": {"client_id": "alice", "chat_id": "chat-1"}})[0] == 200
    asked = exchange(
        conversation=[
            *body["conversation"],
            {"role": "user", "id": "m3", "content": "Forget this chat.", "timestamp": time.time() - 5},
        ],
        message_id="m4",
        response="Done.",
        timestamp=time.time() - 5,
    )
    assert post(client, "/writeback", asked)[1]["chunks_written"] == 0
    assert rows_of(db, "alice")["memory_entries"] == 0


@pytest.mark.parametrize("scope", ["fact_key", "chat_id", "message_ids", "everything"])
def test_a_null_scope_is_refused_and_erases_nothing(
    client: FlaskClient, db: psycopg.Connection[Any], scope: str
) -> None:
    post(client, "/writeback", exchange())
    before = rows_of(db, "alice")
    status, reply = post(client, "/cleanup", {"forget": {"client_id": "alice", scope: None}})
    assert status == 400
    assert reply["error"]["code"] == "invalid_request"
    assert f"{scope} is null" in reply["error"]["message"]
    assert rows_of(db, "alice") == before


def test_a_forget_that_names_no_scope_is_refused_and_says_how_to_forget_everything(
    client: FlaskClient, db: psycopg.Connection[Any]
) -> None:
    post(client, "/writeback", exchange())
    before = rows_of(db, "alice")
    for body in ({"client_id": "alice"}, {"client_id": "alice", "everything": False}):
        status, reply = post(client, "/cleanup", {"forget": body})
        assert status == 400, body
        assert reply["error"]["field"].startswith("forget")
    assert (
        "everything: true"
        in post(client, "/cleanup", {"forget": {"client_id": "alice"}})[1]["error"]["message"]
    )
    assert rows_of(db, "alice") == before


@pytest.mark.parametrize(
    "browser",
    [None, Browser(False), Browser({"error": "Client session disconnected."}), Browser("yes")],
    ids=["no browser session", "user said no", "tab closed", "not a yes"],
)
def test_forget_without_the_users_click_erases_nothing(
    memplane_url: str, client: FlaskClient, browser: Browser | None
) -> None:
    asyncio.run(
        owui(
            make_filter(memplane_url).outlet,
            turn([], "I live in Lisbon.", "Nice.", 1, time.time()),
            __user__=USER,
        )
    )
    tools = load_tools(memplane_url)
    for name, arguments in (
        ("forget_everything", {}),
        ("forget_this_chat", {}),
        ("forget_fact", {"key": "location"}),
    ):
        assert call(tools, name, browser=browser, **arguments).startswith("Nothing was forgotten"), name
    _, kept = export(client)
    assert len(kept["chunks"]) == 2
    assert [f["key"] for f in kept["facts"]] == ["location"]


def test_a_tool_call_with_a_null_key_forgets_nothing(memplane_url: str, client: FlaskClient) -> None:
    asyncio.run(
        owui(
            make_filter(memplane_url).outlet,
            turn([], "I live in Lisbon.", "Nice.", 1, time.time()),
            __user__=USER,
        )
    )
    browser = Browser(True)
    assert call(load_tools(memplane_url), "forget_fact", browser=browser, key=None).startswith(
        "Nothing was forgotten"
    )
    assert browser.asked == []  # not even asked
    assert len(export(client)[1]["chunks"]) == 2


def test_forgetting_one_message_keeps_what_its_siblings_taught(
    client: FlaskClient, db: psycopg.Connection[Any]
) -> None:
    body = exchange(
        conversation=[
            {"role": "user", "id": "m1", "content": "I live in Lisbon."},
            {"role": "assistant", "id": "a0", "content": "Lovely city."},
            {"role": "user", "id": "m2", "content": "I am allergic to peanuts."},
        ],
        message_id="a1",
        response="I will keep peanuts out of recipes.",
    )
    post(client, "/writeback", body)
    _, before = export(client, "alice")
    assert {f["key"] for f in before["facts"]} == {"location", "allergy:peanuts"}

    status, erased = post(client, "/cleanup", {"forget": {"client_id": "alice", "message_ids": ["m2"]}})
    assert status == 200
    assert erased["deleted"]["chunks"] == 1
    assert erased["deleted"]["episodes"] == 0  # the exchange stays, without that message

    _, after = export(client, "alice")
    assert sorted(c["message_id"] for c in after["chunks"]) == ["a0", "a1", "m1"]
    assert [(f["key"], f["value"]) for f in after["facts"]] == [("location", "Lisbon")]
    [episode] = after["episodes"]
    assert "m2" not in episode["message_ids"]
    # The summary is rewritten from what remains; nothing of the forgotten message is left in it.
    assert "allergic" not in episode["summary"]
    # Forgetting the rest of the exchange removes it, and its facts.
    post(client, "/cleanup", {"forget": {"client_id": "alice", "message_ids": ["m1", "a0", "a1"]}})
    _, gone = export(client, "alice")
    assert (gone["episodes"], gone["facts"], gone["chunks"]) == ([], [], [])
