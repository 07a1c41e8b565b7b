-- Keyword search for text in any language.
--
-- Each chunk is read with its own language's text search configuration (`lang`, chosen by the writer
-- from the text: see memplane/language.py), so that German, Spanish or Russian words meet their other
-- inflections as English ones always did, instead of being cut by the English stemmer. Chinese and
-- Japanese have no spaces and no stemmer: each run of their characters is indexed as overlapping
-- character pairs, which need no dictionary and match a word wherever it appears. Korean has spaces
-- but glues particles and endings to its words (병원에서, 병원은): a word is indexed by its first
-- syllable and its first two, where its stem is. The same function reads a question (and
-- memplane/text.py does the same for the offline embedder), so both sides agree.

CREATE FUNCTION memplane_cjk_pairs(t text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(string_agg(piece, ' '), '') FROM (
        SELECT CASE WHEN length(run) = 1 THEN run ELSE substr(run, i, 2) END AS piece
        FROM regexp_matches(t, '[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+', 'g') AS m(found),
             LATERAL (SELECT found[1] AS run) AS r,
             LATERAL generate_series(1, greatest(length(run) - 1, 1)) AS i
        UNION ALL
        SELECT piece
        FROM regexp_matches(t, '[\uac00-\ud7af]+', 'g') AS m(found),
             LATERAL (SELECT found[1] AS run) AS r,
             LATERAL unnest(CASE WHEN length(run) = 1 THEN ARRAY[run]
                                 ELSE ARRAY[substr(run, 1, 1), substr(run, 1, 2)] END) AS piece
    ) AS pieces
$$;

CREATE FUNCTION memplane_tsvector(config regconfig, t text) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT to_tsvector(config, regexp_replace(t,
               '[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]+', ' ', 'g'))
        || to_tsvector('simple', memplane_cjk_pairs(t))
$$;

ALTER TABLE memory_entries ADD COLUMN lang regconfig NOT NULL DEFAULT 'english';
-- Rewrites the table (and rebuilds its indexes): on a large database this migration takes minutes.
ALTER TABLE memory_entries DROP COLUMN content_tsv;
ALTER TABLE memory_entries
    ADD COLUMN content_tsv tsvector GENERATED ALWAYS AS (memplane_tsvector(lang, content)) STORED;

-- Keyword statistics and postings again, from the new vectors.
TRUNCATE memory_postings, client_term_stats, client_doc_stats;
INSERT INTO memory_postings (client_id, term, entry_seq, tf, dl, created_at)
SELECT e.client_id, u.lexeme, e.seq, least(coalesce(array_length(u.positions, 1), 1), 32767),
       least(length(e.content_tsv), 32767), e.created_at
FROM memory_entries e, unnest(e.content_tsv) AS u;
INSERT INTO client_term_stats (client_id, term, df)
SELECT client_id, term, count(*) FROM memory_postings GROUP BY client_id, term;
INSERT INTO client_doc_stats (client_id, doc_count, total_len)
SELECT client_id, count(*), sum(length(content_tsv)) FROM memory_entries GROUP BY client_id;
