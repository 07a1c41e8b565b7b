"""Keyword search over a large memory: bounded work, the same answers, and postings that follow the chunks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg

from memplane.wiring import Container
from tests.conftest import client_for
from tests.test_memory import post

COMMON = "we talked about the weather again today"


def many(db: psycopg.Connection[Any], client_id: str, texts: list[str], first: int = 0) -> None:
    """Store chunks directly, as a long-lived client's memory would hold them (triggers included)."""
    db.execute("INSERT INTO client_profiles (id) VALUES (%s) ON CONFLICT DO NOTHING", (client_id,))
    with db.cursor() as cur:
        cur.executemany(
            "INSERT INTO memory_entries (client_id, turn_key, chat_id, role, content, created_at) "
            "VALUES (%s, %s, %s, 'user', %s, now() - interval '1 day')",
            [(client_id, f"k{i}", f"chat-{i // 20}", text) for i, text in enumerate(texts, first)],
        )


def postings_of(db: psycopg.Connection[Any], client_id: str) -> int:
    row = db.execute("SELECT count(*) FROM memory_postings WHERE client_id = %s", (client_id,)).fetchone()
    assert row is not None
    return int(row[0])


def test_a_rare_word_is_found_past_the_candidate_budget(
    build_container: Callable[..., Container], db: psycopg.Connection[Any]
) -> None:
    texts = [f"{COMMON} number {i}" for i in range(3000)]
    texts[17] = "my sister adopted a beagle called Biscuit"
    many(db, "heavy", texts)
    c = build_container()
    with c.store.session() as s:
        # Every chunk shares "weather" and "talked"; one holds "beagle": a budget of 100 candidates
        # must not hide it, and the 2,999 chunks of common words must not crowd it out.
        question = "Did the weather stop my sister's beagle?"
        hits = s.keyword_search("heavy", question, datetime.now(UTC), 10, 1.2, 0.75, 100)
    assert [h.content for h in hits] == ["my sister adopted a beagle called Biscuit"]


def test_a_question_of_common_words_still_answers_within_budget(
    build_container: Callable[..., Container], db: psycopg.Connection[Any]
) -> None:
    many(db, "heavy", [f"{COMMON} number {i}" for i in range(3000)])
    c = build_container()
    with c.store.session() as s:
        hits = s.keyword_search("heavy", "the weather", datetime.now(UTC), 10, 1.2, 0.75, 100)
    assert len(hits) == 10  # the most recent of the budget, scored exactly


def test_postings_follow_every_chunk_in_and_out(
    build_container: Callable[..., Container], db: psycopg.Connection[Any]
) -> None:
    many(db, "small", [f"{COMMON} item {i}" for i in range(10)])
    many(db, "large", [f"{COMMON} item {i}" for i in range(750)])
    many(db, "between", [f"{COMMON} item {i}" for i in range(10)])  # stored amid the large client's
    many(db, "large", [f"{COMMON} item {i}" for i in range(750, 1500)], first=750)
    assert postings_of(db, "small") == 10 * 5  # talk, weather, today, item and the number
    db.execute("DELETE FROM memory_entries WHERE client_id = 'small' AND turn_key IN ('k1', 'k2')")
    assert postings_of(db, "small") == 8 * 5  # a few chunks: looked up one by one
    db.execute("DELETE FROM memory_entries WHERE client_id = 'large' AND turn_key <> 'k0'")
    assert postings_of(db, "large") == 5  # over a thousand: one pass over the blocks that hold them
    assert postings_of(db, "small") == 8 * 5  # and nobody else's,
    assert postings_of(db, "between") == 10 * 5  # not even those stored among them
    # Statistics count down in bulk too: the 1,499 numbers are gone, the shared words count one chunk.
    stats = db.execute("SELECT term, df FROM client_term_stats WHERE client_id = 'large' ORDER BY term")
    assert stats.fetchall() == [("0", 1), ("item", 1), ("talk", 1), ("today", 1), ("weather", 1)]

    client = client_for(build_container())
    _, memory = post(client, "/assemble", {"client_id": "large", "query": "weather item", "profile": {}})
    assert [c["content"] for c in memory["similar_chunks"]] == [f"{COMMON} item 0"]


def test_a_large_expiry_takes_exactly_the_expired_chunks_postings(
    build_container: Callable[..., Container], db: psycopg.Connection[Any]
) -> None:
    many(db, "large", [f"{COMMON} item {i}" for i in range(750)])
    many(db, "between", [f"{COMMON} item {i}" for i in range(10)])  # stored amid the expiring ones
    many(db, "large", [f"{COMMON} item {i}" for i in range(750, 1500)], first=750)
    db.execute("UPDATE memory_entries SET expires_at = now() - interval '1 minute' WHERE client_id = 'large'")
    # One of them had been given a longer life: it stays, with its postings.
    db.execute(
        "UPDATE memory_entries SET expires_at = now() + interval '1 day' "
        "WHERE client_id = 'large' AND turn_key = 'k9'"
    )
    client = client_for(build_container())

    _, cleaned = post(client, "/cleanup", {})

    assert cleaned["deleted_entries"] == 1499
    assert postings_of(db, "large") == 5
    assert postings_of(db, "between") == 10 * 5
    _, memory = post(client, "/assemble", {"client_id": "large", "query": "weather item", "profile": {}})
    assert [c["content"] for c in memory["similar_chunks"]] == [f"{COMMON} item 9"]
    _, other = post(client, "/assemble", {"client_id": "between", "query": "item 3", "profile": {}})
    assert f"{COMMON} item 3" in [c["content"] for c in other["similar_chunks"]]
