"""What every part of a Postgres session shares: its connection, and rows made into model types."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pgvector import Vector as PgVector
from psycopg.rows import tuple_row

from memplane.adapters.postgres.connection import Connection
from memplane.model import (
    Fact,
    Hit,
    OwedExtraction,
    Profile,
    ProfileUpdate,
    Turn,
    Vector,
)


class SessionPart:
    """One part of ``PostgresSession``: every part shares the session's connection and transaction."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def _all(self, sql: str, params: Sequence[Any] | dict[str, Any]) -> list[tuple[Any, ...]]:
        with self._conn.cursor(row_factory=tuple_row) as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def _owed(self, sql: str, params: tuple[Any, ...]) -> list[OwedExtraction]:
        owed: dict[str, OwedExtraction] = {}
        for r in self._all(sql, params):
            episode = owed.setdefault(str(r[0]), OwedExtraction(str(r[0]), r[1], r[2], []))
            episode.turns.append(Turn(key=r[3], role=r[4], content=r[5], message_id=r[6]))
        return list(owed.values())


def unchanged(current: Profile, update: ProfileUpdate) -> bool:
    return (
        update.full_name in (None, current.full_name)
        and update.email in (None, current.email)
        and (update.tags is None or tuple(update.tags) == current.tags)
    )


def as_vector(v: Vector | None) -> PgVector | None:
    return PgVector(v) if v is not None else None


def profile_of(row: tuple[Any, ...]) -> Profile:
    return Profile(client_id=row[0], full_name=row[1], email=row[2], tags=tuple(row[3] or ()))


def fact_of(row: tuple[Any, ...]) -> Fact:
    return Fact(
        key=row[0],
        value=row[1],
        confidence=float(row[2]),
        valid_from=row[3],
        valid_to=row[4],
        source_episode_id=str(row[5]) if row[5] else None,
    )


def neighbour_of(cols: tuple[Any, ...]) -> Hit | None:
    if cols[0] is None:
        return None
    return Hit(
        id=str(cols[0]), content=cols[1], role=cols[2], message_id=cols[3], created_at=cols[4], score=0.0
    )


def hit_of(row: tuple[Any, ...]) -> Hit:
    return Hit(
        id=str(row[0]),
        content=row[1],
        role=row[2],
        message_id=row[3],
        created_at=row[4],
        score=float(row[5]),
    )
