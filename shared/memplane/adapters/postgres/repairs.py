"""The Postgres session's repairs: facts still owed by the LLM, vectors still owed by the embedder."""

from __future__ import annotations

from pgvector import Vector as PgVector

from memplane.adapters.postgres.session import (
    SessionPart,
)
from memplane.model import (
    OwedExtraction,
    Vector,
)

# Episodes whose facts are owed (extraction failed when they were written), oldest first, with their
# messages' text in order; an episode is given up after a few attempts.
OWED_EXTRACTIONS = """
SELECT e.id AS episode_id, e.client_id, e.created_at, m.turn_key, m.role, m.content, m.message_id
FROM (
    SELECT id, client_id, created_at, extraction_turns FROM episodes
    WHERE extraction_turns IS NOT NULL AND extraction_given_up_at IS NULL
      AND (extraction_next_at IS NULL OR extraction_next_at <= now())
    ORDER BY stored_at LIMIT %s
) AS e
JOIN memory_entries m ON m.client_id = e.client_id AND m.turn_key = ANY(e.extraction_turns)
ORDER BY e.id, m.seq
"""

EXTRACTION_DONE = "UPDATE episodes SET extraction_turns = NULL, extraction_next_at = NULL WHERE id = %s"

# A failed retry waits longer each time (2, 4, 8 ... hours, at most a week) and, after the configured
# attempts, is given up: kept, counted in health, queued again by `memplane extractions --retry`.
EXTRACTION_FAILED = """
UPDATE episodes SET extraction_attempts = extraction_attempts + 1,
    extraction_next_at = now() + least(interval '1 hour' * 2 ^ (extraction_attempts + 1), interval '7 days'),
    extraction_given_up_at = CASE WHEN extraction_attempts + 1 >= %s THEN now() END
WHERE id = %s
"""

MISSING_EMBEDDINGS = """
(SELECT 'chunk' AS kind, id, content AS text FROM memory_entries WHERE embedding IS NULL
 ORDER BY stored_at LIMIT %s)
UNION ALL
(SELECT 'episode', id, summary FROM episodes WHERE embedding IS NULL ORDER BY stored_at LIMIT %s)
"""

SET_CHUNK_EMBEDDING = "UPDATE memory_entries SET embedding = %s WHERE id = %s"

SET_EPISODE_EMBEDDING = "UPDATE episodes SET embedding = %s WHERE id = %s"


class Repairs(SessionPart):
    """What the nightly run mends: facts still owed by the LLM, vectors still owed by the embedder."""

    def owed_extractions(self, limit: int) -> list[OwedExtraction]:
        return self._owed(OWED_EXTRACTIONS, (limit,))

    def extraction_settled(self, episode_id: str, succeeded: bool, max_attempts: int) -> None:
        if succeeded:
            self._conn.execute(EXTRACTION_DONE, (episode_id,))
        else:
            self._conn.execute(EXTRACTION_FAILED, (max_attempts, episode_id))

    def missing_embeddings(self, limit: int) -> list[tuple[str, str, str]]:
        rows = self._rows(MISSING_EMBEDDINGS, (limit, limit))
        return [(r["kind"], str(r["id"]), r["text"]) for r in rows]

    def set_embedding(self, kind: str, row_id: str, vector: Vector) -> None:
        sql = SET_CHUNK_EMBEDDING if kind == "chunk" else SET_EPISODE_EMBEDDING
        self._conn.execute(sql, (PgVector(vector), row_id))
