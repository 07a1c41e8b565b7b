"""The Postgres session's reads: facts, ranked chunks and their neighbours, recent episodes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from memplane.adapters.postgres.session import (
    SessionPart,
    fact_of,
    hit_of,
    neighbour_of,
)
from memplane.language import CONFIGURATIONS
from memplane.model import (
    Episode,
    Fact,
    Hit,
)

READINGS = sorted(CONFIGURATIONS)  # every configuration a question's words are read with

# What a search hit is read from (model.Hit), by name.
HIT_COLUMNS = ("id", "content", "role", "message_id", "created_at")

_FACT_COLUMNS = "key, value, confidence, valid_from, valid_to, source_episode_id"

FACTS_AS_OF = f"""
SELECT {_FACT_COLUMNS} FROM memory_facts
WHERE client_id = %s AND valid_from <= %s AND (valid_to IS NULL OR valid_to > %s)
ORDER BY valid_from DESC, key
LIMIT %s
"""

# The chunks a vector index found, read back from the source of truth: only what is still live.
# Chunks looked up by id join an unnest of the ids rather than filter on id = ANY(...): a prepared
# statement's generic plan cannot see how few ids there are and may scan the whole client instead
# (5 ms instead of 0.3 ms for a client with 100,000 chunks).
CHUNKS_BY_ID = """
SELECT e.id, e.content, e.role, e.message_id, e.created_at
FROM unnest(%s::uuid[]) AS wanted(id) JOIN memory_entries e ON e.id = wanted.id
WHERE e.client_id = %s AND e.created_at <= %s AND (e.expires_at IS NULL OR e.expires_at > now())
"""

# BM25 over the client's chunks, read from memory_postings (migration 0004) without visiting a chunk
# until the best %(k)s are known. The query's terms are OR-ed (plainto_tsquery would AND them and
# miss most natural questions); each weighs by its rarity among this client's chunks (idf).
# Candidates are the chunks holding the rarest terms, taken rarest first while fewer than
# %(budget)s postings are taken (the first term's most recent %(budget)s at most), and never from a
# term in most chunks unless all are: a chunk that holds only common terms rarely ranks, and skipping
# it keeps large memories fast. Candidates are then
# scored exactly, on every query term, from their postings.
# Runs of Chinese, Japanese and Korean characters (as in migration 0007).
CJK = "'[\\u3040-\\u30ff\\u3400-\\u4dbf\\u4e00-\\u9fff\\uf900-\\ufaff\\uac00-\\ud7af]+'"

KEYWORD_SEARCH = f"""
WITH words AS (
    -- The question's words, less those its own language calls stopwords ("как", "the"): read in
    -- another language they would stay, and could meet a stem ("какое" is stemmed to "как").
    SELECT DISTINCT w.token FROM ts_parse('default', regexp_replace(%(t)s, {CJK}, ' ', 'g')) AS w
    WHERE to_tsvector(%(lang)s::regconfig, w.token) <> ''::tsvector
), terms AS (
    -- Each word read by every stemmer and unstemmed, since a question's language is a guess and
    -- memory may be in several; a reading that matches nothing in this client's memory drops out
    -- below (it has no statistics). Chinese, Japanese and Korean as character pairs.
    SELECT DISTINCT lexeme FROM words
    CROSS JOIN unnest(%(readings)s::regconfig[]) AS reading
    CROSS JOIN LATERAL unnest(tsvector_to_array(to_tsvector(reading, words.token))) AS lexeme
    UNION
    SELECT lexeme FROM unnest(tsvector_to_array(to_tsvector('simple', memplane_cjk_pairs(%(t)s)))) AS lexeme
), corpus AS MATERIALIZED (
    SELECT doc_count::float8 AS n, total_len::float8 / greatest(doc_count, 1) AS avgdl
    FROM client_doc_stats WHERE client_id = %(c)s
), idf AS MATERIALIZED (
    SELECT terms.lexeme, s.df, corpus.n, ln(1 + (corpus.n - s.df + 0.5) / (s.df + 0.5)) AS w,
           sum(s.df) OVER (ORDER BY s.df, terms.lexeme) - s.df AS taken_before
    FROM terms CROSS JOIN corpus
    JOIN client_term_stats s ON s.client_id = %(c)s AND s.term = terms.lexeme
), candidates AS MATERIALIZED (
    SELECT array_agg(DISTINCT p.entry_seq) AS seqs
    FROM idf CROSS JOIN LATERAL (
        SELECT m.entry_seq FROM memory_postings m
        WHERE m.client_id = %(c)s AND m.term = idf.lexeme AND m.created_at <= %(as_of)s
        ORDER BY m.entry_seq DESC
        LIMIT %(budget)s
    ) AS p
    WHERE idf.taken_before < %(budget)s
      AND (idf.df <= idf.n / 2 OR NOT EXISTS (SELECT 1 FROM idf AS i WHERE i.df <= i.n / 2))
), scored AS (
    -- Each term's postings for exactly the candidates: one index scan per term, which skips between
    -- them, carrying the term's weight. (One scan over all the terms then matched every posting
    -- against every term to find its weight: p95 10.0 -> 7.2 ms without it, at 100,000 chunks.)
    -- avgdl as a scalar (an InitPlan), not a join: this sums thousands of postings.
    SELECT p.entry_seq, sum(
        idf.w * p.tf * (%(k1)s + 1)
        / (p.tf + %(k1)s * (1 - %(b)s + %(b)s * p.dl / (SELECT avgdl FROM corpus)))
    ) AS score
    FROM idf CROSS JOIN LATERAL (
        SELECT m.entry_seq, m.tf, m.dl FROM memory_postings m
        WHERE m.client_id = %(c)s AND m.term = idf.lexeme
          AND m.entry_seq = ANY(((SELECT seqs FROM candidates))::bigint[])
        -- Kept a scan a term whatever the statistics say (OFFSET 0 stops the planner merging it):
        -- for a client newer than the last ANALYZE it otherwise read every candidate's postings once
        -- and matched them against every term, twice as slow on memory just written.
        OFFSET 0
    ) AS p
    GROUP BY p.entry_seq
    ORDER BY score DESC, p.entry_seq DESC
    LIMIT %(k)s
)
SELECT e.id, e.content, e.role, e.message_id, e.created_at, scored.score
FROM scored JOIN memory_entries e ON e.seq = scored.entry_seq
WHERE e.created_at <= %(as_of)s AND (e.expires_at IS NULL OR e.expires_at > now())
ORDER BY scored.score DESC, e.seq DESC
"""


# For each given chunk, the chunks stored just before and just after it in the same conversation, as
# of the question's time. A conversation is a chat; a caller that sends no chat id has its chat-less
# messages taken as one conversation while they are less than an hour apart. Each side is a UNION of
# the two cases, of which only the one that applies runs (its first condition is a constant per row).
_CONVERSATION_GAP = "interval '1 hour'"


def _next_to(alias: str, before: bool) -> str:
    seq = f"{alias}.seq < c.seq" if before else f"{alias}.seq > c.seq"
    order = f"{alias}.seq DESC" if before else f"{alias}.seq"
    near = (
        f"{alias}.created_at >= c.created_at - {_CONVERSATION_GAP}"
        if before
        else f"{alias}.created_at <= c.created_at + {_CONVERSATION_GAP}"
    )
    live = f"({alias}.expires_at IS NULL OR {alias}.expires_at > now())"
    common = f"{alias}.client_id = c.client_id AND {seq} AND {alias}.created_at <= %(as_of)s AND {live}"
    columns = ", ".join(f"{alias}.{col}" for col in HIT_COLUMNS)
    return f"""(
        (SELECT {columns} FROM memory_entries {alias}
         WHERE c.chat_id IS NOT NULL AND {alias}.chat_id = c.chat_id AND {common}
         ORDER BY {order} LIMIT 1)
        UNION ALL
        (SELECT {columns} FROM memory_entries {alias}
         WHERE c.chat_id IS NULL AND {alias}.chat_id IS NULL AND {near} AND {common}
         ORDER BY {order} LIMIT 1)
    )"""


NEIGHBOURS = f"""
SELECT c.id,
       p.id AS p_id, p.content AS p_content, p.role AS p_role, p.message_id AS p_message_id,
       p.created_at AS p_created_at,
       n.id AS n_id, n.content AS n_content, n.role AS n_role, n.message_id AS n_message_id,
       n.created_at AS n_created_at
FROM memory_entries c
LEFT JOIN LATERAL {_next_to("p", before=True)} AS p ON true
LEFT JOIN LATERAL {_next_to("n", before=False)} AS n ON true
JOIN unnest(%(ids)s::uuid[]) AS wanted(id) ON c.id = wanted.id
WHERE c.client_id = %(c)s
"""

RECENT_EPISODES = """
SELECT id, summary, created_at FROM episodes
WHERE client_id = %s AND archived_at IS NULL AND created_at <= %s
ORDER BY created_at DESC
LIMIT %s
"""


class Reads(SessionPart):
    """What assemble reads: facts, ranked chunks and their neighbours, recent episodes."""

    def current_facts(self, client_id: str, as_of: datetime, limit: int) -> list[Fact]:
        return [fact_of(r) for r in self._rows(FACTS_AS_OF, (client_id, as_of, as_of, limit))]

    def chunks(self, client_id: str, scored: Sequence[tuple[str, float]], as_of: datetime) -> list[Hit]:
        score = dict(scored)
        rows = self._rows(CHUNKS_BY_ID, (list(score), client_id, as_of))
        hits = [hit_of(r, score[str(r["id"])]) for r in rows]
        return sorted(hits, key=lambda h: h.score, reverse=True)

    def keyword_search(
        self,
        client_id: str,
        text: str,
        as_of: datetime,
        limit: int,
        k1: float,
        b: float,
        budget: int,
        language: str = "english",
    ) -> list[Hit]:
        params = {
            "t": text,
            "c": client_id,
            "as_of": as_of,
            "k": limit,
            "k1": k1,
            "b": b,
            "budget": budget,
            "lang": language,
            "readings": READINGS,
        }
        return [hit_of(r) for r in self._rows(KEYWORD_SEARCH, params)]

    def neighbours(
        self, client_id: str, ids: Sequence[str], as_of: datetime
    ) -> dict[str, tuple[Hit | None, Hit | None]]:
        rows = self._rows(NEIGHBOURS, {"ids": list(ids), "c": client_id, "as_of": as_of})
        return {str(r["id"]): (neighbour_of(r, "p"), neighbour_of(r, "n")) for r in rows}

    def recent_episodes(self, client_id: str, as_of: datetime, limit: int) -> list[Episode]:
        rows = self._rows(RECENT_EPISODES, (client_id, as_of, limit))
        return [Episode(id=str(r["id"]), summary=r["summary"], created_at=r["created_at"]) for r in rows]
