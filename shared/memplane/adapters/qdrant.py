"""Qdrant as the vector index: one collection for every client, the client id its tenant key.

Importing qdrant-client costs about 0.6 s (grpc, numpy and its REST models), more than a cold start
can spare, so nothing here imports it at module level: ``warm_up()`` loads it in a background thread,
and until it is ready every call raises ``IndexWarmingUp`` (assemble then answers from pgvector).
Postgres stays the source of truth: points carry only what filtering needs (client, dates), and the
ids a search returns are read back from Postgres.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from memplane.errors import ConfigurationError, IndexWarmingUp, VectorIndexFailed, VectorSearchFailed
from memplane.model import IndexPoint, Vector

log = logging.getLogger("memplane")
T = TypeVar("T")

_PAGE = 512  # points per upsert or scroll request: well under Qdrant's request size limits


@dataclass(frozen=True)
class QdrantCluster:
    """How the collection spreads over a cluster's nodes; None leaves Qdrant's default (one node)."""

    shards: int | None = None
    replication_factor: int | None = None
    write_consistency: int | None = None


@dataclass(frozen=True)
class QdrantTarget:
    """Where the collection lives: a server URL, or local mode in ``local_path`` when ``url`` is None."""

    collection: str
    url: str | None = None
    api_key: str | None = None
    prefer_grpc: bool = False
    local_path: Path | None = None
    timeout_s: float = 2.0  # per request to the server
    search_deadline_s: float = 0.5  # assemble's whole vector search, then pgvector answers
    cluster: QdrantCluster = field(default_factory=QdrantCluster)


class QdrantIndex:
    """``VectorIndex`` over qdrant-client. Creating it does no I/O and imports nothing heavy."""

    name = "qdrant"
    separate = True

    def __init__(self, target: QdrantTarget) -> None:
        self._target = target
        self._client: Any = None
        self._models: Any = None
        self._errors: tuple[type[BaseException], ...] = ()
        self._failure: str | None = None
        self._ready = threading.Event()
        self._started = False
        self._start_lock = threading.Lock()
        # Local mode is plain Python dictionaries: one caller at a time. A server needs no lock.
        self._local_lock = threading.Lock() if target.url is None else None
        # Threads start on the first search only: creating the pool does no work.
        self._searches = ThreadPoolExecutor(max_workers=4, thread_name_prefix="memplane-qdrant")

    # -- loading -------------------------------------------------------------------------------------

    def warm_up(self) -> None:
        with self._start_lock:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._load, name="memplane-qdrant-import", daemon=True).start()

    def _load(self) -> None:
        try:
            import grpc
            import httpx
            from qdrant_client import QdrantClient, models
            from qdrant_client.http import exceptions

            t = self._target
            if t.url is None:
                assert t.local_path is not None
                t.local_path.mkdir(parents=True, exist_ok=True)
                client = QdrantClient(path=str(t.local_path))
            else:
                client = QdrantClient(
                    url=t.url,
                    api_key=t.api_key,
                    prefer_grpc=t.prefer_grpc,
                    timeout=max(1, round(t.timeout_s)),
                    check_compatibility=False,  # no version request at construction: no I/O here
                )
            self._models = models
            self._errors = (
                exceptions.UnexpectedResponse,
                exceptions.ResponseHandlingException,
                exceptions.ApiException,
                grpc.RpcError,
                httpx.HTTPError,
                ValueError,  # local mode: an unknown collection
                OSError,
            )
            self._client = client
        except (ImportError, RuntimeError, ValueError, OSError) as exc:
            # RuntimeError: local mode's folder is held by another process (a second `memplane serve`).
            self._failure = f"the Qdrant client could not start: {exc}"
            log.warning("%s", self._failure)
        finally:
            self._ready.set()

    def _await(self, wait_s: float) -> Any:
        self.warm_up()
        if not self._ready.wait(wait_s):
            raise IndexWarmingUp("the Qdrant client is still loading after a cold start")
        if self._failure is not None:
            raise VectorIndexFailed(self._failure)
        return self._client

    def _call(self, what: str, wait_s: float, call: Callable[[Any], T]) -> T:
        """Run ``call(client)``, translating what Qdrant and its transports raise into our errors."""
        client = self._await(wait_s)
        lock: AbstractContextManager[Any] = self._local_lock or nullcontext()
        try:
            with lock:
                return call(client)
        except self._errors as exc:
            raise VectorIndexFailed(f"Qdrant {what} failed: {_reason(exc)}") from exc

    # -- the port -------------------------------------------------------------------------------------

    def search(
        self, client_id: str, vector: Vector, as_of: datetime, now: datetime, limit: int
    ) -> list[tuple[str, float]]:
        self._await(0)  # never make a caller wait for the import: pgvector answers meanwhile
        m = self._models
        query_filter = m.Filter(
            must=[_tenant(m, client_id), m.FieldCondition(key="created_at", range=m.Range(lte=_ts(as_of)))],
            must_not=[m.FieldCondition(key="expires_at", range=m.Range(lte=_ts(now)))],
        )

        def query(c: Any) -> list[tuple[str, float]]:
            found = c.query_points(
                self._target.collection, query=vector, query_filter=query_filter, limit=limit
            ).points
            return [(str(p.id), float(p.score)) for p in found]

        # The client's own timeout counts whole seconds; assemble's budget is tighter, so the search
        # runs in a worker and is abandoned at the deadline (the request ends at the client timeout).
        future = self._searches.submit(self._call, "search", 0, query)
        deadline = self._target.search_deadline_s
        try:
            return future.result(timeout=deadline)
        except FutureTimeout as exc:
            raise VectorSearchFailed(f"Qdrant did not answer within {deadline:g} s") from exc
        except VectorIndexFailed as exc:
            raise VectorSearchFailed(exc.message) from exc

    def upsert(self, points: Sequence[IndexPoint], wait_s: float) -> None:
        if not points:
            return
        self._await(wait_s)
        m = self._models
        for start in range(0, len(points), _PAGE):
            batch = [
                m.PointStruct(id=p.id, vector=p.vector, payload=_payload(p))
                for p in points[start : start + _PAGE]
            ]
            self._call("upsert", wait_s, partial(_upsert, self._target.collection, batch))

    def delete(self, client_id: str, ids: Sequence[str], wait_s: float) -> None:
        if not ids:
            return
        self._await(wait_s)
        m = self._models
        selector = m.FilterSelector(
            filter=m.Filter(must=[_tenant(m, client_id), m.HasIdCondition(has_id=list(ids))])
        )
        self._call(
            "delete", wait_s, lambda c: c.delete(self._target.collection, points_selector=selector, wait=True)
        )

    def point_ids(self, client_id: str | None, wait_s: float) -> Iterator[list[tuple[str, str]]]:
        self._await(wait_s)
        m = self._models
        scroll_filter = m.Filter(must=[_tenant(m, client_id)]) if client_id is not None else None
        offset: Any = None
        while True:
            page, offset = self._call(
                "scroll", wait_s, partial(_scroll, self._target.collection, scroll_filter, offset)
            )
            if page:
                yield [(str((p.payload or {}).get("client_id")), str(p.id)) for p in page]
            if offset is None:
                return

    def ensure(self, dim: int) -> str:
        """Create the collection and its payload indexes, or check that the existing one fits."""
        self._await(60)
        m = self._models
        name = self._target.collection
        cluster = self._target.cluster
        if self._call("lookup", 60, lambda c: c.collection_exists(name)):
            config = self._call("lookup", 60, lambda c: c.get_collection(name)).config.params
            params = config.vectors
            size, distance = getattr(params, "size", None), getattr(params, "distance", None)
            if size != dim or distance != m.Distance.COSINE:
                raise ConfigurationError(
                    f"the Qdrant collection '{name}' holds vectors of size {size} with distance "
                    f"{getattr(distance, 'value', distance)}, but memplane is configured for size {dim} "
                    f"with distance Cosine (MEMPLANE_EMBEDDING_DIM); use the matching settings, "
                    "or another QDRANT_COLLECTION and `memplane reindex`"
                )
            return f"Qdrant collection '{name}' ready ({dim} dimensions, cosine){self._spread(config)}"
        self._call(
            "create",
            60,
            lambda c: c.create_collection(
                name,
                vectors_config=m.VectorParams(size=dim, distance=m.Distance.COSINE),
                # Every search filters on one client: Qdrant builds a graph per tenant (payload_m)
                # instead of one global graph (m=0) that no query would use.
                hnsw_config=m.HnswConfigDiff(payload_m=16, m=0),
                shard_number=cluster.shards,
                replication_factor=cluster.replication_factor,
                write_consistency_factor=cluster.write_consistency,
            ),
        )
        tenant = m.KeywordIndexParams(type=m.KeywordIndexType.KEYWORD, is_tenant=True)
        for payload_field, schema in (
            ("client_id", tenant),
            ("created_at", m.PayloadSchemaType.FLOAT),
            ("expires_at", m.PayloadSchemaType.FLOAT),
        ):
            self._call("create", 60, partial(_payload_index, name, payload_field, schema))
        return f"Qdrant collection '{name}' created ({dim} dimensions, cosine, tenant index on client_id)"

    def _spread(self, config: Any) -> str:
        """Bring an existing collection's copies and write confirmations to what is configured; say
        what was done, and that a different shard count cannot be had in place."""
        wanted, name, said = self._target.cluster, self._target.collection, []
        change: dict[str, int] = {}
        for setting, have, want in (
            ("replication_factor", config.replication_factor, wanted.replication_factor),
            ("write_consistency_factor", config.write_consistency_factor, wanted.write_consistency),
        ):
            if want is not None and have != want:
                change[setting] = want
        if change:
            diff = self._models.CollectionParamsDiff(**change)
            self._call("update", 60, lambda c: c.update_collection(name, collection_params=diff))
            said.append(", ".join(f"{k} set to {v}" for k, v in change.items()))
            if "replication_factor" in change:
                said.append("existing shards gain their copies when replicated (docs/scaling.md)")
        if wanted.shards is not None and config.shard_number != wanted.shards:
            said.append(
                f"it has {config.shard_number} shards, not {wanted.shards}: the shard count is fixed when a "
                "collection is created; create one with another QDRANT_COLLECTION and `memplane reindex`"
            )
        return "; " + "; ".join(said) if said else ""

    def ping(self) -> dict[str, object]:
        info = self._call("health check", 0, lambda c: c.get_collection(self._target.collection))
        return {"points": int(info.points_count or 0), "collection_status": str(info.status.value)}

    def close(self) -> None:
        self._searches.shutdown(wait=False, cancel_futures=True)
        if self._client is not None:
            self._client.close()


def _upsert(collection: str, batch: list[Any], c: Any) -> None:
    c.upsert(collection, points=batch, wait=True)


def _scroll(collection: str, scroll_filter: Any, offset: Any, c: Any) -> tuple[list[Any], Any]:
    page, following = c.scroll(
        collection,
        scroll_filter=scroll_filter,
        limit=_PAGE,
        offset=offset,
        with_payload=["client_id"],
        with_vectors=False,
    )
    return page, following


def _payload_index(collection: str, field: str, schema: Any, c: Any) -> None:
    # Local mode warns that payload indexes do nothing there (a server uses them). Filtering warnings
    # touches process-wide state, so only here, in an explicit command, never on a request's path.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        c.create_payload_index(collection, field, field_schema=schema, wait=True)


def _tenant(m: Any, client_id: str) -> Any:
    return m.FieldCondition(key="client_id", match=m.MatchValue(value=client_id))


def _ts(at: datetime) -> float:
    return at.timestamp()


def _payload(p: IndexPoint) -> dict[str, object]:
    payload: dict[str, object] = {"client_id": p.client_id, "created_at": _ts(p.created_at)}
    if p.expires_at is not None:
        payload["expires_at"] = _ts(p.expires_at)
    return payload


def _reason(exc: BaseException) -> str:
    """A short cause without the request's contents (which could include an API key in a URL)."""
    status = getattr(exc, "status_code", None)
    if status is not None:
        return f"HTTP {status}"
    cause = exc.__cause__ or exc.__context__
    return type(cause or exc).__name__
