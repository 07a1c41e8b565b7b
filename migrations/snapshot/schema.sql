--
-- PostgreSQL database dump
--

--
-- Name: vector; Type: EXTENSION; Schema: -; Owner: -
--

CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public;

--
-- Name: EXTENSION vector; Type: COMMENT; Schema: -; Owner: -
--

COMMENT ON EXTENSION vector IS 'vector data type and ivfflat and hnsw access methods';

--
-- Name: cleanup_expired_memory(timestamp with time zone, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.cleanup_expired_memory(p_now timestamp with time zone, p_archive_before timestamp with time zone) RETURNS TABLE(deleted_entries bigint, deleted_state bigint, archived_episodes bigint)
    LANGUAGE plpgsql
    AS $$
BEGIN
    DELETE FROM memory_entries WHERE expires_at IS NOT NULL AND expires_at <= p_now;
    GET DIAGNOSTICS deleted_entries = ROW_COUNT;
    DELETE FROM working_state WHERE expires_at <= p_now;
    GET DIAGNOSTICS deleted_state = ROW_COUNT;
    UPDATE episodes SET archived_at = p_now
     WHERE archived_at IS NULL AND created_at < p_archive_before;
    GET DIAGNOSTICS archived_episodes = ROW_COUNT;
    RETURN NEXT;
END;
$$;

--
-- Name: cleanup_expired_memory(timestamp with time zone, timestamp with time zone, timestamp with time zone, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.cleanup_expired_memory(p_now timestamp with time zone, p_archive_before timestamp with time zone, p_ledger_before timestamp with time zone, p_audit_before timestamp with time zone) RETURNS TABLE(deleted_entries bigint, deleted_state bigint, archived_episodes bigint, deleted_turns bigint, deleted_calls bigint)
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM memory_postings_expire(p_now);
    DELETE FROM memory_entries WHERE expires_at IS NOT NULL AND expires_at <= p_now;
    GET DIAGNOSTICS deleted_entries = ROW_COUNT;
    DELETE FROM working_state WHERE expires_at <= p_now;
    GET DIAGNOSTICS deleted_state = ROW_COUNT;
    UPDATE episodes SET archived_at = p_now
     WHERE archived_at IS NULL AND created_at < p_archive_before;
    GET DIAGNOSTICS archived_episodes = ROW_COUNT;
    deleted_turns := 0;
    IF p_ledger_before IS NOT NULL THEN
        DELETE FROM stored_turns t
         WHERE t.stored_at < p_ledger_before
           AND NOT EXISTS (SELECT 1 FROM memory_entries e
                            WHERE e.client_id = t.client_id AND e.turn_key = t.turn_key);
        GET DIAGNOSTICS deleted_turns = ROW_COUNT;
    END IF;
    DELETE FROM webhook_executions WHERE created_at < p_audit_before;
    GET DIAGNOSTICS deleted_calls = ROW_COUNT;
    RETURN NEXT;
END;
$$;

--
-- Name: memory_postings_add(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.memory_postings_add() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    INSERT INTO memory_postings (client_id, term, entry_seq, tf, dl, created_at)
    SELECT n.client_id, u.lexeme, n.seq, least(coalesce(array_length(u.positions, 1), 1), 32767),
           least(length(n.content_tsv), 32767), n.created_at
    FROM new_rows n, unnest(n.content_tsv) AS u;
    RETURN NULL;
END;
$$;

--
-- Name: memory_postings_expire(timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.memory_postings_expire(p_now timestamp with time zone) RETURNS void
    LANGUAGE plpgsql
    SET enable_nestloop TO 'off'
    AS $$
DECLARE
    lo bigint;
    hi bigint;
    expiring bigint;
BEGIN
    SELECT min(seq), max(seq), count(*) INTO lo, hi, expiring
      FROM memory_entries WHERE expires_at IS NOT NULL AND expires_at <= p_now;
    IF expiring <= 1000 THEN
        RETURN;  -- a few: the trigger looks each posting up, which is cheaper than any pass
    END IF;
    DELETE FROM memory_postings p USING memory_entries e
     WHERE e.expires_at IS NOT NULL AND e.expires_at <= p_now
       AND p.entry_seq = e.seq AND p.entry_seq BETWEEN lo AND hi;
END;
$$;

--
-- Name: memory_postings_remove(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.memory_postings_remove() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
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

--
-- Name: memory_stats_add(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.memory_stats_add() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
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

--
-- Name: memory_stats_remove(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.memory_stats_remove() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    zeroed_clients text[];
    zeroed_terms   text[];
BEGIN
    -- Count down, and note the terms that reached zero on the way; only those can need deleting
    -- (their count is checked again, so a chunk stored meanwhile keeps its term).
    WITH counted AS (
        UPDATE client_term_stats s SET df = s.df - t.n
          FROM (
              SELECT client_id, term, count(*) AS n FROM (
                  SELECT o.client_id, unnest(tsvector_to_array(o.content_tsv)) AS term FROM old_rows o
              ) x GROUP BY client_id, term
          ) t
         WHERE s.client_id = t.client_id AND s.term = t.term
        RETURNING s.client_id, s.term, s.df
    )
    SELECT array_agg(client_id), array_agg(term) INTO zeroed_clients, zeroed_terms
      FROM counted WHERE df <= 0;
    DELETE FROM client_term_stats s
     USING unnest(zeroed_clients, zeroed_terms) AS z(client_id, term)
     WHERE s.client_id = z.client_id AND s.term = z.term AND s.df <= 0;
    UPDATE client_doc_stats s SET doc_count = s.doc_count - t.n, total_len = s.total_len - t.len
    FROM (SELECT client_id, count(*) AS n, sum(length(content_tsv)) AS len FROM old_rows GROUP BY client_id) t
    WHERE s.client_id = t.client_id;
    RETURN NULL;
END;
$$;

--
-- Name: memory_vectors_deleted(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.memory_vectors_deleted() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
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

--
-- Name: memplane_cjk_pairs(text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.memplane_cjk_pairs(t text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
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

--
-- Name: memplane_tsvector(regconfig, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.memplane_tsvector(config regconfig, t text) RETURNS tsvector
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT to_tsvector(config, regexp_replace(t,
               '[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]+', ' ', 'g'))
        || to_tsvector('simple', memplane_cjk_pairs(t))
$$;

--
-- Name: upsert_memory_fact(text, text, text, real, timestamp with time zone, uuid); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.upsert_memory_fact(p_client_id text, p_key text, p_value text, p_confidence real, p_at timestamp with time zone, p_episode_id uuid) RETURNS boolean
    LANGUAGE plpgsql
    AS $$
DECLARE
    cur memory_facts%ROWTYPE;
BEGIN
    SELECT * INTO cur FROM memory_facts
     WHERE client_id = p_client_id AND key = p_key AND valid_to IS NULL
     FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO memory_facts (client_id, key, value, confidence, source_episode_id, valid_from)
        VALUES (p_client_id, p_key, p_value, p_confidence, p_episode_id, p_at)
        ON CONFLICT DO NOTHING;
        RETURN FOUND;
    END IF;
    IF cur.value = p_value THEN
        -- Hearing the same thing again only strengthens it.
        UPDATE memory_facts SET confidence = greatest(confidence, p_confidence) WHERE id = cur.id;
        RETURN false;
    END IF;
    IF p_at < cur.valid_from THEN
        -- Older news arriving late is history, not the current value.
        INSERT INTO memory_facts (client_id, key, value, confidence, source_episode_id, valid_from, valid_to)
        VALUES (p_client_id, p_key, p_value, p_confidence, p_episode_id, p_at, cur.valid_from);
        RETURN true;
    END IF;
    UPDATE memory_facts SET valid_to = p_at WHERE id = cur.id;
    INSERT INTO memory_facts (client_id, key, value, confidence, source_episode_id, valid_from)
    VALUES (p_client_id, p_key, p_value, p_confidence, p_episode_id, p_at);
    RETURN true;
END;
$$;

--
-- Name: cleanup_runs; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.cleanup_runs (
    id bigint NOT NULL,
    started_at timestamp with time zone NOT NULL,
    finished_at timestamp with time zone,
    outcome text DEFAULT 'running'::text NOT NULL,
    counts jsonb DEFAULT '{}'::jsonb NOT NULL,
    error_code text,
    CONSTRAINT cleanup_runs_outcome_check CHECK ((outcome = ANY (ARRAY['running'::text, 'ok'::text, 'degraded'::text, 'failed'::text])))
);

--
-- Name: cleanup_runs_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.cleanup_runs_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: cleanup_runs_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.cleanup_runs_id_seq OWNED BY public.cleanup_runs.id;

--
-- Name: client_doc_stats; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.client_doc_stats (
    client_id text NOT NULL,
    doc_count integer NOT NULL,
    total_len bigint NOT NULL
);

--
-- Name: client_profiles; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.client_profiles (
    id text NOT NULL,
    full_name text,
    email text,
    tags text[] DEFAULT '{}'::text[] NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    space_of text GENERATED ALWAYS AS (
CASE
    WHEN (strpos(id, chr(31)) > 0) THEN split_part(id, chr(31), 1)
    ELSE NULL::text
END) STORED
);

--
-- Name: client_term_stats; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.client_term_stats (
    client_id text NOT NULL,
    term text NOT NULL,
    df integer NOT NULL
);

--
-- Name: episodes; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.episodes (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    client_id text NOT NULL,
    dedupe_key text NOT NULL,
    chat_id text,
    summary text NOT NULL,
    embedding public.vector(1536),
    message_ids text[] DEFAULT '{}'::text[] NOT NULL,
    created_at timestamp with time zone NOT NULL,
    stored_at timestamp with time zone DEFAULT now() NOT NULL,
    archived_at timestamp with time zone,
    extraction_turns text[],
    extraction_attempts smallint DEFAULT 0 NOT NULL,
    extraction_next_at timestamp with time zone,
    extraction_given_up_at timestamp with time zone
);

--
-- Name: extraction_health; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.extraction_health (
    model text NOT NULL,
    failing_since timestamp with time zone,
    last_failure_at timestamp with time zone,
    failures bigint DEFAULT 0 NOT NULL,
    last_kind text,
    last_error text,
    last_excerpt text,
    refusals bigint DEFAULT 0 NOT NULL,
    last_refusal_at timestamp with time zone,
    last_ok_at timestamp with time zone
);

--
-- Name: forgotten; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.forgotten (
    client_id text NOT NULL,
    chat_id text DEFAULT ''::text NOT NULL,
    forgotten_at timestamp with time zone NOT NULL
);

--
-- Name: memory_entries; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.memory_entries (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    client_id text NOT NULL,
    turn_key text NOT NULL,
    chunk_index integer DEFAULT 0 NOT NULL,
    message_id text,
    chat_id text,
    role text NOT NULL,
    content text NOT NULL,
    embedding public.vector(1536),
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    rating smallint,
    created_at timestamp with time zone NOT NULL,
    stored_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone,
    seq bigint NOT NULL,
    vector_indexed boolean DEFAULT false NOT NULL,
    lang regconfig DEFAULT 'english'::regconfig NOT NULL,
    content_tsv tsvector GENERATED ALWAYS AS (public.memplane_tsvector(lang, content)) STORED
);

--
-- Name: memory_entries_seq_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.memory_entries ALTER COLUMN seq ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.memory_entries_seq_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: memory_facts; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.memory_facts (
    id bigint NOT NULL,
    client_id text NOT NULL,
    key text NOT NULL,
    value text NOT NULL,
    confidence real NOT NULL,
    source_episode_id uuid,
    valid_from timestamp with time zone NOT NULL,
    valid_to timestamp with time zone,
    recorded_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT memory_facts_check CHECK (((valid_to IS NULL) OR (valid_to >= valid_from))),
    CONSTRAINT memory_facts_confidence_check CHECK (((confidence >= (0)::double precision) AND (confidence <= (1)::double precision)))
);

--
-- Name: memory_facts_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.memory_facts ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.memory_facts_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: memory_postings; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.memory_postings (
    client_id text NOT NULL,
    term text NOT NULL,
    entry_seq bigint NOT NULL,
    tf smallint NOT NULL,
    dl smallint NOT NULL,
    created_at timestamp with time zone NOT NULL
)
WITH (autovacuum_vacuum_insert_threshold='10000', autovacuum_vacuum_insert_scale_factor='0.005');

--
-- Name: memplane_meta; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.memplane_meta (
    key text NOT NULL,
    value text NOT NULL
);

--
-- Name: memplane_migrations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.memplane_migrations (
    version integer NOT NULL,
    name text NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: stored_turns; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.stored_turns (
    client_id text NOT NULL,
    turn_key text NOT NULL,
    stored_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: vector_index_deletions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.vector_index_deletions (
    point_id uuid NOT NULL,
    client_id text NOT NULL,
    deleted_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: vector_index_pending; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.vector_index_pending (
    chunk_id uuid NOT NULL,
    client_id text NOT NULL
);

--
-- Name: webhook_executions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.webhook_executions (
    id bigint NOT NULL,
    function text NOT NULL,
    request_id text NOT NULL,
    client_id text,
    status integer NOT NULL,
    error_code text,
    duration_ms real NOT NULL,
    degraded text[] DEFAULT '{}'::text[] NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    action text
);

--
-- Name: webhook_executions_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.webhook_executions ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.webhook_executions_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: working_state; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.working_state (
    client_id text NOT NULL,
    session_id text NOT NULL,
    state jsonb DEFAULT '{}'::jsonb NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL
);

--
-- Name: cleanup_runs id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.cleanup_runs ALTER COLUMN id SET DEFAULT nextval('public.cleanup_runs_id_seq'::regclass);

--
-- Name: cleanup_runs cleanup_runs_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.cleanup_runs
    ADD CONSTRAINT cleanup_runs_pkey PRIMARY KEY (id);

--
-- Name: client_doc_stats client_doc_stats_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.client_doc_stats
    ADD CONSTRAINT client_doc_stats_pkey PRIMARY KEY (client_id);

--
-- Name: client_profiles client_profiles_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.client_profiles
    ADD CONSTRAINT client_profiles_pkey PRIMARY KEY (id);

--
-- Name: client_term_stats client_term_stats_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.client_term_stats
    ADD CONSTRAINT client_term_stats_pkey PRIMARY KEY (client_id, term);

--
-- Name: episodes episodes_client_id_dedupe_key_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.episodes
    ADD CONSTRAINT episodes_client_id_dedupe_key_key UNIQUE (client_id, dedupe_key);

--
-- Name: episodes episodes_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.episodes
    ADD CONSTRAINT episodes_pkey PRIMARY KEY (id);

--
-- Name: extraction_health extraction_health_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.extraction_health
    ADD CONSTRAINT extraction_health_pkey PRIMARY KEY (model);

--
-- Name: forgotten forgotten_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.forgotten
    ADD CONSTRAINT forgotten_pkey PRIMARY KEY (client_id, chat_id);

--
-- Name: memory_entries memory_entries_client_id_turn_key_chunk_index_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.memory_entries
    ADD CONSTRAINT memory_entries_client_id_turn_key_chunk_index_key UNIQUE (client_id, turn_key, chunk_index);

--
-- Name: memory_entries memory_entries_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.memory_entries
    ADD CONSTRAINT memory_entries_pkey PRIMARY KEY (id);

--
-- Name: memory_facts memory_facts_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.memory_facts
    ADD CONSTRAINT memory_facts_pkey PRIMARY KEY (id);

--
-- Name: memplane_meta memplane_meta_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.memplane_meta
    ADD CONSTRAINT memplane_meta_pkey PRIMARY KEY (key);

--
-- Name: memplane_migrations memplane_migrations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.memplane_migrations
    ADD CONSTRAINT memplane_migrations_pkey PRIMARY KEY (version);

--
-- Name: stored_turns stored_turns_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.stored_turns
    ADD CONSTRAINT stored_turns_pkey PRIMARY KEY (client_id, turn_key);

--
-- Name: vector_index_deletions vector_index_deletions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.vector_index_deletions
    ADD CONSTRAINT vector_index_deletions_pkey PRIMARY KEY (point_id);

--
-- Name: vector_index_pending vector_index_pending_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.vector_index_pending
    ADD CONSTRAINT vector_index_pending_pkey PRIMARY KEY (chunk_id);

--
-- Name: webhook_executions webhook_executions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_executions
    ADD CONSTRAINT webhook_executions_pkey PRIMARY KEY (id);

--
-- Name: working_state working_state_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.working_state
    ADD CONSTRAINT working_state_pkey PRIMARY KEY (client_id, session_id);

--
-- Name: cleanup_runs_completed; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX cleanup_runs_completed ON public.cleanup_runs USING btree (finished_at DESC) WHERE (outcome = ANY (ARRAY['ok'::text, 'degraded'::text]));

--
-- Name: cleanup_runs_started; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX cleanup_runs_started ON public.cleanup_runs USING btree (started_at DESC);

--
-- Name: client_profiles_space_of; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX client_profiles_space_of ON public.client_profiles USING btree (space_of) WHERE (space_of IS NOT NULL);

--
-- Name: episodes_client_chat; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX episodes_client_chat ON public.episodes USING btree (client_id, chat_id);

--
-- Name: episodes_client_created; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX episodes_client_created ON public.episodes USING btree (client_id, created_at DESC);

--
-- Name: episodes_extraction_given_up; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX episodes_extraction_given_up ON public.episodes USING btree (extraction_given_up_at) WHERE (extraction_given_up_at IS NOT NULL);

--
-- Name: episodes_extraction_pending; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX episodes_extraction_pending ON public.episodes USING btree (stored_at) WHERE ((extraction_turns IS NOT NULL) AND (extraction_given_up_at IS NULL));

--
-- Name: episodes_missing_embedding; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX episodes_missing_embedding ON public.episodes USING btree (stored_at) WHERE (embedding IS NULL);

--
-- Name: memory_entries_chat_seq; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX memory_entries_chat_seq ON public.memory_entries USING btree (client_id, chat_id, seq);

--
-- Name: memory_entries_client_created; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX memory_entries_client_created ON public.memory_entries USING btree (client_id, created_at DESC);

--
-- Name: memory_entries_client_message; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX memory_entries_client_message ON public.memory_entries USING btree (client_id, message_id) WHERE (message_id IS NOT NULL);

--
-- Name: memory_entries_embedding; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX memory_entries_embedding ON public.memory_entries USING hnsw (embedding public.vector_cosine_ops);

--
-- Name: memory_entries_expires; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX memory_entries_expires ON public.memory_entries USING btree (expires_at) WHERE (expires_at IS NOT NULL);

--
-- Name: memory_entries_missing_embedding; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX memory_entries_missing_embedding ON public.memory_entries USING btree (stored_at) WHERE (embedding IS NULL);

--
-- Name: memory_entries_seq; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX memory_entries_seq ON public.memory_entries USING btree (seq);

--
-- Name: memory_facts_client_key; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX memory_facts_client_key ON public.memory_facts USING btree (client_id, key, valid_from);

--
-- Name: memory_facts_current; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX memory_facts_current ON public.memory_facts USING btree (client_id, key) WHERE (valid_to IS NULL);

--
-- Name: memory_facts_episode; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX memory_facts_episode ON public.memory_facts USING btree (source_episode_id) WHERE (source_episode_id IS NOT NULL);

--
-- Name: memory_postings_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX memory_postings_key ON public.memory_postings USING btree (client_id, term, entry_seq) INCLUDE (tf, dl, created_at);

--
-- Name: memory_postings_seq_range; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX memory_postings_seq_range ON public.memory_postings USING brin (entry_seq) WITH (pages_per_range='16', autosummarize='on');

--
-- Name: stored_turns_stored; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX stored_turns_stored ON public.stored_turns USING btree (stored_at);

--
-- Name: vector_index_pending_client; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX vector_index_pending_client ON public.vector_index_pending USING btree (client_id, chunk_id);

--
-- Name: webhook_executions_client; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX webhook_executions_client ON public.webhook_executions USING btree (client_id, created_at DESC);

--
-- Name: webhook_executions_created; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX webhook_executions_created ON public.webhook_executions USING btree (created_at);

--
-- Name: working_state_expires; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX working_state_expires ON public.working_state USING btree (expires_at);

--
-- Name: memory_entries memory_entries_postings_delete; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER memory_entries_postings_delete AFTER DELETE ON public.memory_entries REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.memory_postings_remove();

--
-- Name: memory_entries memory_entries_postings_insert; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER memory_entries_postings_insert AFTER INSERT ON public.memory_entries REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.memory_postings_add();

--
-- Name: memory_entries memory_entries_stats_delete; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER memory_entries_stats_delete AFTER DELETE ON public.memory_entries REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.memory_stats_remove();

--
-- Name: memory_entries memory_entries_stats_insert; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER memory_entries_stats_insert AFTER INSERT ON public.memory_entries REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.memory_stats_add();

--
-- Name: memory_entries memory_entries_vectors_delete; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER memory_entries_vectors_delete AFTER DELETE ON public.memory_entries REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.memory_vectors_deleted();

--
-- Name: client_doc_stats client_doc_stats_client_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.client_doc_stats
    ADD CONSTRAINT client_doc_stats_client_id_fkey FOREIGN KEY (client_id) REFERENCES public.client_profiles(id) ON DELETE CASCADE;

--
-- Name: client_term_stats client_term_stats_client_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.client_term_stats
    ADD CONSTRAINT client_term_stats_client_id_fkey FOREIGN KEY (client_id) REFERENCES public.client_profiles(id) ON DELETE CASCADE;

--
-- Name: episodes episodes_client_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.episodes
    ADD CONSTRAINT episodes_client_id_fkey FOREIGN KEY (client_id) REFERENCES public.client_profiles(id) ON DELETE CASCADE;

--
-- Name: memory_entries memory_entries_client_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.memory_entries
    ADD CONSTRAINT memory_entries_client_id_fkey FOREIGN KEY (client_id) REFERENCES public.client_profiles(id) ON DELETE CASCADE;

--
-- Name: memory_facts memory_facts_client_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.memory_facts
    ADD CONSTRAINT memory_facts_client_id_fkey FOREIGN KEY (client_id) REFERENCES public.client_profiles(id) ON DELETE CASCADE;

--
-- Name: memory_facts memory_facts_source_episode_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.memory_facts
    ADD CONSTRAINT memory_facts_source_episode_id_fkey FOREIGN KEY (source_episode_id) REFERENCES public.episodes(id) ON DELETE SET NULL;

--
-- Name: working_state working_state_client_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.working_state
    ADD CONSTRAINT working_state_client_id_fkey FOREIGN KEY (client_id) REFERENCES public.client_profiles(id) ON DELETE CASCADE;

--
-- PostgreSQL database dump complete
--
