"""What assemble brings back: rare words count, answers come with their questions, budgets hold."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from flask.testing import FlaskClient

from memplane.text import estimate_tokens
from memplane.wiring import Container
from tests.conftest import client_for
from tests.test_memory import post

FILLER = [
    "Caroline: I had a quiet weekend at home with a good book.",
    "Melanie: Caroline, that sounds lovely, I spent mine gardening.",
    "Caroline: The weather was nice so I walked to the park too.",
    "Melanie: Caroline, the kids loved the park on Sunday as well.",
]


def remember(
    client: FlaskClient, lines: list[str], chat_id: str = "s1", start: int = 0, **extra: Any
) -> None:
    """Send lines in pairs, the way the Open WebUI filter sends an exchange after each answer."""
    for i in range(0, len(lines), 2):
        pair = lines[i : i + 2]
        n = start + i
        body: dict[str, Any] = {
            "client_id": "caroline",
            "chat_id": chat_id,
            "conversation": [{"role": "user", "id": f"{chat_id}:{n}", "content": pair[0]}],
            "response": pair[-1],
            "message_id": f"{chat_id}:{n + 1}",
            **extra,
        }
        if len(pair) == 1:
            body["conversation"] = []
            body["message_id"] = f"{chat_id}:{n}"
        status, reply = post(client, "/writeback", body)
        assert status == 200, reply


def ask(client: FlaskClient, query: str, **extra: Any) -> dict[str, Any]:
    status, reply = post(client, "/assemble", {"client_id": "caroline", "query": query, **extra})
    assert status == 200, reply
    return reply


def test_a_rare_word_outranks_common_ones(client: FlaskClient) -> None:
    remember(
        client, [*FILLER, "Caroline: I finally went to the pottery workshop downtown.", "Melanie: Nice!"]
    )
    reply = ask(client, "When did Caroline go to the pottery workshop?")
    assert (
        reply["similar_chunks"][0]["content"] == "Caroline: I finally went to the pottery workshop downtown."
    )


def test_any_word_of_the_question_can_match(client: FlaskClient) -> None:
    # Keyword terms are OR-ed: a question never needs all its words in one message.
    remember(client, [*FILLER, "Melanie: We adopted a beagle puppy named Max.", "Caroline: Adorable!"])
    reply = ask(client, "What breed of dog does Melanie own, and what did she name it?")
    assert reply["similar_chunks"][0]["content"] == "Melanie: We adopted a beagle puppy named Max."


def test_an_answer_comes_back_with_its_question(client: FlaskClient) -> None:
    # The reply shares no word with the query; it is found because it answers the message before it.
    remember(
        client, [*FILLER, "Melanie: Did you ever run the Boston marathon?", "Caroline: Yes! Back in 2019."]
    )
    returned = [c["content"] for c in ask(client, "Boston marathon", limit=3)["similar_chunks"]]
    assert returned[:2] == ["Melanie: Did you ever run the Boston marathon?", "Caroline: Yes! Back in 2019."]


def test_neighbours_stay_within_their_chat(client: FlaskClient) -> None:
    remember(client, ["Melanie: Tell me about the Boston marathon.", "Caroline: Long story."], chat_id="a")
    remember(client, ["Caroline: Unrelated chat opener.", "Melanie: Unrelated reply."], chat_id="b")
    returned = [c["content"] for c in ask(client, "Boston marathon", limit=10)["similar_chunks"]]
    assert "Caroline: Unrelated chat opener." not in returned


def test_context_keeps_to_its_token_budget_most_useful_first(client: FlaskClient) -> None:
    remember(client, ["My name is Caroline and I live in Lisbon.", "Nice to meet you!"])
    remember(client, [f"Caroline: the park walk number {i} was lovely." for i in range(40)], chat_id="s2")
    small = ask(client, "park walk lovely", limit=20, context_tokens=120)["context"]
    assert estimate_tokens(small) <= 120
    assert small.index("Known facts:") < small.index("Relevant past messages:")
    assert "location: Lisbon" in small
    large = ask(client, "park walk lovely", limit=20, context_tokens=4000)["context"]
    assert len(large) > len(small)
    body_lines = [line for line in large.splitlines() if line.startswith("- ")]
    assert len(body_lines) == len({line.split("] ", 1)[-1] for line in body_lines})  # nothing twice


def test_memory_is_dated_and_assemble_reports_its_timings(client: FlaskClient) -> None:
    remember(
        client,
        ["Caroline: I went to the support group yesterday.", "Melanie: Proud of you."],
        timestamp="2023-05-08T13:56:00Z",
    )
    reply = ask(client, "When did Caroline go to the support group?")
    assert "[2023-05-08 13:56] user: Caroline: I went to the support group yesterday." in reply["context"]
    assert set(reply["timings_ms"]) == {"embedding", "search"}


def test_keyword_statistics_follow_deletions(
    build_container: Callable[..., Container], db: psycopg.Connection[Any]
) -> None:
    client = client_for(build_container(memory_ttl_days=30))
    remember(client, [*FILLER, "Caroline: the pottery workshop was great.", "Melanie: Pottery is fun."])
    db.execute(
        "UPDATE memory_entries SET expires_at = now() - interval '1 second' WHERE content ILIKE '%%pottery%%'"
    )
    post(client, "/cleanup", {})
    stats = db.execute(
        "SELECT df FROM client_term_stats WHERE client_id = 'caroline' AND term = 'potteri'"
    ).fetchall()
    assert stats == []
    counted = db.execute("SELECT doc_count FROM client_doc_stats WHERE client_id = 'caroline'").fetchone()
    assert counted == (len(FILLER),)
    assert ask(client, "pottery workshop")["similar_chunks"] == []
