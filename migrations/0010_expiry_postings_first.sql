-- Cleanup deletes the postings of expiring chunks before the chunks themselves.
--
-- At 1536 dimensions each vector is stored out of line (TOAST, 6 KB). Deleting 100,000 chunks dirties
-- some 75,000 TOAST pages, far more than shared_buffers holds; the postings trigger, which runs after
-- the DELETE statement, then found the postings' pages evicted and wrote its way through the others:
-- 3.8 s of a 10.2-10.4 s cleanup. Deleted first, while their pages are still in memory, the same
-- postings take 1.1 s, and the trigger's pass that follows finds nothing left (0.2 s); the delete and
-- vacuum of 100,000 chunks go from 9.9-11.9 s (five runs) to 8.3-8.7 s (two).
--
-- The trigger stays the authority: anything the DELETE takes that this pass did not see (a chunk
-- stored meanwhile with a past expiry) still loses its postings there, in the same transaction.

CREATE FUNCTION memory_postings_expire(p_now timestamptz) RETURNS void LANGUAGE plpgsql
-- Statistics are gathered before chunks expire, so the planner often expects one expired chunk; for
-- one, a nested loop of block-range lookups looks cheapest, and for 100,000 it takes over 20 s. A hash
-- join over the block range that holds them takes about 1 s.
SET enable_nestloop = off
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

-- As in 0006, with the postings deleted first.
CREATE OR REPLACE FUNCTION cleanup_expired_memory(
    p_now timestamptz, p_archive_before timestamptz, p_ledger_before timestamptz,
    p_audit_before timestamptz
) RETURNS TABLE (
    deleted_entries bigint, deleted_state bigint, archived_episodes bigint,
    deleted_turns bigint, deleted_calls bigint
) LANGUAGE plpgsql AS $$
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
