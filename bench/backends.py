"""Assemble and writeback latency on each vector backend, on the same data, in the same run.

Vectors only count with a semantic embedder (the offline hasher is not searched), so both runs embed
through one local OpenAI-compatible /v1/embeddings endpoint (the test suite's stand-in, which serves
hashing vectors of the asked dimension). Each backend gets a throwaway memplane on an embedded Postgres,
fed the same synthetic chats (same seed) and asked the same questions over HTTP.
Qdrant runs in local mode here (no Qdrant server can be installed on these machines): a pure-Python
scan, so its figures are an upper bound for development, not what a Qdrant server does.
Writes the figures to a JSON file and prints a table.

    .venv/bin/python bench/backends.py [--clients 5] [--exchanges 100] [--queries 300] [--dim 384]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.openai_stub import OpenAIStub  # noqa: E402 - the stand-in the tests use

from memplane.settings import Settings  # noqa: E402
from memplane_bench.runner import benchmark  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=5)
    parser.add_argument("--exchanges", type=int, default=100)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--out", type=Path, default=Path("bench-backends.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    stub = OpenAIStub().start()
    figures: dict[str, Any] = {}
    try:
        for backend in ("pgvector", "qdrant"):
            settings = Settings(  # type: ignore[call-arg]
                _env_file=None,
                embedder="openai",
                extractor="rules",
                openai_base_url=stub.base_url,
                embedding_dim=args.dim,
                vector_backend=backend,
            )
            print(f"\n{backend}:")
            figures[backend] = benchmark(
                settings, None, None, None, args.clients, args.exchanges, args.queries
            )
    finally:
        stub.stop()
    chunks = args.clients * args.exchanges * 2
    setup = {k: getattr(args, k) for k in ("clients", "exchanges", "queries", "dim")}
    args.out.write_text(json.dumps({**setup, "chunks": chunks, "backends": figures}, indent=2) + "\n")
    print(
        f"\n{'backend':<10} {'function':<10} {'server p50 ms':>14} {'server p95 ms':>14} {'HTTP p95 ms':>12}"
    )
    for backend, functions in figures.items():
        for name in ("assemble", "writeback"):
            f = functions[name]
            p50, p95 = f["server_p50_ms"], f["server_p95_ms"]
            print(f"{backend:<10} {name:<10} {p50:>14} {p95:>14} {f['p95_ms']:>12}")
    print(f"{chunks} chunks over {args.clients} clients, {args.dim} dimensions; figures in {args.out}")


if __name__ == "__main__":
    main()
