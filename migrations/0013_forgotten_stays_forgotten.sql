-- A forget stays forgotten. Open WebUI sends a chat's recent history with every exchange, so what a
-- person asked to forget comes back on the chat's next turn, or in the same turn (the Tool forgets,
-- then the filter's outlet sends the history). Two guards keep it out:
--
-- * The writeback ledger keeps a forgotten client's message keys (Open WebUI's ids, or hashes; no
--   text), as it already did for a forgotten chat or message: a resent message is known and skipped.
--   The ledger therefore outlives the profile, and its foreign key goes.
-- * A tombstone records when a client (chat_id '') or one of its chats was forgotten: a message that
--   the caller dates at or before it is not stored, whether or not the ledger ever saw it (the
--   question that asked to forget, the answer Open WebUI created before the Tool ran).
--
-- A tombstone holds the client's id and a time, nothing else, and is kept: a chat resent a year
-- later must not bring back what was erased.
CREATE TABLE forgotten (
    client_id    text NOT NULL,
    chat_id      text NOT NULL DEFAULT '',
    forgotten_at timestamptz NOT NULL,
    PRIMARY KEY (client_id, chat_id)
);

ALTER TABLE stored_turns DROP CONSTRAINT stored_turns_client_id_fkey;
