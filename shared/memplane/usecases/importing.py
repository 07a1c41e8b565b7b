"""Import from Open WebUI: what its users saved in its built-in memory and, on request, their past chats.

Everything goes through writeback, as a live chat's turn does: each message keeps its id, chat and
original time, facts are extracted as usual, and the writeback ledger knows every message, so running
the import again (after an interruption, or to catch up) adds nothing already there. The client id of
every exchange is the owner of the chat it came from, never the user being listed, and a message
written by someone else (a chat shared to continue) is never imported as the owner's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from memplane.contracts import MessageIn, ProfileIn, WritebackRequest, WritebackResponse
from memplane.model import PastChat, PastUser, SavedMemory
from memplane.ports import ChatSource

# Messages sent with each exchange, as the filter sends them (its max_history valve).
HISTORY = 20


@dataclass(frozen=True)
class ImportChoice:
    users: frozenset[str] = frozenset()  # ids or emails; empty: every user
    since: datetime | None = None
    until: datetime | None = None
    chats: bool = False
    memories: bool = True
    dry_run: bool = False
    memory_database: str | None = None  # Open WebUI's own database, when its file cannot be downloaded
    filter_id: str = "memplane_memory"  # whose valves say which models feed memory


@dataclass(frozen=True)
class MemoryRules:
    """Which models' chats feed memory, and which keep a space of their own: the memplane filter's
    valves, applied to a past chat as the filter applies them to a live turn (its defaults when it is
    not installed yet: then chats with models on external connections are left out)."""

    valves: dict[str, Any]
    models: dict[str, dict[str, Any]]

    def _ids(self, name: str) -> set[str]:
        return {p.strip() for p in str(self.valves.get(name) or "").split(",") if p.strip()}

    def feeds(self, model_id: str | None) -> tuple[bool, str | None]:
        """Whether an answer of ``model_id`` is saved, and in which space."""
        if self.valves.get("enabled") is False or not model_id:
            return False, None
        model = self.models.get(model_id) or {}
        info: dict[str, Any] = model["info"] if isinstance(model.get("info"), dict) else {}
        order = [i for i in (model_id, info.get("base_model_id")) if isinstance(i, str) and i]
        ids = set(order)
        if ids & self._ids("denied_models") or ids & self._ids("recall_only_models"):
            return False, None
        allowed = self._ids("models")
        listed = ids & (allowed | self._ids("save_only_models"))
        if allowed and not listed:
            return False, None
        kind = model.get("connection_type")
        local = kind == "local" if kind is not None else model.get("owned_by") == "ollama"
        if not listed and not self.valves.get("external_models") and not local:
            return False, None
        spaces = self._ids("spaces")
        return True, next((i for i in order if i in spaces), None)


@dataclass
class Imported:
    """What one user's history held, and what of it memplane stored now (0 on a second run)."""

    memories: int = 0
    chats: int = 0
    exchanges: int = 0
    messages_stored: int = 0
    facts: int = 0
    not_theirs: int = 0  # messages by another user in a shared chat: never imported as this user's
    not_fed: int = 0  # answers of models that do not feed memory (the filter's valves)


@dataclass
class ImportReport:
    version: str
    users: dict[str, Imported] = field(default_factory=dict)


Write = Callable[[WritebackRequest], WritebackResponse]
Progress = Callable[[str, int, int], None]


def import_openwebui(
    source: ChatSource, choice: ImportChoice, write: Write, progress: Progress | None = None
) -> ImportReport:
    report = ImportReport(version=source.version())
    rules = MemoryRules(source.memory_valves(choice.filter_id), source.models() if choice.chats else {})
    users = [u for u in source.users() if not choice.users or {u.id, u.email} & choice.users]
    saved: dict[str, list[SavedMemory]] = {}
    if choice.memories:
        for memory in source.saved_memories(choice.memory_database):
            if _within(choice, memory.created_at):
                saved.setdefault(memory.user_id, []).append(memory)
    for done, user in enumerate(users, 1):
        counts = report.users.setdefault(user.id, Imported())
        for memory in saved.get(user.id, []):
            counts.memories += 1
            _store(write, _remembered(user, memory), counts, choice)
        if choice.chats:
            for chat in _chats(source, user, choice):
                counts.chats += 1
                for request in _exchanges(user, chat, choice, rules, counts):
                    counts.exchanges += 1
                    _store(write, request, counts, choice)
        if progress is not None:
            progress("importing", done, len(users))
    return report


def _store(write: Write, request: WritebackRequest, counts: Imported, choice: ImportChoice) -> None:
    if choice.dry_run:
        return
    written = write(request)
    counts.messages_stored += written.chunks_written
    counts.facts += written.facts_upserted


def _within(choice: ImportChoice, epoch: float | None) -> bool:
    if epoch is None:
        return choice.since is None and choice.until is None
    when = datetime.fromtimestamp(epoch, UTC)
    return (choice.since is None or when >= choice.since) and (choice.until is None or when < choice.until)


def _chats(source: ChatSource, user: PastUser, choice: ImportChoice) -> Iterator[PastChat]:
    for chat_id, updated_at in source.chat_ids(user.id):
        if choice.since is not None and updated_at and datetime.fromtimestamp(updated_at, UTC) < choice.since:
            return  # newest first: every later chat is older still
        chat = source.chat(chat_id)
        if chat.user_id == user.id:  # an admin's listing is by owner; a chat is only ever its owner's
            yield chat


def _remembered(user: PastUser, memory: SavedMemory) -> WritebackRequest:
    """A memory the user saved, as the Tool's ``remember`` stores one: their words, dated when saved."""
    when = datetime.fromtimestamp(memory.created_at, UTC) if memory.created_at else None
    said = MessageIn(
        role="user",
        id=f"owui-memory-{memory.id}",
        content=f"Please remember that {memory.content}",
        timestamp=when,
    )
    return WritebackRequest(
        client_id=user.id,
        conversation=[said],
        response="I will remember that.",
        message_id=f"owui-memory-{memory.id}-noted",
        timestamp=when,
        profile=_profile(user),
    )


@dataclass(frozen=True)
class _Said:
    role: str
    id: str
    text: str
    when: datetime | None
    theirs: bool  # written by the chat's owner (or by the model)


def _exchanges(
    user: PastUser, chat: PastChat, choice: ImportChoice, rules: MemoryRules, counts: Imported
) -> Iterator[WritebackRequest]:
    """Each answer of the chat with the messages before it, as the filter's outlet sends a turn."""
    kept: list[_Said] = []
    for message in chat.messages:
        theirs = message.role != "user" or message.author_id in (None, chat.user_id)
        counts.not_theirs += 0 if theirs else 1
        when = datetime.fromtimestamp(message.timestamp, UTC) if message.timestamp else None
        now = _Said(message.role, message.id, said(message.content) if theirs else "", when, theirs)
        answers = bool(kept) and kept[-1].role == "user" and bool(kept[-1].text)
        feeds, space = rules.feeds(message.model) if now.role == "assistant" else (False, None)
        counts.not_fed += 1 if now.role == "assistant" and now.text and answers and not feeds else 0
        if feeds and now.text and answers and _within(choice, message.timestamp):
            yield WritebackRequest(
                client_id=chat.user_id,
                space=space,
                chat_id=chat.id,
                conversation=[_said_in(s) for s in kept[-HISTORY:] if s.text],
                response=now.text,
                message_id=now.id,
                timestamp=now.when,
                profile=_profile(user),
            )
        kept.append(now)


def _said_in(s: _Said) -> MessageIn:
    role = "assistant" if s.role == "assistant" else "user"
    return MessageIn(role=role, id=s.id, content=s.text, timestamp=s.when)


def _profile(user: PastUser) -> ProfileIn:
    return ProfileIn(full_name=user.name or None, email=user.email or None)


# What Open WebUI writes into an answer besides the answer (a reasoning model's thinking, tool calls,
# code runs), as the filter leaves it out of live turns: none of it was said.
_TAG = re.compile(r"<(/?)(details|think|thinking|reasoning)\b([^<>]{0,500})>", re.I)
_NOT_SAID = re.compile(r"\btype\s*=\s*[\"']?(?:reasoning|code_interpreter|tool_calls)\b", re.I)
_PLACEHOLDERS = {"image_url": "[image]", "input_audio": "[audio]", "file": "[file]"}


def said(content: object) -> str:
    """A stored message's words: text parts and placeholders, without reasoning or tool blocks."""
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text":
                parts.append(str(part.get("text", "")))
            elif isinstance(part, dict) and part.get("type") in _PLACEHOLDERS:
                parts.append(_PLACEHOLDERS[str(part["type"])])
        content = "\n".join(p for p in parts if p)
    if not isinstance(content, str):
        return ""
    out: list[str] = []
    last, inside, depth = 0, None, 0
    for tag in _TAG.finditer(content):
        closing, name = tag.group(1) == "/", tag.group(2).lower()
        if inside is None:
            if not closing and (name != "details" or _NOT_SAID.search(tag.group(3))):
                out.append(content[last : tag.start()])
                inside, depth = name, 1
        elif name == inside:
            depth += -1 if closing else 1
            if depth == 0:
                inside, last = None, tag.end()
    if inside is None:
        out.append(content[last:])
    return "".join(out).strip()
