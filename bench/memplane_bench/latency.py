"""`memplane-bench bench`: end-to-end latency of each function over HTTP, against its SLA.

Synthetic but realistic traffic: each client's chat grows by one exchange per writeback (Open WebUI
resends the whole history, and memplane must skip what it already has), questions go to assemble,
then one cleanup runs. Timings are wall-clock from the caller's side, so they include HTTP and JSON.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from memplane_bench.stats import percentiles

SLA_MS = {"assemble": 2000.0, "writeback": 3000.0, "cleanup": 30000.0, "assemble_settled": 2000.0}
_WORDS = (
    "garden hiking cello recital Lisbon sister marathon pottery dog beagle recipe risotto vacation "
    "Kyoto deadline project manager promotion birthday concert guitar novel chapter painting sunrise "
    "camping lake kayak allergy peanuts vegetarian daughter school soccer tournament bakery sourdough"
).split()
_FRAMES = (
    "I went to the {0} with my {1} last weekend.",
    "My {0} is finally finished, and the {1} was worth it.",
    "Do you remember the {0}? I keep thinking about the {1}.",
    "We are planning a {0} trip and want to see the {1}.",
    "Honestly the {0} has been stressful, but the {1} helps.",
)
History = list[dict[str, Any]]
Post = Callable[[str, dict[str, Any]], dict[str, Any]]


def sentence(rng: random.Random) -> str:
    return rng.choice(_FRAMES).format(rng.choice(_WORDS), rng.choice(_WORDS))


def run(post: Post, clients: int, exchanges: int, queries: int, seed: int = 7) -> dict[str, Any]:
    rng = random.Random(seed)  # noqa: S311 - synthetic text, not security
    timings: dict[str, list[float]] = {"writeback": [], "assemble": [], "cleanup": []}
    server: dict[str, list[float]] = {"writeback": [], "assemble": []}
    for c in range(clients):
        history: History = []
        for n in range(exchanges):
            history.append({"role": "user", "id": f"u{n}", "content": sentence(rng)})
            answer = sentence(rng)
            body: dict[str, Any] = {
                "client_id": f"bench-{c}",
                "chat_id": f"chat-{c}-{n // 20}",
                "conversation": history[-40:],
                "response": answer,
                "message_id": f"a{n}",
                "profile": {"full_name": f"Bench {c}"},
            }
            _timed(post, "writeback", body, timings, server)
            history.append({"role": "assistant", "id": f"a{n}", "content": answer})
    questions = [
        {"client_id": f"bench-{q % clients}", "query": sentence(rng), "limit": 8} for q in range(queries)
    ]
    for question in questions:  # right after the writes, as a user asks
        _timed(post, "assemble", question, timings, server)
    _timed(post, "cleanup", {}, timings, {})
    # The same questions once cleanup has vacuumed and analyzed: memory that has settled.
    timings["assemble_settled"], server["assemble_settled"] = [], []
    for question in questions:
        _timed(post, "assemble", question, timings, server, record_as="assemble_settled")
    return {
        name: {
            **_summary(values),
            "sla_ms": SLA_MS[name],
            **{f"server_{k}_ms": v for k, v in percentiles(server.get(name, [])).items() if k != "max"},
        }
        for name, values in timings.items()
    }


def _timed(
    post: Post,
    name: str,
    body: dict[str, Any],
    timings: dict[str, list[float]],
    server: dict[str, list[float]],
    record_as: str | None = None,
) -> None:
    started = time.perf_counter()
    reply = post(f"/{name}", body)
    label = record_as or name
    timings[label].append((time.perf_counter() - started) * 1000)
    if label in server:
        server[label].append(float(reply["execution_time_ms"]))


def _summary(values: list[float]) -> dict[str, float | int]:
    return {"calls": len(values), **{f"{k}_ms": v for k, v in percentiles(values).items()}}


def table(figures: dict[str, Any]) -> str:
    lines = [
        f"{'function':<16} {'calls':>6} {'p50 ms':>9} {'p95 ms':>9} {'max ms':>9} {'SLA ms':>8}  verdict"
    ]
    for name, f in figures.items():
        verdict = "within SLA" if f["p95_ms"] <= f["sla_ms"] else "OVER SLA"
        if name == "assemble_settled" and "assemble" in figures:
            fresh, settled = figures["assemble"]["server_p50_ms"], f["server_p50_ms"]
            verdict += f"; server p50 fresh/settled {fresh / settled:.2f}" if settled else ""
        lines.append(
            f"{name:<16} {f['calls']:>6} {f['p50_ms']:>9} {f['p95_ms']:>9} {f['max_ms']:>9} "
            f"{f['sla_ms']:>8.0f}  {verdict}"
        )
    return "\n".join(lines)
