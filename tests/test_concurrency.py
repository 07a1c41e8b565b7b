"""Idempotency under concurrency: many writebacks of one chat at once, each resending the history."""

from __future__ import annotations

import json
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg

CITIES = ["Lisbon", "Porto", "Braga", "Faro", "Evora"]


def writeback(base: str, n: int) -> int:
    """Turn ``n`` of one chat, sent as Open WebUI sends it: the whole history so far, then the answer."""
    history: list[dict[str, Any]] = []
    for i in range(n + 1):
        history.append(
            {"role": "user", "id": f"u{i}", "content": f"I live in {CITIES[i % len(CITIES)]} now."}
        )
        if i < n:
            history.append({"role": "assistant", "id": f"a{i}", "content": f"Noted, turn {i}."})
    body = {
        "client_id": "busy",
        "chat_id": "chat-1",
        "conversation": history,
        "response": f"Noted, turn {n}.",
        "message_id": f"a{n}",
    }
    request = urllib.request.Request(
        f"{base}/writeback", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return int(response.status)


def test_fifty_concurrent_writebacks_store_each_message_once_and_one_current_fact(
    memplane_url: str, db: psycopg.Connection[Any]
) -> None:
    turns = list(range(25)) * 2  # every turn sent twice, all at once
    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(lambda n: writeback(memplane_url, n), turns))
    assert statuses == [200] * 50
    per_message = db.execute(
        "SELECT message_id, count(*) FROM memory_entries WHERE client_id = 'busy' GROUP BY message_id"
    ).fetchall()
    assert len(per_message) == 50  # u0..u24 and a0..a24
    assert {n for _, n in per_message} == {1}
    current = db.execute(
        "SELECT key, count(*) FROM memory_facts WHERE client_id = 'busy' AND valid_to IS NULL GROUP BY key"
    ).fetchall()
    assert current == [("location", 1)]
    episodes = db.execute("SELECT count(*) FROM episodes WHERE client_id = 'busy'").fetchone()
    assert episodes == (25,)
