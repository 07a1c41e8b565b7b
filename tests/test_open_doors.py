"""No open door on any runtime: one rule for token-less serving, a separate operator credential,
refused calls that cost nothing, a health page that tells strangers only whether memplane is up."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from functions_framework import create_app

from memplane import wiring
from memplane.wiring import Container
from tests.conftest import TEST_DIM, client_for, invoke_do, load_event, memplane_cli
from tests.test_entrypoints import FUNCTIONS, load_main
from tests.test_memory import exchange

CHAT_TOKEN = "chat-token-for-open-webui"
OPERATOR_TOKEN = "operator-token-for-the-schedule"
JSON = {"Content-Type": "application/json"}


def bearer(token: str) -> dict[str, str]:
    return {**JSON, "Authorization": f"Bearer {token}"}


def audit_rows(db: psycopg.Connection[Any]) -> int:
    row = db.execute("SELECT count(*) FROM webhook_executions").fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture
def framework_env(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[[str], Any]:
    """functions-framework serving functions/<name>/main.py, as the README runs it: no token set."""
    monkeypatch.chdir(tmp_path)
    for name in ("MEMPLANE_API_TOKEN", "MEMPLANE_OPERATOR_TOKEN", "MEMPLANE_ALLOW_UNAUTHENTICATED"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("MEMPLANE_EMBEDDING_DIM", str(TEST_DIM))
    wiring.reset()

    def app(function: str) -> Any:
        return create_app(target="main", source=str(FUNCTIONS / function / "main.py")).test_client()

    yield app
    wiring.reset()


def test_functions_framework_without_a_token_serves_only_this_machine(
    framework_env: Callable[[str], Any], db: psycopg.Connection[Any]
) -> None:
    # functions-framework binds every interface; what decides is who is calling.
    cleanup = framework_env("cleanup")
    writeback = framework_env("writeback")
    body = exchange()
    assert writeback.post("/", json=body).status_code == 200  # from 127.0.0.1: the operator's machine
    forget = {"forget": {"client_id": "alice", "everything": True}}
    export = {"export": {"client_id": "alice"}}
    elsewhere = {"REMOTE_ADDR": "192.0.2.7"}
    for request in (forget, export):
        refused = cleanup.post("/", json=request, environ_base=elsewhere)
        assert refused.status_code == 503
        assert refused.get_json()["error"]["code"] == "configuration_error"
        assert "MEMPLANE_API_TOKEN" in refused.get_json()["error"]["message"]
    # A reverse proxy on this machine forwards other people's requests: they come from elsewhere too.
    proxied = cleanup.post("/", json=export, headers={"X-Forwarded-For": "198.51.100.4"})
    assert proxied.status_code == 503
    assert framework_env("assemble").get("/", environ_base=elsewhere).status_code == 503
    assert db.execute("SELECT count(*) FROM memory_entries").fetchone() == (2,)


@pytest.mark.parametrize("token", [",", " ", " , "])
def test_a_token_that_holds_no_token_refuses_to_start(tmp_path: Path, db_url: str, token: str) -> None:
    served = memplane_cli(
        "serve", "--port", "18999", cwd=tmp_path, DATABASE_URL=db_url, MEMPLANE_API_TOKEN=token
    )
    assert served.returncode == 2
    assert "MEMPLANE_API_TOKEN" in served.stderr
    assert "holds no token" in served.stderr


def test_a_token_that_holds_no_token_refuses_every_call_on_the_platform(
    db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("MEMPLANE_API_TOKEN", ",")
    wiring.reset()
    reply = load_main("cleanup")(load_event("writeback_web_raw.json"), None)
    assert reply["statusCode"] == 503
    assert "holds no token" in reply["body"]["error"]["message"]
    wiring.reset()


def test_the_chat_token_cannot_start_a_full_cleanup_run(
    build_container: Callable[..., Container], db: psycopg.Connection[Any]
) -> None:
    c = build_container(api_token=CHAT_TOKEN, operator_token=OPERATOR_TOKEN, allow_unauthenticated=False)
    client = client_for(c)
    assert client.post("/writeback", json=exchange(), headers=bearer(CHAT_TOKEN)).status_code == 200

    refused = client.post("/cleanup", json={}, headers=bearer(CHAT_TOKEN))
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "forbidden"
    assert "MEMPLANE_OPERATOR_TOKEN" in refused.get_json()["error"]["message"]
    assert db.execute("SELECT count(*) FROM cleanup_runs").fetchone() == (0,)  # nothing ran

    # What Open WebUI's Tool needs, the chat token still reaches: one client's export and forget.
    export = client.post("/cleanup", json={"export": {"client_id": "alice"}}, headers=bearer(CHAT_TOKEN))
    assert export.status_code == 200
    ran = client.post("/cleanup", json={}, headers=bearer(OPERATOR_TOKEN))
    assert ran.status_code == 200
    assert "deleted_entries" in ran.get_json()
    # The operator's token does everything the chat token does.
    assert (
        client.post(
            "/assemble", json={"client_id": "alice", "query": "Lisbon"}, headers=bearer(OPERATOR_TOKEN)
        ).status_code
        == 200
    )
    forget = {"forget": {"client_id": "alice", "everything": True}}
    assert client.post("/cleanup", json=forget, headers=bearer(CHAT_TOKEN)).status_code == 200
    # The schedule is the platform itself: no token.
    assert invoke_do(c, "cleanup", load_event("cleanup_scheduled.json"))["statusCode"] == 200


def test_without_an_operator_token_the_full_run_starts_only_from_the_schedule(
    build_container: Callable[..., Container],
) -> None:
    c = build_container(api_token=CHAT_TOKEN, allow_unauthenticated=False)
    refused = client_for(c).post("/cleanup", json={}, headers=bearer(CHAT_TOKEN))
    assert refused.status_code == 403
    assert invoke_do(c, "cleanup", load_event("cleanup_scheduled.json"))["statusCode"] == 200
    health = client_for(c).get("/health", headers=bearer(CHAT_TOKEN)).get_json()
    assert "no operator token" in health["auth"]


def test_the_two_credentials_must_differ(build_container: Callable[..., Container]) -> None:
    with pytest.raises(ValueError, match="MEMPLANE_OPERATOR_TOKEN must differ"):
        build_container(api_token="same-token,old", operator_token="same-token")


def test_a_thousand_unauthenticated_requests_leave_the_audit_table_as_it_was(
    build_container: Callable[..., Container], db: psycopg.Connection[Any]
) -> None:
    c = build_container(api_token=CHAT_TOKEN, operator_token=OPERATOR_TOKEN, allow_unauthenticated=False)
    client = client_for(c)
    assert client.post("/writeback", json=exchange(), headers=bearer(CHAT_TOKEN)).status_code == 200
    before = audit_rows(db)
    huge_id = "x" * 100_000
    statuses = set()
    for i in range(1000):
        headers = {**JSON, "X-Request-Id": f"{huge_id}{i}"}
        if i % 2:
            headers["Authorization"] = f"Bearer wrong-{i}"
        function = ("assemble", "writeback", "cleanup")[i % 3]
        statuses.add(client.post(f"/{function}", json={"client_id": "alice"}, headers=headers).status_code)
    assert statuses == {401}
    assert audit_rows(db) == before

    # A caller's request id is kept only when it looks like one: it is logged and audited.
    traced = client.post(
        "/assemble",
        json={"client_id": "alice", "query": "x"},
        headers={**bearer(CHAT_TOKEN), "X-Request-Id": "trace-42"},
    )
    assert traced.status_code == 200
    long = client.post(
        "/assemble",
        json={"client_id": "alice", "query": "x"},
        headers={**bearer(CHAT_TOKEN), "X-Request-Id": huge_id},
    )
    assert long.status_code == 200
    ids = [r[0] for r in db.execute("SELECT request_id FROM webhook_executions ORDER BY id DESC LIMIT 2")]
    assert ids[1] == "trace-42"
    assert len(ids[0]) <= 128


def test_health_tells_strangers_only_whether_memplane_is_up(
    build_container: Callable[..., Container], db_url: str
) -> None:
    c = build_container(
        api_token=CHAT_TOKEN,
        allow_unauthenticated=False,
        vector_backend="qdrant",
        qdrant_url="http://127.0.0.1:9",  # nothing listens: the index is down, with an error to tell
        qdrant_timeout_s=0.5,
    )
    client = client_for(c)
    stranger = client.get(
        "/health", headers={"Host": "memplane.example.com"}, environ_base={"REMOTE_ADDR": "192.0.2.7"}
    )
    report = stranger.get_json()
    assert stranger.status_code == 200
    assert set(report) == {"status", "checks", "note", "auth"}
    assert report["checks"]["postgres"] == "ok"
    assert report["checks"]["vector_index"] != "ok"
    text = json.dumps(report)
    for secret in (
        "0.8",
        "pgvector",
        "schema",
        "hash",
        "rules",
        "environment",
        "pending",
        "Connection",
        "127.0.0.1",
    ):
        assert secret not in text, secret
    full = client.get("/health", headers=bearer(CHAT_TOKEN)).get_json()
    assert full["postgres"]["schema_version"] >= 13
    assert full["vector_index"]["message"]  # the operator sees why


def test_a_digitalocean_event_whose_http_is_not_an_object_is_a_web_call(
    build_container: Callable[..., Container], db: psycopg.Connection[Any]
) -> None:
    c = build_container(api_token=CHAT_TOKEN, operator_token=OPERATOR_TOKEN, allow_unauthenticated=False)
    for http in ("GET /", None, [], 0, ""):
        event = {"http": http, "forget": {"client_id": "alice", "everything": True}}
        reply = invoke_do(c, "cleanup", event)
        assert reply["statusCode"] == 401, http
        assert invoke_do(c, "cleanup", {"http": http})["statusCode"] == 401, http
    assert db.execute("SELECT count(*) FROM cleanup_runs").fetchone() == (0,)


def test_a_token_less_local_server_takes_only_json_sent_to_a_loopback_name(
    build_container: Callable[..., Container], db: psycopg.Connection[Any]
) -> None:
    # A web page the operator has open may post a form or text to http://127.0.0.1:8080 (no preflight
    # for those), or rebind its own name to 127.0.0.1: neither reaches memory.
    client = client_for(build_container(allow_unauthenticated=False))
    body = json.dumps(exchange())
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data", None):
        headers = {"Content-Type": content_type} if content_type else {}
        refused = client.post("/writeback", data=body, headers=headers)
        assert refused.status_code == 415, content_type
        assert refused.get_json()["error"]["code"] == "unsupported_media_type"
    empty = client.post("/cleanup", data="", headers={"Content-Type": "text/plain"})
    assert empty.status_code == 415  # not even the full run with an empty body
    rebound = client.post("/writeback", data=body, headers={**JSON, "Host": "attacker.example:8080"})
    assert rebound.status_code == 403
    assert "attacker.example" in rebound.get_json()["error"]["message"]
    assert db.execute("SELECT count(*) FROM memory_entries").fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM cleanup_runs").fetchone() == (0,)
    for host in ("localhost:8080", "127.0.0.1:8080", "[::1]:8080", "localhost"):
        assert client.post("/writeback", data=body, headers={**JSON, "Host": host}).status_code == 200, host
