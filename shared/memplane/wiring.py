"""Builds the adapters from settings, once per warm container. The only module that picks adapters.

Nothing here runs at import: the container is built on the first request, so a cold start that only
imports memplane does no I/O, and a misconfiguration becomes a clear 503 rather than an import crash.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from threading import Lock

from pydantic import SecretStr

from memplane.adapters.hash_embedder import HashEmbedder
from memplane.adapters.pgvector import PgvectorIndex
from memplane.adapters.postgres import Database, PostgresCleanupRuns, PostgresExtractionLog, PostgresStore
from memplane.adapters.postgres.replica import PostgresReadNode
from memplane.adapters.rules_extractor import RulesExtractor
from memplane.errors import MemplaneError
from memplane.policy import Policy
from memplane.ports import (
    CleanupRunLog,
    Embedder,
    ExtractionLog,
    Extractor,
    MemoryStore,
    ReadNode,
    VectorIndex,
)
from memplane.settings import Settings, load_settings

log = logging.getLogger("memplane")


@dataclass(frozen=True)
class Container:
    settings: Settings
    database: Database
    store: MemoryStore
    runs: CleanupRunLog
    extractions: ExtractionLog
    embedder: Embedder
    # The same embedder on a tight budget with no retry: assemble must answer within its SLA, from
    # keywords alone if need be, rather than wait for a slow embedding endpoint.
    query_embedder: Embedder
    extractor: Extractor
    policy: Policy
    # Where vectors are searched, and pgvector, which answers when a separate index cannot (the same
    # object when pgvector is the configured index).
    index: VectorIndex
    pgvector: VectorIndex
    # A read-only node for assemble (DATABASE_READ_URL), or None: every read goes to the primary.
    replica: ReadNode | None = None

    def close(self) -> None:
        self.index.close()
        self.database.close()
        if self.replica is not None:
            self.replica.close()


def database_url(settings: Settings) -> str:
    """The configured URL, or the embedded server's (started on first use) when none is set."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    from memplane.adapters import embedded_postgres

    return embedded_postgres.start(settings.data_dir)


def build(settings: Settings) -> Container:
    database = _database(settings, database_url(settings))
    policy = policy_of(settings)
    # One statement budget, read once into the policy: the use cases cut it to their deadline, and
    # the adapters apply it to work that has none (a session opened without a budget, a vector search).
    pgvector = PgvectorIndex(database, statement_timeout_ms=policy.statement_timeout_ms)
    index = separate_index(settings) or pgvector
    # A cold container starts loading the index client now, in the background: the first requests
    # are answered from pgvector instead of waiting for it.
    index.warm_up()
    return Container(
        settings=settings,
        database=database,
        store=PostgresStore(database, statement_timeout_ms=policy.statement_timeout_ms),
        runs=PostgresCleanupRuns(database),
        extractions=PostgresExtractionLog(database),
        index=index,
        pgvector=pgvector,
        embedder=_embedder(
            settings, settings.embedding_timeout_s, retries=1, prefix=settings.embedding_document_prefix
        ),
        query_embedder=_embedder(
            settings, settings.query_embedding_timeout_s, retries=0, prefix=settings.embedding_query_prefix
        ),
        extractor=_extractor(settings),
        policy=policy,
        replica=_replica(settings, policy),
    )


def _database(settings: Settings, url: str) -> Database:
    return Database(
        url,
        pool_size=settings.db_pool_size,
        connect_timeout_s=settings.db_connect_timeout_s,
        prepared_statements=settings.db_prepared_statements,
    )


def _replica(settings: Settings, policy: Policy) -> PostgresReadNode | None:
    if settings.database_read_url is None:
        return None
    db = _database(settings, settings.database_read_url.get_secret_value())
    budget = policy.statement_timeout_ms
    return PostgresReadNode(
        db, PostgresStore(db, statement_timeout_ms=budget), PgvectorIndex(db, statement_timeout_ms=budget)
    )


def policy_of(settings: Settings) -> Policy:
    """The policy the environment asks for; everything it does not name keeps its default."""
    ttl = settings.memory_ttl_days
    return Policy(
        memory_ttl=timedelta(days=ttl) if ttl is not None else None,
        working_state_ttl=timedelta(hours=settings.working_state_ttl_hours),
        episode_archive_after=timedelta(days=settings.episode_archive_days),
        audit_retention=timedelta(days=settings.audit_retention_days),
        text_language=settings.text_language,
        context_token_budget=settings.context_token_budget,
        statement_timeout_ms=settings.db_statement_timeout_ms,
    )


def separate_index(settings: Settings) -> VectorIndex | None:
    """The configured vector index when it is not Postgres itself (Qdrant), else None."""
    if settings.vector_backend != "qdrant":
        return None
    from memplane.adapters.qdrant import (  # qdrant-client itself loads later
        QdrantCluster,
        QdrantIndex,
        QdrantTarget,
    )

    key = settings.qdrant_api_key
    return QdrantIndex(
        QdrantTarget(
            collection=settings.qdrant_collection,
            url=settings.qdrant_url,
            api_key=key.get_secret_value() if key is not None else None,
            prefer_grpc=settings.qdrant_prefer_grpc,
            local_path=settings.data_dir / "qdrant",
            timeout_s=settings.qdrant_timeout_s,
            search_deadline_s=settings.vector_search_deadline_s,
            cluster=QdrantCluster(
                shards=settings.qdrant_shards,
                replication_factor=settings.qdrant_replication_factor,
                write_consistency=settings.qdrant_write_consistency,
            ),
        )
    )


def _embedder(settings: Settings, timeout_s: float, retries: int, prefix: str = "") -> Embedder:
    if settings.embedder_kind == "hash":
        return HashEmbedder(settings.embedding_dim)
    from memplane.adapters import openai_backend  # import openai only when it is used

    client = openai_backend.make_client(
        _secret(settings.embedding_key), settings.embedding_url, timeout_s, retries
    )
    return openai_backend.OpenAIEmbedder(
        client, settings.embedding_model, settings.embedding_dim, prefix=prefix
    )


def _extractor(settings: Settings) -> Extractor:
    if settings.extractor_kind == "rules":
        return RulesExtractor()
    from memplane.adapters import openai_backend

    client = openai_backend.make_client(
        _secret(settings.chat_key),
        settings.chat_url,
        settings.extraction_timeout_s,
        retries=1,
        headers=settings.chat_headers,
    )
    return openai_backend.OpenAIExtractor(client, settings.chat_model, settings.extraction_max_tokens)


def _secret(key: SecretStr | None) -> str | None:
    return key.get_secret_value() if key is not None else None


def settings_with_secrets() -> Settings:
    """The environment's settings, with the secrets Infisical holds when it is configured: fetched
    fresh, or a recent cached copy when Infisical cannot be reached (README, "Secrets")."""
    settings = load_settings()
    if not settings.infisical_configured:
        return settings
    from memplane.adapters import infisical  # httpx only when Infisical is used

    target = infisical.InfisicalTarget(
        host=settings.infisical_host,
        client_id=settings.infisical_client_id or "",
        client_secret=_secret(settings.infisical_client_secret) or "",
        project_id=settings.infisical_project_id or "",
        environment=settings.infisical_environment,
        secret_path=settings.infisical_secret_path,
        timeout_s=settings.infisical_timeout_s,
    )
    cache = infisical.SecretCache(settings.infisical_cache_dir, target)
    fetched = infisical.load(target, cache, settings.infisical_cache_max_age_hours * 3600)
    return load_settings({**fetched.values, "MEMPLANE_INTERNAL_SECRETS_SOURCE": fetched.source})


_container: Container | None = None
_built_at = 0.0
_lock = Lock()


def container() -> Container:
    """The warm container's adapters, built from the environment on first use.

    With Infisical, a copy of the secrets older than MEMPLANE_SECRETS_REFRESH_SECONDS is fetched again,
    so a rotated secret reaches warm containers without a redeploy: the adapters are rebuilt only if
    something changed. If Infisical cannot be reached, the current copy keeps serving (the cached
    fallback of a cold start applies the same way) and the next call past the age tries again.
    """
    global _container, _built_at
    with _lock:
        now = time.monotonic()
        if _container is None:
            _container, _built_at = build(settings_with_secrets()), now
        elif _container.settings.secrets_source != "environment" and (
            now - _built_at > _container.settings.secrets_refresh_s
        ):
            _built_at = now
            try:
                fresh = settings_with_secrets()
            except MemplaneError as exc:
                log.warning("could not refresh the secrets (%s); the current ones stay in use", exc.code)
            else:
                if fresh != _container.settings:
                    _container.close()
                    _container = build(fresh)
        return _container


def reset() -> None:
    """Close and forget the current container; the next call to ``container()`` builds anew."""
    global _container
    with _lock:
        if _container is not None:
            _container.close()
        _container = None
