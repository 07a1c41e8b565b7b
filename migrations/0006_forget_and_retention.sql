-- Forgetting, and nothing kept forever.
--
-- The audit log records what kind of call ran (a forget, an export) without any of what it touched,
-- and its rows go after a retention period. The writeback ledger (stored_turns) keeps a message's key
-- while its memory lives and one TTL after (below); a deliberate forget of a chat or of messages
-- keeps the keys (no text), so that Open WebUI resending the chat does not store what the user asked
-- to forget; forgetting a client deletes them all.

ALTER TABLE webhook_executions ADD COLUMN action text;

CREATE INDEX stored_turns_stored ON stored_turns (stored_at);
CREATE INDEX memory_entries_client_message ON memory_entries (client_id, message_id)
    WHERE message_id IS NOT NULL;
CREATE INDEX episodes_client_chat ON episodes (client_id, chat_id);
CREATE INDEX memory_facts_episode ON memory_facts (source_episode_id) WHERE source_episode_id IS NOT NULL;

-- A new signature beside the old one, which stays: the functions of the previous version call it until
-- they are replaced, so migrating first and deploying second never breaks a running cleanup.
-- p_ledger_before: message keys stored before it whose memory is gone are deleted (NULL: memory never
-- expires, and keys only go when a client is forgotten). Cleanup passes now minus twice the memory TTL:
-- an expired message's key outlives it by one TTL, so that Open WebUI resending an old chat soon after
-- does not store it again, and then goes.
CREATE FUNCTION cleanup_expired_memory(
    p_now timestamptz, p_archive_before timestamptz, p_ledger_before timestamptz,
    p_audit_before timestamptz
) RETURNS TABLE (
    deleted_entries bigint, deleted_state bigint, archived_episodes bigint,
    deleted_turns bigint, deleted_calls bigint
) LANGUAGE plpgsql AS $$
BEGIN
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
