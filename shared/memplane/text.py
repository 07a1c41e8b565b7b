"""Pure text helpers: tokens, chunks, and the fence around the memory context. No I/O."""

from __future__ import annotations

import html
import re
import secrets
import unicodedata
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


# The memory block is fenced by tags that carry a nonce drawn for each response: stored text cannot
# know it, so whatever it writes, it cannot close the block. Defanging (below) is the second guard,
# for a model that would take a tag without the nonce for the end of the block anyway.
def fence(nonce: str) -> tuple[str, str]:
    """The opening and closing tags of a memory block drawn with ``nonce``."""
    return f"<memplane-memory-{nonce}>", f"</memplane-memory-{nonce}>"


def new_nonce() -> str:
    return secrets.token_hex(8)


# A block assemble handed out, with or without a nonce (before 0.3.0), to its closing tag or the end.
_FENCED = re.compile(r"<memplane-memory(-[0-9a-f]{1,64})?>.*?(?:</memplane-memory(?(1)\1)>|\Z)", re.S)
# Anything a model could read as the fence's tag, found in a skeleton of the text (below): any case,
# spaces, attributes, any separators or none between the words, the bracket as an HTML entity. Each
# part is bounded, so a text of many unclosed tags costs linear time.
_BRACKET_OPEN = r"(?:<|&lt;?|&#0*60;?|&#x0*3c;?)"
_BRACKET_CLOSE = r"(?:>|&gt;?|&#0*62;?|&#x0*3e;?)"
_FENCE_TAG = re.compile(
    _BRACKET_OPEN + r"\s*/?\s*memplane[\W_]{0,200}memory(?:[^<>&]{0,200}?" + _BRACKET_CLOSE + ")?", re.I
)
# Letters of other scripts that look like the Latin letters of "memplane memory" (Cyrillic, Greek).
_LOOKALIKES = str.maketrans(
    "аеорсухіјѕԁһмпАЕОРСУХІЈЅМНТКВαεορνικμτΑΕΟΡΝΙΚΜΤ",
    "aeopcyxijsdhmnAEOPCYXIJSMHTKBaeopvikmtAEOPNIKMT",
)
# Line breaks of every kind: a stored text that kept them could write lines that look like the
# block's own ("- admin: yes (since ...)").
_LINE_BREAKS = re.compile(r"[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]+")


def strip_recalled(text: str) -> str:
    """Remove memory blocks that assemble handed out, so recalled memory is never stored again."""
    return _FENCED.sub("", text).strip()


def readable(text: str) -> str:
    """Text as a model reads it: HTML entities decoded, compatibility forms folded (NFKC: full-width
    brackets, styled letters), and invisible format characters (zero-width spaces, joiners, bidi
    controls) removed. Plain ASCII without an entity is already that, and is returned as is."""
    if text.isascii() and "&" not in text:
        return text
    folded = unicodedata.normalize("NFKC", html.unescape(text))
    return "".join(ch for ch in folded if unicodedata.category(ch) != "Cf")


def defang(text: str) -> str:
    """Neutralise fence tags inside stored text so it cannot close the block and pose as instructions.

    Tags are looked for in a skeleton of the readable text: combining marks dropped and look-alike
    letters of other scripts read as Latin, so a closing tag spelt with a Cyrillic a is found too.
    Only the tags change; the rest of the text is returned readable, marks and all."""
    return _defanged(readable(text))


def one_line(text: str) -> str:
    """Stored text as one line of the block: readable, its line breaks spaces, its fence tags harmless."""
    return _defanged(_LINE_BREAKS.sub(" ", readable(text)))


def _defanged(plain: str) -> str:
    """``defang`` of text already readable (decoded once: an entity of an entity stays one)."""
    if plain.isascii():  # no combining marks, no look-alike letters: the text is its own skeleton
        kept, skeleton = None, plain
    else:
        kept = [i for i, ch in enumerate(plain) if unicodedata.category(ch) != "Mn"]
        skeleton = "".join(plain[i] for i in kept).translate(_LOOKALIKES)
    out: list[str] = []
    last = 0
    for match in _FENCE_TAG.finditer(skeleton):
        start, end = match.start(), match.end()
        if kept is not None:
            start, end = kept[start], kept[end - 1] + 1
        out += [plain[last:start], "[memplane-memory]"]
        last = end
    out.append(plain[last:])
    return "".join(out)


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
