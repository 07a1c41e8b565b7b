"""mem0 beside memplane on the same data: mem0ai 2.x with ``infer=False`` and its default local Qdrant.

mem0 is a benchmark-only dependency (``pip install -e '.[bench]'``), never part of memplane. Its store is
filled through its own vector store's batch insert with the payload mem0's ``add(..., infer=False)``
writes, so no LLM is called and seeding takes minutes, not hours; searches go through ``Memory.search``
exactly as an application calls it, embedding through the same endpoint memplane uses.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from memplane.adapters.hash_embedder import HashEmbedder
from memplane_bench.scale_data import Progress, Row
from memplane_bench.stats import percentiles

_BATCH = 1_000


def memory(path: Path, endpoint: str, dim: int) -> Any:
    os.environ.setdefault("MEM0_TELEMETRY", "False")  # no phoning home from a benchmark
    from mem0 import Memory

    return Memory.from_config(
        {
            "vector_store": {
                "provider": "qdrant",
                "config": {
                    "collection_name": "bench",
                    "path": str(path / "qdrant"),
                    "embedding_model_dims": dim,
                },
            },
            "embedder": {
                "provider": "openai",
                "config": {
                    "model": "hash",
                    "api_key": "unused",
                    "openai_base_url": endpoint,
                    "embedding_dims": dim,
                },
            },
            "llm": {"provider": "openai", "config": {"api_key": "unused", "openai_base_url": endpoint}},
            "history_db_path": str(path / "history.db"),
        }
    )


def seed(m: Any, rows: Sequence[Row], dim: int, progress: Progress) -> None:
    from mem0.memory.main import lemmatize_for_bm25

    embedder = HashEmbedder(dim)
    progress("mem0 seed", 0, len(rows))
    for start in range(0, len(rows), _BATCH):
        batch = rows[start : start + _BATCH]
        payloads = [
            {
                "data": r.content,
                "hash": hashlib.md5(r.content.encode()).hexdigest(),  # noqa: S324 - mem0's own dedupe key
                "created_at": r.created_at.isoformat(),
                "updated_at": r.created_at.isoformat(),
                "user_id": r.client_id,
                "role": r.role,
                "text_lemmatized": lemmatize_for_bm25(r.content),
            }
            for r in batch
        ]
        m.vector_store.insert(
            vectors=embedder.embed([r.content for r in batch]),
            payloads=payloads,
            ids=[str(uuid.uuid4()) for _ in batch],
        )
        progress("mem0 seed", start + len(batch), len(rows))


def searches(m: Any, client_id: str, questions: Sequence[str]) -> dict[str, Any]:
    times = []
    for question in questions:
        started = time.perf_counter()
        m.search(question, filters={"user_id": client_id}, top_k=10)
        times.append((time.perf_counter() - started) * 1000)
    return {"calls": len(times), "latency": percentiles(times)}
