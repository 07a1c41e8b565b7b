"""Apply numbered SQL files from ``migrations/``, each once, each in its own transaction.

Files are named ``NNNN_description.sql``. Applied versions are recorded in ``memplane_migrations``; an
advisory lock, taken by each migration's transaction, makes two concurrent ``memplane migrate`` runs
take turns instead of racing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import scalar_row

from memplane.adapters.postgres.connection import scalar
from memplane.adapters.postgres.versions import PGVECTOR_VERSION, iterative_scan
from memplane.errors import ConfigurationError, DatabaseError

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_LOCK_ID = 0x6D656D70  # "memp": any constant shared by every migrate run
_LEDGER = """
CREATE TABLE IF NOT EXISTS memplane_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path


def default_migrations_dir() -> Path:
    """The repository's ``migrations/``, found from this file (an editable install or a checkout)."""
    return Path(__file__).resolve().parents[4] / "migrations"


def discover(directory: Path) -> list[Migration]:
    if not directory.is_dir():
        raise ConfigurationError(
            f"no migrations directory at {directory}; set MEMPLANE_MIGRATIONS_DIR to the repository's "
            "migrations/ folder"
        )
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if match is None:
            raise ConfigurationError(f"migration file {path.name} is not named NNNN_description.sql")
        found.append(Migration(int(match.group(1)), path.stem, path))
    return found


def pending(conn: psycopg.Connection[tuple[Any, ...]], directory: Path) -> list[Migration]:
    """Migrations not yet applied; all of them on an empty database."""
    applied: set[int] = set()
    if _table_exists(conn, "memplane_migrations"):
        with conn.cursor(row_factory=scalar_row) as cur:
            applied = set(cur.execute("SELECT version FROM memplane_migrations").fetchall())
    return [m for m in discover(directory) if m.version not in applied]


def apply(url: str, directory: Path, embedding_dim: int) -> list[Migration]:
    """Apply what is pending and return it. Refuses to run against a different embedding dimension.

    Safe through a transaction-mode pool (PgBouncer) as well as on a direct connection: nothing
    outlives a transaction. Each migration takes the lock for its own transaction and checks the ledger
    again under it, so two runs at once take turns and apply each migration once; statements are never
    prepared, because consecutive transactions may meet different server connections.
    """
    try:
        with psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn:
            with conn.transaction():
                conn.execute(_LOCK, (_LOCK_ID,))
                conn.execute(_LEDGER)
                _check_dimension(conn, embedding_dim)
            done = []
            for migration in pending(conn, directory):
                sql = migration.path.read_text().replace("{{embedding_dim}}", str(int(embedding_dim)))
                with conn.transaction():
                    conn.execute(_LOCK, (_LOCK_ID,))
                    if scalar(conn, _APPLIED, (migration.version,)):
                        continue  # another run applied it while this one waited
                    conn.execute(sql.encode())
                    conn.execute(
                        "INSERT INTO memplane_migrations (version, name) VALUES (%s, %s)",
                        (migration.version, migration.name),
                    )
                done.append(migration)
            if done:
                # A migration that rewrites rows (0007 rebuilds the keyword postings) leaves the
                # visibility map unset: until a vacuum, keyword search's index-only scans visit the
                # table for every posting (p95 15 ms instead of 9 at 100,000 chunks). Vacuum now rather
                # than wait for autovacuum or the nightly cleanup.
                for table in _VACUUMED_AFTER_MIGRATING:
                    conn.execute(f"VACUUM (ANALYZE) {table}")
            return done
    except psycopg.Error as exc:
        raise DatabaseError(f"migration failed: {exc.sqlstate or ''} {redact(str(exc))}".strip()) from exc


_LOCK = "SELECT pg_advisory_xact_lock(%s)"
_APPLIED = "SELECT EXISTS (SELECT 1 FROM memplane_migrations WHERE version = %s)"
_VACUUMED_AFTER_MIGRATING = ("memory_entries", "memory_postings", "client_term_stats", "client_doc_stats")
_PASSWORDS = re.compile(r"(://[^:/@\s]*:)[^@\s]+@|(password\s*=\s*)\S+", re.I)


def redact(text: str) -> str:
    """Blank out passwords that libpq may echo from a connection string it could not use."""
    return _PASSWORDS.sub(lambda m: f"{m.group(1)}***@" if m.group(1) else f"{m.group(2)}***", text)


def _check_dimension(conn: psycopg.Connection[tuple[Any, ...]], embedding_dim: int) -> None:
    if not _table_exists(conn, "memplane_meta"):
        return
    stored = scalar(conn, "SELECT value FROM memplane_meta WHERE key = 'embedding_dim'")
    if stored is not None and int(stored) != embedding_dim:
        raise ConfigurationError(
            f"the database stores {stored}-dimensional embeddings but MEMPLANE_EMBEDDING_DIM is "
            f"{embedding_dim}; set it back to {stored} or migrate into a new database"
        )


def _table_exists(conn: psycopg.Connection[tuple[Any, ...]], name: str) -> bool:
    return bool(scalar(conn, "SELECT to_regclass(%s) IS NOT NULL", (name,)))


def pgvector_report(url: str) -> str:
    """One line on the installed pgvector: its version and how vector search will use it."""
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            found = scalar(conn, PGVECTOR_VERSION)
    except psycopg.Error as exc:
        raise DatabaseError(f"could not read the pgvector version: {exc.sqlstate or ''}".strip()) from exc
    version = str(found) if found else None
    if version is None:
        return "pgvector: not installed"
    if iterative_scan(version):
        return f"pgvector {version}: iterative index scans (filtered HNSW searches return enough rows)"
    return (
        f"pgvector {version}: no iterative index scans (they arrived in 0.8); vector search ranks each "
        "client's rows exactly instead, which is right but slower for very large memories. "
        "`ALTER EXTENSION vector UPDATE` where the service offers 0.8 or newer"
    )
