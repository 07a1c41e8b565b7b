-- Nothing searches episode summaries by vector: assemble reads a client's recent episodes by time.
-- Their HNSW graph cost every writeback a graph insert and every deployment its size on disk for no
-- reader. The vectors stay (an export carries them; a future search can index them again).
DROP INDEX IF EXISTS episodes_embedding;
