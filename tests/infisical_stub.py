"""A local server speaking Infisical's two endpoints with the JSON shapes the real API returns."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.http_stub import JsonHandler, StubServer

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


class InfisicalStub(StubServer):
    def __init__(self) -> None:
        self.behaviour = Behaviour()
        stub = self

        class Handler(JsonHandler):
            def do_POST(self) -> None:
                body = self.read_json()
                if not stub._gate(self, "POST"):
                    return
                if self.path != "/api/v1/auth/universal-auth/login":
                    return self.reply(404, {"message": "Not found"})
                if (body.get("clientId"), body.get("clientSecret")) != (CLIENT_ID, CLIENT_SECRET):
                    return self.reply(
                        401,
                        {"statusCode": 401, "message": "Invalid credentials", "error": "UnauthorizedError"},
                    )
                self.reply(
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
                    return self.reply(404, {"message": "Not found"})
                if self.headers.get("authorization") != f"Bearer {TOKEN}":
                    return self.reply(401, {"statusCode": 401, "message": "Invalid token"})
                if query.get("workspaceId") != [PROJECT_ID] or query.get("environment") != ["prod"]:
                    return self.reply(404, {"statusCode": 404, "message": "Folder not found"})
                items = [secret(k, v, i) for i, (k, v) in enumerate(stub.behaviour.secrets.items())]
                self.reply(200, {"secrets": items, "imports": []})

        super().__init__(Handler)

    def _gate(self, handler: JsonHandler, method: str) -> bool:
        self.behaviour.requests.append((method, handler.path))
        if self.behaviour.delay_s:
            time.sleep(self.behaviour.delay_s)
        if self.behaviour.status != 200:
            handler.reply(self.behaviour.status, {"statusCode": self.behaviour.status, "message": "down"})
            return False
        return True

    def start(self) -> InfisicalStub:
        super().start()
        return self
