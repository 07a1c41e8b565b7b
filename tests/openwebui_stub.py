"""Open WebUI's HTTP API as `memplane import` reads it, answering as open_webui 0.12.4 does
(routers/users.py, routers/chats.py, routers/utils.py and main.py's /api/version): for the suite, which
cannot install Open WebUI. `make e2e-openwebui` imports from a real one."""

from __future__ import annotations

import re
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.http_stub import JsonHandler, StubServer

ADMIN_KEY = "sk-owui-admin"
PAGE = 60  # chats per page of /api/v1/chats/list/user/{id}


@dataclass
class OpenWebUIData:
    users: list[dict[str, Any]] = field(default_factory=list)
    chats: list[dict[str, Any]] = field(default_factory=list)  # as ChatResponse, history inside
    memories: list[dict[str, Any]] = field(default_factory=list)  # rows of the memory table
    requests: list[str] = field(default_factory=list)
    # The models Open WebUI lists (/api/models); a local connection unless a test says otherwise.
    models: list[dict[str, Any]] = field(
        default_factory=lambda: [{"id": "llama3", "owned_by": "ollama", "connection_type": "local"}]
    )
    filter_valves: dict[str, Any] | None = None  # the memplane filter's valves; None: not installed

    def add_chat(self, chat_id: str, user_id: str, turns: list[tuple[str, str, float]], **extra: Any) -> None:
        """A linear chat: (role, content, timestamp) per message, each the child of the one before."""
        messages: dict[str, dict[str, Any]] = {}
        parent = None
        for n, (role, content, at) in enumerate(turns):
            mid = f"{chat_id}-m{n}"
            messages[mid] = {
                "id": mid,
                "parentId": parent,
                "childrenIds": [],
                "role": role,
                "content": content,
                "timestamp": int(at),
                **extra.get(mid, {}),
            }
            if parent:
                messages[parent]["childrenIds"].append(mid)
            parent = mid
        updated = int(max((t for _, _, t in turns), default=0))
        self.chats.append(
            {
                "id": chat_id,
                "user_id": user_id,
                "title": chat_id,
                "updated_at": updated,
                "created_at": updated,
                "chat": {
                    "history": {"messages": messages, "currentId": parent},
                    "models": [extra.get("model", "llama3")],
                },
                "archived": False,
                "pinned": False,
                "meta": {},
                "share_id": None,
                "folder_id": None,
            }
        )


def _database(memories: list[dict[str, Any]], path: Path) -> None:
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(
            "CREATE TABLE memory (id TEXT PRIMARY KEY, user_id TEXT, type TEXT, path TEXT, content TEXT, "
            "meta JSON, updated_at BIGINT, created_at BIGINT)"
        )
        for m in memories:
            conn.execute(
                "INSERT INTO memory (id, user_id, type, content, updated_at, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (m["id"], m["user_id"], "context", m["content"], m["created_at"], m["created_at"]),
            )


@contextmanager
def serve_openwebui(data: OpenWebUIData) -> Iterator[str]:
    class Handler(JsonHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            data.requests.append(url.path)
            if url.path == "/api/version":
                return self.reply(200, {"version": "0.12.4", "deployment_id": "test"})
            if self.headers.get("Authorization") != f"Bearer {ADMIN_KEY}":
                return self.reply(401, {"detail": "Your session has expired or the token is invalid."})
            if url.path == "/api/v1/users/all":
                users = [{"role": "user", "bio": None, "groups": [], **u} for u in data.users]
                return self.reply(200, {"users": users, "total": len(users)})
            listed = re.fullmatch(r"/api/v1/chats/list/user/([^/]+)", url.path)
            if listed:
                page = int(parse_qs(url.query).get("page", ["1"])[0])
                own = sorted(
                    (c for c in data.chats if c["user_id"] == listed.group(1)),
                    key=lambda c: c["updated_at"],
                    reverse=True,
                )
                rows = [
                    {
                        "id": c["id"],
                        "title": c["title"],
                        "updated_at": c["updated_at"],
                        "created_at": c["created_at"],
                    }
                    for c in own[(page - 1) * PAGE : page * PAGE]
                ]
                return self.reply(200, rows)
            one = re.fullmatch(r"/api/v1/chats/([^/]+)", url.path)
            if one:
                found = next((c for c in data.chats if c["id"] == one.group(1)), None)
                if found is None:
                    return self.reply(401, {"detail": "We could not find what you're looking for :/"})
                return self.reply(200, found)
            if url.path == "/api/models":
                return self.reply(200, {"data": data.models})
            if url.path == "/api/v1/functions/":
                installed = (
                    [] if data.filter_valves is None else [{"id": "memplane_memory", "type": "filter"}]
                )
                return self.reply(200, installed)
            valves = re.fullmatch(r"/api/v1/functions/id/([^/]+)/valves", url.path)
            if valves:
                if data.filter_valves is None:  # as Open WebUI answers for a function it does not have
                    return self.reply(401, {"detail": "We could not find what you're looking for :/"})
                return self.reply(200, data.filter_valves)
            if url.path == "/api/v1/utils/db/download":
                with tempfile.TemporaryDirectory() as tmp:
                    path = Path(tmp) / "webui.db"
                    _database(data.memories, path)
                    body = path.read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return None
            return self.reply(404, {"detail": "Not Found"})

    server = StubServer(Handler).start()
    try:
        yield server.url
    finally:
        server.stop()
