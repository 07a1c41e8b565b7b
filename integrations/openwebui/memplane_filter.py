"""
title: memplane memory
author: memplane
version: 0.1.0
license: Apache-2.0
requirements: httpx
description: Long-term memory across chats, from a memplane service; chats never wait on it past a timeout.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import BaseModel, Field

log = logging.getLogger("memplane.openwebui")

# The block assemble returns is fenced by these tags; an earlier turn's block is replaced, not repeated.
_MEMORY_BLOCK = re.compile(r"\s*<memplane-memory>.*?</memplane-memory>", re.S)
_REMEMBERED = ("user", "assistant")


class Filter:
    class Valves(BaseModel):
        priority: int = Field(0, description="Order among filters (lower runs first).")
        enabled: bool = Field(True, description="Switch memory on or off for everyone.")
        assemble_url: str = Field("http://127.0.0.1:8080/assemble", description="memplane assemble URL.")
        writeback_url: str = Field("http://127.0.0.1:8080/writeback", description="memplane writeback URL.")
        api_token: str = Field("", description="MEMPLANE_API_TOKEN, sent as a bearer token.")
        whisk_secret: str = Field(
            "",
            description="DigitalOcean webSecure secret (MEMPLANE_WEB_SECRET), sent as X-Require-Whisk-Auth.",
        )
        assemble_timeout: float = Field(
            2.0, description="Seconds to wait for memory before answering without it."
        )
        writeback_timeout: float = Field(5.0, description="Seconds to wait while saving an exchange.")
        limit: int = Field(8, description="How many past messages to recall.")
        max_history: int = Field(
            20, description="Messages sent with each exchange; older ones were saved on earlier turns."
        )

    class UserValves(BaseModel):
        enabled: bool = Field(True, description="Remember my chats.")

    def __init__(self) -> None:
        self.valves = self.Valves()

    async def inlet(
        self,
        body: dict[str, Any],
        __user__: dict[str, Any] | None = None,
        __metadata__: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        messages = body.get("messages") or []
        query = _last_text(messages, "user")
        if not self._active(__user__) or not query:
            return body
        payload = {
            "client_id": __user__["id"],
            "query": query,
            "limit": self.valves.limit,
            "profile": _profile(__user__),
        }
        reply = await self._post(self.valves.assemble_url, payload, self.valves.assemble_timeout)
        context = (reply or {}).get("context")
        if isinstance(context, str) and context:
            body["messages"] = _with_memory(messages, context)
        return body

    async def outlet(self, body: dict[str, Any], __user__: dict[str, Any] | None = None) -> dict[str, Any]:
        messages = [m for m in body.get("messages") or [] if m.get("role") in _REMEMBERED]
        if not self._active(__user__) or not messages or messages[-1].get("role") != "assistant":
            return body
        *history, answer = messages[-(self.valves.max_history + 1) :]
        payload: dict[str, Any] = {
            "client_id": __user__["id"],
            "chat_id": body.get("chat_id"),
            "conversation": [_message(m) for m in history],
            "response": answer.get("content") or "",
            "message_id": answer.get("id"),
            "profile": _profile(__user__),
        }
        if isinstance(answer.get("timestamp"), int | float):
            payload["timestamp"] = datetime.fromtimestamp(answer["timestamp"], UTC).isoformat()
        if payload["response"]:
            await self._post(self.valves.writeback_url, payload, self.valves.writeback_timeout)
        return body

    def _active(self, user: dict[str, Any] | None) -> bool:
        if not self.valves.enabled or not user or not user.get("id"):
            return False
        user_valves = user.get("valves")
        if isinstance(user_valves, dict):
            return bool(user_valves.get("enabled", True))
        return bool(getattr(user_valves, "enabled", True))

    async def _post(self, url: str, payload: dict[str, Any], timeout: float) -> dict[str, Any] | None:
        """POST within ``timeout`` seconds overall; any failure is logged and answered with None."""
        headers = {}
        if self.valves.api_token:
            headers["Authorization"] = f"Bearer {self.valves.api_token}"
        if self.valves.whisk_secret:
            headers["X-Require-Whisk-Auth"] = self.valves.whisk_secret
        try:
            async with httpx.AsyncClient(timeout=timeout) as client:
                response = await asyncio.wait_for(client.post(url, json=payload, headers=headers), timeout)
            if response.status_code >= 400:
                log.warning("memplane %s answered %s: %s", url, response.status_code, response.text[:300])
                return None
            reply: dict[str, Any] = response.json()
            return reply
        except (TimeoutError, httpx.HTTPError, ValueError) as exc:
            log.warning(
                "memplane %s unavailable (%s); the chat goes on without memory", url, type(exc).__name__
            )
            return None


def _last_text(messages: list[dict[str, Any]], role: str) -> str:
    for message in reversed(messages):
        if message.get("role") == role:
            return _text(message.get("content"))
    return ""


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def _message(message: dict[str, Any]) -> dict[str, Any]:
    out = {"role": message["role"], "content": message.get("content") or ""}
    if message.get("id"):
        out["id"] = message["id"]
    return out


def _profile(user: dict[str, Any]) -> dict[str, Any]:
    return {key: user[src] for key, src in (("full_name", "name"), ("email", "email")) if user.get(src)}


def _with_memory(messages: list[dict[str, Any]], context: str) -> list[dict[str, Any]]:
    """The memory block in the system message: replacing an earlier one, or in a new system message."""
    for i, message in enumerate(messages):
        if message.get("role") == "system" and isinstance(message.get("content"), str):
            kept = _MEMORY_BLOCK.sub("", message["content"]).rstrip()
            updated = {**message, "content": f"{kept}\n\n{context}" if kept else context}
            return [*messages[:i], updated, *messages[i + 1 :]]
    return [{"role": "system", "content": context}, *messages]
