"""The Open WebUI filter, loaded as Open WebUI loads it, against memplane served over HTTP, and without it."""

from __future__ import annotations

import asyncio
import inspect
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
import pytest

from tests.conftest import served

FILTER = Path(__file__).parents[1] / "integrations" / "openwebui" / "memplane_filter.py"
USER = {"id": "owui-user-1", "name": "Alice Doe", "email": "alice@example.com", "role": "user"}


# A model on a connection the admin marked local, as Open WebUI's model list gives it to a filter.
LOCAL_MODEL = {"id": "llama3", "name": "llama3", "owned_by": "ollama", "connection_type": "local"}


async def owui(handler: Callable[..., Awaitable[Any]], body: dict[str, Any], **extra: Any) -> Any:
    """Call inlet or outlet as open_webui/utils/filter.py does (get_filter_params): the body, then of
    the extra parameters Open WebUI has (the user, the model, the event emitter...) those the handler's
    signature names. A test names what differs from a local model and no browser."""
    offered = {"__model__": LOCAL_MODEL, "__id__": "memplane_memory", **extra}
    names = inspect.signature(handler).parameters
    return await handler(body, **{k: v for k, v in offered.items() if k in names})


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
    returned = asyncio.run(owui(f.outlet, outlet_body(), __user__=USER))
    assert returned == outlet_body()
    stored = db.execute("SELECT message_id, created_at FROM memory_entries ORDER BY message_id").fetchall()
    assert [m for m, _ in stored] == ["a1", "u1"]
    assert stored[0][1].year == 2024  # dated with the message's own timestamp

    body = asyncio.run(
        owui(f.inlet, inlet_body("Where do I live?", "You are terse."), __user__=USER, __metadata__=METADATA)
    )
    system = body["messages"][0]
    assert system["role"] == "system"
    assert system["content"].startswith("You are terse.\n\n<memplane-memory-")
    assert "Lisbon" in system["content"]
    assert body["messages"][1] == {"role": "user", "content": "Where do I live?"}

    # The next turn resends the system message with last turn's block: it is replaced, not repeated.
    body["messages"].append({"role": "assistant", "content": "In Lisbon."})
    body["messages"].append({"role": "user", "content": "And my name?"})
    again = asyncio.run(owui(f.inlet, body, __user__=USER, __metadata__=METADATA))
    assert again["messages"][0]["content"].count("<memplane-memory-") == 1
    assert again["messages"][0]["content"].startswith("You are terse.")


def test_inlet_creates_a_system_message_when_there_is_none(memplane_url: str) -> None:
    f = make_filter(memplane_url)
    asyncio.run(owui(f.outlet, outlet_body(), __user__=USER))
    body = asyncio.run(owui(f.inlet, inlet_body("Where do I live?"), __user__=USER, __metadata__=METADATA))
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert body["messages"][0]["content"].startswith("<memplane-memory-")


def test_a_service_that_is_down_slow_or_refusing_never_breaks_or_holds_the_chat(
    slow_url: str, memplane_url: str
) -> None:
    for f in (
        make_filter(closed_port_url()),
        make_filter(slow_url, assemble_timeout=0.5, writeback_timeout=0.5),
    ):
        started = time.monotonic()
        body = inlet_body("Where do I live?", "You are terse.")
        assert (
            asyncio.run(owui(f.inlet, inlet_body("Where do I live?", "You are terse."), __user__=USER))
            == body
        )
        assert asyncio.run(owui(f.outlet, outlet_body(), __user__=USER)) == outlet_body()
        assert time.monotonic() - started < 2.5
    # A new user and no profile is fine, but an unknown route is a 404 from memplane: passed through.
    refusing = make_filter(memplane_url)
    refusing.valves.assemble_url = f"{memplane_url}/nowhere"
    assert asyncio.run(owui(refusing.inlet, inlet_body("hi"), __user__=USER)) == inlet_body("hi")


def test_switched_off_globally_or_by_the_user_nothing_is_sent(
    memplane_url: str, db: psycopg.Connection[Any]
) -> None:
    off = make_filter(memplane_url, enabled=False)
    asyncio.run(owui(off.outlet, outlet_body(), __user__=USER))
    opted_out = make_filter(memplane_url)
    user = {**USER, "valves": opted_out.UserValves(enabled=False)}
    asyncio.run(owui(opted_out.outlet, outlet_body(), __user__=user))
    assert db.execute("SELECT count(*) FROM memory_entries").fetchone() == (0,)


def test_tokens_are_sent_as_memplane_and_digitalocean_expect(
    build_container: Any, db: psycopg.Connection[Any]
) -> None:
    secured = build_container(api_token="tok-1")
    with served(secured) as base:
        asyncio.run(owui(make_filter(base).outlet, outlet_body(), __user__=USER))  # no token: refused, logged
        assert db.execute("SELECT count(*) FROM memory_entries").fetchone() == (0,)
        asyncio.run(
            owui(make_filter(base, api_token="tok-1", whisk_secret="w").outlet, outlet_body(), __user__=USER)
        )
        assert db.execute("SELECT count(*) FROM memory_entries").fetchone() == (2,)


def test_the_file_has_the_frontmatter_open_webui_reads() -> None:
    header = FILTER.read_text().split('"""')[1]
    fields = dict(
        line.split(":", 1) for line in header.strip().splitlines() if ":" in line and not line.startswith(" ")
    )
    assert {"title", "author", "version", "requirements"} <= set(fields)
    assert fields["requirements"].strip() == "httpx"


# What Open WebUI's outlet sends after a reasoning model answered: the thinking rides inside the answer's
# content, in a <details type="reasoning"> block (and a tool call's result in one of type "tool_calls").
REASONED = (
    '<details type="reasoning" done="true" duration="4">\n<summary>Thought for 4 seconds</summary>\n'
    "&gt; The user says they moved. Maybe I should ask about Porto's weather?\n</details>\n"
    '<details type="tool_calls" done="true" id="call_1" name="weather" arguments="{}" '
    'result="&quot;sunny&quot;">\n'
    "<summary>Tool Executed</summary>\n</details>\n"
    "Congratulations on the move to Porto!"
)
PIXEL = "data:image/png;base64," + "iVBORw0KGgo" * 200_000  # a 2 MB photo, as the chat holds it


def test_reasoning_and_tool_blocks_are_never_stored(memplane_url: str, db: psycopg.Connection[Any]) -> None:
    body = outlet_body()
    body["messages"][1]["content"] = REASONED
    asyncio.run(owui(make_filter(memplane_url).outlet, body, __user__=USER))
    stored = [r[0] for r in db.execute("SELECT content FROM memory_entries WHERE role = 'assistant'")]
    assert stored == ["Congratulations on the move to Porto!"]


def test_a_message_with_an_image_is_remembered_by_its_words(
    memplane_url: str, db: psycopg.Connection[Any]
) -> None:
    body = outlet_body()
    body["messages"][0]["content"] = [
        {"type": "text", "text": "This is my new flat in Porto."},
        {"type": "image_url", "image_url": {"url": PIXEL}},
    ]
    asyncio.run(owui(make_filter(memplane_url).outlet, body, __user__=USER))
    stored = [r[0] for r in db.execute("SELECT content FROM memory_entries WHERE role = 'user'")]
    assert stored == ["This is my new flat in Porto.\n[image]"]


def test_a_system_message_made_of_parts_gets_the_memory_as_one_more_part(memplane_url: str) -> None:
    f = make_filter(memplane_url)
    asyncio.run(owui(f.outlet, outlet_body(), __user__=USER))
    body = inlet_body("Where do I live?")
    body["messages"].insert(0, {"role": "system", "content": [{"type": "text", "text": "You are terse."}]})
    once = asyncio.run(owui(f.inlet, body, __user__=USER, __metadata__=METADATA))
    twice = asyncio.run(owui(f.inlet, once, __user__=USER, __metadata__=METADATA))
    assert [m["role"] for m in twice["messages"]] == ["system", "user"]  # no second system message
    parts = twice["messages"][0]["content"]
    assert parts[0] == {"type": "text", "text": "You are terse."}
    assert len(parts) == 2
    assert parts[1]["text"].startswith("<memplane-memory-")
    assert "Lisbon" in parts[1]["text"]


@pytest.fixture
def odd_url() -> Iterator[str]:
    """A server that answers 200 with JSON that is not an object: a proxy's error page, a list, null."""
    replies = iter([b"[1, 2]", b"null", b'"ok"', b"<html>busy</html>"] * 3)

    class Odd(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            body = next(replies)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Odd)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_reply_that_is_not_an_object_is_ignored_never_raised(odd_url: str) -> None:
    f = make_filter(odd_url)
    for _ in range(4):
        body = inlet_body("Where do I live?", "You are terse.")
        assert asyncio.run(owui(f.inlet, body, __user__=USER, __metadata__=METADATA)) == body
    assert asyncio.run(owui(f.outlet, outlet_body(), __user__=USER)) == outlet_body()


def test_one_http_client_serves_every_call_on_the_loop(memplane_url: str) -> None:
    f = make_filter(memplane_url)

    async def chat() -> set[int]:
        clients = set()
        for question in ("Where do I live?", "And my name?", "What did I say?"):
            await owui(f.inlet, inlet_body(question), __user__=USER, __metadata__=METADATA)
            clients.add(id(f._client))
        await owui(f.outlet, outlet_body(), __user__=USER)
        clients.add(id(f._client))
        return clients

    assert len(asyncio.run(chat())) == 1


REASONING_FLOODS = {
    "unclosed reasoning blocks": '<details type="reasoning" done="false">' * 8_000,
    "closed reasoning blocks": '<details type="reasoning" done="true">\n<summary>T</summary>\nx\n</details>\n'
    * 4_500,
    "think tags": "<think>" * 43_000,
    "memory blocks never closed": " \n" * 50_000 + "<memplane-memory>" * 12_000,
    "tags without their bracket": "<details type=" * 22_000,
}


@pytest.mark.parametrize("flood", REASONING_FLOODS.values(), ids=REASONING_FLOODS.keys())
def test_300_kb_of_reasoning_tags_pass_the_filter_in_under_50_ms(flood: str) -> None:
    # Open WebUI runs filters on its event loop, and a chat carries its reasoning on every later turn.
    module = load_filter_module()
    assert len(flood) >= 300_000
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        module._said(flood)
        module._with_memory([{"role": "system", "content": flood}, {"role": "user", "content": "hi"}], "m")
        timings.append(time.perf_counter() - started)
    assert sorted(timings)[2] < 0.050  # the median of five (the old patterns took seconds)


def test_nested_and_unclosed_reasoning_is_never_remembered() -> None:
    said = load_filter_module()._said
    nested = 'A<details type="reasoning"><details type="tool_calls">t</details>still thinking</details>B'
    assert said(nested) == "AB"
    assert said("Answer.<think>and then the stream was cut") == "Answer."
    assert said("Keep <details><summary>a user's own details</summary>this</details>.") == (
        "Keep <details><summary>a user's own details</summary>this</details>."
    )
