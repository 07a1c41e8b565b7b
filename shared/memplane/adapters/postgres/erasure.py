"""The Postgres session's erasure: expiry, forget, and export of one client."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from psycopg.rows import class_row, dict_row, scalar_row

from memplane.adapters.postgres.session import (
    SessionPart,
)
from memplane.model import (
    CleanupCounts,
    Erased,
    ForgetScope,
)

OWED_BY_EPISODE = """
SELECT e.id AS episode_id, e.client_id, e.created_at, m.turn_key, m.role, m.content, m.message_id
FROM episodes e
JOIN memory_entries m ON m.client_id = e.client_id AND m.turn_key = ANY(e.extraction_turns)
WHERE e.id = ANY(%s::uuid[])
ORDER BY e.id, m.seq
"""

SET_SUMMARY = "UPDATE episodes SET summary = %s WHERE client_id = %s AND id = %s"

CLEANUP = """
SELECT deleted_entries, deleted_state, archived_episodes, deleted_turns, deleted_calls
FROM cleanup_expired_memory(%s, %s, %s, %s)
"""


# Forgetting. Each statement names the client; none can reach another client's rows. Facts learned
# from a forgotten exchange go with it (they reference its episode), before the episode is deleted.
# Each step says what it does with its result (``Step``): report the rows it deleted, report a count
# taken before the chunks' triggers delete those rows, or report nothing.
# The writeback ledger (stored_turns) keeps its keys and a tombstone records the time (0013), so that
# Open WebUI resending the history stores none of it again.
@dataclass(frozen=True)
class Step:
    """One statement of a forget. ``report``: the name its rows are reported under (None: not
    reported). ``counts``: a SELECT count(*), reported as is. ``returns``: what its RETURNING ids are
    (the deleted chunks, for the vector index; the reopened episodes, owed an extraction again)."""

    sql: str
    report: str | None = None
    counts: bool = False
    returns: Literal["chunks", "reopened"] | None = None


# A client's own tombstone has the chat id '' (the key's column is NOT NULL).
_CLIENT_TOMBSTONE = """
INSERT INTO forgotten (client_id, chat_id, forgotten_at) VALUES (%(c)s, '', now())
ON CONFLICT (client_id, chat_id) DO UPDATE SET forgotten_at = excluded.forgotten_at
"""

_CHAT_TOMBSTONE = """
INSERT INTO forgotten (client_id, chat_id, forgotten_at) VALUES (%(c)s, %(chat)s, now())
ON CONFLICT (client_id, chat_id) DO UPDATE SET forgotten_at = excluded.forgotten_at
"""

FORGET_CLIENT = (
    Step("DELETE FROM memory_facts WHERE client_id = %(c)s", "facts"),
    Step("SELECT count(*) FROM memory_postings WHERE client_id = %(c)s", "postings", counts=True),
    Step("SELECT count(*) FROM client_term_stats WHERE client_id = %(c)s", "keyword_terms", counts=True),
    Step("DELETE FROM memory_entries WHERE client_id = %(c)s RETURNING id", "chunks", returns="chunks"),
    Step("DELETE FROM episodes WHERE client_id = %(c)s", "episodes"),
    Step("DELETE FROM working_state WHERE client_id = %(c)s", "working_state"),
    Step("DELETE FROM client_term_stats WHERE client_id = %(c)s"),  # counted above, before the triggers
    Step("DELETE FROM client_doc_stats WHERE client_id = %(c)s", "keyword_totals"),
    Step("DELETE FROM webhook_executions WHERE client_id = %(c)s", "calls"),
    Step("DELETE FROM client_profiles WHERE id = %(c)s", "profile"),
    Step(_CLIENT_TOMBSTONE),
)

FORGET_FACT = (Step("DELETE FROM memory_facts WHERE client_id = %(c)s AND key = %(key)s", "facts"),)

SPACES_OF = "SELECT id FROM client_profiles WHERE space_of = %s ORDER BY id"

_CHAT_EPISODES = "SELECT id FROM episodes WHERE client_id = %(c)s AND chat_id = %(chat)s"

FORGET_CHAT = (
    Step(
        f"DELETE FROM memory_facts WHERE client_id = %(c)s AND source_episode_id IN ({_CHAT_EPISODES})",
        "facts",
    ),
    Step(
        "DELETE FROM memory_entries WHERE client_id = %(c)s AND chat_id = %(chat)s RETURNING id",
        "chunks",
        returns="chunks",
    ),
    Step("DELETE FROM episodes WHERE client_id = %(c)s AND chat_id = %(chat)s", "episodes"),
    Step("DELETE FROM working_state WHERE client_id = %(c)s AND session_id = %(chat)s", "working_state"),
    Step(_CHAT_TOMBSTONE),
)

# Forgetting messages: an episode made only of them goes; one that also holds other messages stays,
# without them. Its facts are deleted (which message taught which is not known) and its remaining
# messages are owed an extraction again, which the forget runs at once and cleanup retries.
_MESSAGE_EPISODES = "SELECT id FROM episodes WHERE client_id = %(c)s AND message_ids && %(ids)s::text[]"

FORGET_MESSAGES = (
    Step(
        f"DELETE FROM memory_facts WHERE client_id = %(c)s AND source_episode_id IN ({_MESSAGE_EPISODES})",
        "facts",
    ),
    Step(
        "DELETE FROM memory_entries WHERE client_id = %(c)s AND message_id = ANY(%(ids)s) RETURNING id",
        "chunks",
        returns="chunks",
    ),
    Step(
        "DELETE FROM episodes WHERE client_id = %(c)s AND message_ids && %(ids)s::text[] "
        "AND message_ids <@ %(ids)s::text[]",
        "episodes",
    ),
    Step(
        """
        UPDATE episodes e SET
            message_ids = ARRAY(SELECT m FROM unnest(e.message_ids) AS m WHERE m <> ALL(%(ids)s)),
            extraction_turns = nullif(ARRAY(
                SELECT DISTINCT x.turn_key FROM memory_entries x
                WHERE x.client_id = e.client_id AND x.message_id = ANY(e.message_ids)
            ), '{}'),
            extraction_attempts = 0,
            extraction_next_at = NULL,
            extraction_given_up_at = NULL,
            embedding = NULL
        WHERE e.client_id = %(c)s AND e.message_ids && %(ids)s::text[]
        RETURNING e.id
        """,
        returns="reopened",
    ),
)

# Export, a section at a time, each ordered by a unique position so that pages neither skip nor repeat.
EXPORT = {
    "facts": """
        SELECT id AS position, key, value, confidence, valid_from, valid_to, recorded_at, source_episode_id
        FROM memory_facts WHERE client_id = %(c)s AND id > coalesce(%(after)s::bigint, 0)
        ORDER BY id LIMIT %(n)s""",
    "episodes": """
        SELECT id AS position, id, chat_id, summary, message_ids, created_at, archived_at
        FROM episodes WHERE client_id = %(c)s AND (%(after)s::uuid IS NULL OR id > %(after)s::uuid)
        ORDER BY id LIMIT %(n)s""",
    "chunks": """
        SELECT seq AS position, id, message_id, chat_id, role, content, created_at, expires_at
        FROM memory_entries WHERE client_id = %(c)s AND seq > coalesce(%(after)s::bigint, 0)
        ORDER BY seq LIMIT %(n)s""",
    "working_state": """
        SELECT session_id AS position, session_id, state, updated_at, expires_at
        FROM working_state WHERE client_id = %(c)s AND session_id > coalesce(%(after)s, '')
        ORDER BY session_id LIMIT %(n)s""",
    "calls": """
        SELECT id AS position, function, action, status, error_code, duration_ms, degraded, created_at
        FROM webhook_executions WHERE client_id = %(c)s AND id > coalesce(%(after)s::bigint, 0)
        ORDER BY id LIMIT %(n)s""",
}


class Erasure(SessionPart):
    """Retention and erasure: expiry, forget, and export of one client."""

    def forget(self, scope: ForgetScope) -> Erased:
        statements: tuple[Step, ...]
        if scope.fact_key is not None:
            statements = FORGET_FACT
        elif scope.chat_id is not None:
            statements = FORGET_CHAT
        elif scope.message_ids is not None:
            statements = FORGET_MESSAGES
        else:
            statements = FORGET_CLIENT
        params = {
            "c": scope.client_id,
            "key": scope.fact_key,
            "chat": scope.chat_id,
            "ids": list(scope.message_ids or ()),
        }
        counts: dict[str, int] = {}
        returned: dict[str, list[str]] = {"chunks": [], "reopened": []}
        for step in statements:
            with self._conn.cursor(row_factory=scalar_row) as cur:
                cur.execute(step.sql, params)
                found = [str(value) for value in cur.fetchall()] if step.returns or step.counts else []
                if step.returns is not None:
                    returned[step.returns] = found
                if step.report is not None:
                    counts[step.report] = int(found[0]) if step.counts else cur.rowcount
        reopened = returned["reopened"]
        owed = self._owed(OWED_BY_EPISODE, (reopened,)) if reopened else []
        return Erased(counts, returned["chunks"], owed)

    def spaces_of(self, client_id: str) -> list[str]:
        return [str(key) for key in self._values(SPACES_OF, (client_id,))]

    def set_summary(self, client_id: str, episode_id: str, summary: str) -> None:
        self._conn.execute(SET_SUMMARY, (summary, client_id, episode_id))

    def export_rows(
        self, client_id: str, section: str, after: str | None, limit: int
    ) -> list[tuple[str, dict[str, Any]]]:
        with self._conn.cursor(row_factory=dict_row) as cur:
            cur.execute(EXPORT[section], {"c": client_id, "after": after, "n": limit})
            rows = cur.fetchall()
        return [(str(row.pop("position")), row) for row in rows]

    def expire(
        self, now: datetime, archive_before: datetime, ledger_before: datetime | None, audit_before: datetime
    ) -> CleanupCounts:
        with self._conn.cursor(row_factory=class_row(CleanupCounts)) as cur:
            counts = cur.execute(CLEANUP, (now, archive_before, ledger_before, audit_before)).fetchone()
        return counts if counts is not None else CleanupCounts()
