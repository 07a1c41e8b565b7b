"""What every part of a Postgres session shares: its connection, and rows made into model types."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pgvector import Vector as PgVector
from psycopg.rows import dict_row, scalar_row

from memplane.adapters.postgres.connection import Connection, Statement
from memplane.model import (
    Fact,
    Hit,
    OwedExtraction,
    Profile,
    Turn,
    Vector,
)


class SessionPart:
    """One part of ``PostgresSession``: every part shares the session's connection and transaction."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def _values(self, sql: Statement, params: Sequence[Any] | dict[str, Any]) -> list[Any]:
        """The one column a statement returns, a value a row."""
        with self._conn.cursor(row_factory=scalar_row) as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def _rows(self, sql: Statement, params: Sequence[Any] | dict[str, Any]) -> list[dict[str, Any]]:
        """Rows by column name: what the model types are built from."""
        with self._conn.cursor(row_factory=dict_row) as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def _owed(self, sql: str, params: tuple[Any, ...]) -> list[OwedExtraction]:
        owed: dict[str, OwedExtraction] = {}
        for r in self._rows(sql, params):
            key = str(r["episode_id"])
            episode = owed.setdefault(key, OwedExtraction(key, r["client_id"], r["created_at"], []))
            turn = Turn(key=r["turn_key"], role=r["role"], content=r["content"], message_id=r["message_id"])
            episode.turns.append(turn)
        return list(owed.values())


def as_vector(v: Vector | None) -> PgVector | None:
    return PgVector(v) if v is not None else None


def profile_of(row: dict[str, Any]) -> Profile:
    return Profile(
        client_id=row["id"], full_name=row["full_name"], email=row["email"], tags=tuple(row["tags"] or ())
    )


def fact_of(row: dict[str, Any]) -> Fact:
    source = row["source_episode_id"]
    return Fact(
        key=row["key"],
        value=row["value"],
        confidence=float(row["confidence"]),
        valid_from=row["valid_from"],
        valid_to=row["valid_to"],
        source_episode_id=str(source) if source else None,
    )


def neighbour_of(row: dict[str, Any], side: str) -> Hit | None:
    """The neighbour on ``side`` ("p": before, "n": after) of a row of NEIGHBOURS, if there is one."""
    if row[f"{side}_id"] is None:
        return None
    return Hit(
        id=str(row[f"{side}_id"]),
        content=row[f"{side}_content"],
        role=row[f"{side}_role"],
        message_id=row[f"{side}_message_id"],
        created_at=row[f"{side}_created_at"],
        score=0.0,
    )


def hit_of(row: dict[str, Any], score: float | None = None) -> Hit:
    return Hit(
        id=str(row["id"]),
        content=row["content"],
        role=row["role"],
        message_id=row["message_id"],
        created_at=row["created_at"],
        score=float(row["score"] if score is None else score),
    )
