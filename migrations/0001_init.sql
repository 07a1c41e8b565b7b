-- memplane schema, version 1.
-- Applied by `memplane migrate` in one transaction. {{embedding_dim}} is replaced by the configured
-- MEMPLANE_EMBEDDING_DIM (an integer, validated before substitution) and recorded in memplane_meta.

CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE memplane_meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);
INSERT INTO memplane_meta (key, value) VALUES ('embedding_dim', '{{embedding_dim}}');

CREATE TABLE client_profiles (
    id         text PRIMARY KEY,
    full_name  text,
    email      text,
    tags       text[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per chunk of a stored message. turn_key is the message id, or a content hash when the
-- caller sent none; (client_id, turn_key, chunk_index) is what makes resent histories idempotent.
-- Every message key ever stored, kept after its chunks expire: Open WebUI resends whole histories, and
-- a message whose memory expired must not come back as new.
CREATE TABLE stored_turns (
    client_id  text NOT NULL REFERENCES client_profiles (id) ON DELETE CASCADE,
    turn_key   text NOT NULL,
    stored_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client_id, turn_key)
);

CREATE TABLE memory_entries (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    client_id   text NOT NULL REFERENCES client_profiles (id) ON DELETE CASCADE,
    turn_key    text NOT NULL,
    chunk_index integer NOT NULL DEFAULT 0,
    message_id  text,
    chat_id     text,
    role        text NOT NULL,
    content     text NOT NULL,
    embedding   vector({{embedding_dim}}),
    content_tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', content)) STORED,
    metadata    jsonb NOT NULL DEFAULT '{}',
    rating      smallint,
    created_at  timestamptz NOT NULL,
    stored_at   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz,
    UNIQUE (client_id, turn_key, chunk_index)
);
CREATE INDEX memory_entries_client_created ON memory_entries (client_id, created_at DESC);
CREATE INDEX memory_entries_expires ON memory_entries (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX memory_entries_missing_embedding ON memory_entries (stored_at) WHERE embedding IS NULL;
CREATE INDEX memory_entries_tsv ON memory_entries USING gin (content_tsv);
-- HNSW rather than ivfflat: ivfflat built on an empty table has poor recall until rebuilt.
CREATE INDEX memory_entries_embedding ON memory_entries USING hnsw (embedding vector_cosine_ops);

CREATE TABLE episodes (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    client_id   text NOT NULL REFERENCES client_profiles (id) ON DELETE CASCADE,
    dedupe_key  text NOT NULL,
    chat_id     text,
    summary     text NOT NULL,
    embedding   vector({{embedding_dim}}),
    message_ids text[] NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL,
    stored_at   timestamptz NOT NULL DEFAULT now(),
    archived_at timestamptz,
    UNIQUE (client_id, dedupe_key)
);
CREATE INDEX episodes_client_created ON episodes (client_id, created_at DESC);
CREATE INDEX episodes_missing_embedding ON episodes (stored_at) WHERE embedding IS NULL;
CREATE INDEX episodes_embedding ON episodes USING hnsw (embedding vector_cosine_ops);

-- Facts keep their history: the current value of a key has valid_to NULL; a newer value closes it.
CREATE TABLE memory_facts (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id         text NOT NULL REFERENCES client_profiles (id) ON DELETE CASCADE,
    key               text NOT NULL,
    value             text NOT NULL,
    confidence        real NOT NULL CHECK (confidence >= 0 AND confidence <= 1),
    source_episode_id uuid REFERENCES episodes (id) ON DELETE SET NULL,
    valid_from        timestamptz NOT NULL,
    valid_to          timestamptz,
    recorded_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (valid_to IS NULL OR valid_to >= valid_from)
);
CREATE UNIQUE INDEX memory_facts_current ON memory_facts (client_id, key) WHERE valid_to IS NULL;
CREATE INDEX memory_facts_client_key ON memory_facts (client_id, key, valid_from);

CREATE TABLE working_state (
    client_id  text NOT NULL REFERENCES client_profiles (id) ON DELETE CASCADE,
    session_id text NOT NULL,
    state      jsonb NOT NULL DEFAULT '{}',
    updated_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (client_id, session_id)
);
CREATE INDEX working_state_expires ON working_state (expires_at);

-- One audit row per call. No foreign key: calls for unknown clients are logged too.
CREATE TABLE webhook_executions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    function    text NOT NULL,
    request_id  text NOT NULL,
    client_id   text,
    status      integer NOT NULL,
    error_code  text,
    duration_ms real NOT NULL,
    degraded    text[] NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_executions_client ON webhook_executions (client_id, created_at DESC);
CREATE INDEX webhook_executions_created ON webhook_executions (created_at);

-- Sets the current value of a fact. Returns true when something changed (a new key, a new value, or a
-- late-arriving older value recorded as history); false when the value was already current.
CREATE FUNCTION upsert_memory_fact(
    p_client_id text, p_key text, p_value text, p_confidence real,
    p_at timestamptz, p_episode_id uuid
) RETURNS boolean LANGUAGE plpgsql AS $$
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

-- Deletes memory and working state past their TTL and archives episodes older than p_archive_before.
CREATE FUNCTION cleanup_expired_memory(p_now timestamptz, p_archive_before timestamptz)
RETURNS TABLE (deleted_entries bigint, deleted_state bigint, archived_episodes bigint)
LANGUAGE plpgsql AS $$
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
