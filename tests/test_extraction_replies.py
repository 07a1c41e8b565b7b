"""Facts from the models people really pick: the real ``openai`` client against a stand-in that answers
the way providers behind OpenRouter do (their docs: structured outputs and JSON mode only for some
models and providers; reasoning models; refusals; replies cut at max_tokens)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient

from memplane.wiring import Container
from tests.conftest import client_for, memplane_cli
from tests.openai_stub import OpenAIStub
from tests.test_memory import exchange, post
from tests.test_model_endpoint import openai_container

Provider = Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]
FACTS = {
    "facts": [
        {"key": "name", "value": "Alice", "confidence": 0.95},
        {"key": "city", "value": "Lisbon", "confidence": 0.9},
    ],
    "ended": [],
    "summary": "Alice introduced herself and said she lives in Lisbon.",
}
OBJECT = json.dumps(FACTS)


def completion(
    content: str | None,
    *,
    finish: str = "stop",
    refusal: str | None = None,
    extra: dict[str, Any] | None = None,
) -> tuple[int, dict[str, Any]]:
    message: dict[str, Any] = {"role": "assistant", "content": content, **(extra or {})}
    if refusal is not None:
        message["refusal"] = refusal
    return 200, {
        "id": "gen-1",
        "object": "chat.completion",
        "created": 0,
        "model": "provider/model",
        "choices": [{"index": 0, "finish_reason": finish, "message": message}],
        "usage": {"prompt_tokens": 310, "completion_tokens": 42, "total_tokens": 352},
    }


def refused(message: str) -> tuple[int, dict[str, Any]]:
    return 400, {"error": {"message": message, "code": 400}}


def mode(body: dict[str, Any]) -> str:
    return str((body.get("response_format") or {}).get("type", "plain"))


PROVIDERS: dict[str, Provider] = {
    "bare JSON (OpenAI JSON mode)": lambda body: completion(OBJECT),
    "JSON in a fence after a sentence": lambda body: completion(
        f"Sure! Here is what I found:\n\n```json\n{json.dumps(FACTS, indent=2)}\n```\nAnything else?"
    ),
    "JSON after a sentence, no fence": lambda body: completion(f"Here you go: {OBJECT} Hope this helps."),
    "HTTP 400: response_format not supported": lambda body: (
        refused("Provider returned error: response_format is not supported for this model")
        if "response_format" in body
        else completion(OBJECT)
    ),
    "HTTP 400 for json_schema only": lambda body: (
        refused("json_schema is not supported") if mode(body) == "json_schema" else completion(OBJECT)
    ),
    "empty message in a JSON mode it lacks": lambda body: completion(
        "" if "response_format" in body else OBJECT
    ),
    "reasoning model: <think> before the JSON": lambda body: completion(
        '<think>\nThe user is Alice. Draft: {"facts": [], "summary": "draft"}\n</think>\n\n' + OBJECT
    ),
    "reasoning with the opening tag stripped": lambda body: completion(
        "Alice says she lives in Lisbon, so location.\n</think>\n" + OBJECT
    ),
    "reasoning in a separate field": lambda body: completion(
        OBJECT, extra={"reasoning": "Thinking about {the user}...", "reasoning_content": "{not json"}
    ),
    "trailing commas": lambda body: completion(
        '{"facts": [{"key": "name", "value": "Alice", "confidence": 0.95,},'
        ' {"key": "city", "value": "Lisbon", "confidence": 0.9,},], "ended": [],'
        ' "summary": "Alice lives in Lisbon.",}'
    ),
    "single quotes": lambda body: completion(
        "{'facts': [{'key': 'name', 'value': 'Alice', 'confidence': 0.95},"
        " {'key': 'city', 'value': 'Lisbon', 'confidence': 0.9}], 'summary': 'Alice lives in Lisbon.'}"
    ),
    "reply cut at max_tokens, whole with more room": lambda body: (
        completion(OBJECT[:60], finish="length")
        if (body.get("max_tokens") or body.get("max_completion_tokens") or 0) < 2048
        else completion(OBJECT)
    ),
    "only max_completion_tokens (OpenAI's newer models)": lambda body: (
        refused(
            "Unsupported parameter: 'max_tokens' is not supported with this model. "
            "Use 'max_completion_tokens' instead."
        )
        if "max_tokens" in body
        else completion(OBJECT)
    ),
}


@pytest.fixture
def chat(
    build_container: Callable[..., Container], openai_stub: OpenAIStub
) -> Callable[[Provider], FlaskClient]:
    def serve(provider: Provider, **settings: Any) -> FlaskClient:
        openai_stub.behaviour.chat_provider = provider
        return client_for(openai_container(build_container, openai_stub, **settings))

    return serve


def facts_of(client: FlaskClient) -> list[tuple[str, str]]:
    _, memory = post(client, "/assemble", {"client_id": "alice", "query": "Where do I live?"})
    return sorted((f["key"], f["value"]) for f in memory["facts"])


@pytest.mark.parametrize("provider", PROVIDERS.values(), ids=PROVIDERS.keys())
def test_each_reply_shape_stores_its_facts(chat: Callable[..., FlaskClient], provider: Provider) -> None:
    client = chat(provider)
    status, written = post(client, "/writeback", exchange())
    assert status == 200
    assert written["degraded"] == []
    assert written["facts_upserted"] == 2
    assert facts_of(client) == [("location", "Lisbon"), ("name", "Alice")]


def chat_requests(stub: OpenAIStub) -> list[dict[str, Any]]:
    return [body for path, body in stub.behaviour.requests if path.endswith("/chat/completions")]


@pytest.mark.parametrize(
    ("provider", "first", "later"),
    [
        ("bare JSON (OpenAI JSON mode)", 1, 1),
        ("HTTP 400 for json_schema only", 2, 1),
        ("HTTP 400: response_format not supported", 3, 1),
        ("empty message in a JSON mode it lacks", 3, 1),
    ],
)
def test_a_refused_way_of_asking_is_learned_once_per_container(
    chat: Callable[..., FlaskClient], openai_stub: OpenAIStub, provider: str, first: int, later: int
) -> None:
    client = chat(PROVIDERS[provider])
    counts = []
    for n in range(5):
        before = len(chat_requests(openai_stub))
        body = exchange(
            message_id=f"a{n}", conversation=[{"role": "user", "id": f"u{n}", "content": "I live in Lisbon."}]
        )
        assert post(client, "/writeback", body)[1]["degraded"] == []
        counts.append(len(chat_requests(openai_stub)) - before)
    assert counts == [first] + [later] * 4
    print(f"{provider}: chat requests per writeback {counts}")  # the closing note quotes these


def test_structured_outputs_first_with_a_strict_schema_and_a_token_cap(
    chat: Callable[..., FlaskClient], openai_stub: OpenAIStub
) -> None:
    client = chat(PROVIDERS["bare JSON (OpenAI JSON mode)"], extraction_max_tokens=700)
    post(client, "/writeback", exchange())
    [body] = chat_requests(openai_stub)
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["strict"] is True
    assert body["max_tokens"] == 700


def test_a_refusal_stores_the_exchange_without_facts_and_is_not_retried(
    chat: Callable[..., FlaskClient], openai_stub: OpenAIStub, db: psycopg.Connection[Any]
) -> None:
    client = chat(lambda body: completion(None, refusal="I can't help with that."))
    status, written = post(client, "/writeback", exchange())
    assert (status, written["degraded"], written["facts_upserted"]) == (200, [], 0)
    assert written["chunks_written"] == 2
    assert db.execute("SELECT count(*) FROM episodes WHERE extraction_turns IS NOT NULL").fetchone() == (0,)
    _, cleaned = post(client, "/cleanup", {})
    assert cleaned["facts_extracted"] == 0
    assert len(chat_requests(openai_stub)) == 1  # asked once, not every night
    health = client.get("/health").get_json()
    assert health["extractor"]["refusals"] == 1
    assert health["status"] == "ok"


UNREADABLE: Provider = lambda body: completion(  # noqa: E731 - one provider among the others
    "I'm sorry, I cannot produce JSON. The user alice@example.com, phone +351 912 345 678, said "
    "token sk-live-abcdefghijklmnop1234 is theirs."
)


def test_a_model_whose_replies_cannot_be_read_is_named_in_health(
    chat: Callable[..., FlaskClient], openai_stub: OpenAIStub, db: psycopg.Connection[Any]
) -> None:
    client = chat(UNREADABLE, chat_model="vendor/odd-model")
    _, written = post(client, "/writeback", exchange())
    assert written["degraded"] == ["extraction"]
    health = client.get("/health").get_json()
    assert health["status"] == "degraded"
    [reason] = health["reasons"]
    assert "extraction failing for model openai:vendor/odd-model since" in reason
    assert "1 exchanges waiting" in reason
    extractor = health["extractor"]
    assert (extractor["status"], extractor["last_kind"], extractor["waiting"]) == ("failing", "unreadable", 1)
    # Kept for diagnosis, without the user's secrets.
    assert extractor["last_excerpt"].startswith("I'm sorry, I cannot produce JSON.")
    for secret in ("alice@example.com", "912 345 678", "sk-live-abcdefghijklmnop1234"):
        assert secret not in json.dumps(health)

    # The queue backs off and then gives up, in a state the operator can see and act on. (Health is
    # reused for 10 s, so the database is asked directly from here on.)
    for _ in range(3):
        db.execute("UPDATE episodes SET extraction_next_at = now() - interval '1 second'")
        post(client, "/cleanup", {})
    assert db.execute(
        "SELECT count(*) FROM episodes WHERE extraction_given_up_at IS NOT NULL"
    ).fetchone() == (1,)
    db.execute("UPDATE episodes SET extraction_next_at = now() - interval '1 second'")
    requests = len(chat_requests(openai_stub))
    post(client, "/cleanup", {})
    assert len(chat_requests(openai_stub)) == requests  # given up: no more retries
    assert db.execute("SELECT failures FROM extraction_health").fetchone() == (4,)

    # The model works again: its next extraction clears the alarm.
    openai_stub.behaviour.chat_provider = PROVIDERS["bare JSON (OpenAI JSON mode)"]
    later = exchange(message_id="a9", conversation=[{"role": "user", "id": "u9", "content": "Hi"}])
    assert post(client, "/writeback", later)[1]["degraded"] == []
    assert db.execute("SELECT failing_since FROM extraction_health").fetchone() == (None,)


def test_the_operator_requeues_given_up_extractions_from_the_command_line(
    chat: Callable[..., FlaskClient],
    openai_stub: OpenAIStub,
    db: psycopg.Connection[Any],
    db_url: str,
    tmp_path: Path,
) -> None:
    client = chat(UNREADABLE)
    post(client, "/writeback", exchange())
    db.execute("UPDATE episodes SET extraction_given_up_at = now(), extraction_attempts = 3")
    env = {
        "DATABASE_URL": db_url,
        "OPENAI_BASE_URL": openai_stub.base_url,
        "OPENAI_API_KEY": "sk-test-key",
        "MEMPLANE_EMBEDDING_DIM": "64",
    }
    shown = memplane_cli("extractions", cwd=tmp_path, **env)
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    assert (report["given_up"], report["last_kind"]) == (1, "unreadable")
    retried = memplane_cli("extractions", "--retry", cwd=tmp_path, **env)
    assert json.loads(retried.stdout)["requeued"] == 1
    assert db.execute(
        "SELECT count(*) FROM episodes WHERE extraction_given_up_at IS NULL AND extraction_turns IS NOT NULL"
    ).fetchone() == (1,)


def test_chat_and_embeddings_on_separate_endpoints_with_openrouter_attribution(
    build_container: Callable[..., Container], openai_stub: OpenAIStub
) -> None:
    embeddings = OpenAIStub().start()
    try:
        openai_stub.behaviour.chat_provider = PROVIDERS["bare JSON (OpenAI JSON mode)"]
        c = build_container(
            embedder="openai",
            extractor="openai",
            chat_base_url=openai_stub.base_url,
            chat_api_key="sk-or-chat",
            embedding_base_url=embeddings.base_url,
            embedding_api_key="sk-embeddings",
            embedding_model="text-embedding-3-small",
            openrouter_site_url="https://memory.example.org",
            openrouter_app_name="memplane",
        )
        post(client_for(c), "/writeback", exchange())
        assert [p for p, _ in openai_stub.behaviour.requests] == ["/v1/chat/completions"]
        assert {p for p, _ in embeddings.behaviour.requests} == {"/v1/embeddings"}
        sent = openai_stub.behaviour.headers[0]
        assert sent["authorization"] == "Bearer sk-or-chat"
        assert (sent["http-referer"], sent["x-title"]) == ("https://memory.example.org", "memplane")
        assert embeddings.behaviour.headers[0]["authorization"] == "Bearer sk-embeddings"
        assert "x-title" not in embeddings.behaviour.headers[0]
    finally:
        embeddings.stop()


def test_each_writeback_logs_what_its_extraction_cost(
    chat: Callable[..., FlaskClient], caplog: pytest.LogCaptureFixture
) -> None:
    client = chat(PROVIDERS["HTTP 400 for json_schema only"])
    with caplog.at_level(logging.INFO, logger="memplane.usage"):
        post(client, "/writeback", exchange())
    [line] = [r for r in caplog.records if r.name == "memplane.usage"]
    assert (line.prompt_tokens, line.completion_tokens, line.requests) == (310, 42, 2)  # type: ignore[attr-defined]
    assert line.model == "openai:gpt-4o-mini"  # type: ignore[attr-defined]
