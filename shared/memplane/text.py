"""Pure text helpers: tokens, chunks, and the fence around the memory context. No I/O."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from memplane.model import Turn

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
STOPWORDS = frozenset(
    """a an and are as at be been but by can could did do does for from had has have he her hers him
    his how i if in into is it its just me my of on or our ours she so than that the their them then
    there these they this to too up us was we were what when where which who whom why will with would
    you your yours""".split()
)


def stem(word: str) -> str:
    """A light suffix stripper: enough to meet "hiking"/"hikes" and "cities"/"city" halfway."""
    for suffix, keep in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: -len(suffix)] + keep
    return word


# Runs of Han and kana, or of Hangul (never mixed, as in SQL).
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[\uac00-\ud7af]+")
_HANGUL = re.compile(r"[\uac00-\ud7af]")


def cjk_pairs(run: str) -> list[str]:
    """Words of Chinese, Japanese or Korean without a dictionary, split as migration 0007's
    ``memplane_cjk_pairs`` splits them: overlapping character pairs of a Han or kana run; a Korean
    word's first syllable and first two (its particles and endings come after)."""
    if len(run) == 1:
        return [run]
    if _HANGUL.match(run):
        return [run[0], run[:2]]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def terms(text: str) -> list[str]:
    """Lower-cased, stemmed words without stopwords, in order; Chinese, Japanese and Korean as pairs."""
    out: list[str] = []
    for word in _WORD.findall(text.lower()):
        for part in _CJK.split(word.replace("’", "'").split("'")[0]):
            if part and part not in STOPWORDS:
                out.append(stem(part))
        out.extend(pair for run in _CJK.findall(word) for pair in cjk_pairs(run))
    return out


def chunks(text: str, max_chars: int = 1500) -> list[str]:
    """Split text into pieces of at most ``max_chars``, on paragraph then sentence boundaries.

    Short text (the usual chat message) is one chunk; a long answer becomes several that each embed
    well. Always returns at least one piece for non-blank text.
    """
    text = text.strip()
    if len(text) <= max_chars:
        return [text] if text else []
    pieces = [p for p in re.split(r"(?<=[.!?])\s+|\n\s*\n", text) if p.strip()]
    out: list[str] = []
    current = ""
    for piece in pieces:
        while len(piece) > max_chars:  # a single run-on sentence: cut it hard
            out.extend([current] if current else [])
            current = ""
            out.append(piece[:max_chars])
            piece = piece[max_chars:]
        if current and len(current) + 1 + len(piece) > max_chars:
            out.append(current)
            current = piece
        else:
            current = f"{current} {piece}" if current else piece
    if current:
        out.append(current)
    return [o.strip() for o in out if o.strip()]


FENCE_OPEN = "<memplane-memory>"
FENCE_CLOSE = "</memplane-memory>"
_FENCED = re.compile(re.escape(FENCE_OPEN) + r".*?(?:" + re.escape(FENCE_CLOSE) + r"|\Z)", re.S)
# Anything a model could read as the fence's tag: any case, spaces, attributes, any dash or none
# between the words (a hyphen, an en or em dash, a minus sign, an underscore...), and the full-width
# angle brackets.
_FENCE_TAG = re.compile(r"[<＜﹤]\s*/?\s*memplane[\W_]{0,5}memory\b[^>＞﹥]*[>＞﹥]", re.I)
# Line breaks of every kind: a stored text that kept them could write lines that look like the
# block's own ("- admin: yes (since ...)").
_LINE_BREAKS = re.compile(r"[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]+")


def strip_recalled(text: str) -> str:
    """Remove memory blocks that assemble handed out, so recalled memory is never stored again."""
    return _FENCED.sub("", text).strip()


def defang(text: str) -> str:
    """Neutralise fence tags inside stored text so it cannot close the block and pose as instructions."""
    return _FENCE_TAG.sub("[memplane-memory]", text)


def one_line(text: str) -> str:
    """Stored text as one line of the block: its line breaks become spaces, its fence tags harmless."""
    return defang(_LINE_BREAKS.sub(" ", text))


def estimate_tokens(text: str) -> int:
    """Roughly four characters a token for English text; good enough to keep within a budget."""
    return max(1, (len(text) + 3) // 4)


def clip(text: str, width: int) -> str:
    """Collapse white space and cut to ``width`` characters, marking the cut."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def summarize(turns: Sequence[Turn], width: int = 200) -> str:
    """An extractive summary of an exchange: what the user said last, and how the assistant answered."""
    user = next((t.content for t in reversed(turns) if t.role == "user"), "")
    answer = next((t.content for t in reversed(turns) if t.role == "assistant"), "")
    parts = [f"User: {clip(user, width)}"] if user else []
    parts += [f"Assistant: {clip(answer, width)}"] if answer else []
    return " / ".join(parts) or "(empty exchange)"
