"""A local server speaking Infisical's two endpoints with the JSON shapes the real API returns."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

CLIENT_ID = "a6c8f0e2-uid"
CLIENT_SECRET = "infisical-client-secret-value-1"
PROJECT_ID = "6f1d2c3b4a5e"
TOKEN = "eyJ-access-token-value"


def secret(key: str, value: str, n: int = 1) -> dict[str, Any]:
    return {
        "id": f"id-{n}",
        "_id": f"id-{n}",
        "workspace": PROJECT_ID,
        "environment": "prod",
        "version": 1,
        "type": "shared",
        "secretKey": key,
        "secretValue": value,
        "secretComment": "",
        "createdAt": "2026-11-01T10:00:00.000Z",
        "updatedAt": "2026-11-01T10:00:00.000Z",
    }


@dataclass
class Behaviour:
    secrets: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    status: int = 200  # forced status for every request, when not 200
    requests: list[tuple[str, str]] = field(default_factory=list)


class InfisicalStub:
    def __init__(self) -> None:
        self.behaviour = Behaviour()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
                if not stub._gate(self, "POST"):
                    return
                if self.path != "/api/v1/auth/universal-auth/login":
                    return self._reply(404, {"message": "Not found"})
                if (body.get("clientId"), body.get("clientSecret")) != (CLIENT_ID, CLIENT_SECRET):
                    return self._reply(
                        401,
                        {"statusCode": 401, "message": "Invalid credentials", "error": "UnauthorizedError"},
                    )
                self._reply(
                    200,
                    {
                        "accessToken": TOKEN,
                        "expiresIn": 7200,
                        "accessTokenMaxTTL": 43200,
                        "tokenType": "Bearer",
                    },
                )

            def do_GET(self) -> None:
                if not stub._gate(self, "GET"):
                    return
                url = urlparse(self.path)
                query = parse_qs(url.query)
                if url.path != "/api/v3/secrets/raw":
                    return self._reply(404, {"message": "Not found"})
                if self.headers.get("authorization") != f"Bearer {TOKEN}":
                    return self._reply(401, {"statusCode": 401, "message": "Invalid token"})
                if query.get("workspaceId") != [PROJECT_ID] or query.get("environment") != ["prod"]:
                    return self._reply(404, {"statusCode": 404, "message": "Folder not found"})
                items = [secret(k, v, i) for i, (k, v) in enumerate(stub.behaviour.secrets.items())]
                self._reply(200, {"secrets": items, "imports": []})

            def _reply(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _gate(self, handler: Any, method: str) -> bool:
        self.behaviour.requests.append((method, handler.path))
        if self.behaviour.delay_s:
            time.sleep(self.behaviour.delay_s)
        if self.behaviour.status != 200:
            handler._reply(self.behaviour.status, {"statusCode": self.behaviour.status, "message": "down"})
            return False
        return True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> InfisicalStub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
