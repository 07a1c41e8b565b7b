"""Isolation, property-based: whatever the interleaving of writeback, assemble, forget and cleanup for
several clients, on either vector backend, nothing of one client reaches another's answer."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memplane.wiring import Container
from tests.conftest import client_for
from tests.test_memory import post

# Each client talks about things only it mentions; a word of one client in another's answer is a leak.
CLIENTS = {
    "ana": ["zebrafinch", "Quito", "oboe"],
    "ben": ["marmoset", "Tromso", "bassoon"],
    "cid": ["axolotl", "Hobart", "sitar"],
}
action = st.one_of(
    st.tuples(st.just("writeback"), st.sampled_from(sorted(CLIENTS)), st.integers(0, 2), st.integers(0, 5)),
    st.tuples(st.just("assemble"), st.sampled_from(sorted(CLIENTS)), st.integers(0, 2)),
    st.tuples(st.just("forget"), st.sampled_from(sorted(CLIENTS))),
    st.tuples(
        st.just("cleanup"),
    ),
)


@pytest.fixture(params=["pgvector", "qdrant-local"])
def service(request: pytest.FixtureRequest) -> FlaskClient:
    """One service per backend for all of hypothesis's examples (Qdrant's local mode allows one client
    per folder); the examples share its state, which isolation must survive too."""
    build: Callable[..., Container] = request.getfixturevalue("indexed")
    backend = "qdrant" if request.param == "qdrant-local" else "pgvector"
    return client_for(build(vector_backend=backend, qdrant_url=None))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=st.lists(action, min_size=3, max_size=14))
def test_nothing_of_one_client_reaches_another(service: FlaskClient, actions: list[tuple[Any, ...]]) -> None:
    client = service
    for step in actions:
        if step[0] == "writeback":
            _, who, topic, n = step
            word = CLIENTS[who][topic]
            body = {
                "client_id": who,
                "chat_id": f"{who}-chat",
                "conversation": [
                    {"role": "user", "id": f"{who}-u{n}", "content": f"I love my {word}, you know."}
                ],
                "response": f"Your {word} sounds wonderful.",
                "message_id": f"{who}-a{n}",
                "profile": {"full_name": who.title()},
            }
            assert post(client, "/writeback", body)[0] == 200
        elif step[0] == "assemble":
            _, who, topic = step
            # Ask with every client's words: only the asker's own may come back.
            question = " ".join(w for words in CLIENTS.values() for w in words)
            status, reply = post(client, "/assemble", {"client_id": who, "query": question, "limit": 20})
            assert status in (200, 404)
            if status == 200:
                answer = json.dumps(reply).lower()
                for other, words in CLIENTS.items():
                    if other != who:
                        assert not any(w.lower() in answer for w in words), (who, other, reply)
        elif step[0] == "forget":
            assert post(client, "/cleanup", {"forget": {"client_id": step[1], "everything": True}})[0] == 200
        else:
            assert post(client, "/cleanup", {})[0] == 200
