"""Reading what chat models really answer when asked for one JSON object.

OpenAI's JSON mode gives the object alone. Much of what OpenRouter serves does not: the object comes in
a ```json fence after a sentence, behind a reasoning model's <think> block (or after a bare </think>
when the provider strips the opening tag), or with a trailing comma. The object is looked for in that
order; near-misses are read by json5 (a maintained parser of the JSON5 superset: trailing commas,
single quotes, comments), never by home-made repair. Time is linear in the reply, which max_tokens
bounds anyway.
"""

from __future__ import annotations

import json
import re
from typing import Any

import json5

# A reply longer than this is not read for an object: extraction replies are a few hundred tokens.
_MAX_READ = 200_000
_FENCE = re.compile(r"```[ \t]*(?:json5?|JSON)?[ \t]*\n?(.*?)```", re.S)
_REASONING_CLOSE = re.compile(r"</(think|thinking|reasoning)>", re.I)
_REASONING_OPEN = re.compile(r"<(think|thinking|reasoning)>", re.I)
# How many opening braces are tried as the start of the object, so a brace-heavy reply stays linear.
_STARTS_TRIED = 20


class Unreadable(ValueError):
    """The reply holds no JSON object."""


def json_object(reply: str) -> dict[str, Any]:
    """The JSON object a model's reply carries, wherever it sits in it."""
    text = without_reasoning(reply[:_MAX_READ]).strip()
    candidates = [text, *(m.group(1).strip() for m in _FENCE.finditer(text))]
    first, last = text.find("{"), text.rfind("}")
    if 0 <= first < last:
        candidates.append(text[first : last + 1])
    for candidate in candidates:
        found = _loads(candidate)
        if found is not None:
            return found
    decoder = json.JSONDecoder()
    start = first
    for _ in range(_STARTS_TRIED):
        if start < 0:
            break
        try:
            value, _end = decoder.raw_decode(text, start)
        except ValueError:
            value = None
        if isinstance(value, dict):
            return value
        start = text.find("{", start + 1)
    raise Unreadable("no JSON object in the reply")


def without_reasoning(text: str) -> str:
    """The reply after its reasoning: what follows the last closing tag when there is one (some
    providers strip the opening <think>), else the text with unclosed opening tags removed."""
    closes = list(_REASONING_CLOSE.finditer(text))
    if closes:
        return text[closes[-1].end() :]
    return _REASONING_OPEN.sub("", text)


def _loads(text: str) -> dict[str, Any] | None:
    if not text.startswith("{"):
        return None
    for parse in (json.loads, json5.loads):
        try:
            value = parse(text)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


# What is kept of a reply that could not be read, for an operator to see why: its shape, not its
# secrets. Addresses, long numbers, keys and tokens are masked; the excerpt is short.
_EXCERPT_CHARS = 600
_SECRETS = (
    re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),  # e-mail addresses
    re.compile(r"https?://\S+"),  # URLs, which may carry tokens
    re.compile(r"\b(?:sk|pk|rk|ghp|gho|xox[abp])[-_][A-Za-z0-9_-]{8,}"),  # API keys by prefix
    re.compile(r"[A-Za-z0-9_\-+/=]{24,}"),  # long tokens of any kind
    re.compile(r"\+?\d[\d ()-]{5,}\d"),  # phone, card and account numbers
)


def redacted_excerpt(reply: str) -> str:
    excerpt = reply[:_EXCERPT_CHARS]
    for pattern in _SECRETS:
        excerpt = pattern.sub("[redacted]", excerpt)
    return excerpt + ("…" if len(reply) > _EXCERPT_CHARS else "")
