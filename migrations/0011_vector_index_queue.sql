-- What the separate vector index (Qdrant) still lacks is a narrow queue, no longer a flag on the chunk.
--
-- The flag (0003) sat in the predicate of a partial index, so setting it could never be a HOT update:
-- marking a chunk indexed wrote a new version of the whole row and inserted it again into every index
-- on memory_entries, the HNSW graph included. Each Qdrant writeback did that for its chunks, and
-- `memplane reindex` for all of them: on 150,000 chunks (384 dimensions) the update alone took 117 s,
-- doubled the heap (231 to 439 MB) and left 150,000 dead rows. A queue row is inserted with the chunk
-- and deleted once its point is in, and the chunk itself is never touched again.
--
-- The queue is filled only where a separate index is configured; with pgvector it stays empty.

CREATE TABLE vector_index_pending (
    chunk_id  uuid PRIMARY KEY,
    client_id text NOT NULL
);
-- A writeback sends its client's backlog along with its own chunks.
CREATE INDEX vector_index_pending_client ON vector_index_pending (client_id, chunk_id);

-- A deployment that used Qdrant (it has indexed chunks) carries its backlog over. With pgvector no
-- chunk was ever marked, and nothing is queued.
INSERT INTO vector_index_pending (chunk_id, client_id)
SELECT id, client_id FROM memory_entries
WHERE NOT vector_indexed AND embedding IS NOT NULL
  AND EXISTS (SELECT 1 FROM memory_entries WHERE vector_indexed);

-- The previous release reads and sets the flag until its functions are replaced, so the column stays
-- for now; only the partial index that made every chunk's write pay for it goes. Meanwhile that
-- release still indexes its own writes (its scans for a backlog read the table instead), and a chunk
-- it fails to index in those minutes waits for `memplane reindex`.
DROP INDEX memory_entries_unindexed;

-- A deleted chunk leaves the queue in the same statement. The queue is empty almost always (pgvector;
-- Qdrant between writebacks), and then a cleanup that deletes 100,000 chunks does not join them to it.
CREATE OR REPLACE FUNCTION memory_vectors_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO vector_index_deletions (point_id, client_id)
    SELECT id, client_id FROM old_rows WHERE embedding IS NOT NULL
    ON CONFLICT DO NOTHING;
    IF EXISTS (SELECT 1 FROM vector_index_pending) THEN
        DELETE FROM vector_index_pending p USING old_rows o WHERE p.chunk_id = o.id;
    END IF;
    RETURN NULL;
END;
$$;
