"""
title: memplane memory tools
author: memplane
version: 0.4.0
license: Apache-2.0
requirements: httpx
description: The assistant can say what it remembers about you, remember on purpose, and forget.
"""

from __future__ import annotations

import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

import httpx
from pydantic import BaseModel, Field

log = logging.getLogger("memplane.openwebui.tool")
# Sent with every call, so memplane can say when this file is older than the server (keep in step with
# the version above).
CLIENT = "openwebui-tool/0.4.0"

# Every call is about the Open WebUI user who is chatting: the client id comes from __user__, never
# from the model's arguments, so no prompt can reach another person's memory.


_SECRET = {"input": {"type": "password"}}  # Open WebUI shows the valve as a password field


class Tools:
    class Valves(BaseModel):
        writeback_url: str = Field("http://127.0.0.1:8080/writeback", description="memplane writeback URL.")
        cleanup_url: str = Field(
            "http://127.0.0.1:8080/cleanup", description="memplane cleanup URL (forget and export)."
        )
        api_token: str = Field(
            "", description="MEMPLANE_API_TOKEN, sent as a bearer token.", json_schema_extra=_SECRET
        )
        whisk_secret: str = Field(
            "",
            description="DigitalOcean webSecure secret (MEMPLANE_WEB_SECRET), sent as X-Require-Whisk-Auth.",
            json_schema_extra=_SECRET,
        )
        timeout: float = Field(10.0, description="Seconds to wait for memplane.")
        filter_id: str = Field(
            "memplane_memory",
            description="The id of the memplane filter in Open WebUI (Admin Panel > Functions): the Tool "
            "follows its switches, each user's opt-out and its memory spaces.",
        )

    def __init__(self) -> None:
        self.valves = self.Valves()

    async def what_do_you_remember(
        self, __user__: dict[str, Any] | None = None, __model__: dict[str, Any] | None = None
    ) -> str:
        """
        List what long-term memory holds about the user: profile, facts and recent conversations.
        Use it when the user asks what you remember or know about them.
        """
        user_id = _user_id(__user__)
        if user_id is None:
            return "I can't tell who you are, so I can't look up your memory."
        switches = await _switches(self.valves.filter_id, user_id, __model__)
        export = {"client_id": user_id, **switches.space}
        reply = await _call(self.valves, self.valves.cleanup_url, {"export": export})
        if reply.get("error", {}).get("code") == "client_not_found":
            return "I don't remember anything about you yet."
        if "error" in reply:
            return _failed(reply)
        return _summary(reply)

    async def remember(
        self,
        fact: str,
        __user__: dict[str, Any] | None = None,
        __metadata__: dict[str, Any] | None = None,
        __model__: dict[str, Any] | None = None,
    ) -> str:
        """
        Remember something about the user on purpose, for future chats.
        :param fact: What to remember, as one sentence in the user's words, e.g. "I am allergic to peanuts".
        """
        user_id = _user_id(__user__)
        if user_id is None or not isinstance(fact, str) or not fact.strip():
            return "Nothing was remembered: I need you to be signed in and to tell me what to remember."
        switches = await _switches(self.valves.filter_id, user_id, __model__)
        if not switches.remembers:
            return (
                "Nothing was remembered: memory is switched off for you "
                "(your Valves in the chat controls, or the administrator's)."
            )
        metadata = __metadata__ or {}
        payload = {
            "client_id": user_id,
            **switches.space,
            "chat_id": metadata.get("chat_id"),
            "conversation": [{"role": "user", "content": f"Please remember that {fact.strip()}"}],
            "response": "I will remember that.",
            "message_id": f"tool-remember-{uuid.uuid4().hex}",
        }
        reply = await _call(self.valves, self.valves.writeback_url, payload)
        if "error" in reply:
            return _failed(reply)
        return "Remembered."

    async def forget_fact(
        self,
        key: str,
        __user__: dict[str, Any] | None = None,
        __event_call__: Callable[[dict[str, Any]], Awaitable[Any]] | None = None,
        __model__: dict[str, Any] | None = None,
    ) -> str:
        """
        Forget one fact about the user, with its history. Call what_do_you_remember first to find its key.
        The user is asked to confirm in the chat window.
        :param key: The fact's key as listed by what_do_you_remember, e.g. "location" or "diet".
        """
        if not isinstance(key, str) or not key.strip():
            return "Nothing was forgotten: name the fact's key, as what_do_you_remember lists it."
        switches = await _switches(self.valves.filter_id, _user_id(__user__) or "", __model__)
        question = f'Forget what memory holds under "{key.strip()}", with its history?'
        scope = {"fact_key": key.strip(), **switches.space}
        return await _forget(self.valves, __user__, __event_call__, question, scope)

    async def forget_this_chat(
        self,
        __user__: dict[str, Any] | None = None,
        __metadata__: dict[str, Any] | None = None,
        __event_call__: Callable[[dict[str, Any]], Awaitable[Any]] | None = None,
    ) -> str:
        """
        Forget everything remembered from the current chat. The user is asked to confirm in the chat window.
        """
        chat_id = (__metadata__ or {}).get("chat_id")
        if not isinstance(chat_id, str) or not chat_id:
            return "I can't tell which chat this is, so nothing was forgotten."
        question = "Forget everything memory holds from this chat?"
        return await _forget(self.valves, __user__, __event_call__, question, {"chat_id": chat_id})

    async def forget_everything(
        self,
        __user__: dict[str, Any] | None = None,
        __event_call__: Callable[[dict[str, Any]], Awaitable[Any]] | None = None,
    ) -> str:
        """
        Erase all long-term memory about the user, when they ask for it. The user is asked to confirm
        in the chat window; nothing is erased without their click.
        """
        question = "Erase everything memory holds about you, in every chat? This cannot be undone."
        return await _forget(self.valves, __user__, __event_call__, question, {"everything": True})


# Helpers live outside Tools: Open WebUI offers every public-looking method of Tools to the model.
class _Switches(NamedTuple):
    remembers: bool  # neither the administrator nor the user switched memory off
    space: dict[str, str]  # {"space": model id} when the model keeps a memory of its own


async def _switches(filter_id: str, user_id: str, model: dict[str, Any] | None) -> _Switches:
    """The memplane filter's switches, read as Open WebUI stores them (its Functions table, valves
    decrypted): one opt-out and one list of spaces for the filter and the Tool alike. Outside Open
    WebUI, or with no such filter, nothing is switched off."""
    try:
        from open_webui.models.functions import Functions  # type: ignore[import-not-found]
    except ImportError:
        return _Switches(True, {})
    admin = await _maybe_await(Functions.get_function_valves_by_id(filter_id)) or {}
    mine = await _maybe_await(Functions.get_user_valves_by_id_and_user_id(filter_id, user_id)) or {}
    remembers = admin.get("enabled", True) is not False and mine.get("enabled", True) is not False
    spaces = {part.strip() for part in str(admin.get("spaces") or "").split(",") if part.strip()}
    model = model or {}
    info = model.get("info") if isinstance(model.get("info"), dict) else {}
    space = next((i for i in (model.get("id"), info.get("base_model_id")) if i in spaces), None)
    return _Switches(remembers, {"space": space} if isinstance(space, str) else {})


async def _maybe_await(value: Any) -> Any:
    # Open WebUI's model methods became coroutines in 0.6.3x; earlier ones return the value.
    return await value if inspect.isawaitable(value) else value


async def _forget(
    valves: Tools.Valves,
    user: dict[str, Any] | None,
    event_call: Callable[[dict[str, Any]], Awaitable[Any]] | None,
    question: str,
    scope: dict[str, Any],
) -> str:
    """Erase after the user, not the model, said yes: a model's argument can be written by a prompt
    injection in a pasted document; Open WebUI's confirmation dialog can only be answered by a click."""
    user_id = _user_id(user)
    if user_id is None:
        return "I can't tell who you are, so nothing was forgotten."
    if event_call is None:
        return "Nothing was forgotten: I can only forget after you confirm in the chat window."
    try:
        answer = await event_call(
            {"type": "confirmation", "data": {"title": "Forget memory", "message": question}}
        )
    except Exception as exc:  # noqa: BLE001 - a dialog that failed is a "no", whatever the reason
        log.warning("memplane: the confirmation dialog failed (%s)", type(exc).__name__)
        answer = None
    if answer is not True:  # Open WebUI answers a closed tab or a timeout with an error object
        return "Nothing was forgotten: you did not confirm."
    reply = await _call(valves, valves.cleanup_url, {"forget": {"client_id": user_id, **scope}})
    if "error" in reply:
        return _failed(reply)
    deleted = reply.get("deleted") or {}
    total = sum(v for k, v in deleted.items() if k not in ("postings", "keyword_terms", "keyword_totals"))
    return f"Forgotten ({total} records deleted)." if total else "There was nothing to forget."


async def _call(valves: Tools.Valves, url: str, payload: dict[str, Any]) -> dict[str, Any]:
    headers = {"X-Memplane-Client": CLIENT}
    if valves.api_token:
        headers["Authorization"] = f"Bearer {valves.api_token}"
    if valves.whisk_secret:
        headers["X-Require-Whisk-Auth"] = valves.whisk_secret
    try:
        async with httpx.AsyncClient(timeout=valves.timeout) as client:
            response = await client.post(url, json=payload, headers=headers)
        reply = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("memplane %s unavailable (%s)", url, type(exc).__name__)
        return {"error": {"code": "unavailable", "message": "memplane did not answer"}}
    if not isinstance(reply, dict):
        return {"error": {"code": "unexpected_reply", "message": "memplane's reply was not understood"}}
    return reply


def _user_id(user: dict[str, Any] | None) -> str | None:
    value = (user or {}).get("id")
    return value if isinstance(value, str) and value else None


def _failed(reply: dict[str, Any]) -> str:
    error = reply.get("error") or {}
    return (
        f"Memory is unavailable right now ({error.get('code', 'error')}): {error.get('message', '')}".strip()
    )


def _summary(reply: dict[str, Any]) -> str:
    lines = []
    profile = reply.get("profile") or {}
    if profile.get("full_name"):
        lines.append(f"Name on file: {profile['full_name']}")
    current = [f for f in reply.get("facts") or [] if not f.get("valid_to")]
    if current:
        lines.append("Facts (key: value):")
        lines += [f"- {f['key']}: {f['value']}" for f in current]
    episodes = sorted(reply.get("episodes") or [], key=lambda e: str(e.get("created_at")), reverse=True)
    if episodes:
        lines.append("Recent conversations:")
        lines += [f"- {e['summary']}" for e in episodes[:5]]
    chunks = len(reply.get("chunks") or [])
    more = " (and more)" if reply.get("next_cursor") else ""
    lines.append(f"Messages remembered: {chunks}{more}.")
    if reply.get("spaces"):
        lines.append(f"Models with a memory of their own: {', '.join(map(str, reply['spaces']))}.")
    return "\n".join(lines)
