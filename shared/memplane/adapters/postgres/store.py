"""The memory store on Postgres + pgvector: translates between rows and ``memplane.model``."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from pgvector import Vector as PgVector
from psycopg.rows import dict_row, tuple_row
from psycopg.types.json import Jsonb

from memplane.adapters.postgres import queries as q
from memplane.adapters.postgres.connection import Connection, Database
from memplane.adapters.postgres.versions import iterative_scan
from memplane.errors import DatabaseError
from memplane.language import CONFIGURATIONS
from memplane.model import (
    CleanupCounts,
    Episode,
    Erased,
    Execution,
    Fact,
    FactCandidate,
    ForgetScope,
    Hit,
    IndexPoint,
    NewChunk,
    NewEpisode,
    OwedExtraction,
    Profile,
    ProfileUpdate,
    Turn,
    Vector,
)

READINGS = sorted(CONFIGURATIONS)  # every configuration a question's words are read with


class PostgresStore:
    """``MemoryStore`` over a ``Database``. Each session is one transaction with a statement budget."""

    def __init__(self, db: Database, *, statement_timeout_ms: int = 5000) -> None:
        self._db = db
        self._timeout = str(int(statement_timeout_ms))

    @contextmanager
    def session(self, timeout_ms: int | None = None) -> Iterator[PostgresSession]:
        budget = str(int(timeout_ms)) if timeout_ms is not None else self._timeout
        with self._db.connection() as conn, conn.transaction():
            # Both budgets are transaction-local, so they also hold behind PgBouncer's transaction mode.
            conn.execute(q.SET_BUDGET, (budget, budget))
            yield PostgresSession(conn)

    def log_execution(self, e: Execution) -> None:
        with self._db.connection() as conn, conn.transaction():
            conn.execute(
                q.LOG_EXECUTION,
                (
                    e.function,
                    e.request_id,
                    e.client_id,
                    e.status,
                    e.error_code,
                    e.duration_ms,
                    list(e.degraded),
                    e.action,
                ),
            )

    def ping(self) -> dict[str, str]:
        with self._db.connection() as conn:
            row = conn.execute(q.PING).fetchone()
            conn.rollback()
        if row is None or row[0] is None:
            raise DatabaseError("the database has no memplane schema; run `memplane migrate`")
        version = str(row[1])
        return {
            "schema_version": str(row[0]),
            "pgvector": version,
            "iterative_scan": "true" if iterative_scan(version) else "false",
        }

    def vacuum(self) -> None:
        """VACUUM cannot run inside a transaction: borrow a connection and switch it to autocommit."""
        with self._db.connection() as conn:
            conn.rollback()
            conn.autocommit = True
            try:
                for table, options in q.VACUUMED_TABLES:
                    conn.execute(f"VACUUM ({options}) {table}")
            finally:
                conn.autocommit = False


class PostgresSession:
    """``StoreSession`` bound to one connection inside an open transaction."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def _all(self, sql: str, params: Sequence[Any] | dict[str, Any]) -> list[tuple[Any, ...]]:
        with self._conn.cursor(row_factory=tuple_row) as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def get_profile(self, client_id: str) -> Profile | None:
        rows = self._all(q.GET_PROFILE, (client_id,))
        return _profile(rows[0]) if rows else None

    def upsert_profile(self, client_id: str, update: ProfileUpdate) -> Profile:
        # The filter sends the profile with every call: read first, so that an unchanged profile
        # costs a lookup rather than a new row version and a lock on every assemble.
        current = self.get_profile(client_id)
        if current is not None and _unchanged(current, update):
            return current
        tags = list(update.tags) if update.tags is not None else None
        rows = self._all(q.UPSERT_PROFILE, (client_id, update.full_name, update.email, tags, tags))
        return _profile(rows[0])

    def known_turn_keys(self, client_id: str, keys: Sequence[str]) -> set[str]:
        rows = self._all(q.KNOWN_TURNS, (client_id, list(keys)))
        return {row[0] for row in rows}

    def forgotten_at(self, client_id: str, chat_id: str | None) -> datetime | None:
        rows = self._all(q.FORGOTTEN_AT, (client_id, chat_id))
        return rows[0][0] if rows else None

    def claim_turns(self, client_id: str, keys: Sequence[str]) -> set[str]:
        """Record turn keys as stored; return those that were new (a concurrent writer got the rest)."""
        rows = self._all(q.CLAIM_TURNS, (client_id, list(keys)))
        return {row[0] for row in rows}

    def find_episode(self, client_id: str, dedupe_key: str) -> str | None:
        rows = self._all(q.FIND_EPISODE, (client_id, dedupe_key))
        return str(rows[0][0]) if rows else None

    def insert_chunks(self, chunks: Sequence[NewChunk]) -> tuple[int, list[IndexPoint]]:
        if not chunks:
            return 0, []
        claimed = self.claim_turns(chunks[0].client_id, sorted({c.turn_key for c in chunks}))
        rows = [c for c in chunks if c.turn_key in claimed]
        if not rows:
            return 0, []
        sql = q.INSERT_CHUNKS.format(rows=", ".join([q.CHUNK_ROW] * len(rows)))
        params = [
            value
            for c in rows
            for value in (
                c.client_id,
                c.turn_key,
                c.chunk_index,
                c.message_id,
                c.chat_id,
                c.role,
                c.content,
                _vec(c.embedding),
                c.created_at,
                c.expires_at,
                c.lang,
            )
        ]
        by_key = {(c.turn_key, c.chunk_index): c for c in rows}
        with self._conn.cursor() as cur:
            cur.execute(sql.encode(), params)
            stored = cur.fetchall()
        points = []
        for row_id, turn_key, chunk_index in stored:
            c = by_key[(turn_key, chunk_index)]
            if c.embedding is not None:
                points.append(IndexPoint(str(row_id), c.client_id, c.embedding, c.created_at, c.expires_at))
        return len(stored), points

    def insert_episode(self, episode: NewEpisode) -> tuple[str, bool]:
        e = episode
        rows = self._all(
            q.INSERT_EPISODE,
            (
                e.client_id,
                e.dedupe_key,
                e.chat_id,
                e.summary,
                _vec(e.embedding),
                list(e.message_ids),
                e.created_at,
                list(e.extraction_owed) if e.extraction_owed else None,
            ),
        )
        if rows:
            return str(rows[0][0]), True
        existing = self.find_episode(e.client_id, e.dedupe_key)
        assert existing is not None  # the conflict that skipped the insert is this very row
        return existing, False

    def upsert_fact(self, client_id: str, fact: FactCandidate, at: datetime, episode_id: str | None) -> bool:
        rows = self._all(q.UPSERT_FACT, (client_id, fact.key, fact.value, fact.confidence, at, episode_id))
        return bool(rows[0][0])

    def touch_working_state(
        self, client_id: str, session_id: str, state: dict[str, object], expires_at: datetime
    ) -> None:
        self._conn.execute(q.TOUCH_STATE, (client_id, session_id, Jsonb(state), expires_at))

    def current_facts(self, client_id: str, as_of: datetime, limit: int) -> list[Fact]:
        return [_fact(r) for r in self._all(q.FACTS_AS_OF, (client_id, as_of, as_of, limit))]

    def chunks(self, client_id: str, scored: Sequence[tuple[str, float]], as_of: datetime) -> list[Hit]:
        score = dict(scored)
        rows = self._all(q.CHUNKS_BY_ID, (list(score), client_id, as_of))
        hits = [_hit((*r, score[str(r[0])])) for r in rows]
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
        return [_hit(r) for r in self._all(q.KEYWORD_SEARCH, params)]

    def neighbours(
        self, client_id: str, ids: Sequence[str], as_of: datetime
    ) -> dict[str, tuple[Hit | None, Hit | None]]:
        rows = self._all(q.NEIGHBOURS, {"ids": list(ids), "c": client_id, "as_of": as_of})
        return {str(r[0]): (_neighbour(r[1:6]), _neighbour(r[6:11])) for r in rows}

    def recent_episodes(self, client_id: str, as_of: datetime, limit: int) -> list[Episode]:
        rows = self._all(q.RECENT_EPISODES, (client_id, as_of, limit))
        return [Episode(id=str(r[0]), summary=r[1], created_at=r[2]) for r in rows]

    def forget(self, scope: ForgetScope) -> Erased:
        statements: tuple[tuple[str, str], ...]
        if scope.fact_key is not None:
            statements = q.FORGET_FACT
        elif scope.chat_id is not None:
            statements = q.FORGET_CHAT
        elif scope.message_ids is not None:
            statements = q.FORGET_MESSAGES
        else:
            statements = q.FORGET_CLIENT
        params = {
            "c": scope.client_id,
            "key": scope.fact_key,
            "chat": scope.chat_id,
            "ids": list(scope.message_ids or ()),
        }
        counts: dict[str, int] = {}
        chunk_ids: list[str] = []
        reopened: list[str] = []
        for table, sql in statements:
            with self._conn.cursor(row_factory=tuple_row) as cur:
                cur.execute(sql, params)
                if sql.startswith("SELECT"):
                    row = cur.fetchone()
                    counts[table] = int(row[0]) if row else 0
                    continue
                if table == "chunks":
                    chunk_ids = [str(r[0]) for r in cur.fetchall()]
                if table == "-episodes_reopened":
                    reopened = [str(r[0]) for r in cur.fetchall()]
                if not table.startswith("-"):
                    counts[table] = cur.rowcount
        return Erased(counts, chunk_ids, self._owed(q.OWED_BY_EPISODE, (reopened,)) if reopened else [])

    def owed_extractions(self, limit: int) -> list[OwedExtraction]:
        return self._owed(q.OWED_EXTRACTIONS, (limit,))

    def _owed(self, sql: str, params: tuple[Any, ...]) -> list[OwedExtraction]:
        owed: dict[str, OwedExtraction] = {}
        for r in self._all(sql, params):
            episode = owed.setdefault(str(r[0]), OwedExtraction(str(r[0]), r[1], r[2], []))
            episode.turns.append(Turn(key=r[3], role=r[4], content=r[5], message_id=r[6]))
        return list(owed.values())

    def set_summary(self, episode_id: str, summary: str) -> None:
        self._conn.execute(q.SET_SUMMARY, (summary, episode_id))

    def extraction_settled(self, episode_id: str, succeeded: bool, max_attempts: int) -> None:
        if succeeded:
            self._conn.execute(q.EXTRACTION_DONE, (episode_id,))
        else:
            self._conn.execute(q.EXTRACTION_FAILED, (max_attempts, episode_id))

    def end_fact(self, client_id: str, key: str, at: datetime) -> bool:
        with self._conn.cursor() as cur:
            cur.execute(q.END_FACT, {"c": client_id, "key": key, "at": at})
            return cur.rowcount > 0

    def export_rows(
        self, client_id: str, section: str, after: str | None, limit: int
    ) -> list[tuple[str, dict[str, Any]]]:
        with self._conn.cursor(row_factory=dict_row) as cur:
            cur.execute(q.EXPORT[section], {"c": client_id, "after": after, "n": limit})
            rows = cur.fetchall()
        return [(str(row.pop("position")), row) for row in rows]

    def expire(
        self, now: datetime, archive_before: datetime, ledger_before: datetime | None, audit_before: datetime
    ) -> CleanupCounts:
        row = self._all(q.CLEANUP, (now, archive_before, ledger_before, audit_before))[0]
        return CleanupCounts(*(int(v) for v in row))

    def missing_embeddings(self, limit: int) -> list[tuple[str, str, str]]:
        return [(r[0], str(r[1]), r[2]) for r in self._all(q.MISSING_EMBEDDINGS, (limit, limit))]

    def set_embedding(self, kind: str, row_id: str, vector: Vector) -> None:
        sql = q.SET_CHUNK_EMBEDDING if kind == "chunk" else q.SET_EPISODE_EMBEDDING
        self._conn.execute(sql, (PgVector(vector), row_id))

    def unindexed(self, limit: int, client_id: str | None = None) -> list[IndexPoint]:
        if client_id is None:
            rows = self._all(q.UNINDEXED, (limit,))
        else:
            rows = self._all(q.UNINDEXED_OF_CLIENT, (client_id, limit))
        return [IndexPoint(str(r[0]), r[1], r[2].to_list(), r[3], r[4]) for r in rows]

    def queue_for_index(self, ids: Sequence[str]) -> None:
        self._conn.execute(q.QUEUE_FOR_INDEX, (list(ids),))

    def mark_indexed(self, ids: Sequence[str]) -> set[str]:
        live = {str(r[0]) for r in self._all(q.MARK_INDEXED, {"ids": list(ids)})}
        return set(ids) - live

    def mark_unindexed(self, client_id: str | None = None) -> int:
        with self._conn.cursor() as cur:
            if client_id is None:
                cur.execute(q.QUEUE_ALL_FOR_INDEX)
            else:
                cur.execute(q.QUEUE_CLIENT_FOR_INDEX, (client_id,))
            return cur.rowcount

    def index_deletions(self, limit: int) -> list[tuple[str, str]]:
        return [(r[0], str(r[1])) for r in self._all(q.INDEX_DELETIONS, (limit,))]

    def forget_index_deletions(self, ids: Sequence[str] | None) -> None:
        if ids is None:
            self._conn.execute(q.FORGET_ALL_INDEX_DELETIONS)
        else:
            self._conn.execute(q.FORGET_INDEX_DELETIONS, (list(ids),))

    def live_chunk_ids(self, client_id: str, ids: Sequence[str]) -> set[str]:
        return {str(r[0]) for r in self._all(q.LIVE_CHUNK_IDS, (client_id, list(ids)))}

    def count_unindexed(self, client_id: str | None = None) -> int:
        if client_id is None:
            return int(self._all(q.COUNT_UNINDEXED, ())[0][0])
        return int(self._all(q.COUNT_UNINDEXED + " AND p.client_id = %s", (client_id,))[0][0])


def _unchanged(current: Profile, update: ProfileUpdate) -> bool:
    return (
        update.full_name in (None, current.full_name)
        and update.email in (None, current.email)
        and (update.tags is None or tuple(update.tags) == current.tags)
    )


def _vec(v: Vector | None) -> PgVector | None:
    return PgVector(v) if v is not None else None


def _profile(row: tuple[Any, ...]) -> Profile:
    return Profile(client_id=row[0], full_name=row[1], email=row[2], tags=tuple(row[3] or ()))


def _fact(row: tuple[Any, ...]) -> Fact:
    return Fact(
        key=row[0],
        value=row[1],
        confidence=float(row[2]),
        valid_from=row[3],
        valid_to=row[4],
        source_episode_id=str(row[5]) if row[5] else None,
    )


def _neighbour(cols: tuple[Any, ...]) -> Hit | None:
    if cols[0] is None:
        return None
    return Hit(
        id=str(cols[0]), content=cols[1], role=cols[2], message_id=cols[3], created_at=cols[4], score=0.0
    )


def _hit(row: tuple[Any, ...]) -> Hit:
    return Hit(
        id=str(row[0]),
        content=row[1],
        role=row[2],
        message_id=row[3],
        created_at=row[4],
        score=float(row[5]),
    )
