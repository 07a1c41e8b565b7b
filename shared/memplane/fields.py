"""The field types of memplane's requests: what each accepts, and the JSON Schema that says so exactly.

The OpenAPI description is generated from these, and a fuzzer holds the service to it in both
directions (whatever the schema allows is accepted, whatever it forbids is refused), so each rule a
validator enforces is also written into the schema: no NUL characters (Postgres text cannot hold
them), names that are not blank once trimmed, timestamps between 1900 and 2200 given as RFC 3339
text or Unix seconds, and export cursors as this service gives them out.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, StringConstraints, WithJsonSchema

# JSON Schema patterns (ECMA-262 and Python agree on these).
NO_NUL = "^[^\\u0000]*$"
_NOT_BLANK = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$"


def _text_schema(pattern: str = NO_NUL, **bounds: int) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "pattern": pattern, **bounds})


def check_storable(value: Any, depth: int = 0) -> None:
    """Every string must be storable: Postgres text holds no NUL character, and UTF-8 has no unpaired
    surrogates (which JSON's \\ud800 escapes can smuggle in)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("contains a NUL character (\\u0000), which cannot be stored; remove it")
        if _SURROGATE.search(value):
            raise ValueError("contains an unpaired UTF-16 surrogate, which is not text; send valid Unicode")
    elif isinstance(value, (list, tuple)) and depth < 20:
        for item in value:
            check_storable(item, depth + 1)


_SURROGATE = re.compile("[\ud800-\udfff]")

# A position in the primary's write-ahead log, as writeback reports it ("0/3A1B2C8").
_LOG_POSITION = "^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$"
LogPosition = Annotated[str, StringConstraints(pattern=_LOG_POSITION), _text_schema(_LOG_POSITION)]

# Names and ids: trimmed, at most 255 characters (the schema bounds the text as sent).
ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=255), _text_schema(maxLength=255)
]
NonBlank = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=255),
    _text_schema(_NOT_BLANK, minLength=1, maxLength=255),
]


def _no_space_mark(value: str) -> str:
    if "\x1f" in value:
        raise ValueError("contains U+001F, which memplane keeps to mark memory spaces; remove it")
    return value


# A client id or a space name: together they key a memory (memplane.spaces), so neither holds U+001F.
_MEMORY_NAME = "^[^\\u0000\\u001f]*[^\\s\\u0000\\u001f][^\\u0000\\u001f]*$"
MemoryName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=255),
    AfterValidator(_no_space_mark),
    _text_schema(_MEMORY_NAME, minLength=1, maxLength=255),
]
ClientId = MemoryName
SpaceName = Annotated[
    MemoryName,
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": 255,
            "pattern": _MEMORY_NAME,
            "description": "a memory space of the client's own (for one model or persona); "
            "left out, the client's shared memory",
        }
    ),
]


# Free text that must say something: a question (bounded), an answer.
Query = Annotated[
    str, StringConstraints(min_length=1, max_length=20_000), _text_schema(minLength=1, maxLength=20_000)
]
Answer = Annotated[str, StringConstraints(min_length=1), _text_schema(_NOT_BLANK, minLength=1)]


_WILDCARD = re.compile(r"[*%?]+")


def _one_client(value: str) -> str:
    # Erasure and export name one client. A wildcard is refused rather than read literally: someone
    # who sends "*" means "everyone", which no request may ask for.
    if _WILDCARD.fullmatch(value):
        raise ValueError("name one client; wildcards are not accepted")
    return value


OneClient = Annotated[
    MemoryName,
    AfterValidator(_one_client),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": 255,
            "pattern": _MEMORY_NAME,
            "not": {"pattern": "^\\s*[*%?]+\\s*$"},
            "description": "one client; wildcards are refused",
        }
    ),
]

# An export cursor is a section and the position to continue from, as `next_cursor` gave it.
_NUMBER = "[0-9]{1,18}"  # a bigint row id
_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
CURSOR_SECTIONS = {
    "facts": _NUMBER,
    "episodes": _UUID,
    "chunks": _NUMBER,
    "working_state": "[^\\u0000]{1,255}",  # a chat's session id
    "calls": _NUMBER,
}
_CURSOR = "^(?:" + "|".join(f"{name}(?::{position})?" for name, position in CURSOR_SECTIONS.items()) + ")$"
_CURSOR_RE = re.compile(_CURSOR, re.S)


def _cursor(value: str) -> str:
    if not _CURSOR_RE.match(value):
        raise ValueError("is not one this service gave out; send next_cursor as received")
    return value


Cursor = Annotated[
    str,
    AfterValidator(_cursor),
    WithJsonSchema({"type": "string", "pattern": _CURSOR, "description": "next_cursor, as received"}),
]

# Timestamps: RFC 3339 text (a missing offset is read as UTC, as Open WebUI and most clients mean) or
# Unix seconds. Years outside 1900-2199 are refused: no chat happened then, and date arithmetic near
# the ends of the calendar overflows.
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})?"
)
_EARLIEST_S = -2_208_988_800  # 1900-01-01T00:00:00Z
_LATEST_S = 7_258_118_399  # 2199-12-31T23:59:59Z


def _timestamp_in(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (str, int, float, datetime)):
        raise ValueError("must be RFC 3339 text (2025-01-31T09:30:00Z) or Unix seconds")
    if isinstance(value, str) and not _RFC3339.fullmatch(value):
        raise ValueError("must be RFC 3339 text, such as 2025-01-31T09:30:00Z")
    if isinstance(value, (int, float)) and not _EARLIEST_S <= value <= _LATEST_S:
        raise ValueError("must be between 1900 and 2200")
    return value


def _timestamp_out(value: datetime) -> datetime:
    if not 1900 <= value.year <= 2199:
        raise ValueError("must be between 1900 and 2200")
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


Timestamp = Annotated[
    datetime,
    BeforeValidator(_timestamp_in),
    AfterValidator(_timestamp_out),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date-time", "pattern": "^(19|20|21)[0-9]{2}-"},
                {"type": "number", "minimum": _EARLIEST_S, "maximum": _LATEST_S},
            ],
            "description": "RFC 3339 (no offset means UTC) or Unix seconds; years 1900-2199",
        }
    ),
]


def at_most_one(*names: str) -> dict[str, Any]:
    """JSON Schema for "no two of these fields both given" (a null counts as not given)."""
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
    given = {"not": {"type": "null"}}
    return {
        "not": {
            "anyOf": [{"required": [a, b], "properties": {a: given, b: given}} for a, b in pairs],
        }
    }
