"""The schema stays splittable by client (docs/scaling.md, "The path past one primary"): every table
holding someone's memory is keyed by the client, and no statement on the request path reads across
clients. A new table or statement that breaks either rule fails here, by name."""

from __future__ import annotations

import re
from types import ModuleType
from typing import Any

import psycopg

from memplane.adapters import pgvector
from memplane.adapters.postgres import erasure, reads, writes

# The deployment's own tables: its migrations and settings, the log of cleanup runs, the health of the
# extraction model, and the audit log of calls (whose forget rows name nobody, on purpose).
DEPLOYMENT_TABLES = {
    "memplane_migrations",
    "memplane_meta",
    "cleanup_runs",
    "extraction_health",
    "webhook_executions",
}
# The profile's id is the client (or the client's space): it is keyed by the client under another name.
KEYED_BY_ID = {"client_profiles"}

# Statements on the request path that do not name client_id, and why each is still one client's.
NAMED_OTHERWISE = {
    ("writes", "GET_PROFILE"): "client_profiles.id is the client",
    ("writes", "UPSERT_PROFILE"): "client_profiles.id is the client",
    ("writes", "UPSERT_FACT"): "a function whose first argument is the client",
    ("erasure", "SPACES_OF"): "space_of is the client whose spaces these are",
    ("erasure", "CLEANUP"): "the nightly run, deliberately every client's (each shard runs its own)",
}
_STATEMENT = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE)\b")


def test_every_table_holding_memory_is_keyed_by_its_client(db: psycopg.Connection[Any]) -> None:
    rows = db.execute(
        "SELECT c.relname, bool_or(a.attname = 'client_id') FROM pg_class c "
        "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
        "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') GROUP BY c.relname"
    ).fetchall()
    without_client = {name for name, keyed in rows if not keyed}
    assert without_client == (DEPLOYMENT_TABLES - {"webhook_executions"}) | KEYED_BY_ID
    assert {name for name, _ in rows} >= DEPLOYMENT_TABLES | KEYED_BY_ID | {"memory_entries", "episodes"}


def test_no_statement_on_the_request_path_reads_across_clients() -> None:
    modules: dict[str, ModuleType] = {
        "reads": reads,
        "writes": writes,
        "erasure": erasure,
        "pgvector": pgvector,
    }
    unnamed = {
        (label, name)
        for label, module in modules.items()
        for name, text in vars(module).items()
        if name.isupper()
        and isinstance(text, str)
        and _STATEMENT.search(text)
        and "client_id" not in text
        and "pg_extension" not in text  # pgvector's version, asked of the server
    }
    assert unnamed == set(NAMED_OTHERWISE), (
        f"a request-path statement names no client: {unnamed - set(NAMED_OTHERWISE)}"
    )
