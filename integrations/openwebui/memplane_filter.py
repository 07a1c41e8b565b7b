"""
title: memplane memory
author: memplane
version: 0.5.0
license: Apache-2.0
requirements: httpx
description: Long-term memory across chats, from a memplane service; chats never wait on it past a timeout.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple

import httpx
from pydantic import BaseModel, Field

log = logging.getLogger("memplane.openwebui")
# Sent with every call, so memplane can say when this file is older than the server (keep in step with
# the version above).
CLIENT = "openwebui-filter/0.5.0"

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


_SECRET = {"input": {"type": "password"}}  # Open WebUI shows the valve as a password field


class Filter:
    class Valves(BaseModel):
        priority: int = Field(0, description="Order among filters (lower runs first).")
        enabled: bool = Field(True, description="Switch memory on or off for everyone.")
        assemble_url: str = Field("http://127.0.0.1:8080/assemble", description="memplane assemble URL.")
        writeback_url: str = Field("http://127.0.0.1:8080/writeback", description="memplane writeback URL.")
        api_token: str = Field(
            "", description="MEMPLANE_API_TOKEN, sent as a bearer token.", json_schema_extra=_SECRET
        )
        whisk_secret: str = Field(
            "",
            description="DigitalOcean webSecure secret (MEMPLANE_WEB_SECRET), sent as X-Require-Whisk-Auth.",
            json_schema_extra=_SECRET,
        )
        assemble_timeout: float = Field(
            2.0, description="Seconds to wait for memory before answering without it."
        )
        writeback_timeout: float = Field(5.0, description="Seconds to wait while saving an exchange.")
        limit: int = Field(8, description="How many past messages to recall.")
        max_history: int = Field(
            20, description="Messages sent with each exchange; older ones were saved on earlier turns."
        )
        models: str = Field(
            "",
            description="Models that use memory (ids, comma-separated); empty: every model. A custom model "
            "also matches its base model's id.",
        )
        denied_models: str = Field("", description="Models that never see memory nor feed it (ids).")
        recall_only_models: str = Field(
            "", description="Models that see memory but whose chats are not saved (ids)."
        )
        save_only_models: str = Field(
            "", description="Models whose chats are saved but that never see memory (ids)."
        )
        external_models: bool = Field(
            False,
            description="Let models on external connections (OpenAI, OpenRouter, any connection not marked "
            "local) use memory without being listed by id. Off: they use it only when listed.",
        )
        spaces: str = Field(
            "",
            description="Models that keep a memory of their own (ids): they recall and save only in their "
            "own space, apart from every other model.",
        )
        keep_builtin_memory: bool = Field(
            False,
            description="Leave Open WebUI's own memory on in chats where memplane remembers. Off: memplane "
            "switches it off for those chats, so that one memory answers.",
        )
        show_status: bool = Field(True, description="Show when memory is recalled and saved.")
        citations: bool = Field(True, description="Show the memories an answer was given as citations.")

    class UserValves(BaseModel):
        enabled: bool = Field(True, description="Remember my chats.")
        show_status: bool = Field(True, description="Show when memory is recalled and saved.")
        models: str = Field(
            "", description="Only these models use my memory (ids); empty: every model allowed to."
        )

    def __init__(self) -> None:
        self.valves = self.Valves()
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Where each user's last saved exchange ends in memplane's database log, when memplane reads a
        # read-only node: the next recall waits for the node to hold it (or asks the primary).
        self._read_after: dict[tuple[str, str | None], str] = {}

    async def inlet(
        self,
        body: dict[str, Any],
        __user__: dict[str, Any] | None = None,
        __metadata__: dict[str, Any] | None = None,
        __model__: dict[str, Any] | None = None,
        __event_emitter__: Emitter | None = None,
    ) -> dict[str, Any]:
        messages = body.get("messages") or []
        query = _last_text(messages, "user")
        use = self._use(__user__, __model__, body)
        if use.recall or use.save:
            self._one_memory(body, __model__)
        if not use.recall or __user__ is None or not query:
            return body
        status = _Status(__event_emitter__ if self._shows_status(__user__) else None)
        await status("Recalling memories…", done=False)
        payload = {
            "client_id": __user__["id"],
            "query": query,
            "limit": self.valves.limit,
            "profile": _profile(__user__),
            **({"space": use.space} if use.space else {}),
        }
        if read_after := self._read_after.get((__user__["id"], use.space)):
            payload["read_after"] = read_after
        reply = await self._post(self.valves.assemble_url, payload, self.valves.assemble_timeout)
        if reply is None:
            await status("Memory is unavailable; answering without it")
            return body
        context = reply.get("context")
        if not isinstance(context, str) or not context:
            await status("Nothing in memory for this message")
            return body
        body["messages"] = _with_memory(messages, context)
        recalled = _recalled(reply, context)
        await status(f"Recalled {_count(len(recalled), 'memory', 'memories')}")
        if self.valves.citations and __event_emitter__ is not None:
            for source in recalled:
                await _emit(__event_emitter__, {"type": "source", "data": source})
        return body

    async def outlet(
        self,
        body: dict[str, Any],
        __user__: dict[str, Any] | None = None,
        __model__: dict[str, Any] | None = None,
        __event_emitter__: Emitter | None = None,
    ) -> dict[str, Any]:
        messages = [m for m in body.get("messages") or [] if m.get("role") in _REMEMBERED]
        use = self._use(__user__, __model__, body)
        if not use.save or __user__ is None or not messages or messages[-1].get("role") != "assistant":
            return body
        *history, answer = messages[-(self.valves.max_history + 1) :]
        payload: dict[str, Any] = {
            "client_id": __user__["id"],
            "chat_id": body.get("chat_id"),
            "conversation": [_message(m) for m in history],
            "response": _said(answer.get("content")),
            "message_id": answer.get("id"),
            "profile": _profile(__user__),
            **({"space": use.space} if use.space else {}),
        }
        if _is_time(answer.get("timestamp")):
            payload["timestamp"] = datetime.fromtimestamp(answer["timestamp"], UTC).isoformat()
        if not payload["response"]:
            return body
        reply = await self._post(self.valves.writeback_url, payload, self.valves.writeback_timeout)
        status = _Status(__event_emitter__ if self._shows_status(__user__) else None)
        if reply is None:
            await status("Memory is unavailable; this exchange was not saved")
        else:
            if isinstance(reply.get("read_after"), str):
                self._read_after[(__user__["id"], use.space)] = reply["read_after"]
            await status(_saved(reply))
        return body

    def _use(self, user: dict[str, Any] | None, model: dict[str, Any] | None, body: dict[str, Any]) -> _Use:
        """Whether this user's chat with this model recalls memory, feeds it, and in which space."""
        if not self.valves.enabled or not user or not user.get("id"):
            return _NO_MEMORY
        if not _user_valve(user, "enabled", True):
            return _NO_MEMORY
        ids = _model_ids(model, body)
        if not ids or ids & _ids(self.valves.denied_models):
            return _NO_MEMORY
        chosen = _ids(str(_user_valve(user, "models", "") or ""))
        if chosen and not ids & chosen:
            return _NO_MEMORY
        recall_only, save_only = _ids(self.valves.recall_only_models), _ids(self.valves.save_only_models)
        allowed = _ids(self.valves.models)
        listed = ids & (allowed | recall_only | save_only)
        if allowed and not listed:
            return _NO_MEMORY
        if not listed and not self.valves.external_models and not _is_local(model):
            return _NO_MEMORY  # memories never leave for a cloud model unless the admin named it
        space = next((i for i in _model_order(model, body) if i in _ids(self.valves.spaces)), None)
        return _Use(recall=not ids & save_only, save=not ids & recall_only, space=space)

    def _one_memory(self, body: dict[str, Any], model: dict[str, Any] | None) -> None:
        """Open WebUI reads ``features`` after the inlet filters: switching its memory off here keeps its
        stored memories out of this request, and its memory tools and background review out of this chat.
        Done wherever memplane recalls or saves, so that one memory answers and one learns."""
        features = body.get("features")
        if not isinstance(features, dict) or not features.get("memory"):
            return
        name = (model or {}).get("id") or body.get("model")
        if self.valves.keep_builtin_memory:
            log.warning("memplane: Open WebUI's own memory is also on for %s; two memories answer", name)
            return
        features["memory"] = False
        log.info("memplane: switched Open WebUI's own memory off for this request (%s)", name)

    def _shows_status(self, user: dict[str, Any]) -> bool:
        return self.valves.show_status and bool(_user_valve(user, "show_status", True))

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


# Helpers live outside Filter, as in the Tool: Open WebUI looks up a filter's methods by name.
Emitter = Callable[[dict[str, Any]], Awaitable[Any]]


class _Use(NamedTuple):
    recall: bool
    save: bool
    space: str | None = None


_NO_MEMORY = _Use(recall=False, save=False)


class _Status:
    """Status lines under the answer, as Open WebUI renders them; none when the user hid them."""

    def __init__(self, emitter: Emitter | None) -> None:
        self._emitter = emitter

    async def __call__(self, description: str, done: bool = True) -> None:
        if self._emitter is not None:
            event = {"type": "status", "data": {"description": description, "done": done, "hidden": False}}
            await _emit(self._emitter, event)


async def _emit(emitter: Emitter, event: dict[str, Any]) -> None:
    try:
        await emitter(event)
    except Exception as exc:  # noqa: BLE001 - a closed tab must not fail the chat
        log.debug("memplane: an event could not be shown (%s)", type(exc).__name__)


def _user_valve(user: dict[str, Any], name: str, default: Any) -> Any:
    valves = user.get("valves")
    if isinstance(valves, dict):
        return valves.get(name, default)
    return getattr(valves, name, default)


def _ids(text: str) -> set[str]:
    return {part.strip() for part in text.split(",") if part.strip()}


def _model_order(model: dict[str, Any] | None, body: dict[str, Any]) -> list[str]:
    """The model's own id, then the base model a custom (workspace) model is built on."""
    model = model or {}
    info = model.get("info") if isinstance(model.get("info"), dict) else {}
    found = [model.get("id") or body.get("model"), info.get("base_model_id")]
    return [str(i) for i in found if isinstance(i, str) and i]


def _model_ids(model: dict[str, Any] | None, body: dict[str, Any]) -> set[str]:
    return set(_model_order(model, body))


def _is_local(model: dict[str, Any] | None) -> bool:
    """A model on a connection the admin marked local (Ollama's default), as Open WebUI lists it.
    Anything else, or nothing known, counts as external: memory must not leave by default."""
    model = model or {}
    kind = model.get("connection_type")
    if kind is not None:
        return kind == "local"
    return model.get("owned_by") == "ollama"


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _saved(reply: dict[str, Any]) -> str:
    facts = reply.get("facts_upserted") or 0
    if facts:
        return f"Saved to memory; {_count(int(facts), 'fact', 'facts')} learned"
    return "Saved to memory" if reply.get("chunks_written") else "Already in memory"


def _recalled(reply: dict[str, Any], context: str) -> list[dict[str, Any]]:
    """A citation for each fact and message assemble put into the context (those the token budget left
    out are not cited), with the date it was remembered, as Open WebUI's ``source`` events carry them."""
    said = " ".join(context.split())
    sources = []
    for fact in reply.get("facts") or []:
        key, value = str(fact.get("key", "")), str(fact.get("value", ""))
        if f"{key}: {' '.join(value.split())[:60]}" in said:
            sources.append(_source(f"Memory: {key}", value, fact.get("updated_at")))
    for chunk in reply.get("similar_chunks") or []:
        content = str(chunk.get("content", ""))
        if " ".join(content.split())[:60] in said:
            day = str(chunk.get("created_at") or "")[:10]
            sources.append(_source(f"Memory: {chunk.get('role', 'message')} on {day}", content, day))
    return sources


def _source(name: str, text: str, when: Any) -> dict[str, Any]:
    meta = {"source": name, "name": name}
    if isinstance(when, str) and when:
        meta["date_accessed"] = when  # when memplane learned it
    return {"source": {"name": name}, "document": [text], "metadata": [meta]}


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
