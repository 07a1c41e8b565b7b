"""`memplane-bench bench --scale`: latency as one client's memory grows, on each vector backend, beside mem0.

For each dimension and scale point: a fresh embedded Postgres is seeded with COPY (see scale_data), then
``memplane serve`` runs in its own process on it, offline backends, for each vector backend in turn, and
is measured over HTTP: assemble for the heavy client and for the median client of the long tail,
writeback, 16 concurrent callers, cold start, and last a cleanup that deletes up to 100,000 expired
chunks. With ``--mem0``, memplane (pgvector, semantic path on) and mem0 get the same chunks, the same
questions and one local embeddings endpoint, and are timed in the same run.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from memplane.adapters import embedded_postgres
from memplane.adapters.postgres import migrations
from memplane.progress import ProgressBar
from memplane_bench import coldstart, scale_data, scale_measure
from memplane_bench.stats import percentiles

_OFFLINE = {"MEMPLANE_EMBEDDER": "hash", "MEMPLANE_EXTRACTOR": "rules"}


@dataclass(frozen=True)
class Options:
    data: Path
    points: tuple[int, ...] = (10_000, 100_000)
    dims: tuple[int, ...] = (384, 1536)
    backends: tuple[str, ...] = ("pgvector", "qdrant")
    queries: int = 300
    writebacks: int = 200
    seconds: float = 10.0
    mem0: bool = False
    mem0_queries: int = 100


def run(options: Options) -> list[dict[str, Any]]:
    corpus = scale_data.load_corpus(options.data)
    questions = [corpus.questions[i % len(corpus.questions)] for i in range(options.queries)]
    results = []
    for dim in options.dims:
        for scale in options.points:
            rng = random.Random(scale)  # noqa: S311 - the same data for every backend and every run
            text = scale_data.ChatText(corpus, rng)
            clients = scale_data.plan(scale, rng)
            rows = scale_data.generate(clients, text, rng)
            with _seeded(rows, dim) as (url, folder):
                point: dict[str, Any] = {"dim": dim, "scale": scale, "chunks": len(rows), "backends": {}}
                for backend in sorted(options.backends, reverse=True):  # pgvector last: it runs cleanup
                    point["backends"][backend] = _measure(
                        url, folder, dim, backend, clients, questions, text, options
                    )
                if options.mem0 and dim == options.dims[0]:
                    asked = questions[: options.mem0_queries]
                    point["mem0"] = _versus_mem0(url, folder, dim, rows, clients, asked)
            results.append(point)
    return results


@contextmanager
def _seeded(rows: list[scale_data.Row], dim: int) -> Iterator[tuple[str, Path]]:
    with tempfile.TemporaryDirectory(prefix="memplane-scale-") as tmp:
        folder = Path(tmp)
        url = embedded_postgres.start(folder / "pg")
        try:
            migrations.apply(url, migrations.default_migrations_dir(), dim)
            scale_data.seed(url, rows, dim, ProgressBar())
            yield url, folder
        finally:
            embedded_postgres.stop(folder / "pg")


def _measure(
    url: str,
    folder: Path,
    dim: int,
    backend: str,
    clients: list[tuple[str, int]],
    questions: list[str],
    text: scale_data.ChatText,
    options: Options,
) -> dict[str, Any]:
    env = _env(url, folder, dim, {**_OFFLINE, "MEMPLANE_VECTOR_BACKEND": backend})
    # As deployed: with Qdrant, migrate drops Postgres' graph; with pgvector, it builds it again.
    _cli(env, "migrate")
    if backend == "qdrant":
        _cli(env, "reindex")
    heavy = scale_data.HEAVY
    median_client, median_size = _median_tail(clients)
    figures: dict[str, Any] = {"cold_start": coldstart.sample(env, heavy)}
    if backend == "qdrant":
        # Qdrant down: Postgres ranks the client's vectors exactly, without a graph.
        figures["fallback_exact_ms"] = {
            "heavy": _exact_search_ms(url, dim, heavy, questions[:60]),
            "median_client": _exact_search_ms(url, dim, median_client, questions[:60]),
        }
    with scale_measure.served(env) as (post, _):
        figures["assemble_heavy"] = scale_measure.assembles(post, heavy, questions)
        figures["assemble_median_client"] = scale_measure.assembles(post, median_client, questions[:100])
        figures["median_client_chunks"] = median_size
        figures["writeback"] = scale_measure.writebacks(
            post,
            heavy,
            text,
            options.writebacks,
            random.Random(),  # noqa: S311 - fresh chat ids per run
        )
        names = [c for c, _ in clients]
        figures["concurrent"] = scale_measure.concurrent(post, names, questions, 16, options.seconds)
        if backend == "pgvector":
            figures["cleanup"] = scale_measure.cleanup(post, lambda: _expire(url, heavy, 100_000))
    return figures


def _exact_search_ms(url: str, dim: int, client_id: str, questions: list[str]) -> dict[str, float]:
    """pgvector's search for ``client_id``, as assemble's fallback runs it, timed in this process."""
    from datetime import UTC, datetime

    from memplane.adapters.hash_embedder import HashEmbedder
    from memplane.adapters.pgvector import PgvectorIndex
    from memplane.adapters.postgres import Database

    embedder, db = HashEmbedder(dim), Database(url, pool_size=1)
    index = PgvectorIndex(db, statement_timeout_ms=30_000)
    now = datetime.now(UTC)
    took = []
    try:
        for vector in embedder.embed(questions):
            started = time.perf_counter()
            index.search(client_id, vector, now, now, 50)
            took.append((time.perf_counter() - started) * 1000)
    finally:
        db.close()
    return percentiles(took[1:])  # the first warms the cache


def _versus_mem0(
    url: str,
    folder: Path,
    dim: int,
    rows: list[scale_data.Row],
    clients: list[tuple[str, int]],
    questions: list[str],
) -> dict[str, Any]:
    """memplane's whole assemble over HTTP and mem0's search, same chunks, same embedder, one run."""
    from memplane_bench import mem0_side
    from memplane_bench.embeddings_server import EmbeddingsServer

    server = EmbeddingsServer(dim)
    try:
        m = mem0_side.memory(folder / "mem0", server.base_url, dim)
        mem0_side.seed(m, rows, dim, ProgressBar())
        semantic = {
            "MEMPLANE_EMBEDDER": "openai",
            "OPENAI_BASE_URL": server.base_url,
            "MEMPLANE_EXTRACTOR": "rules",
        }
        env = _env(url, folder, dim, {**semantic, "MEMPLANE_EMBEDDING_MODEL": "hash"})
        figures: dict[str, Any] = {}
        with scale_measure.served(env) as (post, _):
            for who in (scale_data.HEAVY, _median_tail(clients)[0]):
                ours = scale_measure.assembles(post, who, questions, embedding=True)
                theirs = mem0_side.searches(m, who, questions)
                figures[who] = {
                    "memplane_http": ours["http"],
                    "mem0_search": theirs["latency"],
                    "p95_ratio": round(theirs["latency"]["p95"] / ours["http"]["p95"], 1),
                }
        return figures
    finally:
        server.stop()


def _median_tail(clients: list[tuple[str, int]]) -> tuple[str, int]:
    """The long tail's median client (by chunks held) and its size; the heavy client comes first."""
    tail = sorted(clients[1:], key=lambda c: c[1])
    return tail[len(tail) // 2]


def _expire(url: str, client_id: str, at_most: int) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(
            "UPDATE memory_entries SET expires_at = now() - interval '1 minute' WHERE id IN "
            "(SELECT id FROM memory_entries WHERE client_id = %s ORDER BY seq LIMIT %s)",
            (client_id, at_most),
        )
        return cur.rowcount


def _env(url: str, folder: Path, dim: int, extra: dict[str, str]) -> dict[str, str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "MEMPLANE_", "OPENAI_", "QDRANT_"))
    }
    return {
        **base,
        "DATABASE_URL": url,
        "MEMPLANE_EMBEDDING_DIM": str(dim),
        "MEMPLANE_DATA_DIR": str(folder),
        **extra,
    }


def _cli(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "-m", "memplane.cli", *args], env=env, check=True)  # noqa: S603


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        f"{'dim':>5} {'chunks':>8} {'backend':<9} {'assemble p50/p95/p99':>22} {'median client p95':>18} "
        f"{'writeback p95':>14} {'16 callers/s':>13} {'cleanup s':>10} {'cold start ms':>14}"
    ]
    for point in results:
        for backend, f in point["backends"].items():
            a = f["assemble_heavy"]["server"]
            cleanup = f"{f['cleanup']['server_ms'] / 1000:.1f}" if "cleanup" in f else "-"
            lines.append(
                f"{point['dim']:>5} {point['scale']:>8} {backend:<9} "
                f"{a['p50']:>6.1f} /{a['p95']:>6.1f} /{a['p99']:>6.1f} "
                f"{f['assemble_median_client']['server']['p95']:>18.1f} "
                f"{f['writeback']['server']['p95']:>14.1f} "
                f"{f['concurrent']['per_second']:>13.1f} {cleanup:>10} "
                f"{f['cold_start']['first_response_ms']:>14.0f}"
            )
            exact = f.get("fallback_exact_ms")
            if exact:
                heavy, median = exact["heavy"], exact["median_client"]
                lines.append(
                    f"{point['dim']:>5} {point['scale']:>8} {backend:<9} Qdrant down, Postgres exact: "
                    f"heavy p50/p95 {heavy['p50']:.1f} / {heavy['p95']:.1f} ms, "
                    f"median client {median['p50']:.1f} / {median['p95']:.1f} ms"
                )
        for who, m in point.get("mem0", {}).items():
            lines.append(
                f"{point['dim']:>5} {point['scale']:>8} vs mem0 ({who}): memplane assemble HTTP p95 "
                f"{m['memplane_http']['p95']:.1f} ms, mem0 search p95 {m['mem0_search']['p95']:.1f} ms: "
                f"{m['p95_ratio']}x"
            )
    lines.append("server times exclude the embedding call; ms unless noted")
    return "\n".join(lines)


def chart(results: list[dict[str, Any]], path: Path) -> None:
    """Assemble p95 against scale, per backend and dimension, mem0's search beside it (needs matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    series: dict[str, list[tuple[int, float]]] = {}
    for point in results:
        for backend, f in point["backends"].items():
            name = "Qdrant local mode" if backend == "qdrant" else backend
            label = f"memplane {name}, {point['dim']} dims (server, no embedding)"
            series.setdefault(label, []).append((point["scale"], f["assemble_heavy"]["server"]["p95"]))
        for who, m in point.get("mem0", {}).items():
            if who == scale_data.HEAVY:
                series.setdefault("memplane assemble over HTTP, with embedding", []).append(
                    (point["scale"], m["memplane_http"]["p95"])
                )
                series.setdefault("mem0 search, same data and embedder", []).append(
                    (point["scale"], m["mem0_search"]["p95"])
                )
    for label, xy in series.items():
        xs, ys = zip(*sorted(xy), strict=True)
        ax.plot(xs, ys, marker="o", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("chunks held by the heavy client")
    ax.set_ylabel("p95 latency (ms)")
    ax.set_title("assemble p95 as one client's memory grows")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
