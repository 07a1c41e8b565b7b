"""The Open WebUI filter and Tool say which version they are; memplane says when one is too old."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from memplane.platform import clients

INTEGRATIONS = Path(__file__).parents[1] / "integrations" / "openwebui"
FILES = {"openwebui-filter": "memplane_filter.py", "openwebui-tool": "memplane_tool.py"}


@pytest.mark.parametrize("name", sorted(FILES))
def test_each_integration_reports_the_version_in_its_header(name: str) -> None:
    text = (INTEGRATIONS / FILES[name]).read_text()
    declared = re.search(r"^version: (\S+)$", text, re.M)
    assert declared is not None
    assert f'CLIENT = "{name}/{declared.group(1)}"' in text
    assert declared.group(1) == clients.EXPECTED[name]  # a release moves the two together


def exchange(client: FlaskClient, header: str | None) -> list[dict[str, str]]:
    headers = {"X-Memplane-Client": header} if header is not None else {}
    turn = {"role": "user", "id": "m1", "content": "I live in Lisbon."}
    reply = client.post(
        "/writeback", json={"client_id": "u", "conversation": [turn], "response": "Noted."}, headers=headers
    )
    assert reply.status_code == 200
    warnings: list[dict[str, str]] = reply.get_json()["warnings"]
    return warnings


def test_an_older_filter_is_told_to_update(client: FlaskClient) -> None:
    warnings = exchange(client, "openwebui-filter/0.1.0")
    assert [w["code"] for w in warnings] == ["client_outdated"]
    assert "openwebui-filter installed in Open WebUI is 0.1.0" in warnings[0]["message"]
    assert "update it from integrations/openwebui/" in warnings[0]["message"]


@pytest.mark.parametrize(
    "header", [None, "openwebui-filter/0.5.0", "openwebui-filter/1.0.0", "curl/8.5.0", "x" * 500]
)
def test_a_current_integration_or_another_caller_gets_no_warning(
    client: FlaskClient, header: str | None
) -> None:
    assert exchange(client, header) == []
