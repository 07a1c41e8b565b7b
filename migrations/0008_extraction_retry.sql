-- Facts an exchange should have given, when the LLM failed at the time (timed out, answered 500 or
-- nonsense): the exchange was stored with a plain summary and no facts. The episode remembers which
-- messages it covered (their keys, no text) and that extraction is owed; cleanup tries again.
ALTER TABLE episodes ADD COLUMN extraction_turns text[];
ALTER TABLE episodes ADD COLUMN extraction_attempts smallint NOT NULL DEFAULT 0;
CREATE INDEX episodes_extraction_pending ON episodes (stored_at) WHERE extraction_turns IS NOT NULL;
