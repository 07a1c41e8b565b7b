"""The Open WebUI filter as its users and admins meet it: memory they can see working (status lines,
citations), that goes only to the models chosen for it, and that never answers beside Open WebUI's own."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import psycopg
import pytest

from tests.test_openwebui_filter import (
    FILTER,
    LOCAL_MODEL,
    METADATA,
    USER,
    closed_port_url,
    inlet_body,
    load_filter_module,
    make_filter,
    outlet_body,
    owui,
)

CLOUD_MODEL = {"id": "gpt-4o", "name": "GPT-4o", "owned_by": "openai", "connection_type": "external"}
# A workspace model built on a local base model, as Open WebUI lists it: its own id, the base's in info.
PERSONA = {
    "id": "pirate-captain",
    "name": "Pirate captain",
    "owned_by": "ollama",
    "connection_type": "local",
    "info": {"id": "pirate-captain", "base_model_id": "llama3", "meta": {}},
}


class Screen:
    """What Open WebUI's event emitter receives: every event, in order."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    async def __call__(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e["data"] for e in self.events if e["type"] == kind]


def stored(db: psycopg.Connection[Any]) -> int:
    return int(db.execute("SELECT count(*) FROM memory_entries").fetchone()[0])  # type: ignore[index]


def ask(f: Any, question: str = "Where do I live?", **extra: Any) -> dict[str, Any]:
    """A user's message through the filter's inlet, as Open WebUI passes it (a local model, Alice)."""
    offered = {"__user__": USER, "__metadata__": METADATA, **extra}
    body: dict[str, Any] = asyncio.run(owui(f.inlet, inlet_body(question), **offered))
    return body


def recalls(f: Any, model: dict[str, Any], user: dict[str, Any] = USER) -> bool:
    body = ask(f, __user__=user, __model__=model)
    return "<memplane-memory-" in str(body["messages"][0]["content"])


def saves(f: Any, model: dict[str, Any], db: psycopg.Connection[Any], user: dict[str, Any] = USER) -> bool:
    before = stored(db)
    body = {
        **outlet_body(),
        "messages": [{**m, "id": f"{m['id']}-{before}"} for m in outlet_body()["messages"]],
    }
    asyncio.run(owui(f.outlet, body, __user__=user, __model__=model))
    return stored(db) > before


def test_recall_and_save_are_shown_as_status_lines_and_citations(memplane_url: str) -> None:
    f = make_filter(memplane_url)
    saved = Screen()
    asyncio.run(owui(f.outlet, outlet_body(), __user__=USER, __event_emitter__=saved))
    assert saved.events == [
        {
            "type": "status",
            "data": {"description": "Saved to memory; 2 facts learned", "done": True, "hidden": False},
        }
    ]

    screen = Screen()
    body = ask(f, __event_emitter__=screen)
    statuses = screen.of("status")
    assert statuses[0] == {"description": "Recalling memories…", "done": False, "hidden": False}
    assert statuses[-1]["done"] is True
    sources = screen.of("source")
    assert statuses[-1]["description"] == f"Recalled {len(sources)} memories"
    # Each citation as Open WebUI's own code emits one (middleware.py): a named source, its document,
    # and metadata naming the source; the date says when memplane learned it.
    fact = next(s for s in sources if s["source"]["name"] == "Memory: location")
    assert fact["document"] == ["Lisbon"]
    assert fact["metadata"][0]["source"] == "Memory: location"
    assert fact["metadata"][0]["date_accessed"].startswith("2024-04-24")
    message = next(s for s in sources if "Lisbon" in s["document"][0] and s is not fact)
    assert message["source"]["name"] == "Memory: user on 2024-04-24"
    for source in sources:  # every citation is something the model was given
        assert source["document"][0].split()[0] in body["messages"][0]["content"]


def test_a_user_who_hides_the_status_line_sees_none_and_keeps_the_citations(memplane_url: str) -> None:
    f = make_filter(memplane_url)
    asyncio.run(owui(f.outlet, outlet_body(), __user__=USER))
    quiet = {**USER, "valves": f.UserValves(show_status=False)}
    screen = Screen()
    ask(f, __user__=quiet, __event_emitter__=screen)
    assert screen.of("status") == []
    assert screen.of("source")
    asyncio.run(owui(f.outlet, outlet_body(), __user__=quiet, __event_emitter__=screen))
    assert screen.of("status") == []


def test_memory_that_is_down_is_said_so_and_the_chat_goes_on() -> None:
    f = make_filter(closed_port_url())
    screen = Screen()
    body = ask(f, __event_emitter__=screen)
    assert body == inlet_body("Where do I live?")
    assert screen.of("status")[-1]["description"] == "Memory is unavailable; answering without it"


def test_a_closed_tab_never_fails_the_chat(memplane_url: str) -> None:
    async def gone(event: dict[str, Any]) -> None:
        raise ConnectionError("the socket is closed")

    f = make_filter(memplane_url)
    asyncio.run(owui(f.outlet, outlet_body(), __user__=USER, __event_emitter__=gone))
    body = ask(f, __event_emitter__=gone)
    assert "Lisbon" in body["messages"][0]["content"]


def test_a_cloud_model_gets_no_memory_unless_the_admin_names_it(
    memplane_url: str, db: psycopg.Connection[Any]
) -> None:
    f = make_filter(memplane_url)
    assert saves(f, LOCAL_MODEL, db)
    assert not recalls(f, CLOUD_MODEL)
    assert not saves(f, CLOUD_MODEL, db)
    assert recalls(make_filter(memplane_url, models="gpt-4o, llama3"), CLOUD_MODEL)
    assert recalls(make_filter(memplane_url, external_models=True), CLOUD_MODEL)
    # Nothing known about the model (an Open WebUI that passes none): treated as external.
    assert not recalls(f, {})


def test_denied_models_neither_see_nor_feed_memory(memplane_url: str, db: psycopg.Connection[Any]) -> None:
    f = make_filter(memplane_url, denied_models="llama3", external_models=True)
    assert not saves(f, LOCAL_MODEL, db)
    assert not saves(f, PERSONA, db)  # built on a denied model: denied too
    assert saves(make_filter(memplane_url), LOCAL_MODEL, db)
    assert not recalls(f, LOCAL_MODEL)
    # An allow list keeps every other model out.
    only = make_filter(memplane_url, models="mistral")
    assert not recalls(only, LOCAL_MODEL)
    assert recalls(only, {**LOCAL_MODEL, "id": "mistral"})


def test_a_model_can_see_memory_without_feeding_it_or_the_other_way(
    memplane_url: str, db: psycopg.Connection[Any]
) -> None:
    asyncio.run(owui(make_filter(memplane_url).outlet, outlet_body(), __user__=USER))
    reader = make_filter(memplane_url, recall_only_models="llama3")
    assert recalls(reader, LOCAL_MODEL)
    assert not saves(reader, LOCAL_MODEL, db)
    writer = make_filter(memplane_url, save_only_models="gpt-4o")
    assert saves(writer, CLOUD_MODEL, db)  # named: allowed although external, and only to feed
    assert not recalls(writer, CLOUD_MODEL)


def test_a_user_can_narrow_memory_to_models_of_their_choice(
    memplane_url: str, db: psycopg.Connection[Any]
) -> None:
    f = make_filter(memplane_url)
    asyncio.run(owui(f.outlet, outlet_body(), __user__=USER))
    narrow = {**USER, "valves": f.UserValves(models="mistral")}
    assert not recalls(f, LOCAL_MODEL, narrow)
    assert not saves(f, LOCAL_MODEL, db, narrow)
    assert recalls(f, LOCAL_MODEL)
    # A user cannot widen what the admin allows.
    assert not recalls(f, CLOUD_MODEL, {**USER, "valves": f.UserValves(models="gpt-4o")})


def test_open_webuis_own_memory_is_switched_off_where_memplane_remembers(
    memplane_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Open WebUI pops `features` after the inlet filters ran (middleware.py, process_chat_payload):
    # memory off here means no built-in memories in the prompt, no memory tools, no background review.
    f = make_filter(memplane_url)
    body = asyncio.run(
        owui(f.inlet, {**inlet_body("hi"), "features": {"memory": True, "web_search": True}}, __user__=USER)
    )
    assert body["features"] == {"memory": False, "web_search": True}
    # Where memplane does not remember (a cloud model), Open WebUI's choice is left alone.
    body = asyncio.run(
        owui(
            f.inlet, {**inlet_body("hi"), "features": {"memory": True}}, __user__=USER, __model__=CLOUD_MODEL
        )
    )
    assert body["features"] == {"memory": True}
    # A model whose chats memplane saves (without recalling) learns in memplane only, too.
    saving = make_filter(memplane_url, save_only_models="llama3")
    body = asyncio.run(owui(saving.inlet, {**inlet_body("hi"), "features": {"memory": True}}, __user__=USER))
    assert body["features"] == {"memory": False}
    both = make_filter(memplane_url, keep_builtin_memory=True)
    with caplog.at_level(logging.WARNING, logger="memplane.openwebui"):
        body = asyncio.run(
            owui(both.inlet, {**inlet_body("hi"), "features": {"memory": True}}, __user__=USER)
        )
    assert body["features"] == {"memory": True}
    assert "Open WebUI's own memory is also on" in caplog.text


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Open WebUI calls the pydantic v1 name
def test_secrets_are_password_fields_in_the_valves_open_webui_shows() -> None:
    # Open WebUI serves Valves.schema() as the valves' spec (routers/functions.py, valves/spec) and
    # renders a property whose `input.type` is "password" as a password field.
    module = load_filter_module()
    spec = module.Filter.Valves.schema()["properties"]
    assert spec["api_token"]["input"] == {"type": "password"}
    assert spec["whisk_secret"]["input"] == {"type": "password"}
    assert "version: 0.5.0" in FILTER.read_text()
