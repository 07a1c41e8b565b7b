"""`memplane bench` runs end to end and reports every function against its SLA."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import bench_cli


def small_locomo(path: Path) -> Path:
    """A conversation in LoCoMo's format, enough to seed from: turns and questions."""
    turns = [
        "I adopted a beagle called Biscuit last spring.",
        "We went hiking near the lake with my sister yesterday.",
        "My pottery workshop finally opened its doors this month.",
        "Melanie painted a sunrise over the mountains for the gallery.",
    ]
    session = [{"speaker": "A", "dia_id": f"D1:{i}", "text": t} for i, t in enumerate(turns, 1)]
    questions = [{"question": "What is the beagle called?", "answer": "Biscuit", "evidence": ["D1:1"]}]
    sample = {"sample_id": "s", "conversation": {"session_1": session}, "qa": questions}
    path.write_text(json.dumps([sample]))
    return path


def test_bench_writes_figures_and_a_table(tmp_path: Path) -> None:
    out = tmp_path / "latency.json"
    args = ["bench", "--clients", "2", "--exchanges", "5", "--queries", "6", "--out", str(out)]
    result = bench_cli(*args, cwd=tmp_path, MEMPLANE_EMBEDDING_DIM="64")
    assert result.returncode == 0, result.stderr
    assert "within SLA" in result.stdout
    figures = json.loads(out.read_text())["functions"]
    calls = {name: f["calls"] for name, f in figures.items()}
    # The questions are asked right after the writes, then again once cleanup has vacuumed.
    assert calls == {"writeback": 10, "assemble": 6, "cleanup": 1, "assemble_settled": 6}
    assert all(f["p95_ms"] >= f["p50_ms"] > 0 for f in figures.values())
    assert "fresh/settled" in result.stdout


def test_bench_scale_seeds_measures_and_reports(tmp_path: Path) -> None:
    out = tmp_path / "scale.json"
    data = small_locomo(tmp_path / "conversations.json")
    args = [
        "bench", "--scale", "--data", str(data), "--points", "300", "--dims", "16",
        "--backends", "pgvector", "--queries", "5", "--seconds", "0.5", "--out", str(out),
    ]  # fmt: skip
    result = bench_cli(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "assemble p50/p95/p99" in result.stdout
    [point] = json.loads(out.read_text())
    figures = point["backends"]["pgvector"]
    assert point["chunks"] > 300  # the heavy client and its long tail
    assert figures["assemble_heavy"]["calls"] == 5
    assert figures["concurrent"]["errors"] == 0
    assert figures["cleanup"]["deleted"] == figures["cleanup"]["expired"] >= 300
    assert figures["cold_start"]["first_response_ms"] > figures["cold_start"]["import_ms"] > 0


def test_load_runs_memplane_serve_under_concurrent_callers(tmp_path: Path) -> None:
    out = tmp_path / "load.json"
    done = bench_cli("bench", "--load", "--seconds", "3", "--callers", "8", "--out", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    figures = json.loads(out.read_text())
    assert figures["errors"] == 0
    assert figures["requests"] > 50
    assert figures["assemble_ms"]["p95"] > 0
    assert figures["writeback_ms"]["p95"] > 0
    assert figures["server_rss_kb"]["last"] > 0  # the server's memory was sampled
    assert "server memory (RSS)" in done.stdout
