-- A separate vector index (Qdrant) beside Postgres, which keeps every vector and stays the source of
-- truth. What the index lacks and what it holds in excess are both recorded here, in the same
-- transactions that change the chunks, so that nothing is lost when the index is down or a function is
-- killed between the Postgres commit and the index update: cleanup and `memplane reindex` catch up.

-- True once the chunk's point is in the index. The default backend (pgvector) never sets it.
ALTER TABLE memory_entries ADD COLUMN vector_indexed boolean NOT NULL DEFAULT false;
CREATE INDEX memory_entries_unindexed ON memory_entries (seq)
    WHERE NOT vector_indexed AND embedding IS NOT NULL;

-- Chunks deleted (expired, forgotten) whose points the index may still hold. Every deleted chunk
-- with a vector is recorded, indexed or not: a writeback may be upserting it at that very moment.
CREATE TABLE vector_index_deletions (
    point_id   uuid PRIMARY KEY,
    client_id  text NOT NULL,
    deleted_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION memory_vectors_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO vector_index_deletions (point_id, client_id)
    SELECT id, client_id FROM old_rows WHERE embedding IS NOT NULL
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$;

CREATE TRIGGER memory_entries_vectors_delete AFTER DELETE ON memory_entries
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION memory_vectors_deleted();
