-- Fresh memory reads as fast as settled memory (#25). Keyword search reads memory_postings by index
-- only, and an index-only scan still visits the table for every page not yet marked all-visible:
-- exactly the pages of the newest postings, the memory a user asks about next. Autovacuum sets that
-- mark, but by default only after inserts reach 20% of the table (Postgres' insert scale factor),
-- which for a deployment with ten million postings is two million inserts, days of chat. Vacuum
-- after every 10,000 new postings (about 700 chunks) plus 0.5% of the table instead: an insert-only
-- vacuum reads only the pages not yet all-visible, so running it often costs little.
ALTER TABLE memory_postings SET (
    autovacuum_vacuum_insert_threshold = 10000,
    autovacuum_vacuum_insert_scale_factor = 0.005
);
