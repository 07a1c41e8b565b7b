"""`memplane-bench eval multilingual`: is a fact told in a chat found again when asked about in other words?

The set (``data/multilingual.json``, written for memplane) has nine languages, Chinese, Japanese,
Korean, Russian and Arabic among them. Per language: ten facts told in one chat, with small talk that
shares everyday words with the questions, then ten questions in other words (other inflections, other
word order, no copied phrases). Each language is its own client; a question scores when the message
that told the fact is among the top 3 chunks assemble returns (recall@3).

This set was written while building memplane's multilingual keyword search, so its figures are
in-sample: they show that each language works, not how well memplane generalises.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data" / "multilingual.json"
TOP = 3

Post = Callable[[str, dict[str, Any]], dict[str, Any]]
Progress = Callable[[str, int, int], None]


def load(path: Path = DATA) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def run(data: dict[str, Any], post: Post, progress: Progress, prefix: str) -> dict[str, Any]:
    languages = data["languages"]
    writes = sum(len(lang["turns"]) // 2 for lang in languages.values())
    done = 0
    for code, lang in languages.items():
        turns = lang["turns"]
        for user, answer in zip(turns[::2], turns[1::2], strict=True):
            post(
                "/writeback",
                {
                    "client_id": f"{prefix}{code}",
                    "chat_id": f"{prefix}{code}-chat",
                    "conversation": [{"role": "user", "id": user["id"], "content": user["text"]}],
                    "response": answer["text"],
                    "message_id": answer["id"],
                },
            )
            done += 1
            progress("telling", done, writes)
    asked = sum(len(lang["questions"]) for lang in languages.values())
    done = 0
    per_language: dict[str, dict[str, Any]] = {}
    for code, lang in languages.items():
        found = 0
        for q in lang["questions"]:
            reply = post("/assemble", {"client_id": f"{prefix}{code}", "query": q["question"], "limit": TOP})
            returned = [c.get("message_id") for c in reply["similar_chunks"]]
            found += q["evidence"] in returned[:TOP]
            done += 1
            progress("asking", done, asked)
        n = len(lang["questions"])
        per_language[code] = {"name": lang["name"], "questions": n, f"recall@{TOP}": round(found / n, 3)}
    return {"languages": per_language, "in_sample": True}


def table(figures: dict[str, Any]) -> str:
    key = f"recall@{TOP}"
    lines = [f"{'language':<16} {'n':>3} {key:>9}"]
    for code, row in figures["languages"].items():
        lines.append(f"{row['name'] + ' (' + code + ')':<16} {row['questions']:>3} {row[key]:>9.3f}")
    lines.append("in-sample: this set was written while building the multilingual search it measures")
    return "\n".join(lines)
