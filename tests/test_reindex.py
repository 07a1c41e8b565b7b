"""`memplane migrate` creates the Qdrant collection (or refuses one that does not fit), and `memplane
reindex` rebuilds it from Postgres: resumable, and leaving exactly the live chunks behind."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from qdrant_client import models

from memplane.wiring import Container
from tests.conftest import TEST_DIM, client_for, memplane_cli
from tests.qdrant_stub import QdrantStub
from tests.test_memory import exchange, post
from tests.test_vector_index import BOB, live_ids, point_ids


@pytest.fixture
def env(db_url: str, qdrant_server: QdrantStub) -> dict[str, str]:
    return {
        "DATABASE_URL": db_url,
        "MEMPLANE_EMBEDDING_DIM": str(TEST_DIM),
        "MEMPLANE_VECTOR_BACKEND": "qdrant",
        "QDRANT_URL": qdrant_server.url,
        "QDRANT_API_KEY": "qdrant-secret-key",
    }


@pytest.fixture
def keyed(qdrant_server: QdrantStub) -> QdrantStub:
    qdrant_server.behaviour.api_key = "qdrant-secret-key"
    return qdrant_server


def test_migrate_creates_the_collection_then_refuses_one_that_does_not_fit(
    env: dict[str, str], keyed: QdrantStub, tmp_path: Path
) -> None:
    done = memplane_cli("migrate", cwd=tmp_path, **env)
    assert done.returncode == 0, done.stderr
    assert f"Qdrant collection 'memplane' created ({TEST_DIM} dimensions" in done.stdout
    info = keyed.local.get_collection("memplane").config.params.vectors
    assert isinstance(info, models.VectorParams)
    assert (info.size, info.distance) == (TEST_DIM, models.Distance.COSINE)

    again = memplane_cli("migrate", cwd=tmp_path, **env)
    assert again.returncode == 0, again.stderr
    assert "ready" in again.stdout

    keyed.local.delete_collection("memplane")
    keyed.local.create_collection(
        "memplane", vectors_config=models.VectorParams(size=64, distance=models.Distance.DOT)
    )
    refused = memplane_cli("migrate", cwd=tmp_path, **env)
    assert refused.returncode == 2
    assert "size 64 with distance Dot" in refused.stderr
    assert f"size {TEST_DIM} with distance Cosine" in refused.stderr
    assert "qdrant-secret-key" not in refused.stdout + refused.stderr


def test_reindex_rebuilds_the_collection_from_postgres(
    env: dict[str, str],
    indexed: Callable[..., Container],
    keyed: QdrantStub,
    db: psycopg.Connection[Any],
    tmp_path: Path,
) -> None:
    c = indexed(qdrant_api_key="qdrant-secret-key")
    client = client_for(c)
    post(client, "/writeback", exchange())
    post(client, "/writeback", BOB)
    # The collection lost a point, and holds one Postgres never had.
    lost = next(iter(live_ids(db)))
    keyed.local.delete("memplane", points_selector=models.PointIdsList(points=[lost]))
    stale = str(uuid.uuid4())
    keyed.local.upsert(
        "memplane",
        points=[models.PointStruct(id=stale, vector=[1.0] * TEST_DIM, payload={"client_id": "alice"})],
    )
    assert point_ids(c) != live_ids(db)
    versions = db.execute("SELECT id, ctid FROM memory_entries").fetchall()

    done = memplane_cli("reindex", cwd=tmp_path, **env)
    assert done.returncode == 0, done.stderr
    assert "4 points written, 1 stale points deleted" in done.stdout
    assert "indexed" in done.stderr  # the progress bar
    assert point_ids(c) == live_ids(db)
    # Sent from a queue beside the chunks: no chunk row was written again (a large table would double).
    assert db.execute("SELECT id, ctid FROM memory_entries").fetchall() == versions

    resumed = memplane_cli("reindex", "--resume", "--client", "bob", cwd=tmp_path, **env)
    assert resumed.returncode == 0, resumed.stderr
    assert "0 points written, 0 stale points deleted" in resumed.stdout


def test_reindex_with_pgvector_says_there_is_nothing_to_do(db_url: str, tmp_path: Path) -> None:
    done = memplane_cli("reindex", cwd=tmp_path, DATABASE_URL=db_url, MEMPLANE_EMBEDDING_DIM=str(TEST_DIM))
    assert done.returncode == 0, done.stderr
    assert "nothing to rebuild" in done.stdout


def test_migrate_spreads_the_collection_over_a_cluster_as_configured(
    env: dict[str, str], qdrant_server: QdrantStub, tmp_path: Path
) -> None:
    cluster = {
        **env,
        "MEMPLANE_QDRANT_SHARDS": "6",
        "MEMPLANE_QDRANT_REPLICATION_FACTOR": "2",
        "MEMPLANE_QDRANT_WRITE_CONSISTENCY": "2",
    }
    done = memplane_cli("migrate", cwd=tmp_path, **cluster)
    assert done.returncode == 0, done.stderr
    assert qdrant_server.cluster["memplane"] == {
        "shard_number": 6,
        "replication_factor": 2,
        "write_consistency_factor": 2,
    }

    # Later: a third copy of each shard, and a shard count a collection cannot change in place.
    grown = {**cluster, "MEMPLANE_QDRANT_REPLICATION_FACTOR": "3", "MEMPLANE_QDRANT_SHARDS": "12"}
    again = memplane_cli("migrate", cwd=tmp_path, **grown)
    assert again.returncode == 0, again.stderr
    assert qdrant_server.cluster["memplane"]["replication_factor"] == 3
    assert qdrant_server.cluster["memplane"]["shard_number"] == 6
    assert "replication_factor set to 3" in again.stdout
    assert "it has 6 shards, not 12" in again.stdout

    refused = memplane_cli("migrate", cwd=tmp_path, **{**cluster, "MEMPLANE_QDRANT_WRITE_CONSISTENCY": "3"})
    assert refused.returncode == 2
    assert "MEMPLANE_QDRANT_WRITE_CONSISTENCY (3) cannot exceed" in refused.stderr
