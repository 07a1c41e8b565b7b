"""The SQL the store runs. Values are always bound parameters; nothing here is built from input."""

SET_BUDGET = "SELECT set_config('statement_timeout', %s, true), set_config('lock_timeout', %s, true)"

# NULL schema version: `memplane migrate` has not run against this database.
PING = """
SELECT (SELECT max(version) FROM memplane_migrations
        WHERE to_regclass('memplane_migrations') IS NOT NULL),
       (SELECT extversion FROM pg_extension WHERE extname = 'vector')
"""

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
FORGOTTEN_AT = """
SELECT max(forgotten_at) FROM forgotten WHERE client_id = %s AND chat_id IN ('', coalesce(%s, ''))
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

# Episodes whose facts are owed (extraction failed when they were written), oldest first, with their
# messages' text in order; an episode is given up after a few attempts.
OWED_EXTRACTIONS = """
SELECT e.id, e.client_id, e.created_at, m.turn_key, m.role, m.content, m.message_id
FROM (
    SELECT id, client_id, created_at, extraction_turns FROM episodes
    WHERE extraction_turns IS NOT NULL AND extraction_given_up_at IS NULL
      AND (extraction_next_at IS NULL OR extraction_next_at <= now())
    ORDER BY stored_at LIMIT %s
) AS e
JOIN memory_entries m ON m.client_id = e.client_id AND m.turn_key = ANY(e.extraction_turns)
ORDER BY e.id, m.seq
"""
OWED_BY_EPISODE = """
SELECT e.id, e.client_id, e.created_at, m.turn_key, m.role, m.content, m.message_id
FROM episodes e
JOIN memory_entries m ON m.client_id = e.client_id AND m.turn_key = ANY(e.extraction_turns)
WHERE e.id = ANY(%s::uuid[])
ORDER BY e.id, m.seq
"""
SET_SUMMARY = "UPDATE episodes SET summary = %s WHERE id = %s"
EXTRACTION_DONE = "UPDATE episodes SET extraction_turns = NULL, extraction_next_at = NULL WHERE id = %s"
# A failed retry waits longer each time (2, 4, 8 ... hours, at most a week) and, after the configured
# attempts, is given up: kept, counted in health, queued again by `memplane extractions --retry`.
EXTRACTION_FAILED = """
UPDATE episodes SET extraction_attempts = extraction_attempts + 1,
    extraction_next_at = now() + least(interval '1 hour' * 2 ^ (extraction_attempts + 1), interval '7 days'),
    extraction_given_up_at = CASE WHEN extraction_attempts + 1 >= %s THEN now() END
WHERE id = %s
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

_FACT_COLUMNS = "key, value, confidence, valid_from, valid_to, source_episode_id"

FACTS_AS_OF = f"""
SELECT {_FACT_COLUMNS} FROM memory_facts
WHERE client_id = %s AND valid_from <= %s AND (valid_to IS NULL OR valid_to > %s)
ORDER BY valid_from DESC, key
LIMIT %s
"""

_HIT_COLUMNS = "id, content, role, message_id, created_at"
_LIVE = "(expires_at IS NULL OR expires_at > now())"

# The chunks a vector index found, read back from the source of truth: only what is still live.
# Chunks looked up by id join an unnest of the ids rather than filter on id = ANY(...): a prepared
# statement's generic plan cannot see how few ids there are and may scan the whole client instead
# (5 ms instead of 0.3 ms for a client with 100,000 chunks).
CHUNKS_BY_ID = f"""
SELECT e.id, e.content, e.role, e.message_id, e.created_at
FROM unnest(%s::uuid[]) AS wanted(id) JOIN memory_entries e ON e.id = wanted.id
WHERE e.client_id = %s AND e.created_at <= %s AND {_LIVE.replace("expires_at", "e.expires_at")}
"""

# BM25 over the client's chunks, read from memory_postings (migration 0004) without visiting a chunk
# until the best %(k)s are known. The query's terms are OR-ed (plainto_tsquery would AND them and
# miss most natural questions); each weighs by its rarity among this client's chunks (idf).
# Candidates are the chunks holding the rarest terms, taken rarest first while fewer than
# %(budget)s postings are taken (the first term's most recent %(budget)s at most), and never from a
# term in most chunks unless all are: a chunk that holds only common terms rarely ranks, and skipping
# it keeps large memories fast. Candidates are then
# scored exactly, on every query term, from their postings.
# Runs of Chinese, Japanese and Korean characters (as in migration 0007).
CJK = "'[\\u3040-\\u30ff\\u3400-\\u4dbf\\u4e00-\\u9fff\\uf900-\\ufaff\\uac00-\\ud7af]+'"

KEYWORD_SEARCH = f"""
WITH words AS (
    -- The question's words, less those its own language calls stopwords ("как", "the"): read in
    -- another language they would stay, and could meet a stem ("какое" is stemmed to "как").
    SELECT DISTINCT w.token FROM ts_parse('default', regexp_replace(%(t)s, {CJK}, ' ', 'g')) AS w
    WHERE to_tsvector(%(lang)s::regconfig, w.token) <> ''::tsvector
), terms AS (
    -- Each word read by every stemmer and unstemmed, since a question's language is a guess and
    -- memory may be in several; a reading that matches nothing in this client's memory drops out
    -- below (it has no statistics). Chinese, Japanese and Korean as character pairs.
    SELECT DISTINCT lexeme FROM words
    CROSS JOIN unnest(%(readings)s::regconfig[]) AS reading
    CROSS JOIN LATERAL unnest(tsvector_to_array(to_tsvector(reading, words.token))) AS lexeme
    UNION
    SELECT lexeme FROM unnest(tsvector_to_array(to_tsvector('simple', memplane_cjk_pairs(%(t)s)))) AS lexeme
), corpus AS MATERIALIZED (
    SELECT doc_count::float8 AS n, total_len::float8 / greatest(doc_count, 1) AS avgdl
    FROM client_doc_stats WHERE client_id = %(c)s
), idf AS MATERIALIZED (
    SELECT terms.lexeme, s.df, corpus.n, ln(1 + (corpus.n - s.df + 0.5) / (s.df + 0.5)) AS w,
           sum(s.df) OVER (ORDER BY s.df, terms.lexeme) - s.df AS taken_before
    FROM terms CROSS JOIN corpus
    JOIN client_term_stats s ON s.client_id = %(c)s AND s.term = terms.lexeme
), candidates AS MATERIALIZED (
    SELECT array_agg(DISTINCT p.entry_seq) AS seqs
    FROM idf CROSS JOIN LATERAL (
        SELECT m.entry_seq FROM memory_postings m
        WHERE m.client_id = %(c)s AND m.term = idf.lexeme AND m.created_at <= %(as_of)s
        ORDER BY m.entry_seq DESC
        LIMIT %(budget)s
    ) AS p
    WHERE idf.taken_before < %(budget)s
      AND (idf.df <= idf.n / 2 OR NOT EXISTS (SELECT 1 FROM idf AS i WHERE i.df <= i.n / 2))
), scored AS (
    -- Each term's postings for exactly the candidates: one index scan per term, which skips between
    -- them, carrying the term's weight. (One scan over all the terms then matched every posting
    -- against every term to find its weight: p95 10.0 -> 7.2 ms without it, at 100,000 chunks.)
    -- avgdl as a scalar (an InitPlan), not a join: this sums thousands of postings.
    SELECT p.entry_seq, sum(
        idf.w * p.tf * (%(k1)s + 1)
        / (p.tf + %(k1)s * (1 - %(b)s + %(b)s * p.dl / (SELECT avgdl FROM corpus)))
    ) AS score
    FROM idf CROSS JOIN LATERAL (
        SELECT m.entry_seq, m.tf, m.dl FROM memory_postings m
        WHERE m.client_id = %(c)s AND m.term = idf.lexeme
          AND m.entry_seq = ANY(((SELECT seqs FROM candidates))::bigint[])
    ) AS p
    GROUP BY p.entry_seq
    ORDER BY score DESC, p.entry_seq DESC
    LIMIT %(k)s
)
SELECT e.id, e.content, e.role, e.message_id, e.created_at, scored.score
FROM scored JOIN memory_entries e ON e.seq = scored.entry_seq
WHERE e.created_at <= %(as_of)s AND {_LIVE}
ORDER BY scored.score DESC, e.seq DESC
"""

# For each given chunk, the chunks stored just before and just after it in the same conversation, as
# of the question's time. A conversation is a chat; a caller that sends no chat id has its chat-less
# messages taken as one conversation while they are less than an hour apart. Each side is a UNION of
# the two cases, of which only the one that applies runs (its first condition is a constant per row).
_CONVERSATION_GAP = "interval '1 hour'"


def _next_to(alias: str, before: bool) -> str:
    seq = f"{alias}.seq < c.seq" if before else f"{alias}.seq > c.seq"
    order = f"{alias}.seq DESC" if before else f"{alias}.seq"
    near = (
        f"{alias}.created_at >= c.created_at - {_CONVERSATION_GAP}"
        if before
        else f"{alias}.created_at <= c.created_at + {_CONVERSATION_GAP}"
    )
    live = _LIVE.replace("expires_at", f"{alias}.expires_at")
    common = f"{alias}.client_id = c.client_id AND {seq} AND {alias}.created_at <= %(as_of)s AND {live}"
    columns = ", ".join(f"{alias}.{col}" for col in _HIT_COLUMNS.split(", "))
    return f"""(
        (SELECT {columns} FROM memory_entries {alias}
         WHERE c.chat_id IS NOT NULL AND {alias}.chat_id = c.chat_id AND {common}
         ORDER BY {order} LIMIT 1)
        UNION ALL
        (SELECT {columns} FROM memory_entries {alias}
         WHERE c.chat_id IS NULL AND {alias}.chat_id IS NULL AND {near} AND {common}
         ORDER BY {order} LIMIT 1)
    )"""


NEIGHBOURS = f"""
SELECT c.id, p.id, p.content, p.role, p.message_id, p.created_at,
       n.id, n.content, n.role, n.message_id, n.created_at
FROM memory_entries c
LEFT JOIN LATERAL {_next_to("p", before=True)} AS p ON true
LEFT JOIN LATERAL {_next_to("n", before=False)} AS n ON true
JOIN unnest(%(ids)s::uuid[]) AS wanted(id) ON c.id = wanted.id
WHERE c.client_id = %(c)s
"""

RECENT_EPISODES = """
SELECT id, summary, created_at FROM episodes
WHERE client_id = %s AND archived_at IS NULL AND created_at <= %s
ORDER BY created_at DESC
LIMIT %s
"""

CLEANUP = """
SELECT deleted_entries, deleted_state, archived_episodes, deleted_turns, deleted_calls
FROM cleanup_expired_memory(%s, %s, %s, %s)
"""

MISSING_EMBEDDINGS = """
(SELECT 'chunk', id, content FROM memory_entries WHERE embedding IS NULL ORDER BY stored_at LIMIT %s)
UNION ALL
(SELECT 'episode', id, summary FROM episodes WHERE embedding IS NULL ORDER BY stored_at LIMIT %s)
"""

SET_CHUNK_EMBEDDING = "UPDATE memory_entries SET embedding = %s WHERE id = %s"

# What the separate vector index lacks (migration 0011): a queue beside the chunks, never a flag on them.
QUEUE_FOR_INDEX = """
INSERT INTO vector_index_pending (chunk_id, client_id)
SELECT id, client_id FROM memory_entries WHERE id = ANY(%s::uuid[]) AND embedding IS NOT NULL
ON CONFLICT DO NOTHING
"""
QUEUE_ALL_FOR_INDEX = """
INSERT INTO vector_index_pending (chunk_id, client_id)
SELECT id, client_id FROM memory_entries WHERE embedding IS NOT NULL
ON CONFLICT DO NOTHING
"""
QUEUE_CLIENT_FOR_INDEX = QUEUE_ALL_FOR_INDEX.replace("IS NOT NULL", "IS NOT NULL AND client_id = %s")
_PENDING = f"""
FROM vector_index_pending p JOIN memory_entries m ON m.id = p.chunk_id
WHERE m.embedding IS NOT NULL AND {_LIVE.replace("expires_at", "m.expires_at")}
"""
# Along the queue's (client, chunk) index: a batch is then a nested loop from the queue into the chunks.
# Ordered by chunk id alone, the planner merge-joins the chunks' primary key from its start, and as a
# reindex drains the queue each batch walks further past chunks already sent. Reading and dequeuing
# 150,000 chunks in batches of 256, without Qdrant: 61 s that way, 4.9 s this way.
_NEXT = "SELECT m.id, m.client_id, m.embedding, m.created_at, m.expires_at"
UNINDEXED = f"{_NEXT} {_PENDING} ORDER BY p.client_id, p.chunk_id LIMIT %s"
UNINDEXED_OF_CLIENT = f"{_NEXT} {_PENDING} AND p.client_id = %s ORDER BY p.chunk_id LIMIT %s"
COUNT_UNINDEXED = f"SELECT count(*) {_PENDING}"
# Dequeues the points just written and says which of their chunks are still there: one deleted while
# its point was on its way must not leave the point behind. (A concurrent deletion not yet committed
# looks live here; it has recorded the point in vector_index_deletions, which cleanup clears.)
MARK_INDEXED = """
WITH done AS (DELETE FROM vector_index_pending WHERE chunk_id = ANY(%(ids)s::uuid[]))
SELECT id FROM memory_entries WHERE id = ANY(%(ids)s::uuid[])
"""
INDEX_DELETIONS = "SELECT client_id, point_id FROM vector_index_deletions ORDER BY deleted_at LIMIT %s"
FORGET_ALL_INDEX_DELETIONS = "DELETE FROM vector_index_deletions"
FORGET_INDEX_DELETIONS = "DELETE FROM vector_index_deletions WHERE point_id = ANY(%s::uuid[])"
LIVE_CHUNK_IDS = """
SELECT id FROM memory_entries
WHERE client_id = %s AND id = ANY(%s::uuid[]) AND embedding IS NOT NULL
"""
SET_EPISODE_EMBEDDING = "UPDATE episodes SET embedding = %s WHERE id = %s"

LOG_EXECUTION = """
INSERT INTO webhook_executions
    (function, request_id, client_id, status, error_code, duration_ms, degraded, action)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
"""

# Forgetting. Each statement names the client; none can reach another client's rows. Facts learned
# from a forgotten exchange go with it (they reference its episode), before the episode is deleted.
# A SELECT counts rows that the chunks' triggers delete; a name starting with "-" is not reported.
# The writeback ledger (stored_turns) keeps its keys and a tombstone records the time (0013), so that
# Open WebUI resending the history stores none of it again.
_TOMBSTONE = """
INSERT INTO forgotten (client_id, chat_id, forgotten_at) VALUES (%(c)s, {chat}, now())
ON CONFLICT (client_id, chat_id) DO UPDATE SET forgotten_at = excluded.forgotten_at
"""
FORGET_CLIENT = (
    ("facts", "DELETE FROM memory_facts WHERE client_id = %(c)s"),
    ("postings", "SELECT count(*) FROM memory_postings WHERE client_id = %(c)s"),
    ("keyword_terms", "SELECT count(*) FROM client_term_stats WHERE client_id = %(c)s"),
    ("chunks", "DELETE FROM memory_entries WHERE client_id = %(c)s RETURNING id"),
    ("episodes", "DELETE FROM episodes WHERE client_id = %(c)s"),
    ("working_state", "DELETE FROM working_state WHERE client_id = %(c)s"),
    ("-keyword_terms", "DELETE FROM client_term_stats WHERE client_id = %(c)s"),
    ("keyword_totals", "DELETE FROM client_doc_stats WHERE client_id = %(c)s"),
    ("calls", "DELETE FROM webhook_executions WHERE client_id = %(c)s"),
    ("profile", "DELETE FROM client_profiles WHERE id = %(c)s"),
    ("-tombstone", _TOMBSTONE.format(chat="''")),
)
FORGET_FACT = (("facts", "DELETE FROM memory_facts WHERE client_id = %(c)s AND key = %(key)s"),)
_CHAT_EPISODES = "SELECT id FROM episodes WHERE client_id = %(c)s AND chat_id = %(chat)s"
FORGET_CHAT = (
    (
        "facts",
        f"DELETE FROM memory_facts WHERE client_id = %(c)s AND source_episode_id IN ({_CHAT_EPISODES})",
    ),
    ("chunks", "DELETE FROM memory_entries WHERE client_id = %(c)s AND chat_id = %(chat)s RETURNING id"),
    ("episodes", "DELETE FROM episodes WHERE client_id = %(c)s AND chat_id = %(chat)s"),
    ("working_state", "DELETE FROM working_state WHERE client_id = %(c)s AND session_id = %(chat)s"),
    ("-tombstone", _TOMBSTONE.format(chat="%(chat)s")),
)
# Forgetting messages: an episode made only of them goes; one that also holds other messages stays,
# without them. Its facts are deleted (which message taught which is not known) and its remaining
# messages are owed an extraction again, which the forget runs at once and cleanup retries.
_MESSAGE_EPISODES = "SELECT id FROM episodes WHERE client_id = %(c)s AND message_ids && %(ids)s::text[]"
FORGET_MESSAGES = (
    (
        "facts",
        f"DELETE FROM memory_facts WHERE client_id = %(c)s AND source_episode_id IN ({_MESSAGE_EPISODES})",
    ),
    (
        "chunks",
        "DELETE FROM memory_entries WHERE client_id = %(c)s AND message_id = ANY(%(ids)s) RETURNING id",
    ),
    (
        "episodes",
        "DELETE FROM episodes WHERE client_id = %(c)s AND message_ids && %(ids)s::text[] "
        "AND message_ids <@ %(ids)s::text[]",
    ),
    (
        "-episodes_reopened",
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

# What cleanup vacuums, and how. Cleaning an HNSW index of deleted rows repairs the graph and takes
# seconds per thousand rows (7 s for 10,000 here), past cleanup's time limit after a large expiry; so
# the tables with one give back their heap space now and leave the index to autovacuum, which runs
# inside Postgres, off the function's clock. Searches skip the dead entries meanwhile.
VACUUMED_TABLES = (
    ("memory_entries", "ANALYZE, INDEX_CLEANUP OFF"),
    ("episodes", "ANALYZE, INDEX_CLEANUP OFF"),
    ("memory_facts", "ANALYZE"),
    ("working_state", "ANALYZE"),
    ("stored_turns", "ANALYZE"),
    ("webhook_executions", "ANALYZE"),
    ("vector_index_deletions", "ANALYZE"),
    ("memory_postings", "ANALYZE"),
)
