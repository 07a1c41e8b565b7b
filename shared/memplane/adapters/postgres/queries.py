"""SQL shared by the store and its parts: the session budget, the ping, the audit row and the vacuum.
Values are always bound parameters."""

SET_BUDGET = "SELECT set_config('statement_timeout', %s, true), set_config('lock_timeout', %s, true)"

# NULL schema version: `memplane migrate` has not run against this database.
PING = """
SELECT (SELECT max(version) FROM memplane_migrations
        WHERE to_regclass('memplane_migrations') IS NOT NULL) AS schema_version,
       (SELECT extversion FROM pg_extension WHERE extname = 'vector') AS pgvector
"""

LOG_EXECUTION = """
INSERT INTO webhook_executions
    (function, request_id, client_id, status, error_code, duration_ms, degraded, action)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
"""

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

# After a commit, the primary's current log position is at or past that commit's record.
LOG_POSITION = "SELECT pg_current_wal_lsn()::text"
