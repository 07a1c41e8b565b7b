"""The SQL the store runs. Values are always bound parameters; nothing here is built from input."""

SET_BUDGET = "SELECT set_config('statement_timeout', %s, true), set_config('lock_timeout', %s, true)"

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

CLAIM_TURNS = """
INSERT INTO stored_turns (client_id, turn_key)
SELECT %s, unnest(%s::text[])
ON CONFLICT DO NOTHING
RETURNING turn_key
"""

FIND_EPISODE = "SELECT id FROM episodes WHERE client_id = %s AND dedupe_key = %s"

INSERT_CHUNK = """
INSERT INTO memory_entries
    (client_id, turn_key, chunk_index, message_id, chat_id, role, content, embedding,
     created_at, expires_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (client_id, turn_key, chunk_index) DO NOTHING
"""

INSERT_EPISODE = """
INSERT INTO episodes (client_id, dedupe_key, chat_id, summary, embedding, message_ids, created_at)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (client_id, dedupe_key) DO NOTHING
RETURNING id
"""

UPSERT_FACT = "SELECT upsert_memory_fact(%s, %s, %s, %s::real, %s, %s::uuid)"

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

FACT_HISTORY = f"""
SELECT {_FACT_COLUMNS} FROM memory_facts
WHERE client_id = %s AND key = %s
ORDER BY valid_from, id
"""

# relaxed_order lets pgvector 0.8 keep scanning the HNSW graph until enough rows pass the client
# filter, instead of returning fewer rows than asked for.
ITERATIVE_SCAN = "SET LOCAL hnsw.iterative_scan = relaxed_order"

_HIT_COLUMNS = "id, content, role, message_id, created_at"
_LIVE = "(expires_at IS NULL OR expires_at > now())"

VECTOR_SEARCH = f"""
SELECT {_HIT_COLUMNS}, 1 - (embedding <=> %(v)s) AS score
FROM memory_entries
WHERE client_id = %(c)s AND embedding IS NOT NULL AND created_at <= %(as_of)s AND {_LIVE}
ORDER BY embedding <=> %(v)s
LIMIT %(k)s
"""

# The query's terms are OR-ed: plainto_tsquery would AND them and miss most natural questions.
# Lexemes are quoted so that characters with a meaning in tsquery syntax stay literal.
TEXT_SEARCH = f"""
WITH query AS (
    SELECT string_agg(
        '''' || replace(replace(lexeme, '\\', '\\\\'), '''', '''''') || '''', ' | '
    )::tsquery AS tsq
    FROM unnest(tsvector_to_array(to_tsvector('english', %(t)s))) AS lexeme
)
SELECT {_HIT_COLUMNS}, ts_rank_cd(content_tsv, query.tsq) AS score
FROM memory_entries, query
WHERE client_id = %(c)s AND content_tsv @@ query.tsq AND created_at <= %(as_of)s AND {_LIVE}
ORDER BY score DESC, created_at DESC
LIMIT %(k)s
"""

RECENT_EPISODES = """
SELECT id, summary, created_at FROM episodes
WHERE client_id = %s AND archived_at IS NULL AND created_at <= %s
ORDER BY created_at DESC
LIMIT %s
"""

CLEANUP = "SELECT deleted_entries, deleted_state, archived_episodes FROM cleanup_expired_memory(%s, %s)"

MISSING_EMBEDDINGS = """
(SELECT 'chunk', id, content FROM memory_entries WHERE embedding IS NULL ORDER BY stored_at LIMIT %s)
UNION ALL
(SELECT 'episode', id, summary FROM episodes WHERE embedding IS NULL ORDER BY stored_at LIMIT %s)
"""

SET_CHUNK_EMBEDDING = "UPDATE memory_entries SET embedding = %s WHERE id = %s"
SET_EPISODE_EMBEDDING = "UPDATE episodes SET embedding = %s WHERE id = %s"

LOG_EXECUTION = """
INSERT INTO webhook_executions
    (function, request_id, client_id, status, error_code, duration_ms, degraded)
VALUES (%s, %s, %s, %s, %s, %s, %s)
"""

VACUUMED_TABLES = (
    "memory_entries",
    "episodes",
    "memory_facts",
    "working_state",
    "stored_turns",
    "webhook_executions",
)
