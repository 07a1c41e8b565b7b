"""`memplane bench` runs end to end and reports every function against its SLA."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def test_bench_writes_figures_and_a_table(tmp_path: Path) -> None:
    out = tmp_path / "latency.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "OPENAI_", "MEMPLANE_"))}
    env["MEMPLANE_EMBEDDING_DIM"] = "64"
    args = ["bench", "--clients", "2", "--exchanges", "5", "--queries", "6", "--out", str(out)]
    result = subprocess.run(
        [sys.executable, "-m", "memplane.cli", *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "within SLA" in result.stdout
    figures = json.loads(out.read_text())["functions"]
    assert {name: f["calls"] for name, f in figures.items()} == {"writeback": 10, "assemble": 6, "cleanup": 1}
    assert all(f["p95_ms"] >= f["p50_ms"] > 0 for f in figures.values())
