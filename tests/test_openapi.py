"""The OpenAPI 3.1 description: generated from the models, served, checked in, and true to what is served."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from memplane.platform.openapi import spec
from tests.test_memory import exchange, post

CHECKED_IN = Path(__file__).parents[1] / "docs" / "openapi.json"


def test_the_checked_in_description_is_the_generated_one(client: FlaskClient) -> None:
    # If this fails, the models changed: `memplane openapi --out docs/openapi.json`.
    generated = json.loads(json.dumps(spec(), sort_keys=True))
    assert json.loads(CHECKED_IN.read_text()) == generated
    served = client.get("/openapi.json")
    assert served.status_code == 200
    assert served.get_json() == generated


def test_every_route_and_request_is_described(client: FlaskClient) -> None:
    described = spec()
    assert described["openapi"] == "3.1.0"
    assert set(described["paths"]) == {"/assemble", "/writeback", "/cleanup", "/health"}
    schemas = described["components"]["schemas"]

    def fields(name: str) -> set[str]:
        return set(schemas[name]["properties"])

    asked = {"client_id", "space", "query", "limit", "timestamp", "profile", "context_tokens", "read_after"}
    assert asked == fields("AssembleRequest")
    assert {"forget", "export"} == fields("CleanupRequest")
    assert {"client_id", "space", "fact_key", "chat_id", "message_ids", "everything"} == fields("ForgetIn")
    # What is served has the fields the description promises.
    post(client, "/writeback", exchange())
    _, answer = post(client, "/assemble", {"client_id": "alice", "query": "Lisbon"})
    assert set(answer) <= fields("AssembleResponse")
    assert set(schemas["AssembleResponse"].get("required", [])) <= set(answer)
    _, erased = post(client, "/cleanup", {"forget": {"client_id": "alice", "everything": True}})
    assert set(erased) <= fields("ForgetResponse")
    cleanup_200: dict[str, Any] = described["paths"]["/cleanup"]["post"]["responses"]["200"]
    assert len(cleanup_200["content"]["application/json"]["schema"]["oneOf"]) == 3
