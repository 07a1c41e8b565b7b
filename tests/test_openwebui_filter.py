"""The Open WebUI filter, loaded as Open WebUI loads it, against memplane served over HTTP, and without it."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
import pytest
from werkzeug.serving import make_server

from memplane.platform.functions_framework import create_app

FILTER = Path(__file__).parents[1] / "integrations" / "openwebui" / "memplane_filter.py"
USER = {"id": "owui-user-1", "name": "Alice Doe", "email": "alice@example.com", "role": "user"}


def load_filter_module() -> ModuleType:
    """Open WebUI executes the pasted file's text as a new module and instantiates its Filter."""
    module = ModuleType("function_memplane")
    exec(compile(FILTER.read_text(), str(FILTER), "exec"), module.__dict__)  # noqa: S102 - as Open WebUI does
    return module


def make_filter(base: str, **valves: Any) -> Any:
    f = load_filter_module().Filter()
    f.valves = f.Valves(assemble_url=f"{base}/assemble", writeback_url=f"{base}/writeback", **valves)
    return f


@pytest.fixture
def slow_url() -> Iterator[str]:
    class Slow(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            time.sleep(3)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def outlet_body() -> dict[str, Any]:
    """What Open WebUI's outlet receives after an answer: the chat's messages with their ids."""
    return {
        "model": "llama3",
        "chat_id": "chat-9",
        "session_id": "sess-1",
        "id": "a1",
        "messages": [
            {
                "id": "u1",
                "role": "user",
                "content": "My name is Alice and I live in Lisbon.",
                "timestamp": 1714000000,
            },
            {"id": "a1", "role": "assistant", "content": "Nice to meet you, Alice!", "timestamp": 1714000005},
        ],
    }


def inlet_body(question: str, system: str | None = None) -> dict[str, Any]:
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": question})
    return {
        "model": "llama3",
        "stream": True,
        "messages": messages,
        "metadata": {"chat_id": "chat-10", "message_id": "m-new", "session_id": "sess-2"},
    }


METADATA = {"user_id": USER["id"], "chat_id": "chat-10", "message_id": "m-new", "session_id": "sess-2"}


def test_outlet_then_inlet_puts_memory_in_the_system_prompt_once(
    memplane_url: str, db: psycopg.Connection[Any]
) -> None:
    f = make_filter(memplane_url)
    returned = asyncio.run(f.outlet(outlet_body(), __user__=USER))
    assert returned == outlet_body()
    stored = db.execute("SELECT message_id, created_at FROM memory_entries ORDER BY message_id").fetchall()
    assert [m for m, _ in stored] == ["a1", "u1"]
    assert stored[0][1].year == 2024  # dated with the message's own timestamp

    body = asyncio.run(
        f.inlet(inlet_body("Where do I live?", "You are terse."), __user__=USER, __metadata__=METADATA)
    )
    system = body["messages"][0]
    assert system["role"] == "system"
    assert system["content"].startswith("You are terse.\n\n<memplane-memory>")
    assert "Lisbon" in system["content"]
    assert body["messages"][1] == {"role": "user", "content": "Where do I live?"}

    # The next turn resends the system message with last turn's block: it is replaced, not repeated.
    body["messages"].append({"role": "assistant", "content": "In Lisbon."})
    body["messages"].append({"role": "user", "content": "And my name?"})
    again = asyncio.run(f.inlet(body, __user__=USER, __metadata__=METADATA))
    assert again["messages"][0]["content"].count("<memplane-memory>") == 1
    assert again["messages"][0]["content"].startswith("You are terse.")


def test_inlet_creates_a_system_message_when_there_is_none(memplane_url: str) -> None:
    f = make_filter(memplane_url)
    asyncio.run(f.outlet(outlet_body(), __user__=USER))
    body = asyncio.run(f.inlet(inlet_body("Where do I live?"), __user__=USER, __metadata__=METADATA))
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert body["messages"][0]["content"].startswith("<memplane-memory>")


def test_a_service_that_is_down_slow_or_refusing_never_breaks_or_holds_the_chat(
    slow_url: str, memplane_url: str
) -> None:
    for f in (
        make_filter(closed_port_url()),
        make_filter(slow_url, assemble_timeout=0.5, writeback_timeout=0.5),
    ):
        started = time.monotonic()
        body = inlet_body("Where do I live?", "You are terse.")
        assert asyncio.run(f.inlet(inlet_body("Where do I live?", "You are terse."), __user__=USER)) == body
        assert asyncio.run(f.outlet(outlet_body(), __user__=USER)) == outlet_body()
        assert time.monotonic() - started < 2.5
    # A new user and no profile is fine, but an unknown route is a 404 from memplane: passed through.
    refusing = make_filter(memplane_url)
    refusing.valves.assemble_url = f"{memplane_url}/nowhere"
    assert asyncio.run(refusing.inlet(inlet_body("hi"), __user__=USER)) == inlet_body("hi")


def test_switched_off_globally_or_by_the_user_nothing_is_sent(
    memplane_url: str, db: psycopg.Connection[Any]
) -> None:
    off = make_filter(memplane_url, enabled=False)
    asyncio.run(off.outlet(outlet_body(), __user__=USER))
    opted_out = make_filter(memplane_url)
    user = {**USER, "valves": opted_out.UserValves(enabled=False)}
    asyncio.run(opted_out.outlet(outlet_body(), __user__=user))
    assert db.execute("SELECT count(*) FROM memory_entries").fetchone() == (0,)


def test_tokens_are_sent_as_memplane_and_digitalocean_expect(
    build_container: Any, db: psycopg.Connection[Any]
) -> None:
    secured = build_container(api_token="tok-1")
    server = make_server("127.0.0.1", 0, create_app(lambda: secured), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        asyncio.run(make_filter(base).outlet(outlet_body(), __user__=USER))  # no token: refused, logged
        assert db.execute("SELECT count(*) FROM memory_entries").fetchone() == (0,)
        asyncio.run(
            make_filter(base, api_token="tok-1", whisk_secret="w").outlet(outlet_body(), __user__=USER)
        )
        assert db.execute("SELECT count(*) FROM memory_entries").fetchone() == (2,)
    finally:
        server.shutdown()


def test_the_file_has_the_frontmatter_open_webui_reads() -> None:
    header = FILTER.read_text().split('"""')[1]
    fields = dict(
        line.split(":", 1) for line in header.strip().splitlines() if ":" in line and not line.startswith(" ")
    )
    assert {"title", "author", "version", "requirements"} <= set(fields)
    assert fields["requirements"].strip() == "httpx"
