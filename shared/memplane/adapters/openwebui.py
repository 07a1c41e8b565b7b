"""A running Open WebUI, read through its HTTP API with an admin's API key: its users, their chats, and
the memories they saved in its built-in memory (for ``memplane import openwebui``).

Read against open_webui 0.12.4: ``GET /api/version``; ``GET /api/v1/users/all`` (admin);
``GET /api/v1/chats/list/user/{id}?page=n`` (admin, 60 a page, needs ENABLE_ADMIN_CHAT_ACCESS, on by
default) and ``GET /api/v1/chats/{id}``. Open WebUI's API gives each user's saved memories to that user
only (``GET /api/v1/memories/``); an admin reads everyone's from its database: the SQLite file the admin
may download (``GET /api/v1/utils/db/download``, needs ENABLE_ADMIN_EXPORT, on by default), or, for
an Open WebUI on PostgreSQL, that database itself (``--openwebui-db``).
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx

from memplane.errors import ConfigurationError
from memplane.model import PastChat, PastMessage, PastUser, SavedMemory

# The messages of a chat as Open WebUI keeps them: the branch the user last saw, root first.
_ROLES = ("user", "assistant")


class OpenWebUIError(ConfigurationError):
    """Open WebUI could not be read: a wrong URL or key, or an API this version of memplane does not know."""


class OpenWebUI:
    def __init__(self, url: str, api_key: str, timeout_s: float = 30.0) -> None:
        self._base = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self._base, headers={"Authorization": f"Bearer {api_key}"}, timeout=timeout_s
        )

    def close(self) -> None:
        self._http.close()

    def version(self) -> str:
        found = self._get("/api/version")
        if not isinstance(found, dict) or not isinstance(found.get("version"), str):
            raise OpenWebUIError(f"{self._base} is not an Open WebUI: /api/version did not name a version")
        return str(found["version"])

    def users(self) -> list[PastUser]:
        found = self._get("/api/v1/users/all")
        rows = found.get("users") if isinstance(found, dict) else found
        if not isinstance(rows, list):
            raise self._unknown("/api/v1/users/all")
        return [PastUser(str(u["id"]), str(u.get("name") or ""), str(u.get("email") or "")) for u in rows]

    def chat_ids(self, user_id: str) -> Iterator[tuple[str, int]]:
        """The user's chats (archived ones too), newest first: id and last update (epoch seconds)."""
        page = 1
        while True:
            listing = {"page": page, "order_by": "updated_at", "direction": "desc"}
            rows = self._get(f"/api/v1/chats/list/user/{user_id}", params=listing)
            if not isinstance(rows, list):
                raise self._unknown("/api/v1/chats/list/user/{id}")
            for row in rows:
                yield str(row["id"]), int(row.get("updated_at") or 0)
            if not rows:
                return
            page += 1

    def chat(self, chat_id: str) -> PastChat:
        found = self._get(f"/api/v1/chats/{chat_id}")
        if not isinstance(found, dict) or not isinstance(found.get("chat"), dict):
            raise self._unknown("/api/v1/chats/{id}")
        body = found["chat"]
        history = body.get("history") if isinstance(body.get("history"), dict) else {}
        by_id = history.get("messages") if isinstance(history.get("messages"), dict) else {}
        if by_id:
            thread = _thread(by_id, history.get("currentId"))
        else:  # chats older than the message tree
            thread = [m for m in body.get("messages") or [] if isinstance(m, dict)]
        return PastChat(
            id=str(found["id"]),
            user_id=str(found["user_id"]),
            title=str(found.get("title") or ""),
            updated_at=int(found.get("updated_at") or 0),
            messages=[_message(m, body) for m in thread if m.get("role") in _ROLES and m.get("id")],
        )

    def saved_memories(self, database: str | None) -> list[SavedMemory]:
        """Every user's memories from Open WebUI's database: ``database`` (a SQLite file or a
        PostgreSQL URL), or else the SQLite file downloaded from Open WebUI."""
        if database is not None and database.startswith(("postgres://", "postgresql://")):
            return _memories_in_postgres(database)
        if database is not None:
            return _memories_in_sqlite(Path(database))
        with tempfile.TemporaryDirectory(prefix="memplane-owui-") as tmp:
            path = Path(tmp) / "webui.db"
            with self._http.stream("GET", "/api/v1/utils/db/download") as response:
                if response.status_code == 400:
                    raise OpenWebUIError(
                        "this Open WebUI keeps its data in PostgreSQL, and its API gives each user's "
                        "memories to that user only: pass --openwebui-db with its database URL"
                    )
                self._check(response, "/api/v1/utils/db/download")
                with path.open("wb") as out:
                    for block in response.iter_bytes():
                        out.write(block)
            return _memories_in_sqlite(path)

    def memory_valves(self, filter_id: str) -> dict[str, Any]:
        # Open WebUI answers the valves of a function it does not have with 401, as it does a wrong
        # key: ask for the list of functions first.
        installed = self._get("/api/v1/functions/")
        if not isinstance(installed, list):
            raise self._unknown("/api/v1/functions/")
        if filter_id not in {f.get("id") for f in installed if isinstance(f, dict)}:
            return {}
        found = self._get(f"/api/v1/functions/id/{filter_id}/valves")
        return found if isinstance(found, dict) else {}

    def models(self) -> dict[str, dict[str, Any]]:
        found = self._get("/api/models")
        rows = found.get("data") if isinstance(found, dict) else None
        if not isinstance(rows, list):
            raise self._unknown("/api/models")
        return {str(m["id"]): m for m in rows if isinstance(m, dict) and m.get("id")}

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        try:
            response = self._http.get(path, params=params)
        except httpx.HTTPError as exc:
            raise OpenWebUIError(
                f"could not reach Open WebUI at {self._base} ({type(exc).__name__})"
            ) from exc
        self._check(response, path)
        try:
            return response.json()
        except ValueError as exc:
            raise OpenWebUIError(
                f"{self._base}{path} did not answer JSON: is {self._base} the address of Open WebUI "
                "(the one its users open in a browser)?"
            ) from exc

    def _check(self, response: httpx.Response, path: str) -> None:
        if response.status_code in (401, 403):
            raise OpenWebUIError(
                f"Open WebUI refused the API key on {path} ({response.status_code}): use an admin's API key "
                "(Settings > Account > API keys), and check that admins may read chats "
                "(ENABLE_ADMIN_CHAT_ACCESS) and export (ENABLE_ADMIN_EXPORT)"
            )
        if response.status_code == 404:
            raise self._unknown(path)
        if response.status_code >= 400:
            raise OpenWebUIError(f"Open WebUI answered {path} with {response.status_code}")

    def _unknown(self, path: str) -> OpenWebUIError:
        return OpenWebUIError(
            f"Open WebUI at {self._base} answered {path} in a way memplane does not know: this importer "
            "reads the API of Open WebUI 0.6 to 0.12; check the address and the version (GET /api/version)"
        )


def _thread(by_id: dict[str, Any], current: Any) -> list[dict[str, Any]]:
    """The branch ending at ``current`` (the last message the user saw), root first. A chat whose
    current id is missing ends at its latest message; a cycle in parent links is cut."""
    if not isinstance(current, str) or current not in by_id:
        dated = [m for m in by_id.values() if isinstance(m, dict)]
        current = max(dated, key=lambda m: float(m.get("timestamp") or 0), default={}).get("id")
    thread: list[dict[str, Any]] = []
    seen: set[str] = set()
    while isinstance(current, str) and current in by_id and current not in seen:
        seen.add(current)
        thread.append(by_id[current])
        current = by_id[current].get("parentId")
    return thread[::-1]


def _message(m: dict[str, Any], chat: dict[str, Any]) -> PastMessage:
    stamp = m.get("timestamp")
    user = m.get("user")
    author = m.get("user_id") or (user.get("id") if isinstance(user, dict) else None)
    return PastMessage(
        id=str(m["id"]),
        role=str(m["role"]),
        content=m.get("content"),
        timestamp=float(stamp) if isinstance(stamp, int | float) and not isinstance(stamp, bool) else None,
        author_id=str(author) if author else None,
        model=str(m.get("model") or next(iter(chat.get("models") or []), "") or "") or None,
    )


_MEMORIES = "SELECT id, user_id, content, created_at FROM memory ORDER BY user_id, created_at, id"


def _memories_in_sqlite(path: Path) -> list[SavedMemory]:
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            conn.row_factory = sqlite3.Row
            rows = [dict(row) for row in conn.execute(_MEMORIES).fetchall()]
    except sqlite3.Error as exc:
        raise OpenWebUIError(f"could not read Open WebUI's memories from {path}: {exc}") from exc
    return [_memory(row) for row in rows]


def _memories_in_postgres(url: str) -> list[SavedMemory]:
    import psycopg
    from psycopg.rows import dict_row

    try:
        with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
            rows = conn.execute(_MEMORIES).fetchall()
    except psycopg.Error as exc:
        raise OpenWebUIError(
            f"could not read Open WebUI's memories from its database ({exc.sqlstate})"
        ) from exc
    return [_memory(row) for row in rows]


def _memory(row: dict[str, Any]) -> SavedMemory:
    return SavedMemory(
        id=str(row["id"]),
        user_id=str(row["user_id"]),
        content=str(row["content"] or ""),
        created_at=int(row["created_at"] or 0),
    )
