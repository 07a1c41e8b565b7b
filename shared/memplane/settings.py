"""The one place that reads the environment. Reading settings does no I/O beyond it and ``.env``.

Precedence, highest first: values passed to ``Settings(...)``, environment variables, secrets fetched
from Infisical (handed in by ``wiring.settings_with_secrets``, which fetches them when
``INFISICAL_CLIENT_ID``, ``INFISICAL_CLIENT_SECRET`` and ``INFISICAL_PROJECT_ID`` are set), ``.env`` in
the working directory, defaults. Tests and tools build ``Settings(field=value, ...)`` directly.
Secrets are ``SecretStr`` so that they never print.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from memplane.errors import ConfigurationError
from memplane.language import CONFIGURATIONS


class Settings(BaseSettings):
    """Every knob memplane has. Environment names are fixed: docs and tools use them."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        # project.yml must name every variable it passes; an empty one means "not set", not "".
        env_ignore_empty=True,
    )

    database_url: SecretStr | None = Field(None, validation_alias="DATABASE_URL")
    # A read-only node (a streaming replica of DATABASE_URL): assemble reads there, everything else and
    # every write stays on the primary (docs/deploy.md, "A read-only node for assemble").
    database_read_url: SecretStr | None = Field(None, validation_alias="DATABASE_READ_URL")
    openai_api_key: SecretStr | None = Field(None, validation_alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(None, validation_alias="OPENAI_BASE_URL")
    # Chat (fact extraction) and embeddings may use different endpoints and keys, for example chat
    # through OpenRouter and embeddings on OpenAI or a local server; each falls back to OPENAI_*.
    chat_base_url: str | None = Field(None, validation_alias="MEMPLANE_CHAT_BASE_URL")
    chat_api_key: SecretStr | None = Field(None, validation_alias="MEMPLANE_CHAT_API_KEY")
    embedding_base_url: str | None = Field(None, validation_alias="MEMPLANE_EMBEDDING_BASE_URL")
    embedding_api_key: SecretStr | None = Field(None, validation_alias="MEMPLANE_EMBEDDING_API_KEY")
    # OpenRouter's optional attribution headers (HTTP-Referer, X-Title), sent with chat requests.
    openrouter_site_url: str | None = Field(None, validation_alias="MEMPLANE_OPENROUTER_SITE_URL")
    openrouter_app_name: str | None = Field(None, validation_alias="MEMPLANE_OPENROUTER_APP_NAME")
    # A warm container fetches its secrets from Infisical again once its copy is this old (rotation
    # without a redeploy); without Infisical, the environment cannot change, so nothing is re-read.
    secrets_refresh_s: float = Field(3600.0, validation_alias="MEMPLANE_SECRETS_REFRESH_SECONDS", gt=0)
    # One token, or two separated by a comma while rotating ("new,old"): both are accepted.
    api_token: SecretStr | None = Field(None, validation_alias="MEMPLANE_API_TOKEN")
    # The operator's credential: everything the chat token reaches, and the full cleanup run (vacuum,
    # LLM retries, backfill), which the chat token Open WebUI holds cannot start. Also "new,old".
    operator_token: SecretStr | None = Field(None, validation_alias="MEMPLANE_OPERATOR_TOKEN")
    # Without a token memplane serves only callers on this machine's loopback; this is the explicit
    # way to serve anyone who can reach it.
    allow_unauthenticated: bool = Field(False, validation_alias="MEMPLANE_ALLOW_UNAUTHENTICATED")

    embedder: Literal["auto", "openai", "hash"] = Field("auto", validation_alias="MEMPLANE_EMBEDDER")
    extractor: Literal["auto", "openai", "rules"] = Field("auto", validation_alias="MEMPLANE_EXTRACTOR")
    embedding_model: str = Field("text-embedding-3-small", validation_alias="MEMPLANE_EMBEDDING_MODEL")
    # pgvector's HNSW index takes at most 2,000 dimensions for the `vector` type.
    embedding_dim: int = Field(1536, validation_alias="MEMPLANE_EMBEDDING_DIM", ge=8, le=2000)
    # What some embedding models want in front of a question and of a stored text ("query: " and
    # "passage: " for the e5 family; an instruction before questions only for bge): empty for OpenAI's.
    embedding_query_prefix: str = Field(
        "", validation_alias="MEMPLANE_EMBEDDING_QUERY_PREFIX", max_length=500
    )
    embedding_document_prefix: str = Field(
        "", validation_alias="MEMPLANE_EMBEDDING_DOCUMENT_PREFIX", max_length=500
    )
    chat_model: str = Field("gpt-4o-mini", validation_alias="MEMPLANE_CHAT_MODEL")
    embedding_timeout_s: float = Field(2.0, validation_alias="MEMPLANE_EMBEDDING_TIMEOUT", gt=0)
    # Assemble's query embedding: one try within this budget, then keyword search alone.
    query_embedding_timeout_s: float = Field(1.0, validation_alias="MEMPLANE_QUERY_EMBEDDING_TIMEOUT", gt=0)
    extraction_timeout_s: float = Field(10.0, validation_alias="MEMPLANE_EXTRACTION_TIMEOUT", gt=0)
    # The most an extraction reply may cost; a reply cut there is asked again with more room, up to 4x.
    extraction_max_tokens: int = Field(
        1024, validation_alias="MEMPLANE_EXTRACTION_MAX_TOKENS", ge=64, le=32_000
    )

    # Where vectors are searched: pgvector (in Postgres, the default) or a Qdrant collection beside it.
    # With qdrant and no QDRANT_URL, Qdrant runs in local mode under MEMPLANE_DATA_DIR (development).
    vector_backend: Literal["pgvector", "qdrant"] = Field(
        "pgvector", validation_alias="MEMPLANE_VECTOR_BACKEND"
    )
    qdrant_url: str | None = Field(None, validation_alias="QDRANT_URL", pattern=r"^https?://")
    qdrant_api_key: SecretStr | None = Field(None, validation_alias="QDRANT_API_KEY")
    qdrant_collection: str = Field(
        "memplane", validation_alias="QDRANT_COLLECTION", pattern=r"^[A-Za-z0-9_-]{1,255}$"
    )
    qdrant_prefer_grpc: bool = Field(False, validation_alias="QDRANT_PREFER_GRPC")
    qdrant_timeout_s: float = Field(2.0, validation_alias="QDRANT_TIMEOUT", gt=0, le=60)
    # A Qdrant cluster's collection (docs/scaling.md): shards across nodes, copies of each shard, and
    # the copies that confirm a write. Unset: Qdrant's defaults, right for one node.
    qdrant_shards: int | None = Field(None, validation_alias="MEMPLANE_QDRANT_SHARDS", ge=1, le=1000)
    qdrant_replication_factor: int | None = Field(
        None, validation_alias="MEMPLANE_QDRANT_REPLICATION_FACTOR", ge=1, le=100
    )
    qdrant_write_consistency: int | None = Field(
        None, validation_alias="MEMPLANE_QDRANT_WRITE_CONSISTENCY", ge=1, le=100
    )
    # Assemble's vector search in Qdrant: past this, pgvector answers instead.
    vector_search_deadline_s: float = Field(
        0.5, validation_alias="MEMPLANE_VECTOR_SEARCH_DEADLINE", gt=0, le=10
    )

    port: int = Field(8080, validation_alias="PORT", ge=1, le=65535)
    data_dir: Path = Field(Path(".memplane"), validation_alias="MEMPLANE_DATA_DIR")
    migrations_dir: Path | None = Field(None, validation_alias="MEMPLANE_MIGRATIONS_DIR")
    db_pool_size: int = Field(4, validation_alias="MEMPLANE_DB_POOL_SIZE", ge=1, le=100)
    db_connect_timeout_s: float = Field(5.0, validation_alias="MEMPLANE_DB_CONNECT_TIMEOUT", gt=0)
    db_statement_timeout_ms: int = Field(5000, validation_alias="MEMPLANE_DB_STATEMENT_TIMEOUT_MS", ge=10)
    # PgBouncer in transaction mode cannot keep prepared statements: set this to false behind it.
    db_prepared_statements: bool = Field(True, validation_alias="MEMPLANE_DB_PREPARED_STATEMENTS")

    memory_ttl_days: float | None = Field(None, validation_alias="MEMPLANE_MEMORY_TTL_DAYS", gt=0)
    working_state_ttl_hours: float = Field(24.0, validation_alias="MEMPLANE_WORKING_STATE_TTL_HOURS", gt=0)
    episode_archive_days: float = Field(180.0, validation_alias="MEMPLANE_EPISODE_ARCHIVE_DAYS", gt=0)
    audit_retention_days: float = Field(30.0, validation_alias="MEMPLANE_AUDIT_RETENTION_DAYS", gt=0)
    # /health turns "degraded" when no nightly cleanup has completed for this long: one missed night
    # and two hours of slack for a slow or late run.
    cleanup_max_age_hours: float = Field(26.0, validation_alias="MEMPLANE_CLEANUP_MAX_AGE_HOURS", gt=0)
    context_token_budget: int = Field(1200, validation_alias="MEMPLANE_CONTEXT_TOKENS", ge=50)
    # How keyword search reads text: `auto` picks a stemmer per message from its script and commonest
    # words (memplane/language.py); or one Postgres configuration for everything ("english", "simple").
    text_language: str = Field("auto", validation_alias="MEMPLANE_TEXT_LANGUAGE")

    # How to reach Infisical, when secrets are kept there (README, "Secrets").
    # `memplane import openwebui`: the Open WebUI to read, and an admin's API key for it.
    openwebui_url: str | None = Field(None, validation_alias="OPENWEBUI_URL")
    openwebui_api_key: SecretStr | None = Field(None, validation_alias="OPENWEBUI_API_KEY")
    infisical_client_id: str | None = Field(None, validation_alias="INFISICAL_CLIENT_ID")
    infisical_client_secret: SecretStr | None = Field(None, validation_alias="INFISICAL_CLIENT_SECRET")
    infisical_project_id: str | None = Field(None, validation_alias="INFISICAL_PROJECT_ID")
    infisical_host: str = Field("https://app.infisical.com", validation_alias="INFISICAL_HOST")
    infisical_environment: str = Field("prod", validation_alias="INFISICAL_ENVIRONMENT")
    infisical_secret_path: str = Field("/", validation_alias="INFISICAL_SECRET_PATH")
    # Per request; each request is tried twice at most.
    infisical_timeout_s: float = Field(2.0, validation_alias="INFISICAL_TIMEOUT", gt=0, le=30)
    # gettempdir() probes the disk, so it runs when settings are read, not when this module is imported.
    infisical_cache_dir: Path = Field(
        default_factory=lambda: Path(tempfile.gettempdir()), validation_alias="INFISICAL_CACHE_DIR"
    )
    infisical_cache_max_age_hours: float = Field(24.0, validation_alias="INFISICAL_CACHE_MAX_AGE_HOURS", ge=0)

    # Where the secrets came from, for /health: set with the fetched secrets, never by the environment.
    secrets_source: Literal["environment", "infisical", "cached"] = Field(
        "environment", validation_alias="MEMPLANE_INTERNAL_SECRETS_SOURCE", exclude=True
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        fetched = _FetchedSecrets(settings_cls)
        return init_settings, env_settings, fetched, dotenv_settings, file_secret_settings

    @field_validator("api_token", "operator_token")
    @classmethod
    def _holds_a_token(cls, value: SecretStr | None) -> SecretStr | None:
        # "," or " " would otherwise mean "a token is set" to a reader and "no token" to the server.
        if value is not None and not _tokens(value):
            raise ValueError("is set but holds no token (only commas or spaces): set a token or unset it")
        return value

    @field_validator("text_language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        value = value.strip().lower()
        if value != "auto" and value not in CONFIGURATIONS:
            raise ValueError(f"use auto or one of {', '.join(sorted(CONFIGURATIONS))}")
        return value

    @model_validator(mode="after")
    def _backends_are_reachable(self) -> Settings:
        if self.embedder == "openai" and not (self.embedding_key or self.embedding_url):
            raise ValueError(
                "MEMPLANE_EMBEDDER=openai needs OPENAI_API_KEY or OPENAI_BASE_URL (or the "
                "MEMPLANE_EMBEDDING_ ones)"
            )
        if self.extractor == "openai" and not (self.chat_key or self.chat_url):
            raise ValueError(
                "MEMPLANE_EXTRACTOR=openai needs OPENAI_API_KEY or OPENAI_BASE_URL (or the "
                "MEMPLANE_CHAT_ ones)"
            )
        copies, confirm = self.qdrant_replication_factor or 1, self.qdrant_write_consistency
        if confirm is not None and confirm > copies:
            raise ValueError(
                f"MEMPLANE_QDRANT_WRITE_CONSISTENCY ({confirm}) cannot exceed the copies of each shard "
                f"(MEMPLANE_QDRANT_REPLICATION_FACTOR, {copies}): no write could ever be confirmed"
            )
        if set(self.api_tokens) & set(self.operator_tokens):
            raise ValueError(
                "MEMPLANE_OPERATOR_TOKEN must differ from MEMPLANE_API_TOKEN: the operator's credential "
                "is the one Open WebUI does not hold"
            )
        return self

    @property
    def api_tokens(self) -> list[bytes]:
        """The accepted chat tokens: one, or two during a rotation."""
        return _tokens(self.api_token)

    @property
    def operator_tokens(self) -> list[bytes]:
        """The accepted operator tokens: one, or two during a rotation."""
        return _tokens(self.operator_token)

    @property
    def protected(self) -> bool:
        """A token is configured, so every call must carry one."""
        return bool(self.api_tokens or self.operator_tokens)

    @property
    def chat_key(self) -> SecretStr | None:
        return self.chat_api_key or self.openai_api_key

    @property
    def chat_url(self) -> str | None:
        return self.chat_base_url or self.openai_base_url

    @property
    def embedding_key(self) -> SecretStr | None:
        return self.embedding_api_key or self.openai_api_key

    @property
    def embedding_url(self) -> str | None:
        return self.embedding_base_url or self.openai_base_url

    @property
    def chat_headers(self) -> dict[str, str]:
        """OpenRouter's attribution headers, when configured."""
        named = (("HTTP-Referer", self.openrouter_site_url), ("X-Title", self.openrouter_app_name))
        return {header: value for header, value in named if value}

    @property
    def embedder_kind(self) -> Literal["openai", "hash"]:
        """`auto` means the OpenAI-compatible endpoint when a key is set, else the offline hasher."""
        if self.embedder == "auto":
            return "openai" if self.embedding_key is not None else "hash"
        return self.embedder

    @property
    def extractor_kind(self) -> Literal["openai", "rules"]:
        if self.extractor == "auto":
            return "openai" if self.chat_key is not None else "rules"
        return self.extractor

    @property
    def embedded_database(self) -> bool:
        return self.database_url is None

    @property
    def infisical_configured(self) -> bool:
        """Infisical is used only when all three of its credentials are set."""
        return bool(self.infisical_client_id and self.infisical_client_secret and self.infisical_project_id)


def _tokens(value: SecretStr | None) -> list[bytes]:
    if value is None:
        return []
    return [t.strip().encode() for t in value.get_secret_value().split(",") if t.strip()]


# Secrets fetched from Infisical for one reading of the settings; a context variable, so that reading
# settings stays a plain constructor call with no I/O of its own.
_SECRETS: ContextVar[Mapping[str, str] | None] = ContextVar("memplane_fetched_secrets", default=None)


class _FetchedSecrets(PydanticBaseSettingsSource):
    """Settings from fetched secrets whose keys are the environment names (``DATABASE_URL``, ...)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # everything is answered at once by __call__

    def __call__(self) -> dict[str, Any]:
        fetched = _SECRETS.get()
        if fetched is None:
            return {}
        aliases = {str(f.validation_alias) for f in self.settings_cls.model_fields.values()}
        return {k: v for k, v in fetched.items() if k in aliases and v != ""}


@contextmanager
def _with_secrets(secrets: Mapping[str, str] | None) -> Iterator[None]:
    token = _SECRETS.set(secrets)
    try:
        yield
    finally:
        _SECRETS.reset(token)


def load_settings(secrets: Mapping[str, str] | None = None) -> Settings:
    """Read the environment (and ``secrets`` fetched elsewhere, below it); a bad value becomes a
    ``ConfigurationError`` naming the variable."""
    from pydantic import ValidationError

    try:
        with _with_secrets(secrets):
            return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigurationError(f"invalid configuration: {problems}") from exc
