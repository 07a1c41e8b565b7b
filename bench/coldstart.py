"""Cold start of the assemble function on each vector backend: import time and first response.

Each sample is a new Python process, as a new DigitalOcean container: it imports the deployed entry
point (functions/assemble/__main__.py), then answers one assemble web event and a second one. With
Qdrant configured (a local Qdrant REST stand-in), qdrant-client loads in a background thread while
the first calls are answered; the table says how often it was ready after the second call.
Writes the figures to a JSON file and prints a table.

    .venv/bin/python bench/coldstart.py [--runs 15] [--out bench-coldstart.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.qdrant_stub import QdrantStub  # noqa: E402 - the stand-in the tests use

from memplane_bench.coldstart import sample  # noqa: E402

DIM = 64


def prepare(base: dict[str, str], stub: QdrantStub, data: Path) -> dict[str, str]:
    """An embedded Postgres with one remembered exchange, indexed in the Qdrant stand-in too."""
    from memplane import wiring
    from memplane.adapters import embedded_postgres
    from memplane.adapters.postgres import migrations
    from memplane.platform.functions_framework import create_app
    from memplane.settings import Settings

    url = embedded_postgres.start(data)
    migrations.apply(url, migrations.default_migrations_dir(), DIM)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=url,
        embedding_dim=DIM,
        vector_backend="qdrant",
        qdrant_url=stub.url,
        openai_api_key=None,
        embedder="hash",
        extractor="rules",
    )
    container = wiring.build(settings)
    container.index.ensure(DIM)
    body = {
        "client_id": "alice",
        "message_id": "m2",
        "conversation": [{"role": "user", "id": "m1", "content": "I live in Lisbon."}],
        "response": "Lisbon, noted.",
        "profile": {"full_name": "Alice"},
    }
    assert create_app(lambda: container).test_client().post("/writeback", json=body).status_code == 200
    container.close()
    return {**base, "DATABASE_URL": url, "MEMPLANE_EMBEDDING_DIM": str(DIM)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--out", type=Path, default=Path("bench-coldstart.json"))
    args = parser.parse_args()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "MEMPLANE_", "QDRANT_"))}
    stub = QdrantStub().start()
    with tempfile.TemporaryDirectory(prefix="memplane-coldstart-") as tmp:
        env = prepare(base, stub, Path(tmp))
        modes = {
            "pgvector": env,
            "qdrant": {**env, "MEMPLANE_VECTOR_BACKEND": "qdrant", "QDRANT_URL": stub.url},
        }
        runs: dict[str, list[dict[str, float]]] = {mode: [] for mode in modes}
        for _ in range(args.runs):  # alternate, so machine noise falls on both alike
            for mode, mode_env in modes.items():
                runs[mode].append(sample(mode_env))
        from memplane.adapters import embedded_postgres

        embedded_postgres.stop(Path(tmp))
    stub.stop()
    results = {
        mode: {
            **{
                f"{key}_median": round(statistics.median(r[key] for r in samples), 1)
                for key in ("import_ms", "first_response_ms", "second_call_ms")
            },
            "index_ready_after_two_calls": sum(bool(r["index_ready_after_two_calls"]) for r in samples),
        }
        for mode, samples in runs.items()
    }
    args.out.write_text(json.dumps({"runs": args.runs, "backends": results}, indent=2) + "\n")
    print(f"{'backend':<10} {'import ms':>10} {'first response ms':>18} {'second call ms':>15}  index ready")
    for mode, r in results.items():
        print(
            f"{mode:<10} {r['import_ms_median']:>10} {r['first_response_ms_median']:>18} "
            f"{r['second_call_ms_median']:>15}  {r['index_ready_after_two_calls']}/{args.runs}"
        )
    print(f"medians of {args.runs} fresh processes each; figures in {args.out}")


if __name__ == "__main__":
    main()
