"""The deployed entry points, driven as their platforms drive them.

DigitalOcean: ``functions/*/__main__.py`` loaded as the runtime loads it, called with stored events.
functions-framework: the framework's own app built from ``functions/*/main.py``.
"""

from __future__ import annotations

import base64
import importlib.util
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from functions_framework import create_app

from memplane import wiring
from tests.conftest import TEST_DIM, Context, load_event

FUNCTIONS = Path(__file__).parents[1] / "functions"


@pytest.fixture
def environment(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """The environment a deployment sets; the container is built from it on the first request."""
    monkeypatch.chdir(tmp_path)  # no stray .env from the checkout
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "MEMPLANE_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("MEMPLANE_EMBEDDING_DIM", str(TEST_DIM))
    # These tests are about the events; the refusal of an unprotected deployment has its own below.
    monkeypatch.setenv("MEMPLANE_ALLOW_UNAUTHENTICATED", "true")
    wiring.reset()
    yield
    wiring.reset()


def load_main(function: str) -> Callable[..., Any]:
    spec = importlib.util.spec_from_file_location(f"do_{function}", FUNCTIONS / function / "__main__.py")
    assert spec is not None
    assert spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    main: Callable[..., Any] = module.main
    return main


def test_digitalocean_mains_take_event_and_context() -> None:
    # The runtime counts main's parameters; a decorator would make it call main() with nothing.
    for function in ("assemble", "writeback", "cleanup"):
        assert load_main(function).__code__.co_argcount == 2


@pytest.mark.usefixtures("environment")
def test_digitalocean_raw_writeback_then_merged_assemble() -> None:
    written = load_main("writeback")(load_event("writeback_web_raw.json"), Context())
    assert written["statusCode"] == 200, written
    assert written["body"]["chunks_written"] == 2

    memory = load_main("assemble")(load_event("assemble_web.json"), Context())
    assert memory["statusCode"] == 200
    assert memory["headers"]["Content-Type"] == "application/json"
    assert memory["body"]["profile"]["full_name"] == "Dana Silva"
    assert memory["body"]["similar_chunks"][0]["content"] == "My name is Dana and I live in Porto."


@pytest.mark.usefixtures("environment")
def test_digitalocean_base64_raw_body_and_bad_json() -> None:
    event = load_event("writeback_web_raw.json")
    event["http"]["body"] = base64.b64encode(event["http"]["body"].encode()).decode()
    assert load_main("writeback")(event, Context())["statusCode"] == 200

    event["http"]["body"] = '{"client_id": "user-42", "response": '
    bad = load_main("writeback")(event, Context())
    assert bad["statusCode"] == 400
    assert bad["body"]["error"]["code"] == "invalid_request"
    assert bad["body"]["error"]["request_id"] == "act-1"


@pytest.mark.usefixtures("environment")
def test_digitalocean_scheduled_cleanup_and_health() -> None:
    cleaned = load_main("cleanup")(load_event("cleanup_scheduled.json"), Context())
    assert cleaned["statusCode"] == 200
    assert set(cleaned["body"]) >= {"deleted_entries", "deleted_state", "archived_episodes"}
    health = load_main("assemble")(load_event("health_web.json"), Context())
    assert health["statusCode"] == 200
    assert health["body"]["checks"]["postgres"] == "ok"


def test_digitalocean_token_applies_to_web_calls_not_to_the_trigger(
    environment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMPLANE_API_TOKEN", "tok-123")
    denied = load_main("assemble")(load_event("assemble_web.json"), Context())
    assert denied["statusCode"] == 401
    event = load_event("assemble_web.json", profile={"full_name": "Dana"})
    event["http"]["headers"]["authorization"] = "Bearer tok-123"
    assert load_main("assemble")(event, Context())["statusCode"] == 200
    # The nightly trigger is the platform itself calling a non-web function.
    assert load_main("cleanup")(load_event("cleanup_scheduled.json"), Context())["statusCode"] == 200


def test_digitalocean_forget_over_the_web_needs_the_token_and_the_trigger_still_runs(
    environment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMPLANE_API_TOKEN", "tok-123")
    write = load_event("writeback_web_raw.json")
    write["http"]["headers"]["authorization"] = "Bearer tok-123"
    assert load_main("writeback")(write, Context())["statusCode"] == 200

    forget = load_event("writeback_web_raw.json")
    forget["http"]["body"] = json.dumps({"forget": {"client_id": "user-42", "everything": True}})
    assert load_main("cleanup")(forget, Context())["statusCode"] == 401  # cleanup is on the web now
    forget["http"]["headers"]["authorization"] = "Bearer tok-123"
    erased = load_main("cleanup")(forget, Context())
    assert erased["statusCode"] == 200
    assert erased["body"]["deleted"]["profile"] == 1
    # The nightly trigger calls it with {} and no web request: still the plain cleanup.
    nightly = load_main("cleanup")(load_event("cleanup_scheduled.json"), Context())
    assert nightly["statusCode"] == 200
    assert "deleted_entries" in nightly["body"]


def test_a_deployment_without_a_token_refuses_the_web_unless_told_otherwise(
    environment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MEMPLANE_ALLOW_UNAUTHENTICATED")
    wiring.reset()
    refused = load_main("assemble")(load_event("assemble_web.json"), Context())
    assert refused["statusCode"] == 503
    assert refused["body"]["error"]["code"] == "configuration_error"
    assert "MEMPLANE_API_TOKEN" in refused["body"]["error"]["message"]
    health = load_main("assemble")(load_event("health_web.json"), Context())
    assert health["statusCode"] == 503  # a monitor sees the function is not serving
    assert health["body"]["auth"] == "refusing calls from other machines: MEMPLANE_API_TOKEN is not set"
    # The nightly trigger is the platform itself, not the web: it still runs.
    assert load_main("cleanup")(load_event("cleanup_scheduled.json"), Context())["statusCode"] == 200

    monkeypatch.setenv("MEMPLANE_ALLOW_UNAUTHENTICATED", "true")
    wiring.reset()
    event = load_event("assemble_web.json", profile={"full_name": "Dana"})
    assert load_main("assemble")(event, Context())["statusCode"] == 200
    health = load_main("assemble")(load_event("health_web.json"), Context())
    assert health["body"]["auth"].startswith("disabled by MEMPLANE_ALLOW_UNAUTHENTICATED")


def test_two_tokens_are_accepted_while_one_replaces_the_other(
    environment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMPLANE_API_TOKEN", "tok-new,tok-old")
    wiring.reset()
    for token, status in (("tok-new", 200), ("tok-old", 200), ("tok-other", 401), ("tok-new,tok-old", 401)):
        event = load_event("assemble_web.json", profile={"full_name": "Dana"})
        event["http"]["headers"]["authorization"] = f"Bearer {token}"
        assert load_main("assemble")(event, Context())["statusCode"] == status, token
    health = load_main("assemble")(load_event("health_web.json"), Context())
    assert health["body"]["auth"] == (
        "bearer token (2 accepted while rotating); "
        "no operator token: the full cleanup run starts only from the schedule"
    )


def test_digitalocean_older_event_shape_is_still_a_web_call(
    environment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # If the platform ever sends the older __ow_* shape, a web call must still show its token.
    monkeypatch.setenv("MEMPLANE_API_TOKEN", "tok-123")
    event = load_event("assemble_legacy_ow.json")
    assert load_main("assemble")(event, Context())["statusCode"] == 401
    event["__ow_headers"]["authorization"] = "Bearer tok-123"
    reply = load_main("assemble")(event, Context())
    assert reply["statusCode"] == 200, reply
    assert reply["body"]["profile"]["full_name"] == "Dana"


@pytest.mark.usefixtures("environment")
def test_functions_framework_serves_each_function() -> None:
    writeback = create_app(target="main", source=str(FUNCTIONS / "writeback" / "main.py")).test_client()
    body = json.loads(load_event("writeback_web_raw.json")["http"]["body"])
    assert writeback.post("/", json=body).status_code == 200

    assemble = create_app(target="main", source=str(FUNCTIONS / "assemble" / "main.py")).test_client()
    reply = assemble.post("/", json={"client_id": "user-42", "query": "Porto"})
    assert reply.status_code == 200
    assert reply.get_json()["similar_chunks"][0]["message_id"] == "msg-1"
    assert assemble.post("/", data=b"{oops", content_type="application/json").status_code == 400

    cleanup = create_app(target="main", source=str(FUNCTIONS / "cleanup" / "main.py")).test_client()
    assert cleanup.post("/", json={}).status_code == 200
