"""What fetching secrets from Infisical adds to a cold start, against a local Infisical.

Each sample is a new Python process that imports memplane and loads its settings, as a cold function
container does; secrets come either from the environment or from the local Infisical stand-in. Writes
the figures to a JSON file and prints a table.

    .venv/bin/python bench/coldstart_secrets.py [--runs 15] [--out bench-coldstart-secrets.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import infisical_stub  # noqa: E402 - the stand-in server the tests use

PROBE = (
    "import time; t = time.perf_counter(); from memplane.wiring import settings_with_secrets; "
    "s = settings_with_secrets(); print(time.perf_counter() - t, s.secrets_source)"
)
SECRETS = {"DATABASE_URL": "postgresql://memplane:pw@db.example:25061/memplane", "MEMPLANE_API_TOKEN": "t"}


def sample(env: dict[str, str], cwd: str) -> tuple[float, str]:
    out = subprocess.run(  # noqa: S603 - our own interpreter and probe
        [sys.executable, "-c", PROBE], env=env, cwd=cwd, capture_output=True, text=True, check=True
    ).stdout.split()
    return float(out[0]) * 1000, out[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--out", type=Path, default=Path("bench-coldstart-secrets.json"))
    args = parser.parse_args()
    stub = infisical_stub.InfisicalStub().start()
    stub.behaviour.secrets = SECRETS
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "MEMPLANE_", "INFISICAL_"))
    }
    with tempfile.TemporaryDirectory() as tmp:
        modes = {
            "environment": {**base, **SECRETS},
            "infisical": {
                **base,
                "INFISICAL_CLIENT_ID": infisical_stub.CLIENT_ID,
                "INFISICAL_CLIENT_SECRET": infisical_stub.CLIENT_SECRET,
                "INFISICAL_PROJECT_ID": infisical_stub.PROJECT_ID,
                "INFISICAL_HOST": stub.url,
                "INFISICAL_CACHE_DIR": tmp,
            },
        }
        timings: dict[str, list[float]] = {mode: [] for mode in modes}
        for _ in range(args.runs):  # alternate the modes, so machine noise falls on both alike
            for mode, env in modes.items():
                ms, source = sample(env, tmp)
                assert source == mode, (mode, source)
                timings[mode].append(ms)
        results = {
            mode: {
                "median_ms": round(statistics.median(t), 1),
                "p90_ms": round(sorted(t)[int(0.9 * (len(t) - 1))], 1),
            }
            for mode, t in timings.items()
        }
    stub.stop()
    added = results["infisical"]["median_ms"] - results["environment"]["median_ms"]
    figures = {"runs": args.runs, "modes": results, "added_median_ms": round(added, 1)}
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"{'secrets from':<14} {'median ms':>10} {'p90 ms':>8}")
    for mode, r in results.items():
        print(f"{mode:<14} {r['median_ms']:>10} {r['p90_ms']:>8}")
    print(f"Infisical adds {added:.1f} ms (median) to loading settings at cold start; figures in {args.out}")


if __name__ == "__main__":
    main()
