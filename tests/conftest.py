"""The suite starts what it needs: an embedded Postgres with pgvector, and a local OpenAI stub.

Every storage test runs against that real Postgres; each test starts from empty tables.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from memplane import wiring
from memplane.adapters import embedded_postgres
from memplane.adapters.postgres import migrations
from memplane.platform.digitalocean import respond
from memplane.platform.functions_framework import create_app
from memplane.settings import Settings
from memplane.wiring import Container
from tests import pgbouncer as pgbouncer_
from tests.openai_stub import OpenAIStub
from tests.qdrant_stub import QdrantStub

EVENTS = Path(__file__).parent / "events"
TEST_DIM = 256
# Keyword statistics and the index's bookkeeping have no foreign key to the profile (triggers keep
# them), so they are named too.
TABLES = (
    "client_profiles, webhook_executions, vector_index_deletions, vector_index_pending, memory_postings, "
    "client_term_stats, client_doc_stats, cleanup_runs, stored_turns, forgotten, extraction_health"
)


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The embedded server, started once for the session and deleted at the end."""
    return embedded_postgres.start(tmp_path_factory.mktemp("embedded"), delete_on_exit=True)


@pytest.fixture(scope="session")
def new_database(server_url: str) -> Callable[[str], str]:
    """Create an empty database on the embedded server and return its URL."""

    def create(name: str) -> str:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return server_url.replace("/postgres?", f"/{name}?")

    return create


# `make test-pgbouncer`: the whole suite with memplane reaching its database through a real PgBouncer
# in transaction mode, as deployed behind a DigitalOcean connection pool.
THROUGH_PGBOUNCER = os.environ.get("MEMPLANE_TEST_PGBOUNCER") == "1"


@pytest.fixture(scope="session")
def pgbouncer(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[pgbouncer_.PgBouncer]:
    """PgBouncer in front of the session's server. CI installs it (`make test`); a developer machine
    without Debian's package skips the tests that need it, and says why."""
    if pgbouncer_.binary() is None and not os.environ.get("CI"):
        pytest.skip("pgbouncer is not installed: `make test` installs it as root (Debian package pgbouncer)")
    bouncer = pgbouncer_.start(server_url, tmp_path_factory.mktemp("pgbouncer"))
    yield bouncer
    bouncer.stop()


@pytest.fixture(scope="session")
def db_url(new_database: Callable[[str], str], request: pytest.FixtureRequest) -> str:
    url = new_database("memplane_test")
    migrations.apply(url, migrations.default_migrations_dir(), TEST_DIM)
    if THROUGH_PGBOUNCER:
        bouncer: pgbouncer_.PgBouncer = request.getfixturevalue("pgbouncer")
        return bouncer.url("memplane_test")
    return url


def clean_env(**overrides: str) -> dict[str, str]:
    """This process's environment without memplane's own variables, plus ``overrides``: what a
    `memplane` command started by a test sees, whatever the machine or a developer has set."""
    prefixes = ("DATABASE_URL", "OPENAI_", "MEMPLANE_", "INFISICAL_")
    return {**{k: v for k, v in os.environ.items() if not k.startswith(prefixes)}, **overrides}


def memplane_cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the installed `memplane` command as a user would, in ``cwd``, with ``env`` set."""
    return _run("memplane.cli", args, cwd, env, timeout=120)


def bench_cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the installed `memplane-bench` command (the benchmarks and evaluation) as a user would."""
    return _run("memplane_bench", args, cwd, env, timeout=300)


def _run(
    module: str, args: tuple[str, ...], cwd: Path, env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        env=clean_env(**env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def make_settings(db_url: str, **overrides: Any) -> Settings:
    """Settings as a test wants them: nothing read from the machine's environment or a .env file."""
    values: dict[str, Any] = {
        "database_url": db_url,
        "embedder": "hash",
        "extractor": "rules",
        "embedding_dim": TEST_DIM,
        "api_token": None,
        # Stored DigitalOcean web events reach these containers without a token; the refusal of an
        # unprotected deployment is tested on its own (test_entrypoints).
        "allow_unauthenticated": True,
        "openai_api_key": None,
        "openai_base_url": None,
        "db_connect_timeout_s": 2.0,
        # Behind a transaction-mode pool a prepared statement may meet another server connection.
        "db_prepared_statements": not THROUGH_PGBOUNCER,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def container(db_url: str) -> Iterator[Container]:
    c = wiring.build(make_settings(db_url))
    yield c
    c.close()


@pytest.fixture
def build_container(db_url: str) -> Iterator[Callable[..., Container]]:
    """Containers with other settings for one test; closed afterwards."""
    made: list[Container] = []

    def build(**overrides: Any) -> Container:
        c = wiring.build(make_settings(overrides.pop("database_url", db_url), **overrides))
        made.append(c)
        return c

    yield build
    for c in made:
        c.close()


@pytest.fixture(autouse=True)
def empty_tables(request: pytest.FixtureRequest) -> None:
    if "db_url" not in request.fixturenames:
        return
    url = request.getfixturevalue("db_url")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {TABLES} CASCADE")


@pytest.fixture
def db(db_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A plain connection for looking at what was stored, the way an operator would with psql."""
    with psycopg.connect(db_url, autocommit=True, prepare_threshold=None) as conn:
        yield conn


@contextmanager
def table_locked(db_url: str, table: str) -> Iterator[None]:
    """Another session holds ``table`` exclusively (a long migration, a stuck transaction) until the
    block ends: whatever touches it meanwhile waits on the lock."""
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        with psycopg.connect(db_url) as other, other.transaction():
            other.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
            locked.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(5)
        yield
    finally:
        release.set()
        holder.join()


@pytest.fixture
def client(container: Container) -> FlaskClient:
    return create_app(lambda: container).test_client()


def client_for(c: Container) -> FlaskClient:
    return create_app(lambda: c).test_client()


@pytest.fixture
def openai_stub() -> Iterator[OpenAIStub]:
    stub = OpenAIStub().start()
    yield stub
    stub.stop()


class Context:
    """The attributes of DigitalOcean's context object that memplane reads."""

    def __init__(self, activation_id: str = "act-1", remaining_ms: int = 20_000) -> None:
        self.activation_id = activation_id
        self.function_name = "/ns/memory/fn"
        self.deadline = int(time.time() * 1000) + remaining_ms  # epoch ms, as the platform gives it

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.deadline - int(time.time() * 1000))


def load_event(name: str, **body: Any) -> dict[str, Any]:
    """A stored DigitalOcean event, with its JSON body fields replaced by ``body`` where given."""
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    if body:
        if isinstance(event.get("http", {}).get("body"), str):
            merged = {**json.loads(event["http"]["body"]), **body}
            event["http"]["body"] = json.dumps(merged)
        else:
            event.update(body)
    return event


def invoke_do(c: Container, function: str, event: dict[str, Any]) -> dict[str, Any]:
    """Run an event through the DigitalOcean adapter as the runtime would, over container ``c``."""
    return respond(function, event, Context(), lambda: c)


@pytest.fixture
def qdrant_server() -> Iterator[QdrantStub]:
    stub = QdrantStub().start()
    yield stub
    stub.stop()


@pytest.fixture
def indexed(
    request: pytest.FixtureRequest,
    build_container: Callable[..., Container],
    openai_stub: OpenAIStub,
    tmp_path: Path,
) -> Callable[..., Container]:
    """Containers on the backend under test, with a semantic (non-offline) embedder so vectors count."""

    def build(*, ensure: bool = True, **overrides: Any) -> Container:
        backend = request.param if hasattr(request, "param") else "qdrant-server"
        settings: dict[str, Any] = {
            "embedder": "openai",
            "openai_base_url": openai_stub.base_url,
            "embedding_model": "text-embedding-3-small",
            "data_dir": tmp_path,
        }
        if backend == "qdrant-local":
            settings["vector_backend"] = "qdrant"
        elif backend == "qdrant-server":
            settings.update(vector_backend="qdrant", qdrant_url=request.getfixturevalue("qdrant_server").url)
        settings.update(overrides)
        c = build_container(**settings)
        if c.index.separate and ensure:
            c.index.ensure(TEST_DIM)  # what `memplane migrate` does; it also waits for the client
        return c

    return build


@contextmanager
def served(c: Container) -> Iterator[str]:
    """Container ``c`` served over real HTTP on a free port, as Open WebUI's filter and Tool reach it."""
    server = make_server("127.0.0.1", 0, create_app(lambda: c), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


@pytest.fixture
def memplane_url(container: Container) -> Iterator[str]:
    with served(container) as url:
        yield url
