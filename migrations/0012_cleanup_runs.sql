-- Each nightly cleanup leaves a row: when it started and finished, how it ended and what it did, so a
-- deployment whose schedule never fires (a remote build that dropped the trigger, an account refused
-- the scheduled-trigger preview) shows it in /health instead of silently keeping everything forever.
--
-- A run the platform killed keeps finished_at NULL: it is not a completed run. Rows are few (one a
-- night) and cleanup keeps a year of them.
CREATE TABLE cleanup_runs (
    id          bigserial PRIMARY KEY,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz,
    outcome     text NOT NULL DEFAULT 'running'
                CHECK (outcome IN ('running', 'ok', 'degraded', 'failed')),
    counts      jsonb NOT NULL DEFAULT '{}'::jsonb,
    error_code  text
);
CREATE INDEX cleanup_runs_started ON cleanup_runs (started_at DESC);
CREATE INDEX cleanup_runs_completed ON cleanup_runs (finished_at DESC) WHERE outcome IN ('ok', 'degraded');
