"""What operators see: one JSON log line per call, with the client hashed, and an audit row."""

from __future__ import annotations

import json
import logging

import pytest

from memplane.logs import JsonFormatter, hash_client
from memplane.wiring import Container
from tests.conftest import invoke_do, load_event


def test_each_call_logs_one_json_line_without_the_client_id(
    container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="memplane.access")
    invoke_do(container, "writeback", load_event("writeback_web_raw.json"))
    invoke_do(container, "assemble", load_event("assemble_web.json", client_id="stranger"))
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == "memplane.access"]
    assert [(line["function"], line["status"], line["error_code"]) for line in lines] == [
        ("writeback", 200, None),
        ("assemble", 404, "client_not_found"),
    ]
    first = lines[0]
    assert first["client"] == hash_client("user-42")
    assert first["request_id"] == "act-1"
    assert first["duration_ms"] > 0
    assert first["degraded"] == []
    assert "user-42" not in json.dumps(lines)
