-- Extraction that fails says so, and stops. A model behind OpenRouter whose replies memplane cannot
-- read used to fail every writeback silently and be retried every night forever.
--
-- extraction_health: one row per chat model that has failed, while it fails: since when, how often,
-- how (unavailable, unreadable, cut, empty) and a short redacted excerpt of the last unreadable reply,
-- so /health can name the model and an operator can see why. Refusals (a model declining an exchange)
-- are counted, not retried.
--
-- Owed extractions back off (extraction_next_at) and, after the configured attempts, are given up
-- (extraction_given_up_at) rather than forgotten: their messages are kept, health counts them, and
-- `memplane extractions --retry` queues them again once the model works.
CREATE TABLE extraction_health (
    model           text PRIMARY KEY,
    failing_since   timestamptz,
    last_failure_at timestamptz,
    failures        bigint NOT NULL DEFAULT 0,
    last_kind       text,
    last_error      text,
    last_excerpt    text,
    refusals        bigint NOT NULL DEFAULT 0,
    last_refusal_at timestamptz,
    last_ok_at      timestamptz
);

ALTER TABLE episodes ADD COLUMN extraction_next_at timestamptz;
ALTER TABLE episodes ADD COLUMN extraction_given_up_at timestamptz;

-- Episodes given up by the old rule lost their turn list; nothing can be done for them. From now on
-- a given-up episode keeps it.
DROP INDEX episodes_extraction_pending;
CREATE INDEX episodes_extraction_pending ON episodes (stored_at)
    WHERE extraction_turns IS NOT NULL AND extraction_given_up_at IS NULL;
CREATE INDEX episodes_extraction_given_up ON episodes (extraction_given_up_at)
    WHERE extraction_given_up_at IS NOT NULL;
