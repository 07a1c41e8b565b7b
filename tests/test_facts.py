"""Facts that stay correct: the extractor sees what is known, reuses keys, ends what stopped being true."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient

from memplane.wiring import Container
from tests.conftest import client_for
from tests.openai_stub import OpenAIStub
from tests.test_memory import exchange, post


def said(text: str, n: int, when: str) -> dict[str, Any]:
    return exchange(
        conversation=[{"role": "user", "id": f"u{n}", "content": text}],
        message_id=f"a{n}",
        response="Noted.",
        timestamp=when,
    )


def history(client: FlaskClient, key: str) -> list[tuple[str, str, str | None]]:
    """(value, from, until) for every value a key has had, oldest first, as an export shows them."""
    _, everything = post(client, "/cleanup", {"export": {"client_id": "alice"}})
    rows = sorted((f for f in everything["facts"] if f["key"] == key), key=lambda f: f["valid_from"])
    return [(f["value"], f["valid_from"][:10], (f["valid_to"] or "")[:10] or None) for f in rows]


def current(client: FlaskClient) -> dict[str, str]:
    _, memory = post(client, "/assemble", {"client_id": "alice", "query": "about me"})
    return {f["key"]: f["value"] for f in memory["facts"]}


def test_the_rules_extractor_ends_a_diet_and_moves_a_home(client: FlaskClient) -> None:
    post(client, "/writeback", said("I live in Lisbon and I'm vegetarian.", 1, "2024-01-10T09:00:00Z"))
    assert current(client) == {"location": "Lisbon", "diet": "vegetarian"}

    post(
        client, "/writeback", said("I'm not vegetarian any more, I eat fish now.", 2, "2024-03-01T09:00:00Z")
    )
    post(client, "/writeback", said("Big news: I moved to Porto.", 3, "2024-06-01T09:00:00Z"))
    assert current(client) == {"location": "Porto"}
    assert history(client, "diet") == [("vegetarian", "2024-01-10", "2024-03-01")]  # ended, kept
    assert history(client, "location") == [
        ("Lisbon", "2024-01-10", "2024-06-01"),
        ("Porto", "2024-06-01", None),
    ]


def test_a_stated_end_without_a_known_fact_changes_nothing(client: FlaskClient) -> None:
    post(client, "/writeback", said("I don't live in Berlin anymore.", 1, "2024-01-10T09:00:00Z"))
    assert current(client) == {}


def test_the_llm_sees_the_known_facts_and_its_updates_and_endings_apply(
    build_container: Callable[..., Container], openai_stub: OpenAIStub
) -> None:
    client = client_for(
        build_container(extractor="openai", openai_base_url=openai_stub.base_url, chat_model="gpt-4o-mini")
    )
    b = openai_stub.behaviour
    b.chat_content = json.dumps(
        {
            "facts": [
                {"key": "location", "value": "Lisbon", "confidence": 0.9},
                {"key": "diet", "value": "vegetarian", "confidence": 0.8},
            ],
            "summary": "Alice said where she lives and what she eats.",
        }
    )
    post(client, "/writeback", said("I live in Lisbon and I'm vegetarian.", 1, "2024-01-10T09:00:00Z"))

    # The model names the key its own way ("city"): folded into the known "location".
    b.chat_content = json.dumps(
        {
            "facts": [{"key": "City", "value": "Porto", "confidence": 0.9}],
            "ended": ["diet"],
            "summary": "Alice moved to Porto and eats meat again.",
        }
    )
    post(client, "/writeback", said("I moved to Porto, and I eat meat again.", 2, "2024-06-01T09:00:00Z"))
    prompt = next(m["content"] for m in b.requests[-1][1]["messages"] if m["role"] == "user")
    known = prompt.split("Exchange:")[0]
    assert "location: Lisbon" in known
    assert "diet: vegetarian" in known
    assert "I moved to Porto" in prompt
    assert current(client) == {"location": "Porto"}
    assert history(client, "location") == [
        ("Lisbon", "2024-01-10", "2024-06-01"),
        ("Porto", "2024-06-01", None),
    ]
    assert history(client, "diet") == [("vegetarian", "2024-01-10", "2024-06-01")]
