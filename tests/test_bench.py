"""`memplane bench` runs end to end and reports every function against its SLA."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import memplane_cli


def test_bench_writes_figures_and_a_table(tmp_path: Path) -> None:
    out = tmp_path / "latency.json"
    args = ["bench", "--clients", "2", "--exchanges", "5", "--queries", "6", "--out", str(out)]
    result = memplane_cli(*args, cwd=tmp_path, MEMPLANE_EMBEDDING_DIM="64")
    assert result.returncode == 0, result.stderr
    assert "within SLA" in result.stdout
    figures = json.loads(out.read_text())["functions"]
    assert {name: f["calls"] for name, f in figures.items()} == {"writeback": 10, "assemble": 6, "cleanup": 1}
    assert all(f["p95_ms"] >= f["p50_ms"] > 0 for f in figures.values())
