-- Expiry deletes postings in proportion to what expires, not to everything every client stored.
--
-- A large expiry (over 1,000 chunks) deleted the expired chunks' postings in one pass over the whole
-- table. That beats a lookup per posting while the expired chunks are a large share of the memory
-- (0.7-1.0 s against 5.4 s for 1.25 million of 1.9 million postings), but the pass grows with the
-- whole deployment: at 18.7 million postings it took 4.9-5.8 s to delete 1.4 million of them.
--
-- Chunks expire in the order they were written (their expiry is set from the TTL when they are
-- stored), and their postings are appended in that same order, so the expired ones sit together at
-- the oldest end of the table. A BRIN index on the chunk number (a few pages, next to nothing to keep
-- up) lets the delete read only the block ranges between the oldest and newest expired chunk: 1.4 s
-- there, and no slower than the pass when most of the table goes.
CREATE INDEX memory_postings_seq_range ON memory_postings USING brin (entry_seq)
    WITH (pages_per_range = 16, autosummarize = on);

CREATE OR REPLACE FUNCTION memory_postings_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT count(*) FROM old_rows) <= 1000 THEN
        -- A few chunks (a forgotten chat): look each posting up.
        DELETE FROM memory_postings p
         USING (SELECT o.client_id, unnest(tsvector_to_array(o.content_tsv)) AS term, o.seq FROM old_rows o) d
         WHERE p.client_id = d.client_id AND p.term = d.term AND p.entry_seq = d.seq;
    ELSE
        -- Many: one pass over the block ranges that can hold them, joined on the chunk numbers alone.
        DELETE FROM memory_postings p USING (SELECT o.seq FROM old_rows o) d
         WHERE p.entry_seq = d.seq
           AND p.entry_seq BETWEEN (SELECT min(seq) FROM old_rows) AND (SELECT max(seq) FROM old_rows);
    END IF;
    RETURN NULL;
END;
$$;
