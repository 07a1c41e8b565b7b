"""assemble on a read-only node (DATABASE_READ_URL), against a real streaming replica made with the
embedded Postgres' own pg_basebackup: reads go there, writes stay on the primary, and a replica that
has not caught up never hides what the user just said from a caller that passes ``read_after``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient

from memplane.adapters import embedded_postgres
from memplane.adapters.postgres import migrations
from memplane.wiring import Container
from memplane_bench import standby as replica_
from tests.conftest import TEST_DIM, client_for, served
from tests.test_memory import exchange, post
from tests.test_openwebui_filter import METADATA, USER, inlet_body, make_filter, outlet_body, owui

DB = "memplane_replicated"


@dataclass
class Cluster:
    primary: str
    replica: replica_.Replica


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    home = tmp_path_factory.mktemp("cluster")
    server = embedded_postgres.start(home / "primary")
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {DB}")
    primary = server.replace("/postgres?", f"/{DB}?")
    migrations.apply(primary, migrations.default_migrations_dir(), TEST_DIM)
    replica = replica_.start(server, home / "standby")
    yield Cluster(primary, replica)
    replica.stop()
    embedded_postgres.stop(home / "primary")


@pytest.fixture
def client(cluster: Cluster, build_container: Callable[..., Container]) -> FlaskClient:
    return client_for(
        build_container(database_url=cluster.primary, database_read_url=cluster.replica.url(DB))
    )


def said(who: str, n: int, text: str) -> dict[str, Any]:
    return exchange(
        who,
        chat_id=f"{who}-chat",
        message_id=f"{who}-a{n}",
        conversation=[{"role": "user", "id": f"{who}-u{n}", "content": text}],
        response="Noted.",
    )


def test_assemble_reads_the_replica_and_every_write_reaches_the_primary(
    client: FlaskClient, cluster: Cluster
) -> None:
    status, written = post(client, "/writeback", said("ana", 1, "My name is Ana and I live in Lisbon."))
    assert status == 200
    assert written["read_after"]  # where this write ends in the primary's log

    ask = {"client_id": "ana", "query": "Where do I live?", "read_after": written["read_after"]}
    status, memory = post(client, "/assemble", ask)
    assert status == 200
    assert memory["read_from"] == "replica"
    assert "Lisbon" in memory["similar_chunks"][0]["content"]

    # A changed profile, and a client met for the first time: written on the primary (the replica
    # refuses writes), then read back from the replica once replayed.
    renamed = {"client_id": "ana", "query": "Lisbon", "profile": {"full_name": "Ana Lima"}}
    status, memory = post(client, "/assemble", renamed)
    assert status == 200
    assert memory["profile"]["full_name"] == "Ana Lima"
    met = {"client_id": "new", "query": "hi", "profile": {"full_name": "Neo"}}
    status, first = post(client, "/assemble", met)
    assert status == 200
    assert first["profile"]["full_name"] == "Neo"
    with psycopg.connect(cluster.primary) as conn:
        names = dict(conn.execute("SELECT id, full_name FROM client_profiles").fetchall())
        audited = conn.execute(
            "SELECT count(*) FROM webhook_executions WHERE function = 'assemble'"
        ).fetchone()
    assert names["ana"] == "Ana Lima"
    assert names["new"] == "Neo"
    assert audited == (3,)  # the audit log is written on the primary too

    # Writeback and cleanup never touch the replica.
    assert post(client, "/cleanup", {})[0] == 200

    # Health shows the read-only node and how far behind the primary it is.
    report = client.get("/health").get_json()
    assert report["read_replica"]["status"] == "ok"
    assert report["read_replica"]["behind_bytes"] >= 0


def test_a_replica_behind_never_hides_what_the_user_just_said(client: FlaskClient, cluster: Cluster) -> None:
    status, before = post(client, "/writeback", said("bo", 1, "I live in Lisbon."))
    post(client, "/assemble", {"client_id": "bo", "query": "Lisbon", "read_after": before["read_after"]})
    cluster.replica.pause()
    try:
        status, moved = post(client, "/writeback", said("bo", 2, "Big news: I moved to Porto yesterday."))
        assert status == 200
        ask = {"client_id": "bo", "query": "Where did I move to?"}

        # A caller that does not say what it wrote last reads the replica as it is: a moment behind.
        status, stale = post(client, "/assemble", ask)
        assert status == 200
        assert stale["read_from"] == "replica"
        assert "Porto" not in str(stale["similar_chunks"])

        # Open WebUI's filter passes writeback's read_after: the primary answers while the replica lags.
        status, fresh = post(client, "/assemble", {**ask, "read_after": moved["read_after"]})
        assert status == 200
        assert fresh["read_from"] == "primary"
        assert "Porto" in fresh["similar_chunks"][0]["content"]

        # A client the replica has not seen at all is found on the primary, not refused.
        post(client, "/writeback", said("cy", 1, "I keep bees."))
        status, unseen = post(client, "/assemble", {"client_id": "cy", "query": "bees"})
        assert status == 200
        assert unseen["profile"]["client_id"] == "cy"
    finally:
        cluster.replica.resume()

    status, caught_up = post(client, "/assemble", {**ask, "read_after": moved["read_after"]})
    assert caught_up["read_from"] == "replica"
    assert "Porto" in caught_up["similar_chunks"][0]["content"]


def test_a_replica_that_cannot_be_reached_leaves_the_primary_answering(
    cluster: Cluster, build_container: Callable[..., Container], tmp_path: Path
) -> None:
    gone = f"postgresql://postgres:@/{DB}?host={tmp_path}"  # no server listens on this socket folder
    client = client_for(build_container(database_url=cluster.primary, database_read_url=gone))
    status, written = post(client, "/writeback", said("di", 1, "I live in Faro."))
    assert status == 200
    ask = {"client_id": "di", "query": "Faro"}
    for body in (ask, {**ask, "read_after": written["read_after"]}):
        status, memory = post(client, "/assemble", body)
        assert status == 200
        assert memory["read_from"] == "primary"
        assert memory["degraded"] == ["read_replica"]
        assert memory["warnings"][0]["code"] == "database_error"
        assert "Faro" in memory["similar_chunks"][0]["content"]
    report = client.get("/health").get_json()
    assert report["status"] == "degraded"
    assert "read_replica: unreachable, assemble reads the primary" in report["reasons"]


def test_open_webui_recalls_what_was_just_said_while_the_replica_lags(
    cluster: Cluster, build_container: Callable[..., Container]
) -> None:
    container = build_container(database_url=cluster.primary, database_read_url=cluster.replica.url(DB))
    with served(container) as base:
        memory = make_filter(base)
        cluster.replica.pause()
        try:
            asyncio.run(owui(memory.outlet, outlet_body(), __user__=USER))  # "...I live in Lisbon."
            asked = inlet_body("Where do I live?")
            body = asyncio.run(owui(memory.inlet, asked, __user__=USER, __metadata__=METADATA))
            assert "Lisbon" in body["messages"][0]["content"]
        finally:
            cluster.replica.resume()
