"""Postgres + pgvector: the source of truth."""

from memplane.adapters.postgres.connection import Database
from memplane.adapters.postgres.extractions import PostgresExtractionLog
from memplane.adapters.postgres.runs import PostgresCleanupRuns
from memplane.adapters.postgres.store import PostgresStore

__all__ = ["Database", "PostgresCleanupRuns", "PostgresExtractionLog", "PostgresStore"]
