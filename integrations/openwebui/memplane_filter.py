"""
title: memplane memory
author: memplane
version: 0.3.0
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
# Sent with every call, so memplane can say when this file is older than the server (keep in step with
# the version above).
CLIENT = "openwebui-filter/0.3.0"

# The block assemble returns is fenced by these tags (with a nonce since memplane 0.3.0); an earlier
# turn's block is replaced, not repeated.
_BLOCK_OPEN = re.compile(r"<memplane-memory(-[0-9a-f]{1,64})?>")
_REMEMBERED = ("user", "assistant")
# What Open WebUI writes into an answer besides the answer: a reasoning model's thinking, tool calls
# and code runs, each in a <details type="..."> block (and raw <think> tags from some models). None of
# it is what the user and the assistant said to each other, so none of it becomes memory.
# Both are scanned tag by tag, each tag bounded, in time linear in the text: Open WebUI runs filters on
# its event loop, and a chat carries its reasoning on every later turn.
_TAG = re.compile(r"<(/?)(details|think|thinking|reasoning)\b([^<>]{0,500})>", re.I)
_NOT_SAID_DETAILS = re.compile(r"\btype\s*=\s*[\"']?(?:reasoning|code_interpreter|tool_calls)\b", re.I)
# Parts of a multi-part message that are not text: kept as a word, so the memory reads naturally,
# never as their (base64) content.
_PLACEHOLDERS = {"image_url": "[image]", "input_audio": "[audio]", "file": "[file]"}


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
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

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
        context = reply.get("context") if reply is not None else None
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
            "response": _said(answer.get("content")),
            "message_id": answer.get("id"),
            "profile": _profile(__user__),
        }
        if _is_time(answer.get("timestamp")):
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

    def _http(self) -> httpx.AsyncClient:
        """One client for every call: a connection set up once serves later turns (Open WebUI runs one
        event loop; a client is only ever used on the loop that made it)."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop or self._client.is_closed:
            self._client = httpx.AsyncClient()
            self._loop = loop
        return self._client

    async def _post(self, url: str, payload: dict[str, Any], timeout: float) -> dict[str, Any] | None:
        """POST within ``timeout`` seconds overall; any failure is logged and answered with None."""
        headers = {"X-Memplane-Client": CLIENT}
        if self.valves.api_token:
            headers["Authorization"] = f"Bearer {self.valves.api_token}"
        if self.valves.whisk_secret:
            headers["X-Require-Whisk-Auth"] = self.valves.whisk_secret
        try:
            request = self._http().post(url, json=payload, headers=headers, timeout=timeout)
            response = await asyncio.wait_for(request, timeout)
            if response.status_code >= 400:
                log.warning("memplane %s answered %s: %s", url, response.status_code, response.text[:300])
                return None
            reply = response.json()
        except (TimeoutError, httpx.HTTPError, ValueError) as exc:
            log.warning(
                "memplane %s unavailable (%s); the chat goes on without memory", url, type(exc).__name__
            )
            return None
        if not isinstance(reply, dict):
            log.warning("memplane %s answered something other than a JSON object; ignored", url)
            return None
        for warning in reply.get("warnings") or []:
            if isinstance(warning, dict) and warning.get("code") == "client_outdated":
                log.warning("memplane: %s", warning.get("message"))
        return reply


def _last_text(messages: list[dict[str, Any]], role: str) -> str:
    for message in reversed(messages):
        if message.get("role") == role:
            return _text(message.get("content"))
    return ""


def _text(content: Any) -> str:
    """A message's words: its text, or the text parts of a multi-part message."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def _said(content: Any) -> str:
    """What a message said, as memory should keep it: text parts, a placeholder for an image or a
    file, and no reasoning or tool blocks."""
    if isinstance(content, list):
        parts = []
        for part in content:
            if not isinstance(part, dict):
                continue
            if part.get("type") == "text":
                parts.append(str(part.get("text", "")))
            elif part.get("type") in _PLACEHOLDERS:
                parts.append(_PLACEHOLDERS[str(part["type"])])
        content = "\n".join(p for p in parts if p)
    if not isinstance(content, str):
        return ""
    return _without_unsaid(content).strip()


def _without_unsaid(text: str) -> str:
    """The text without its reasoning, tool-call and code blocks (nested ones included; one left open
    runs to the end)."""
    out: list[str] = []
    last = 0
    inside: str | None = None  # the tag name of the block being dropped
    depth = 0
    for tag in _TAG.finditer(text):
        closing, name = tag.group(1) == "/", tag.group(2).lower()
        if inside is None:
            if not closing and (name != "details" or _NOT_SAID_DETAILS.search(tag.group(3))):
                out.append(text[last : tag.start()])
                inside, depth = name, 1
        elif name == inside:
            depth += -1 if closing else 1
            if depth == 0:
                inside, last = None, tag.end()
    if inside is None:
        out.append(text[last:])
    return "".join(out)


def _without_memory(text: str) -> str:
    """The text without memory blocks that assemble handed out, and the blank space before each."""
    out: list[str] = []
    last = 0
    while (opening := _BLOCK_OPEN.search(text, last)) is not None:
        tag = f"</memplane-memory{opening.group(1) or ''}>"
        closing = text.find(tag, opening.end())
        if closing < 0:
            break  # no end: not a block memplane wrote
        out.append(text[last : opening.start()].rstrip())
        last = closing + len(tag)
    out.append(text[last:])
    return "".join(out)


def _message(message: dict[str, Any]) -> dict[str, Any]:
    out = {"role": message["role"], "content": _said(message.get("content"))}
    if message.get("id"):
        out["id"] = message["id"]
    if _is_time(message.get("timestamp")):
        # When it was said: memplane never stores again a message said before a forget.
        out["timestamp"] = datetime.fromtimestamp(message["timestamp"], UTC).isoformat()
    return out


def _is_time(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1e11


def _profile(user: dict[str, Any]) -> dict[str, Any]:
    return {key: user[src] for key, src in (("full_name", "name"), ("email", "email")) if user.get(src)}


def _with_memory(messages: list[dict[str, Any]], context: str) -> list[dict[str, Any]]:
    """The memory block in the system message: replacing an earlier one, or in a new system message.

    A system message may be a string or a list of parts; in a list, the block is a text part of its own.
    """
    for i, message in enumerate(messages):
        if message.get("role") != "system":
            continue
        content = message.get("content")
        if isinstance(content, str):
            kept = _without_memory(content).rstrip()
            updated = {**message, "content": f"{kept}\n\n{context}" if kept else context}
        elif isinstance(content, list):
            parts = []
            for part in content:
                if isinstance(part, dict) and part.get("type") == "text":
                    text = _without_memory(str(part.get("text", ""))).strip()
                    if not text:
                        continue  # a part that held only last turn's block
                    part = {**part, "text": text}
                parts.append(part)
            updated = {**message, "content": [*parts, {"type": "text", "text": context}]}
        else:
            continue
        return [*messages[:i], updated, *messages[i + 1 :]]
    return [{"role": "system", "content": context}, *messages]
