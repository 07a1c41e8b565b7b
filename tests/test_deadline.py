"""Near the platform's time limit a function answers with what it has instead of being killed.

On DigitalOcean a function past its limit is killed and the caller gets the platform's error, not
memplane's. Each test gives the DigitalOcean adapter a context with little time left and a dependency
slower than that, and checks that the answer comes before the limit, says what is missing, and loses
nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from memplane.platform.digitalocean import respond
from memplane.wiring import Container
from tests.conftest import Context, load_event, table_locked
from tests.openai_stub import OpenAIStub
from tests.test_memory import exchange
from tests.test_model_endpoint import openai_container


def call(
    c: Container, function: str, body: dict[str, Any], remaining_ms: int
) -> tuple[dict[str, Any], float]:
    """One web call (``web: raw``) through the DigitalOcean adapter; the answer and its time in ms."""
    event = load_event("writeback_web_raw.json")
    event["http"]["body"] = json.dumps(body)
    started = time.monotonic()
    reply = respond(function, event, Context(remaining_ms=remaining_ms), lambda: c)
    return reply, (time.monotonic() - started) * 1000


def body_of(reply: dict[str, Any]) -> dict[str, Any]:
    body = reply["body"]
    return json.loads(body) if isinstance(body, str) else body


def test_a_hanging_llm_is_cut_off_and_its_facts_extracted_by_the_next_cleanup(
    build_container: Callable[..., Container], openai_stub: OpenAIStub
) -> None:
    # The LLM would answer after 6 s (inside its own 10 s timeout); the function has 4.5 s left.
    openai_stub.behaviour.chat_delay_s = 6.0
    c = openai_container(build_container, openai_stub)
    reply, took_ms = call(c, "writeback", exchange(), remaining_ms=4500)
    written = body_of(reply)
    assert reply["statusCode"] == 200
    assert took_ms < 4500
    assert written["degraded"] == ["extraction"]
    assert written["warnings"][0]["code"] == "timeout"
    assert written["chunks_written"] == 2  # the exchange is stored

    openai_stub.behaviour.chat_delay_s = 0.0
    openai_stub.behaviour.chat_content = json.dumps(
        {
            "facts": [{"key": "city", "value": "Lisbon", "confidence": 0.9}],
            "summary": "Alice lives in Lisbon.",
        }
    )
    # The nightly trigger: no HTTP, the body its schedule names.
    reply = respond("cleanup", load_event("cleanup_scheduled.json"), Context(remaining_ms=60_000), lambda: c)
    assert body_of(reply)["facts_extracted"] == 1
    reply, _ = call(c, "assemble", {"client_id": "alice", "query": "Where do I live?"}, remaining_ms=8000)
    assert [(f["key"], f["value"]) for f in body_of(reply)["facts"]] == [("location", "Lisbon")]


def test_a_slow_query_embedding_is_left_behind_and_keywords_answer(
    build_container: Callable[..., Container], openai_stub: OpenAIStub
) -> None:
    c = openai_container(build_container, openai_stub, query_embedding_timeout_s=10.0)
    assert call(c, "writeback", exchange(), remaining_ms=20_000)[0]["statusCode"] == 200
    openai_stub.behaviour.embedding_delay_s = 5.0
    reply, took_ms = call(c, "assemble", {"client_id": "alice", "query": "Where do I live? Lisbon"}, 1500)
    memory = body_of(reply)
    assert reply["statusCode"] == 200
    assert took_ms < 1500
    assert memory["degraded"] == ["embeddings"]
    assert memory["warnings"][0]["code"] == "timeout"
    assert "Lisbon" in memory["similar_chunks"][0]["content"]  # found by keyword


def test_a_blocked_database_is_a_timeout_answer_before_the_limit(
    build_container: Callable[..., Container], db_url: str
) -> None:
    c = build_container(db_statement_timeout_ms=30_000)  # the configured budget alone would be too long
    assert call(c, "writeback", exchange(), remaining_ms=20_000)[0]["statusCode"] == 200
    with table_locked(db_url, "client_profiles"):
        reply, took_ms = call(c, "assemble", {"client_id": "alice", "query": "Lisbon"}, remaining_ms=2000)
    assert reply["statusCode"] == 504
    assert body_of(reply)["error"]["code"] == "timeout"
    assert took_ms < 2000
    # Once the lock is gone, the next call is served.
    reply, _ = call(c, "assemble", {"client_id": "alice", "query": "Lisbon"}, remaining_ms=8000)
    assert reply["statusCode"] == 200
