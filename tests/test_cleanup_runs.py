"""The nightly job cannot fail silently: each run is recorded, and /health says when none completed.

A deploy that drops the scheduled trigger (a remote build does), or an account refused the trigger
preview, leaves memplane serving while nothing expires. A monitor that polls /health sees it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from memplane.adapters.postgres import migrations
from memplane.wiring import Container
from tests.conftest import TEST_DIM, client_for, invoke_do, load_event


@pytest.fixture
def aged_db(new_database: Callable[[str], str]) -> str:
    """A database of its own whose schema the test can age: health's clock is the server's, so time
    passing is the stored times moving back."""
    url = new_database("memplane_cleanup_age")
    migrations.apply(url, migrations.default_migrations_dir(), TEST_DIM)
    return url


def age(url: str, *, deployed_hours_ago: float, runs_back_hours: float = 0.0) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "UPDATE memplane_migrations SET applied_at = now() - %s * interval '1 hour'",
            (deployed_hours_ago,),
        )
        conn.execute(
            "UPDATE cleanup_runs SET started_at = started_at - %s * interval '1 hour',"
            " finished_at = finished_at - %s * interval '1 hour'",
            (runs_back_hours, runs_back_hours),
        )


def health_of(c: Container) -> tuple[int, dict[str, Any]]:
    response = client_for(c).get("/health")
    body: dict[str, Any] = response.get_json()
    return response.status_code, body


def nightly(c: Container) -> dict[str, Any]:
    """The scheduled trigger's call, through the DigitalOcean adapter as the runtime makes it."""
    reply = invoke_do(c, "cleanup", load_event("cleanup_scheduled.json"))
    assert reply["statusCode"] == 200, reply
    return reply


def test_a_run_is_recorded_and_health_reports_it(build_container: Callable[..., Container]) -> None:
    c = build_container()
    nightly(c)
    status, report = health_of(c)
    assert status == 200
    assert report["status"] == "ok"
    cleanup = report["cleanup"]
    assert cleanup["status"] == "ok"
    last = cleanup["last_run"]
    assert last["outcome"] == "ok"
    assert last["finished_at"] >= last["started_at"]
    assert last["counts"]["deleted_entries"] == 0
    assert cleanup["last_completed_at"] == last["finished_at"]
    assert report["version"]


def test_an_old_deployment_without_a_completed_run_is_degraded_with_the_reason(
    aged_db: str, build_container: Callable[..., Container]
) -> None:
    age(aged_db, deployed_hours_ago=24 * 30)
    c = build_container(database_url=aged_db)
    status, report = health_of(c)
    assert status == 200  # serving still works: alert, don't page
    assert report["status"] == "degraded"
    assert report["cleanup"]["status"] == "overdue"
    assert report["cleanup"]["last_run"] is None
    assert "no nightly cleanup has completed in the last 26 hours" in report["reasons"][0]
    assert "none has ever completed" in report["reasons"][0]


def test_the_clock_moving_past_the_age_turns_health_degraded(
    aged_db: str, build_container: Callable[..., Container]
) -> None:
    age(aged_db, deployed_hours_ago=24 * 30)
    nightly(build_container(database_url=aged_db))
    assert health_of(build_container(database_url=aged_db))[1]["status"] == "ok"

    age(aged_db, deployed_hours_ago=24 * 30, runs_back_hours=27)  # a day and three hours later
    status, report = health_of(build_container(database_url=aged_db))
    assert status == 200
    assert report["status"] == "degraded"
    assert "the last completed at" in report["reasons"][0]
    assert report["cleanup"]["last_run"]["outcome"] == "ok"

    age(aged_db, deployed_hours_ago=24 * 30, runs_back_hours=0)
    nightly(build_container(database_url=aged_db))  # the schedule fires again
    assert health_of(build_container(database_url=aged_db))[1]["status"] == "ok"


def test_the_age_is_configurable(aged_db: str, build_container: Callable[..., Container]) -> None:
    age(aged_db, deployed_hours_ago=24 * 30)
    nightly(build_container(database_url=aged_db))
    age(aged_db, deployed_hours_ago=24 * 30, runs_back_hours=27)
    report = health_of(build_container(database_url=aged_db, cleanup_max_age_hours=48))[1]
    assert report["status"] == "ok"
    assert report["cleanup"]["max_age_hours"] == 48


def test_a_deployment_younger_than_the_age_is_not_flagged(
    aged_db: str, build_container: Callable[..., Container]
) -> None:
    age(aged_db, deployed_hours_ago=3)
    status, report = health_of(build_container(database_url=aged_db))
    assert status == 200
    assert report["status"] == "ok"
    assert report["cleanup"]["status"] == "not due"
    assert "reasons" not in report


def test_a_run_killed_midway_does_not_count_as_completed(
    aged_db: str, build_container: Callable[..., Container]
) -> None:
    age(aged_db, deployed_hours_ago=24 * 30)
    c = build_container(database_url=aged_db)
    c.runs.started(datetime.now(UTC))  # the platform stopped it: never finished
    report = health_of(c)[1]
    assert report["status"] == "degraded"
    assert report["cleanup"]["last_run"]["outcome"] == "running"
    assert report["cleanup"]["last_run"]["finished_at"] is None


def test_forget_and_export_are_not_nightly_runs(build_container: Callable[..., Container]) -> None:
    c = build_container()
    client = client_for(c)
    turn = {"role": "user", "id": "m1", "content": "I live in Lisbon."}
    stored = client.post("/writeback", json={"client_id": "u", "conversation": [turn], "response": "Noted."})
    assert stored.status_code == 200
    assert client.post("/cleanup", json={"export": {"client_id": "u"}}).status_code == 200
    assert client.post("/cleanup", json={"forget": {"client_id": "u", "everything": True}}).status_code == 200
    assert health_of(c)[1]["cleanup"]["last_run"] is None
