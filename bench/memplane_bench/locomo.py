"""LoCoMo retrieval evaluation through memplane's public HTTP API, the way Open WebUI calls it.

Each conversation becomes one client. Its turns are replayed in order through ``writeback`` in pairs
(the first turn as the user message with ``id`` = its ``dia_id``, the second as ``response`` with
``message_id`` = its ``dia_id``), dated with the session's date. Every question of categories 1-4 then
goes to ``assemble`` with ``limit`` 10, and the returned chunks' message ids are scored against the
question's evidence. The data set is for evaluation only (CC BY-NC 4.0); nothing here knows about it
beyond its file format.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from memplane_bench.stats import percentiles

CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
_EVIDENCE = re.compile(r"^D(\d+):(\d+)$")
_SESSION = re.compile(r"^session_(\d+)$")

Post = Callable[[str, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Question:
    client_id: str
    text: str
    category: int
    evidence: frozenset[str]


@dataclass
class Replay:
    """What to send: writeback bodies in order, then questions; and what was skipped while reading."""

    writebacks: list[dict[str, Any]] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)
    skipped_evidence: int = 0
    cleaned_evidence: int = 0
    skipped_questions: int = 0
    adversarial: int = 0


def parse_session_date(text: str) -> datetime:
    """LoCoMo dates look like "1:56 pm on 8 May, 2023"."""
    return datetime.strptime(text.strip(), "%I:%M %p on %d %B, %Y")


def clean_evidence(raw: list[str], known: set[str]) -> tuple[set[str], int, int]:
    """Split, normalise and check evidence ids: 'D8:6; D9:17' is two ids, 'D30:05' is 'D30:5'.

    Returns the usable ids, how many entries had to be cleaned to be used, and how many pieces were
    skipped (malformed like 'D', or naming no turn of the conversation).
    """
    usable: set[str] = set()
    cleaned = skipped = 0
    for entry in raw:
        for piece in filter(None, re.split(r"[;,\s]+", entry)):
            match = _EVIDENCE.match(piece)
            dia_id = f"D{int(match.group(1))}:{int(match.group(2))}" if match else None
            if dia_id is None or dia_id not in known:
                skipped += 1
                continue
            usable.add(dia_id)
            cleaned += dia_id != entry
    return usable, cleaned, skipped


def build_replay(
    samples: list[dict[str, Any]], client_prefix: str, captions: bool = True, chat_ids: bool = True
) -> Replay:
    """Each session's turns as writebacks of two; ``chat_ids=False`` sends them as a caller without
    chat ids would (an API client rather than Open WebUI)."""
    replay = Replay()
    for sample in samples:
        client_id = f"{client_prefix}{sample['sample_id']}"
        conversation = sample["conversation"]
        known: set[str] = set()
        for number, turns in _sessions(conversation):
            when = parse_session_date(conversation[f"session_{number}_date_time"]).isoformat()
            known.update(t["dia_id"] for t in turns)
            for i in range(0, len(turns), 2):
                chat_id = f"session-{number}" if chat_ids else None
                replay.writebacks.append(_writeback(client_id, chat_id, when, turns[i : i + 2], captions))
        for qa in sample["qa"]:
            if qa["category"] not in CATEGORIES:
                replay.adversarial += 1
                continue
            evidence, cleaned, skipped = clean_evidence(qa.get("evidence", []), known)
            replay.cleaned_evidence += cleaned
            replay.skipped_evidence += skipped
            if not evidence:
                replay.skipped_questions += 1
                continue
            replay.questions.append(Question(client_id, qa["question"], qa["category"], frozenset(evidence)))
    return replay


def _sessions(conversation: dict[str, Any]) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    numbers = sorted(int(m.group(1)) for k in conversation if (m := _SESSION.match(k)))
    for n in numbers:
        yield n, conversation[f"session_{n}"]


def _writeback(
    client_id: str, chat_id: str | None, when: str, pair: list[dict[str, Any]], captions: bool
) -> dict[str, Any]:
    """A pair of turns as Open WebUI's outlet would send it; a lone last turn is the response."""
    *first, last = pair
    body: dict[str, Any] = {"chat_id": chat_id} if chat_id else {}
    return {
        **body,
        "client_id": client_id,
        "timestamp": when,
        "conversation": [{"role": "user", "id": t["dia_id"], "content": _text(t, captions)} for t in first],
        "response": _text(last, captions),
        "message_id": last["dia_id"],
    }


def _text(turn: dict[str, Any], captions: bool) -> str:
    """The turn as its reader saw it: who said it, and the photo it shared, if any."""
    text = f"{turn['speaker']}: {turn['text']}"
    if captions and turn.get("blip_caption"):
        text += f" [shared a photo: {turn['blip_caption']}]"
    return text


@dataclass
class Scores:
    hits5: int = 0
    hits10: int = 0
    all10: int = 0
    frac10: float = 0.0
    count: int = 0

    def add(self, returned: list[str], evidence: frozenset[str]) -> None:
        top5, top10 = set(returned[:5]), set(returned[:10])
        self.count += 1
        self.hits5 += bool(top5 & evidence)
        self.hits10 += bool(top10 & evidence)
        self.all10 += evidence <= top10
        self.frac10 += len(top10 & evidence) / len(evidence)

    def as_dict(self) -> dict[str, float | int]:
        n = max(self.count, 1)
        return {
            "questions": self.count,
            "any@5": round(self.hits5 / n, 3),
            "any@10": round(self.hits10 / n, 3),
            "all@10": round(self.all10 / n, 3),
            "frac@10": round(self.frac10 / n, 3),
        }


def run(
    replay: Replay, post: Post, progress: Callable[[str, int, int], None], limit: int = 10
) -> dict[str, Any]:
    """Send every writeback, ask every question, and return the figures."""
    for i, body in enumerate(replay.writebacks, 1):
        post("/writeback", body)
        progress("replaying", i, len(replay.writebacks))
    per_category: dict[str, Scores] = defaultdict(Scores)
    overall = Scores()
    own_ms: list[float] = []
    for i, q in enumerate(replay.questions, 1):
        reply = post("/assemble", {"client_id": q.client_id, "query": q.text, "limit": limit})
        returned = [c["message_id"] for c in reply["similar_chunks"] if c.get("message_id")]
        per_category[CATEGORIES[q.category]].add(returned, q.evidence)
        overall.add(returned, q.evidence)
        own_ms.append(float(reply["timings_ms"]["search"]))
        progress("asking", i, len(replay.questions))
    return {
        "overall": overall.as_dict(),
        "categories": {name: per_category[name].as_dict() for name in CATEGORIES.values()},
        "assemble_own_ms": percentiles(own_ms),
        "writebacks": len(replay.writebacks),
        "skipped_evidence_ids": replay.skipped_evidence,
        "cleaned_evidence_ids": replay.cleaned_evidence,
        "skipped_questions": replay.skipped_questions,
        "adversarial_skipped": replay.adversarial,
    }


def table(figures: dict[str, Any]) -> str:
    rows = [("overall", figures["overall"]), *figures["categories"].items()]
    lines = [f"{'category':<12} {'n':>4} {'any@5':>6} {'any@10':>7} {'all@10':>7} {'frac@10':>8}"]
    for name, s in rows:
        lines.append(
            f"{name:<12} {s['questions']:>4} {s['any@5']:>6.3f} {s['any@10']:>7.3f} "
            f"{s['all@10']:>7.3f} {s['frac@10']:>8.3f}"
        )
    t = figures["assemble_own_ms"]
    if t:
        lines.append(f"assemble own time (ms, excluding embedding): p50 {t['p50']}  p95 {t['p95']}")
    lines.append(
        f"evidence: {figures['cleaned_evidence_ids']} ids cleaned (split or normalised) and used, "
        f"{figures['skipped_evidence_ids']} malformed or unknown ids skipped; "
        f"questions: {figures['skipped_questions']} left without evidence, "
        f"{figures['adversarial_skipped']} adversarial (category 5) questions"
    )
    return "\n".join(lines)


def load(path: Path) -> list[dict[str, Any]]:
    data = json.loads(path.read_text())
    if not isinstance(data, list):
        raise ValueError(f"{path} is not a LoCoMo file: expected a JSON list of samples")
    return data
