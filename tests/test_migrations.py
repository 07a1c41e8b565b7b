"""`memplane migrate`: applies each migration once, in order, and refuses a changed embedding size."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from memplane.adapters.postgres import migrations
from memplane.errors import ConfigurationError
from tests.conftest import memplane_cli

MIGRATIONS = migrations.default_migrations_dir()


def test_migrate_applies_once_and_is_idempotent(new_database: Callable[[str], str]) -> None:
    url = new_database("migrate_once")
    first = migrations.apply(url, MIGRATIONS, 1536)
    assert [m.version for m in first] == sorted(m.version for m in migrations.discover(MIGRATIONS))
    assert migrations.apply(url, MIGRATIONS, 1536) == []
    with psycopg.connect(url) as conn:
        indexes = {
            r[0] for r in conn.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'memory_entries'")
        }
        postings = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'memory_postings'"
        ).fetchall()
        dim = conn.execute(
            "SELECT atttypmod FROM pg_attribute WHERE attrelid = 'memory_entries'::regclass "
            "AND attname = 'embedding'"
        ).fetchone()
    assert any("hnsw" in i and "vector_cosine_ops" in i for i in indexes)
    assert any("(client_id, term, entry_seq)" in r[0] for r in postings)  # keyword search's index
    assert dim == (1536,)


def test_a_different_embedding_size_is_refused(new_database: Callable[[str], str]) -> None:
    url = new_database("migrate_dim")
    migrations.apply(url, MIGRATIONS, 768)
    with pytest.raises(ConfigurationError, match="MEMPLANE_EMBEDDING_DIM"):
        migrations.apply(url, MIGRATIONS, 1536)


def test_a_failing_migration_leaves_nothing_behind(
    new_database: Callable[[str], str], tmp_path: Path
) -> None:
    url = new_database("migrate_fail")
    for m in migrations.discover(MIGRATIONS):
        (tmp_path / m.path.name).write_text(m.path.read_text())
    (tmp_path / "9999_broken.sql").write_text("CREATE TABLE half_done (id int);\nSELECT no_such_function();")
    with pytest.raises(Exception, match="migration failed"):
        migrations.apply(url, tmp_path, 64)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT to_regclass('half_done')").fetchone() == (None,)
        latest = max(m.version for m in migrations.discover(MIGRATIONS))
        assert conn.execute("SELECT max(version) FROM memplane_migrations").fetchone() == (latest,)


def test_the_migrate_command(new_database: Callable[[str], str], tmp_path: Path) -> None:
    env = {"DATABASE_URL": new_database("migrate_cli"), "MEMPLANE_EMBEDDING_DIM": "64"}
    first = memplane_cli("migrate", cwd=tmp_path, **env)
    assert first.returncode == 0, first.stderr
    assert "0001_init" in first.stdout
    assert "pgvector 0.8" in first.stdout  # the wheel's pgvector, and what search makes of it
    assert "iterative index scans" in first.stdout
    again = memplane_cli("migrate", cwd=tmp_path, **env)
    assert "nothing to apply" in again.stdout

    bad = memplane_cli("migrate", cwd=tmp_path, **{**env, "MEMPLANE_EMBEDDING_DIM": "lots"})
    assert bad.returncode == 2
    assert "MEMPLANE_EMBEDDING_DIM" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_a_connection_string_that_cannot_be_used_is_reported_without_its_password(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="migration failed") as failed:
        migrations.apply("host=127.0.0.1 port=9 password=hunter2-secret connect_timeout=1", MIGRATIONS, 64)
    assert "hunter2" not in str(failed.value)
    assert (
        migrations.redact("postgresql://memplane:hunter2@db:5432/x") == "postgresql://memplane:***@db:5432/x"
    )


# What the previous releases send that later migrations touch: the cleanup call and audit insert of
# 0006, the chunk insert and the keyword reading of 0007, the indexed flag of 0011. A deploy migrates
# first and replaces the functions second; meanwhile these still run.
PREVIOUS_RELEASE = (
    "SELECT deleted_entries, deleted_state, archived_episodes FROM cleanup_expired_memory(now(), now())",
    "INSERT INTO webhook_executions (function, request_id, client_id, status, error_code, duration_ms, "
    "degraded) VALUES ('assemble', 'r1', 'c1', 200, NULL, 1.5, '{}')",
    "INSERT INTO client_profiles (id) VALUES ('c1')",
    "INSERT INTO memory_entries (client_id, turn_key, chunk_index, message_id, chat_id, role, content, "
    "embedding, created_at, expires_at) VALUES ('c1', 'k1', 0, 'm1', NULL, 'user', 'I live in Lisbon', "
    "NULL, now(), NULL)",
    "SELECT 1 FROM memory_postings WHERE client_id = 'c1' AND term = ANY(tsvector_to_array("
    "to_tsvector('english', 'Where do I live?')))",
    "SELECT id, client_id, embedding, created_at, expires_at FROM memory_entries WHERE NOT vector_indexed "
    "AND embedding IS NOT NULL AND (expires_at IS NULL OR expires_at > now()) AND client_id = 'c1' "
    "ORDER BY seq LIMIT 10",
    "UPDATE memory_entries SET vector_indexed = true WHERE id = ANY(ARRAY[]::uuid[]) RETURNING id",
)


def test_the_previous_release_keeps_working_on_the_migrated_schema(
    new_database: Callable[[str], str],
) -> None:
    url = new_database("migrate_previous")
    migrations.apply(url, MIGRATIONS, 64)
    with psycopg.connect(url) as conn:
        for statement in PREVIOUS_RELEASE:
            conn.execute(statement)


@pytest.mark.parametrize(
    ("backend", "flags", "queued"), [("qdrant", (True, False), 1), ("pgvector", (False,), 0)]
)
def test_chunks_qdrant_still_lacks_are_queued_by_the_upgrade(
    new_database: Callable[[str], str], tmp_path: Path, backend: str, flags: tuple[bool, ...], queued: int
) -> None:
    """0011 turned 0003's indexed flag into a queue: a Qdrant deployment's backlog carries over, and a
    pgvector deployment (which never set the flag) queues nothing."""
    url = new_database(f"migrate_queue_{backend}")
    for m in migrations.discover(MIGRATIONS):
        if m.version < 11:
            (tmp_path / m.path.name).write_text(m.path.read_text())
    migrations.apply(url, tmp_path, 3)
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO client_profiles (id) VALUES ('c1')")
        for n, flag in enumerate(flags):
            conn.execute(
                "INSERT INTO memory_entries (client_id, turn_key, role, content, embedding, created_at, "
                "vector_indexed) VALUES ('c1', %s, 'user', 'I live in Lisbon', '[1,0,0]', now(), %s)",
                (f"k{n}", flag),
            )
    migrations.apply(url, MIGRATIONS, 3)
    with psycopg.connect(url) as conn:
        waiting = conn.execute(
            "SELECT count(*) FROM vector_index_pending p JOIN memory_entries m ON m.id = p.chunk_id "
            "WHERE NOT m.vector_indexed"
        ).fetchone()
        assert waiting == (queued,)
        assert conn.execute("SELECT count(*) FROM vector_index_pending").fetchone() == (queued,)
