"""The API against its own OpenAPI description, fuzzed: generated requests, valid and invalid.

Schemathesis sends what ``docs/openapi.json`` allows and what it forbids, with and without the bearer
token, and every method on every route, to memplane served over real HTTP with a token set. It checks
that nothing is a server error, that every answer matches its declared schema and status, that valid
requests are accepted and invalid ones refused, and that the token is required. The run is seeded
(derandomised), so CI sees the same requests every time; `make fuzz` runs a longer one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from memplane import wiring
from memplane.platform.openapi import spec
from tests.conftest import make_settings, served

TOKEN = "fuzz-token"
EXAMPLES = int(os.environ.get("MEMPLANE_FUZZ_EXAMPLES", "100"))
schema = schemathesis.openapi.from_dict(spec())


@pytest.fixture(scope="module")
def url(db_url: str) -> Iterator[str]:
    c = wiring.build(make_settings(db_url, api_token=TOKEN, allow_unauthenticated=False))
    with served(c) as base:
        yield base
    c.close()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
def test_the_api_keeps_to_its_description(case: schemathesis.Case, url: str) -> None:
    case.call_and_validate(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"})
