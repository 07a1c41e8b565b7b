"""`memplane import openwebui`: an Open WebUI's saved memories and past chats brought in through its API,
once, under their owners' ids, with errors that say what to fix."""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import psycopg
import pytest
from flask.testing import FlaskClient

from memplane.adapters.openwebui import OpenWebUI
from memplane.contracts import WritebackRequest, WritebackResponse
from memplane.deadline import NONE
from memplane.platform.routes import FUNCTIONS
from memplane.usecases.importing import ImportChoice, import_openwebui
from memplane.wiring import Container
from tests.conftest import TEST_DIM, memplane_cli
from tests.openwebui_stub import ADMIN_KEY, OpenWebUIData, serve_openwebui
from tests.test_memory import post

MARCH = datetime(2026, 3, 2, 9, 0, tzinfo=UTC).timestamp()
JUNE = datetime(2026, 6, 15, 18, 30, tzinfo=UTC).timestamp()


def history() -> OpenWebUIData:
    data = OpenWebUIData(
        users=[
            {"id": "u-alice", "name": "Alice Doe", "email": "alice@example.com"},
            {"id": "u-bob", "name": "Bob", "email": "bob@example.com"},
        ],
        memories=[
            {
                "id": "mem-1",
                "user_id": "u-alice",
                "content": "I am allergic to peanuts",
                "created_at": int(MARCH),
            },
            {"id": "mem-2", "user_id": "u-bob", "content": "I drive a red bicycle", "created_at": int(MARCH)},
        ],
    )
    data.add_chat(
        "chat-lisbon",
        "u-alice",
        [
            ("user", "I moved to Lisbon last month, near the river.", MARCH),
            ("assistant", '<details type="reasoning">\nthinking\n</details>\nLisbon is lovely!', MARCH + 5),
            ("user", "My sister Carla visits in June.", MARCH + 60),
            ("assistant", "How nice, enjoy her visit.", MARCH + 65),
        ],
    )
    # A chat of Alice's shared to continue: Bob wrote in it. His words are never imported as Alice's.
    data.add_chat(
        "chat-shared",
        "u-alice",
        [("user", "Bob here: my locker code is 4711.", JUNE), ("assistant", "Noted, Bob.", JUNE + 5)],
        **{"chat-shared-m0": {"user_id": "u-bob"}},
    )
    data.add_chat(
        "chat-bob", "u-bob", [("user", "I work at the harbour.", JUNE), ("assistant", "Great!", JUNE + 2)]
    )
    return data


def writer(container: Container) -> Callable[[WritebackRequest], WritebackResponse]:
    """Writeback as the HTTP API runs it."""

    def write(request: WritebackRequest) -> WritebackResponse:
        return cast(
            WritebackResponse, FUNCTIONS["writeback"].run(request, container, datetime.now(UTC), NONE)
        )

    return write


def run(url: str, container: Container, **choice: Any) -> Any:
    write = writer(container)
    source = OpenWebUI(url, ADMIN_KEY)
    try:
        return import_openwebui(source, ImportChoice(**choice), write)
    finally:
        source.close()


def recalled(client: FlaskClient, client_id: str, query: str) -> str:
    status, body = post(client, "/assemble", {"client_id": client_id, "query": query})
    assert status == 200, body
    return " ".join(c["content"] for c in body["similar_chunks"]) + str(body["facts"])


def test_memories_and_chats_come_in_under_their_owners_and_a_second_run_adds_nothing(
    container: Container, client: FlaskClient, db: psycopg.Connection[Any]
) -> None:
    with serve_openwebui(history()) as url:
        first = run(url, container, chats=True)
        assert first.version == "0.12.4"
        alice, bob = first.users["u-alice"], first.users["u-bob"]
        assert (alice.memories, alice.chats, alice.exchanges) == (1, 2, 2)
        assert alice.not_theirs == 1
        assert (bob.memories, bob.chats, bob.exchanges) == (1, 1, 1)
        assert alice.messages_stored == 6  # the memory (2) and two turns of the Lisbon chat (4)
        again = run(url, container, chats=True)
    assert sum(n.messages_stored + n.facts for n in again.users.values()) == 0
    assert "peanuts" in recalled(client, "u-alice", "what am I allergic to?")
    assert "Lisbon" in recalled(client, "u-alice", "where do I live now?")
    assert "4711" not in recalled(client, "u-alice", "what is the locker code?")
    assert "bicycle" not in recalled(client, "u-alice", "what do I ride?")
    assert "harbour" in recalled(client, "u-bob", "where do I work?")
    # Each message keeps its chat and its id, and is dated when it was answered, as a live turn is;
    # no reasoning is kept.
    rows = db.execute(
        "SELECT chat_id, message_id, created_at, content FROM memory_entries WHERE chat_id = 'chat-lisbon' "
        "ORDER BY created_at"
    ).fetchall()
    assert rows[0][:3] == ("chat-lisbon", "chat-lisbon-m0", datetime.fromtimestamp(MARCH + 5, UTC))
    assert all("thinking" not in r[3] for r in rows)


def test_a_dry_run_counts_and_writes_nothing(container: Container, db: psycopg.Connection[Any]) -> None:
    with serve_openwebui(history()) as url:
        report = run(url, container, chats=True, dry_run=True)
    assert report.users["u-alice"].exchanges == 2
    assert db.execute("SELECT count(*) FROM memory_entries").fetchone() == (0,)


def test_users_and_dates_narrow_the_import(container: Container, db: psycopg.Connection[Any]) -> None:
    with serve_openwebui(history()) as url:
        report = run(
            url,
            container,
            chats=True,
            users=frozenset({"bob@example.com"}),
            since=datetime(2026, 6, 1, tzinfo=UTC),
        )
    assert set(report.users) == {"u-bob"}
    assert report.users["u-bob"].memories == 0  # saved in March
    assert report.users["u-bob"].exchanges == 1
    assert db.execute("SELECT DISTINCT client_id FROM memory_entries").fetchall() == [("u-bob",)]


def test_an_interrupted_import_resumes_without_duplicates(
    container: Container, db: psycopg.Connection[Any]
) -> None:
    calls, write = [0], writer(container)

    def failing(request: WritebackRequest) -> WritebackResponse:
        calls[0] += 1
        if calls[0] == 3:
            raise KeyboardInterrupt  # the operator's Ctrl-C, mid-import
        return write(request)

    with serve_openwebui(history()) as url:
        source = OpenWebUI(url, ADMIN_KEY)
        with pytest.raises(KeyboardInterrupt):
            import_openwebui(source, ImportChoice(chats=True), failing)
        run(url, container, chats=True)
    assert db.execute("SELECT count(*) FROM memory_entries").fetchone() == (10,)  # 2 memories, 4 turns
    assert db.execute("SELECT count(*), count(DISTINCT message_id) FROM memory_entries").fetchone() == (
        10,
        10,
    )


def closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


@pytest.mark.parametrize(
    ("url_of", "key", "said"),
    [
        (lambda url: url, "sk-wrong", "refused the API key"),
        (lambda url: closed_port(), ADMIN_KEY, "could not reach Open WebUI"),
        (lambda url: f"{url}/api/version", ADMIN_KEY, "in a way memplane does not know"),
        (lambda url: "", ADMIN_KEY, "--url"),
    ],
    ids=["wrong key", "nothing there", "not Open WebUI", "no address"],
)
def test_a_wrong_address_or_key_is_named_and_nothing_is_written(
    tmp_path: Path, db_url: str, db: psycopg.Connection[Any], url_of: Any, key: str, said: str
) -> None:
    with serve_openwebui(history()) as url:
        done = memplane_cli(
            "import",
            "openwebui",
            "--url",
            url_of(url),
            "--chats",
            cwd=tmp_path,
            DATABASE_URL=db_url,
            MEMPLANE_EMBEDDING_DIM=str(TEST_DIM),
            OPENWEBUI_API_KEY=key,
        )
    assert done.returncode == 2, done.stdout + done.stderr
    assert said in done.stderr
    assert "Traceback" not in done.stderr
    assert db.execute("SELECT count(*) FROM memory_entries").fetchone() == (0,)


def test_the_command_prints_what_it_imported(tmp_path: Path, db_url: str) -> None:
    with serve_openwebui(history()) as url:
        env = {
            "DATABASE_URL": db_url,
            "MEMPLANE_EMBEDDING_DIM": str(TEST_DIM),
            "OPENWEBUI_API_KEY": ADMIN_KEY,
        }
        dry = memplane_cli("import", "openwebui", "--url", url, "--chats", "--dry-run", cwd=tmp_path, **env)
        done = memplane_cli("import", "openwebui", "--url", url, "--chats", cwd=tmp_path, **env)
    assert dry.returncode == 0, dry.stderr
    assert "Open WebUI 0.12.4" in dry.stdout
    assert "would import" in dry.stdout
    assert done.returncode == 0, done.stderr
    alice = next(line for line in done.stdout.splitlines() if line.startswith("u-alice"))
    assert alice.split()[1:5] == ["1", "2", "2", "6"]


def test_chats_are_imported_as_the_filter_would_have_saved_them(
    container: Container, client: FlaskClient, db: psycopg.Connection[Any]
) -> None:
    # The filter's valves in Open WebUI decide, as for a live turn: a denied model's chat and a cloud
    # model's chat are left out, a persona's goes into its own space.
    data = history()
    data.models += [
        {"id": "gpt-4o", "owned_by": "openai", "connection_type": "external"},
        {"id": "pirate", "owned_by": "ollama", "connection_type": "local"},
        {"id": "secret-llm", "owned_by": "ollama", "connection_type": "local"},
    ]
    data.filter_valves = {"denied_models": "secret-llm", "spaces": "pirate"}
    data.add_chat(
        "chat-cloud",
        "u-bob",
        [("user", "My PIN is 1234.", JUNE), ("assistant", "Ok.", JUNE + 1)],
        model="gpt-4o",
    )
    data.add_chat(
        "chat-secret",
        "u-bob",
        [("user", "I hid the key.", JUNE), ("assistant", "Ok.", JUNE + 1)],
        model="secret-llm",
    )
    data.add_chat(
        "chat-sea",
        "u-bob",
        [("user", "My parrot is Polly.", JUNE), ("assistant", "Arr!", JUNE + 1)],
        model="pirate",
    )
    with serve_openwebui(data) as url:
        report = run(url, container, chats=True, users=frozenset({"u-bob"}))
    assert report.users["u-bob"].not_fed == 2
    chats = {
        row[0] for row in db.execute("SELECT DISTINCT chat_id FROM memory_entries WHERE chat_id IS NOT NULL")
    }
    assert chats == {"chat-bob", "chat-sea"}
    status, pirate = post(client, "/cleanup", {"export": {"client_id": "u-bob", "space": "pirate"}})
    assert status == 200
    assert any("Polly" in c["content"] for c in pirate["chunks"])
    assert "Polly" not in recalled(client, "u-bob", "what is my parrot called?")
