"""A question that names a period ("on May 3, 2023", "in December 2023") finds what was said then."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient

from memplane.dates import named_period
from tests.test_memory import post

NOW = datetime(2024, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("question", "day"),
    [
        ("Who did I have dinner with on May 3, 2023?", datetime(2023, 5, 3, tzinfo=UTC)),
        ("What did I share on 3 June, 2023?", datetime(2023, 6, 3, tzinfo=UTC)),
        ("What happened on the 14th of July 2023?", datetime(2023, 7, 14, tzinfo=UTC)),
    ],
)
def test_a_named_day_is_that_day(question: str, day: datetime) -> None:
    start, end = named_period(question, NOW) or (None, None)
    assert start is not None
    assert end is not None
    assert start < day + timedelta(hours=1) < day + timedelta(hours=23) < end
    assert end - start <= timedelta(days=2)  # the day, and half a day either side for time zones


def test_a_named_month_is_that_month_and_a_bare_one_the_latest() -> None:
    start, end = named_period("What did I start in December 2023?", NOW) or (None, None)
    assert start is not None
    assert end is not None
    assert start < datetime(2023, 12, 1, tzinfo=UTC) < datetime(2023, 12, 31, tzinfo=UTC) < end
    june = named_period("When did I go camping in June?", NOW)
    assert june is not None
    assert june[0].year == 2023  # the latest June before the question


@pytest.mark.parametrize(
    "question", ["May I ask you something?", "What did I do in 2023?", "on February 30, 2023"]
)
def test_no_period_is_read_into_other_words(question: str) -> None:
    assert named_period(question, NOW) is None


def test_the_message_of_the_named_day_is_found_among_the_same_talk_on_other_days(client: FlaskClient) -> None:
    friends = ["Anna", "Bruno", "Chloe", "Dmitri", "Elena", "Farid", "Greta", "Hugo", "Ines", "Jonas"] * 3
    day = datetime(2023, 2, 1, 19, tzinfo=UTC)
    for n, friend in enumerate(friends):
        when = day + timedelta(days=7 * n)
        said = f"I had dinner with {friend} tonight, a lovely evening."
        body = {
            "client_id": "alice",
            "message_id": f"a{n}",
            "conversation": [{"role": "user", "id": f"u{n}", "content": said}],
            "response": "Sounds lovely!",
            "timestamp": when.isoformat(),
            "profile": {},
        }
        assert post(client, "/writeback", body)[0] == 200
    target = day + timedelta(days=7 * 13)  # 2023-05-03, with Dmitri
    question = f"Who did I have dinner with on {target:%B} {target.day}, {target.year}?"
    status, found = post(client, "/assemble", {"client_id": "alice", "query": question, "limit": 3})
    assert status == 200
    assert "Dmitri" in found["similar_chunks"][0]["content"]
    assert found["similar_chunks"][0]["created_at"].startswith("2023-05-03")
