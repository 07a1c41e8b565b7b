-- Keyword search ranked by BM25, scoped to one client.
--
-- ts_rank and ts_rank_cd know nothing of how rare a term is, and rarity is what ranks keyword search
-- well. BM25 needs, per client, how many chunks hold each term (df), how many chunks there are and
-- their average length. Statement-level triggers keep those counts as chunks come and go; each
-- statement upserts its terms in sorted order, so concurrent writers cannot deadlock on them.

-- Adjacent messages of a chat: `seq` orders chunks as they were stored.
ALTER TABLE memory_entries ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;
CREATE INDEX memory_entries_chat_seq ON memory_entries (client_id, chat_id, seq);

CREATE TABLE client_term_stats (
    client_id text NOT NULL REFERENCES client_profiles (id) ON DELETE CASCADE,
    term      text NOT NULL,
    df        integer NOT NULL,
    PRIMARY KEY (client_id, term)
);

CREATE TABLE client_doc_stats (
    client_id text PRIMARY KEY REFERENCES client_profiles (id) ON DELETE CASCADE,
    doc_count integer NOT NULL,
    total_len bigint NOT NULL
);

CREATE FUNCTION memory_stats_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO client_term_stats AS s (client_id, term, df)
    SELECT client_id, term, count(*) FROM (
        SELECT n.client_id, unnest(tsvector_to_array(n.content_tsv)) AS term FROM new_rows n
    ) t GROUP BY client_id, term ORDER BY client_id, term
    ON CONFLICT (client_id, term) DO UPDATE SET df = s.df + EXCLUDED.df;
    INSERT INTO client_doc_stats AS s (client_id, doc_count, total_len)
    SELECT client_id, count(*), sum(length(content_tsv)) FROM new_rows GROUP BY client_id ORDER BY client_id
    ON CONFLICT (client_id) DO UPDATE
        SET doc_count = s.doc_count + EXCLUDED.doc_count, total_len = s.total_len + EXCLUDED.total_len;
    RETURN NULL;
END;
$$;

CREATE FUNCTION memory_stats_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE client_term_stats s SET df = s.df - t.n
      FROM (
          SELECT client_id, term, count(*) AS n FROM (
              SELECT o.client_id, unnest(tsvector_to_array(o.content_tsv)) AS term FROM old_rows o
          ) x GROUP BY client_id, term
      ) t
     WHERE s.client_id = t.client_id AND s.term = t.term;
    -- Only the terms these rows held can have reached zero.
    DELETE FROM client_term_stats s
     USING (SELECT DISTINCT o.client_id, unnest(tsvector_to_array(o.content_tsv)) AS term FROM old_rows o) t
     WHERE s.client_id = t.client_id AND s.term = t.term AND s.df <= 0;
    UPDATE client_doc_stats s SET doc_count = s.doc_count - t.n, total_len = s.total_len - t.len
    FROM (SELECT client_id, count(*) AS n, sum(length(content_tsv)) AS len FROM old_rows GROUP BY client_id) t
    WHERE s.client_id = t.client_id;
    RETURN NULL;
END;
$$;

CREATE TRIGGER memory_entries_stats_insert AFTER INSERT ON memory_entries
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION memory_stats_add();
CREATE TRIGGER memory_entries_stats_delete AFTER DELETE ON memory_entries
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION memory_stats_remove();

-- Counts for what is already stored.
INSERT INTO client_term_stats (client_id, term, df)
SELECT client_id, term, count(*) FROM (
    SELECT client_id, unnest(tsvector_to_array(content_tsv)) AS term FROM memory_entries
) t GROUP BY client_id, term;
INSERT INTO client_doc_stats (client_id, doc_count, total_len)
SELECT client_id, count(*), sum(length(content_tsv)) FROM memory_entries GROUP BY client_id;
