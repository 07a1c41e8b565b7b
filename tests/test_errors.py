"""Every error code, produced by a request a user could send; client mistakes never write anything."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient

from memplane.wiring import Container
from tests.conftest import client_for, table_locked
from tests.openai_stub import OpenAIStub
from tests.test_memory import exchange, post


def rows_written(db: psycopg.Connection[Any]) -> int:
    row = db.execute(
        "SELECT (SELECT count(*) FROM client_profiles) + (SELECT count(*) FROM memory_entries)"
    ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", None),
        (b"[1, 2, 3]", None),
        (b'"just a string"', None),
        (b'{"client_id": 123, "response": "hi"}', "client_id"),
        (b'{"client_id": "", "response": "hi"}', "client_id"),
        (b'{"client_id": "   ", "response": "hi"}', "client_id"),
        (b'{"client_id": "a"}', "response"),
        (b'{"client_id": "a", "response": ""}', "response"),
        (b'{"client_id": "a", "response": "hi", "conversation": "hello"}', "conversation"),
        (
            b'{"client_id": "a", "response": "hi", "conversation": [{"role": "wizard", "content": "x"}]}',
            "conversation.0.role",
        ),
        (b'{"client_id": "a", "response": "hi", "timestamp": "last tuesday"}', "timestamp"),
        (b'{"client_id": "a", "response": "hi", "profile": {"tags": "vip"}}', "profile.tags"),
    ],
)
def test_bad_writeback_bodies_get_400_and_write_nothing(
    client: FlaskClient, db: psycopg.Connection[Any], body: bytes, field: str | None
) -> None:
    response = client.post("/writeback", data=body, content_type="application/json")
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_request"
    assert error.get("field") == field
    if field:
        assert field in error["message"]
    assert rows_written(db) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"client_id": "a"}, "query"),
        ({"client_id": "a", "query": ""}, "query"),
        ({"client_id": "a", "query": "x", "limit": 0}, "limit"),
        ({"client_id": "a", "query": "x", "limit": 1000}, "limit"),
        ({"client_id": "a", "query": "x", "limit": "many"}, "limit"),
        ({"client_id": ["a"], "query": "x"}, "client_id"),
    ],
)
def test_bad_assemble_bodies_get_400(client: FlaskClient, body: dict[str, Any], field: str) -> None:
    status, payload = post(client, "/assemble", body)
    assert status == 400
    assert payload["error"]["field"] == field


def test_an_oversized_body_gets_413_and_writes_nothing(
    client: FlaskClient, db: psycopg.Connection[Any]
) -> None:
    huge = exchange(response="x" * 1_100_000)
    status, payload = post(client, "/writeback", huge)
    assert status == 413
    assert payload["error"]["code"] == "payload_too_large"
    assert rows_written(db) == 0


def test_unknown_client_without_profile_is_404(client: FlaskClient) -> None:
    status, payload = post(client, "/assemble", {"client_id": "nobody", "query": "hi"})
    assert status == 404
    assert payload["error"]["code"] == "client_not_found"
    assert "profile" in payload["error"]["message"]


def test_unknown_route_and_wrong_method(client: FlaskClient) -> None:
    missing = client.post("/remember", json={})
    assert missing.status_code == 404
    assert missing.get_json()["error"]["code"] == "not_found"
    wrong = client.delete("/assemble")
    assert wrong.status_code == 405
    assert wrong.get_json()["error"]["code"] == "method_not_allowed"
    # The 405 says which methods would work (RFC 9110), and a CORS-style OPTIONS probe is told the same.
    assert wrong.headers["Allow"] == "GET, HEAD, POST"
    probe = client.options("/assemble")
    assert (probe.status_code, probe.headers["Allow"]) == (405, "GET, HEAD, POST")
    assert client.post("/health").headers["Allow"] == "GET, HEAD"


def test_a_token_is_required_when_configured(build_container: Callable[..., Container]) -> None:
    client = client_for(build_container(api_token="s3cret-token"))
    body = exchange()
    assert client.post("/writeback", json=body).status_code == 401
    wrong = client.post("/writeback", json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.get_json()["error"]["code"] == "unauthorized"
    assert wrong.headers["WWW-Authenticate"] == "Bearer"
    assert "s3cret" not in wrong.get_data(as_text=True)
    right = client.post("/writeback", json=body, headers={"Authorization": "Bearer s3cret-token"})
    assert right.status_code == 200
    assert client.get("/health").status_code == 200  # monitors poll without the token


def test_an_unreachable_database_is_503_database_error(build_container: Callable[..., Container]) -> None:
    c = build_container(database_url="postgresql://memplane@127.0.0.1:9/none", db_connect_timeout_s=0.5)
    client = client_for(c)
    status, payload = post(client, "/assemble", {"client_id": "a", "query": "hi"})
    assert status == 503
    assert payload["error"]["code"] == "database_error"
    health = client.get("/health")
    assert health.status_code == 503
    assert health.get_json()["postgres"]["status"] == "error"


def test_a_blocked_database_is_504_timeout(
    build_container: Callable[..., Container], db_url: str, client: FlaskClient
) -> None:
    post(client, "/writeback", exchange())
    slow = client_for(build_container(db_statement_timeout_ms=200))
    with table_locked(db_url, "client_profiles"):
        status, payload = post(slow, "/assemble", {"client_id": "alice", "query": "Lisbon"})
    assert status == 504
    assert payload["error"]["code"] == "timeout"


def test_a_vector_index_that_fails_degrades_to_keyword_search(
    build_container: Callable[..., Container], client: FlaskClient, openai_stub: OpenAIStub
) -> None:
    post(client, "/writeback", exchange())
    # A deployment whose embedder no longer matches the stored vectors: pgvector refuses the query.
    mismatched = build_container(
        embedder="openai",
        openai_base_url=openai_stub.base_url,
        embedding_dim=128,
        embedding_model="text-embedding-3-small",
    )
    status, payload = post(client_for(mismatched), "/assemble", {"client_id": "alice", "query": "Lisbon"})
    assert status == 200
    assert payload["degraded"] == ["vector_index"]
    assert payload["warnings"][0]["code"] == "vector_search_failed"
    assert payload["similar_chunks"][0]["content"] == "My name is Alice and I live in Lisbon."


def test_client_mistakes_never_produce_a_500(client: FlaskClient) -> None:
    bodies: list[Any] = [
        None,
        0,
        "",
        [],
        {},
        {"client_id": None},
        {"client_id": {"$ne": 1}},
        {"client_id": "a", "query": None},
        {"client_id": "a" * 10_000, "query": "x"},
        {"client_id": "a", "query": "x", "timestamp": 12},
    ]
    for path in ("/assemble", "/writeback", "/cleanup"):
        for body in bodies:
            response = client.post(path, json=body)
            assert response.status_code < 500, (path, body, response.get_json())
            if response.status_code >= 400:
                assert set(response.get_json()["error"]) >= {"code", "message"}
