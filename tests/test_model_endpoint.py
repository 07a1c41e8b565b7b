"""The real ``openai`` client against a local OpenAI-compatible server: success, failure, and nonsense."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient

from memplane.adapters.openai_backend import OpenAIEmbedder, OpenAIExtractor, make_client
from memplane.errors import EmbeddingsFailed, ExtractionFailed
from memplane.model import Turn
from memplane.wiring import Container
from tests.conftest import TEST_DIM, client_for
from tests.openai_stub import OpenAIStub
from tests.test_memory import exchange, post


def openai_container(build: Callable[..., Container], stub: OpenAIStub, **settings: Any) -> Container:
    return build(
        embedder="openai",
        extractor="openai",
        openai_base_url=stub.base_url,
        openai_api_key="sk-test-key",
        embedding_model="text-embedding-3-small",
        **settings,
    )


def embedding_container(build: Callable[..., Container], stub: OpenAIStub, **settings: Any) -> Container:
    """Embeddings from the stub; facts from the offline extractor."""
    return build(
        embedder="openai", openai_base_url=stub.base_url, embedding_model="text-embedding-3-small", **settings
    )


def test_writeback_and_assemble_through_an_openai_compatible_endpoint(
    build_container: Callable[..., Container], openai_stub: OpenAIStub
) -> None:
    openai_stub.behaviour.chat_content = json.dumps(
        {
            "facts": [{"key": "City", "value": "Lisbon", "confidence": 0.9}],
            "summary": "Alice introduced herself and said she lives in Lisbon.",
        }
    )
    client = client_for(openai_container(build_container, openai_stub))
    status, written = post(client, "/writeback", exchange())
    assert status == 200
    assert written["degraded"] == []
    assert written["facts_upserted"] == 1

    _, memory = post(client, "/assemble", {"client_id": "alice", "query": "Where do I live?"})
    assert memory["facts"][0]["key"] == "location"  # keys are normalised, and "city" is a location
    assert memory["recent_episodes"][0]["summary"].startswith("Alice introduced herself")
    assert memory["similar_chunks"][0]["message_id"] == "m1"
    paths = [p for p, _ in openai_stub.behaviour.requests]
    assert paths.count("/v1/chat/completions") == 1
    embed_calls = [b for p, b in openai_stub.behaviour.requests if p == "/v1/embeddings"]
    assert all(b["dimensions"] == TEST_DIM for b in embed_calls)


def test_an_e5_style_embedder_gets_its_query_and_passage_marks(
    build_container: Callable[..., Container], openai_stub: OpenAIStub
) -> None:
    # e5 models want "query: " before a question and "passage: " before a stored text (bge: an
    # instruction before questions only); memplane marks each side as configured.
    container = build_container(
        embedder="openai",
        openai_base_url=openai_stub.base_url,
        embedding_model="intfloat/e5-small-v2",
        embedding_query_prefix="query: ",
        embedding_document_prefix="passage: ",
    )
    client = client_for(container)
    assert post(client, "/writeback", exchange())[0] == 200
    stored = [b["input"] for p, b in openai_stub.behaviour.requests if p == "/v1/embeddings"]
    assert stored
    assert all(text.startswith("passage: ") for batch in stored for text in batch)
    openai_stub.behaviour.requests.clear()
    assert post(client, "/assemble", {"client_id": "alice", "query": "Where do I live?"})[0] == 200
    asked = [b["input"] for p, b in openai_stub.behaviour.requests if p == "/v1/embeddings"]
    assert asked == [["query: Where do I live?"]]


def test_a_reply_that_does_not_validate_is_reported_not_silently_empty(
    build_container: Callable[..., Container], openai_stub: OpenAIStub, db: psycopg.Connection[Any]
) -> None:
    openai_stub.behaviour.chat_content = "Sure! Here are the facts: the user lives in Lisbon."
    client = client_for(openai_container(build_container, openai_stub))
    status, written = post(client, "/writeback", exchange())
    assert status == 200
    assert written["degraded"] == ["extraction"]
    assert written["warnings"][0]["code"] == "extraction_failed"
    assert written["chunks_written"] == 2  # the exchange itself is not lost
    summary = db.execute("SELECT summary FROM episodes").fetchone()
    assert summary is not None
    assert "Lisbon" in summary[0]


@pytest.mark.parametrize("failure", ["status 500", "not JSON", "JSON of another shape"])
def test_facts_the_llm_failed_to_give_are_extracted_by_the_next_cleanup(
    build_container: Callable[..., Container],
    openai_stub: OpenAIStub,
    db: psycopg.Connection[Any],
    failure: str,
) -> None:
    b = openai_stub.behaviour
    if failure == "status 500":
        b.chat_status = 500
    else:
        b.chat_content = "I think she lives in Lisbon." if failure == "not JSON" else '{"facts": "Lisbon"}'
    client = client_for(openai_container(build_container, openai_stub))
    _, written = post(client, "/writeback", exchange())
    assert written["degraded"] == ["extraction"]
    assert written["chunks_written"] == 2
    _, memory = post(client, "/assemble", {"client_id": "alice", "query": "Where do I live?"})
    assert memory["facts"] == []
    assert memory["recent_episodes"]  # the exchange and its episode are kept

    _, still_down = post(client, "/cleanup", {})  # the LLM is still failing: nothing lost, tried again later
    assert (still_down["facts_extracted"], still_down["degraded"]) == (0, ["extraction"])
    # It waits before the next try (2 hours after a first failed retry); the hours pass.
    waits = db.execute("SELECT extraction_next_at - now() > interval '1 hour' FROM episodes").fetchone()
    assert waits == (True,)
    db.execute("UPDATE episodes SET extraction_next_at = now() - interval '1 second'")

    b.chat_status = 200
    b.chat_content = json.dumps(
        {
            "facts": [{"key": "city", "value": "Lisbon", "confidence": 0.9}],
            "summary": "Alice lives in Lisbon.",
        }
    )
    _, cleaned = post(client, "/cleanup", {})
    assert cleaned["facts_extracted"] == 1
    assert cleaned["degraded"] == []
    prompt = next(m["content"] for m in b.requests[-1][1]["messages"] if m["role"] == "user")
    assert "My name is Alice and I live in Lisbon." in prompt  # the stored messages, sent again
    _, memory = post(client, "/assemble", {"client_id": "alice", "query": "Where do I live?"})
    assert [(f["key"], f["value"]) for f in memory["facts"]] == [("location", "Lisbon")]
    _, again = post(client, "/cleanup", {})
    assert again["facts_extracted"] == 0  # owed once, extracted once


def test_embedder_down_stores_anyway_and_cleanup_fills_vectors_in(
    build_container: Callable[..., Container], openai_stub: OpenAIStub, db: psycopg.Connection[Any]
) -> None:
    client = client_for(openai_container(build_container, openai_stub))
    openai_stub.behaviour.embedding_status = 503
    status, written = post(client, "/writeback", exchange())
    assert status == 200
    assert written["degraded"] == ["embeddings"]
    assert written["warnings"][0]["code"] == "embeddings_failed"

    status, memory = post(client, "/assemble", {"client_id": "alice", "query": "Lisbon"})
    assert status == 200
    assert memory["degraded"] == ["embeddings"]
    assert memory["similar_chunks"][0]["content"] == "My name is Alice and I live in Lisbon."

    openai_stub.behaviour.embedding_status = 200
    status, cleaned = post(client, "/cleanup", {})
    assert status == 200
    assert cleaned["embeddings_backfilled"] == 3
    missing = db.execute("SELECT count(*) FROM memory_entries WHERE embedding IS NULL").fetchone()
    assert missing == (0,)


def test_a_slow_embedder_costs_assemble_its_budget_not_the_chat(
    build_container: Callable[..., Container], openai_stub: OpenAIStub
) -> None:
    client = client_for(embedding_container(build_container, openai_stub, query_embedding_timeout_s=0.3))
    post(client, "/writeback", exchange())
    openai_stub.behaviour.embedding_delay_s = 3.0
    started = time.monotonic()
    status, memory = post(client, "/assemble", {"client_id": "alice", "query": "Lisbon"})
    assert time.monotonic() - started < 1.5  # one try of 0.3 s, not two of the writeback budget
    assert status == 200
    assert memory["degraded"] == ["embeddings"]
    assert memory["similar_chunks"][0]["content"] == "My name is Alice and I live in Lisbon."


def test_the_database_work_runs_while_the_embedder_answers(
    build_container: Callable[..., Container], openai_stub: OpenAIStub, db: psycopg.Connection[Any]
) -> None:
    client = client_for(embedding_container(build_container, openai_stub))
    post(client, "/writeback", exchange())
    openai_stub.behaviour.embedding_delay_s = 0.4
    idle_in_transaction: list[int] = []

    def watch() -> None:  # while assemble waits on the embedder, no transaction is left open
        time.sleep(0.25)
        row = db.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'"
        ).fetchone()
        idle_in_transaction.append(int(row[0]) if row else -1)

    watcher = threading.Thread(target=watch)
    watcher.start()
    status, memory = post(client, "/assemble", {"client_id": "alice", "query": "Where does Alice live?"})
    watcher.join()
    assert status == 200
    assert memory["similar_chunks"][0]["content"] == "My name is Alice and I live in Lisbon."
    assert idle_in_transaction == [0]
    timings = memory["timings_ms"]
    assert timings["embedding"] >= 400
    # The wait is the embedder's: memplane's own time is what it spent on everything else.
    assert timings["search"] < timings["embedding"] < memory["execution_time_ms"]


def test_embedder_client_errors_are_ours() -> None:
    # Nothing listens on port 9: a connection failure, named without echoing the request.
    dead = make_client("sk-secret-value", "http://127.0.0.1:9/v1", timeout_s=0.5)
    with pytest.raises(EmbeddingsFailed) as failed:
        OpenAIEmbedder(dead, "text-embedding-3-small", 64).embed(["hello"])
    assert "sk-secret" not in str(failed.value)
    with pytest.raises(ExtractionFailed):
        OpenAIExtractor(dead, "gpt-4o-mini").extract([Turn("k", "user", "hi", None)])


def test_vectors_of_the_wrong_size_are_refused(openai_stub: OpenAIStub) -> None:
    openai_stub.behaviour.embedding_dim = 32
    embedder = OpenAIEmbedder(make_client(None, openai_stub.base_url, 2.0), "some-local-model", 64)
    with pytest.raises(EmbeddingsFailed, match="MEMPLANE_EMBEDDING_DIM is 64"):
        embedder.embed(["hello"])
    # Models outside the text-embedding-3 family are not sent `dimensions`, which they may reject.
    assert "dimensions" not in openai_stub.behaviour.requests[-1][1]


@pytest.mark.parametrize(
    "content",
    [
        "not json at all",
        json.dumps({"facts": "none"}),
        json.dumps({"facts": [{"key": "x", "value": "y", "confidence": 7}], "summary": "s"}),
        json.dumps({"facts": [], "summary": ""}),
    ],
)
def test_extraction_replies_that_do_not_validate_raise(openai_stub: OpenAIStub, content: str) -> None:
    openai_stub.behaviour.chat_content = content
    extractor = OpenAIExtractor(make_client(None, openai_stub.base_url, 2.0), "gpt-4o-mini")
    with pytest.raises(ExtractionFailed):
        extractor.extract([Turn("k", "user", "I live in Lisbon", None)])


def test_health_probes_each_dependency(
    build_container: Callable[..., Container], openai_stub: OpenAIStub, client: FlaskClient
) -> None:
    offline = client.get("/health").get_json()
    assert offline["embedder"]["status"] == "fallback"
    assert offline["extractor"] == {"status": "fallback", "name": "rules"}
    assert offline["vector_index"]["version"].startswith("0.8")
    assert offline["postgres"]["schema_version"] >= 2

    online_client = client_for(openai_container(build_container, openai_stub))
    online = online_client.get("/health").get_json()
    assert online["embedder"]["status"] == "ok"
    assert online["embedder"]["name"] == "openai:text-embedding-3-small"
    assert online["embedder"]["latency_ms"] > 0
    assert "sk-test-key" not in json.dumps(online)

    # A failing embedder shows on the page a monitor polls, but memplane still serves: 200. (A new
    # container: a report is reused for a few seconds.)
    openai_stub.behaviour.embedding_status = 500
    degraded = client_for(openai_container(build_container, openai_stub)).get("/health")
    assert degraded.status_code == 200
    assert degraded.get_json()["embedder"]["code"] == "embeddings_failed"


def test_a_monitors_poll_costs_no_embedding_and_reports_are_reused(
    build_container: Callable[..., Container], openai_stub: OpenAIStub
) -> None:
    client = client_for(openai_container(build_container, openai_stub, api_token="tok-1"))

    def embeddings() -> int:
        return sum(path == "/v1/embeddings" for path, _ in openai_stub.behaviour.requests)

    polled = client.get("/health").get_json()
    assert polled["checks"]["embedder"] == "not probed"  # no paid call for an anonymous poll
    assert polled["status"] == "ok"
    assert embeddings() == 0
    deep = client.get("/health", headers={"Authorization": "Bearer tok-1"}).get_json()
    assert deep["embedder"]["status"] == "ok"  # the operator's deeper check
    assert embeddings() == 1
    for _ in range(5):
        client.get("/health", headers={"Authorization": "Bearer tok-1"})
    assert embeddings() == 1  # reused for a few seconds, however often it is polled
