"""Retrieval for every Open WebUI user: any language, callers without chat ids, and as-of neighbours."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient

from memplane.language import detect
from memplane.wiring import Container
from memplane_bench import multilingual
from tests.conftest import client_for
from tests.test_memory import post


def tell(client: FlaskClient, client_id: str, said: str, reply: str, n: int, **extra: Any) -> None:
    body = {
        "client_id": client_id,
        "conversation": [{"role": "user", "id": f"{client_id}-{n}u", "content": said}],
        "response": reply,
        "message_id": f"{client_id}-{n}a",
        **extra,
    }
    status, answer = post(client, "/writeback", body)
    assert status == 200, answer


def top(client: FlaskClient, client_id: str, question: str, limit: int = 3, **extra: Any) -> list[str]:
    status, reply = post(
        client, "/assemble", {"client_id": client_id, "query": question, "limit": limit, **extra}
    )
    assert status == 200, reply
    return [c["content"] for c in reply["similar_chunks"]]


def test_every_language_of_the_multilingual_set_is_found_again(client: FlaskClient) -> None:
    def poster(path: str, body: dict[str, Any]) -> dict[str, Any]:
        status, reply = post(client, path, body)
        assert status == 200, reply
        return reply

    figures = multilingual.run(multilingual.load(), poster, lambda *_: None, "ml-")
    recall = {code: row["recall@3"] for code, row in figures["languages"].items()}
    assert {"zh", "ja", "ko", "ru", "ar"} <= set(recall)
    assert len(recall) >= 8
    assert min(recall.values()) >= 0.9, recall


def test_chinese_is_matched_by_character_pairs_without_a_dictionary(client: FlaskClient) -> None:
    tell(client, "mei", "我在市中心的儿童医院当护士。", "那一定很辛苦。", 1, chat_id="c")
    tell(client, "mei", "今天天气很糟糕，下了一整天的雨。", "别淋湿了！", 2, chat_id="c")
    assert top(client, "mei", "我在哪家医院工作？", limit=1) == ["我在市中心的儿童医院当护士。"]


def test_a_german_word_meets_its_other_inflections(client: FlaskClient) -> None:
    tell(client, "jonas", "Meine Schwester arbeitet seit Jahren als Ärztin in Hamburg.", "Spannend!", 1)
    tell(client, "jonas", "Das Wetter war heute furchtbar.", "Bleib trocken!", 2)
    assert top(client, "jonas", "Wo arbeiten die Schwestern?", limit=1) == [
        "Meine Schwester arbeitet seit Jahren als Ärztin in Hamburg."
    ]


def test_each_message_is_read_in_its_own_language(db: psycopg.Connection[Any], client: FlaskClient) -> None:
    tell(client, "mix", "Ich wohne jetzt in einer kleinen Wohnung in Köln.", "Schön!", 1)
    tell(client, "mix", "Я работаю медсестрой в больнице.", "Понятно.", 2)
    rows = dict(db.execute("SELECT content, lang::text FROM memory_entries WHERE role = 'user'").fetchall())
    assert rows == {
        "Ich wohne jetzt in einer kleinen Wohnung in Köln.": "german",
        "Я работаю медсестрой в больнице.": "russian",
    }
    assert detect("When did Caroline go to the LGBTQ support group?") == "english"


@pytest.mark.parametrize("language", ["simple", "german"])
def test_the_language_can_be_fixed_by_configuration(
    build_container: Callable[..., Container], db: psycopg.Connection[Any], language: str
) -> None:
    client = client_for(build_container(text_language=language))
    tell(client, "fixed", "I am running in the park.", "Nice.", 1)
    assert db.execute("SELECT DISTINCT lang::text FROM memory_entries").fetchall() == [(language,)]


def test_a_caller_without_chat_ids_still_gets_neighbours_from_the_same_conversation(
    client: FlaskClient,
) -> None:
    when = "2024-05-08T10:00:00Z"
    tell(
        client,
        "api",
        "What should I bring to the pottery class?",
        "An apron and old clothes.",
        1,
        timestamp=when,
    )
    tell(client, "api", "And what time does it start?", "At seven, in the community hall.", 2, timestamp=when)
    tell(
        client, "api", "Unrelated: my cat is called Pixel.", "Cute name.", 3, timestamp="2024-06-01T10:00:00Z"
    )
    found = top(client, "api", "apron old clothes", limit=4)
    assert found[0] == "An apron and old clothes."
    assert "What should I bring to the pottery class?" in found  # the same writeback
    assert "And what time does it start?" in found  # the next writeback of that conversation
    found = top(client, "api", "community hall at seven", limit=4)
    assert found[0] == "At seven, in the community hall."
    assert "And what time does it start?" in found
    assert "Unrelated: my cat is called Pixel." not in found  # weeks later: another conversation


def test_as_of_neighbours_are_never_from_after_that_time(client: FlaskClient) -> None:
    tell(
        client,
        "asof",
        "I signed up for the pottery class.",
        "Great.",
        1,
        chat_id="c",
        timestamp="2024-05-01T10:00:00Z",
    )
    tell(
        client,
        "asof",
        "The pottery class was cancelled.",
        "Oh no.",
        2,
        chat_id="c",
        timestamp="2024-05-20T10:00:00Z",
    )
    found = top(client, "asof", "pottery class", limit=8, timestamp="2024-05-10T00:00:00Z")
    assert found
    assert not any("cancelled" in text or text == "Oh no." for text in found)
