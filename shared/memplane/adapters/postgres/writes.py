"""The Postgres session's writes: profiles, the ledger and tombstones, chunks, episodes, facts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from psycopg import sql
from psycopg.types.json import Jsonb

from memplane import spaces
from memplane.adapters.postgres.session import (
    SessionPart,
    as_vector,
    profile_of,
)
from memplane.model import (
    FactCandidate,
    IndexPoint,
    NewChunk,
    NewEpisode,
    Profile,
    ProfileUpdate,
)

GET_PROFILE = "SELECT id, full_name, email, tags FROM client_profiles WHERE id = %s"

# NULL means "not given": it leaves the stored value alone.
UPSERT_PROFILE = """
INSERT INTO client_profiles AS p (id, full_name, email, tags)
VALUES (%s, %s, %s, coalesce(%s::text[], '{}'))
ON CONFLICT (id) DO UPDATE SET
    full_name  = coalesce(EXCLUDED.full_name, p.full_name),
    email      = coalesce(EXCLUDED.email, p.email),
    tags       = CASE WHEN %s::text[] IS NULL THEN p.tags ELSE EXCLUDED.tags END,
    updated_at = now()
RETURNING id, full_name, email, tags
"""

KNOWN_TURNS = "SELECT turn_key FROM stored_turns WHERE client_id = %s AND turn_key = ANY(%s)"

# When the client, or this chat of it, was last forgotten: messages dated before then are not stored.
# A space's memory is also forgotten by its client's tombstones (a forget without a space).
FORGOTTEN_AT = """
SELECT max(forgotten_at) FROM forgotten
WHERE client_id = ANY(%s::text[]) AND chat_id IN ('', coalesce(%s, ''))
"""

CLAIM_TURNS = """
INSERT INTO stored_turns (client_id, turn_key)
SELECT %s, unnest(%s::text[])
ON CONFLICT DO NOTHING
RETURNING turn_key
"""

FIND_EPISODE = "SELECT id FROM episodes WHERE client_id = %s AND dedupe_key = %s"

# One statement for all of an exchange's chunks: the BM25 statistics trigger then runs once per write.
INSERT_CHUNKS = """
INSERT INTO memory_entries
    (client_id, turn_key, chunk_index, message_id, chat_id, role, content, embedding,
     created_at, expires_at, lang)
VALUES {rows}
ON CONFLICT (client_id, turn_key, chunk_index) DO NOTHING
RETURNING id, turn_key, chunk_index
"""

CHUNK_ROW = "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::regconfig)"

INSERT_EPISODE = """
INSERT INTO episodes
    (client_id, dedupe_key, chat_id, summary, embedding, message_ids, created_at, extraction_turns)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (client_id, dedupe_key) DO NOTHING
RETURNING id
"""

UPSERT_FACT = "SELECT upsert_memory_fact(%s, %s, %s, %s::real, %s, %s::uuid)"

# A fact that stopped being true keeps its history: its current value is closed, not deleted.
END_FACT = """
UPDATE memory_facts SET valid_to = greatest(%(at)s, valid_from)
WHERE client_id = %(c)s AND key = %(key)s AND valid_to IS NULL
"""

TOUCH_STATE = """
INSERT INTO working_state (client_id, session_id, state, expires_at)
VALUES (%s, %s, %s, %s)
ON CONFLICT (client_id, session_id) DO UPDATE SET
    state = working_state.state || EXCLUDED.state,
    updated_at = now(),
    expires_at = EXCLUDED.expires_at
"""


class Writes(SessionPart):
    """What a writeback reads and writes: profiles, the ledger and tombstones, chunks, episodes, facts."""

    def get_profile(self, client_id: str) -> Profile | None:
        rows = self._rows(GET_PROFILE, (client_id,))
        return profile_of(rows[0]) if rows else None

    def upsert_profile(self, client_id: str, update: ProfileUpdate) -> Profile:
        # The filter sends the profile with every call: read first, so that an unchanged profile
        # costs a lookup rather than a new row version and a lock on every assemble.
        current = self.get_profile(client_id)
        if current is not None and not update.changes(current):
            return current
        tags = list(update.tags) if update.tags is not None else None
        rows = self._rows(UPSERT_PROFILE, (client_id, update.full_name, update.email, tags, tags))
        return profile_of(rows[0])

    def known_turn_keys(self, client_id: str, keys: Sequence[str]) -> set[str]:
        return set(self._values(KNOWN_TURNS, (client_id, list(keys))))

    def forgotten_at(self, client_id: str, chat_id: str | None) -> datetime | None:
        keys = sorted({client_id, spaces.client_of(client_id)})
        forgotten: list[datetime | None] = self._values(FORGOTTEN_AT, (keys, chat_id))
        return forgotten[0] if forgotten else None

    def claim_turns(self, client_id: str, keys: Sequence[str]) -> set[str]:
        """Record turn keys as stored; return those that were new (a concurrent writer got the rest)."""
        return set(self._values(CLAIM_TURNS, (client_id, list(keys))))

    def find_episode(self, client_id: str, dedupe_key: str) -> str | None:
        found = self._values(FIND_EPISODE, (client_id, dedupe_key))
        return str(found[0]) if found else None

    def insert_chunks(self, chunks: Sequence[NewChunk]) -> tuple[int, list[IndexPoint]]:
        if not chunks:
            return 0, []
        claimed = self.claim_turns(chunks[0].client_id, sorted({c.turn_key for c in chunks}))
        rows = [c for c in chunks if c.turn_key in claimed]
        if not rows:
            return 0, []
        # psycopg composes the statement: one placeholder row per chunk, values still bound.
        statement = sql.SQL(INSERT_CHUNKS).format(rows=sql.SQL(", ").join([sql.SQL(CHUNK_ROW)] * len(rows)))
        params = [
            value
            for c in rows
            for value in (
                c.client_id,
                c.turn_key,
                c.chunk_index,
                c.message_id,
                c.chat_id,
                c.role,
                c.content,
                as_vector(c.embedding),
                c.created_at,
                c.expires_at,
                c.lang,
            )
        ]
        by_key = {(c.turn_key, c.chunk_index): c for c in rows}
        stored = self._rows(statement, params)
        points = []
        for row in stored:
            c = by_key[(row["turn_key"], row["chunk_index"])]
            if c.embedding is not None:
                point = IndexPoint(str(row["id"]), c.client_id, c.embedding, c.created_at, c.expires_at)
                points.append(point)
        return len(stored), points

    def insert_episode(self, episode: NewEpisode) -> tuple[str, bool]:
        e = episode
        created = self._values(
            INSERT_EPISODE,
            (
                e.client_id,
                e.dedupe_key,
                e.chat_id,
                e.summary,
                as_vector(e.embedding),
                list(e.message_ids),
                e.created_at,
                list(e.extraction_owed) if e.extraction_owed else None,
            ),
        )
        if created:
            return str(created[0]), True
        existing = self.find_episode(e.client_id, e.dedupe_key)
        assert existing is not None  # the conflict that skipped the insert is this very row
        return existing, False

    def upsert_fact(self, client_id: str, fact: FactCandidate, at: datetime, episode_id: str | None) -> bool:
        changed = self._values(
            UPSERT_FACT, (client_id, fact.key, fact.value, fact.confidence, at, episode_id)
        )
        return bool(changed[0])

    def touch_working_state(
        self, client_id: str, session_id: str, state: dict[str, object], expires_at: datetime
    ) -> None:
        self._conn.execute(TOUCH_STATE, (client_id, session_id, Jsonb(state), expires_at))

    def end_fact(self, client_id: str, key: str, at: datetime) -> bool:
        with self._conn.cursor() as cur:
            cur.execute(END_FACT, {"c": client_id, "key": key, "at": at})
            return cur.rowcount > 0
