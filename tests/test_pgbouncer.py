"""memplane behind a real PgBouncer in transaction mode, as DigitalOcean's connection pools run it, with
prepared statements off (`MEMPLANE_DB_PREPARED_STATEMENTS=false`). `make test-pgbouncer` runs the whole
suite this way; these are the parts that must never regress, kept quick enough for `make test`."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import psycopg

from memplane.adapters.postgres import migrations
from memplane.wiring import Container
from tests import pgbouncer as pgbouncer_
from tests.conftest import client_for
from tests.test_memory import exchange, post

CALLERS = 32


def pooled(build: Callable[..., Container], bouncer: pgbouncer_.PgBouncer, **overrides: object) -> Container:
    """A function instance whose DATABASE_URL is the pool's, as the deploy docs set it."""
    return build(database_url=bouncer.url("memplane_test"), db_prepared_statements=False, **overrides)


def test_every_call_of_the_api_works_through_the_pool(
    db_url: str, pgbouncer: pgbouncer_.PgBouncer, build_container: Callable[..., Container]
) -> None:
    client = client_for(pooled(build_container, pgbouncer))
    turns = [exchange()] + [
        exchange(
            chat_id=f"chat-{n}",
            message_id=f"m{n}",
            conversation=[{"role": "user", "id": f"u{n}", "content": f"I water the ferns every {n} days."}],
            response=f"Every {n} days, noted.",
        )
        for n in (2, 3)
    ]
    for body in turns:  # more transactions than one server connection: statements meet other servers
        status, written = post(client, "/writeback", body)
        assert status == 200, written
        assert written["chunks_written"] >= 1
    status, memory = post(client, "/assemble", {"client_id": "alice", "query": "Where do I live?"})
    assert status == 200
    assert memory["similar_chunks"][0]["content"] == "My name is Alice and I live in Lisbon."
    assert memory["degraded"] == []
    status, exported = post(client, "/cleanup", {"export": {"client_id": "alice"}})
    assert status == 200
    assert exported["chunks"]
    status, cleaned = post(client, "/cleanup", {})
    assert status == 200, cleaned
    assert cleaned["degraded"] == []

    status, erased = post(client, "/cleanup", {"forget": {"client_id": "alice", "chat_id": "chat-1"}})
    assert status == 200
    assert erased["deleted"]["chunks"] == 2
    # Open WebUI resends the forgotten chat with the next message, through another pooled connection.
    assert post(client, "/writeback", exchange(message_id="m9", response="Anything else?"))[0] == 200
    _, memory = post(client, "/assemble", {"client_id": "alice", "query": "Lisbon"})
    assert "Lisbon" not in str(memory["similar_chunks"])

    status, erased = post(client, "/cleanup", {"forget": {"client_id": "alice", "everything": True}})
    assert status == 200
    assert erased["deleted"]["profile"] == 1
    assert post(client, "/cleanup", {"export": {"client_id": "alice"}})[0] == 404


def test_32_callers_share_the_pools_few_server_connections(
    db_url: str, server_url: str, pgbouncer: pgbouncer_.PgBouncer, build_container: Callable[..., Container]
) -> None:
    # 32 function instances at once, each with its own small pool, as DigitalOcean scales them.
    clients = [client_for(pooled(build_container, pgbouncer, db_pool_size=2)) for _ in range(CALLERS)]
    direct = server_url.replace("/postgres?", "/memplane_test?")
    seen: list[int] = []
    done = threading.Event()

    def watch() -> None:
        with psycopg.connect(direct, autocommit=True) as conn:
            while not done.is_set():
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = 'memplane_test' "
                    "AND application_name = %s",
                    (pgbouncer_.APPLICATION,),
                ).fetchone()
                seen.append(int(row[0]) if row else 0)
                done.wait(0.01)

    def caller(n: int) -> list[int]:
        client, who = clients[n], f"caller-{n}"
        statuses = []
        for turn in range(3):
            body = exchange(who, message_id=f"{who}-{turn}", chat_id=f"{who}-chat")
            statuses.append(post(client, "/writeback", body)[0])
            statuses.append(post(client, "/assemble", {"client_id": who, "query": "Where do I live?"})[0])
        forget = {"forget": {"client_id": who, "chat_id": f"{who}-chat"}}
        statuses.append(post(client, "/cleanup", forget)[0])
        return statuses

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with ThreadPoolExecutor(CALLERS) as pool:
            results = list(pool.map(caller, range(CALLERS)))
    finally:
        done.set()
        watcher.join()
    assert all(s == 200 for statuses in results for s in statuses), results
    assert seen
    assert max(seen) <= pgbouncer_.POOL_SIZE  # 32 callers, never more than the pool's servers
    pools = [p for p in pgbouncer.pools() if p["database"] == "memplane_test"]
    clients_seen = sum(p["cl_active"] + p["cl_waiting"] for p in pools)
    assert clients_seen >= CALLERS  # every instance still holds its client connection to the pool
    print(f"{CALLERS} callers: at most {max(seen)} server connections, {clients_seen} clients on the pool")
    with psycopg.connect(direct) as conn:
        assert conn.execute("SELECT count(*) FROM memory_entries").fetchone() == (0,)  # each forgot its chat


def test_two_migrate_runs_at_once_through_the_pool_apply_each_migration_once(
    new_database: Callable[[str], str], pgbouncer: pgbouncer_.PgBouncer
) -> None:
    # The deploy guide says to migrate over the direct connection; through the pool it must still be
    # right: no session lock left on a pooled server connection, no prepared statement lost.
    new_database("migrate_pooled")
    pooled = pgbouncer.url("migrate_pooled")
    with ThreadPoolExecutor(2) as pool:
        runs = list(
            pool.map(lambda _: migrations.apply(pooled, migrations.default_migrations_dir(), 64), [1, 2])
        )
    everything = migrations.discover(migrations.default_migrations_dir())
    assert sorted(m.version for run in runs for m in run) == [m.version for m in everything]
    assert migrations.apply(pooled, migrations.default_migrations_dir(), 64) == []
