"""Export: everything memplane holds about one client, as JSON, a page at a time (an access request).

Pages stay well under the platform's 1 MB response limit; ``next_cursor`` names the section and the
position to continue from. Vectors are left out: they are derived from the text, which is exported.
"""

from __future__ import annotations

import json
from typing import Any

from memplane import spaces
from memplane.contracts import ExportIn, ExportResponse, ProfileOut
from memplane.errors import ClientNotFound
from memplane.fields import CURSOR_SECTIONS
from memplane.model import Profile
from memplane.ports import MemoryStore

_PAGE_BYTES = 700_000
_BATCH = 200


def export(req: ExportIn, *, store: MemoryStore, page_bytes: int = _PAGE_BYTES) -> ExportResponse:
    first, after = _cursor(req.cursor)
    page: dict[str, list[dict[str, Any]]] = {name: [] for name in CURSOR_SECTIONS}
    size = 0
    key = req.memory_key
    shown: list[str] = []
    with store.session() as s:
        profile = s.get_profile(key) if req.cursor is None else None
        if req.cursor is None and profile is None:
            where = f" in space '{req.space}'" if req.space is not None else ""
            raise ClientNotFound(f"memplane holds nothing for client_id '{req.client_id}'{where}")
        if req.cursor is None and req.space is None:
            shown = [str(spaces.space_of(k)) for k in s.spaces_of(key)]
        names = list(CURSOR_SECTIONS)
        for name in names[names.index(first) :]:
            position = after if name == first else None
            while True:
                rows = s.export_rows(key, name, position, _BATCH)
                for at, record in rows:
                    cost = len(json.dumps(record, default=str))
                    if size and size + cost > page_bytes:
                        cursor = f"{name}:{position}" if position else name
                        return _page(req, shown, profile, page, cursor)
                    page[name].append(record)
                    size += cost
                    position = at
                if len(rows) < _BATCH:
                    break
    return _page(req, shown, profile, page, None)


def _cursor(cursor: str | None) -> tuple[str, str | None]:
    """A cursor (checked by the contract) is a section and the position to continue from."""
    if cursor is None:
        return "facts", None
    name, _, position = cursor.partition(":")
    return name, position or None


def _page(
    req: ExportIn,
    spaces_held: list[str],
    profile: Profile | None,
    page: dict[str, list[dict[str, Any]]],
    cursor: str | None,
) -> ExportResponse:
    shown = None
    if profile is not None:
        shown = ProfileOut(
            client_id=req.client_id,
            full_name=profile.full_name,
            email=profile.email,
            tags=list(profile.tags),
        )
    return ExportResponse(
        client_id=req.client_id,
        space=req.space,
        spaces=spaces_held,
        profile=shown,
        next_cursor=cursor,
        **page,
    )
