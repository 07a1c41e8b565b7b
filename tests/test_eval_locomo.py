"""`memplane eval locomo`: replays a LoCoMo-format file through the HTTP API and scores what comes back.

The real data set is licensed for non-commercial evaluation only and never ships here: these tests use
a small conversation written in its format.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from memplane_bench import locomo
from tests.conftest import bench_cli

SAMPLE: dict[str, Any] = {
    "sample_id": "conv-x",
    "conversation": {
        "speaker_a": "Ana",
        "speaker_b": "Ben",
        "session_1_date_time": "1:56 pm on 8 May, 2023",
        "session_1": [
            {"speaker": "Ana", "dia_id": "D1:1", "text": "I adopted a greyhound called Dash."},
            {"speaker": "Ben", "dia_id": "D1:2", "text": "Lovely! I just started learning the cello."},
            {
                "speaker": "Ana",
                "dia_id": "D1:3",
                "text": "Here is my garden.",
                "img_url": ["x"],
                "blip_caption": "a photo of tomatoes in a raised bed",
            },
        ],
        "session_2_date_time": "9:00 am on 1 June, 2023",
        "session_2": [
            {"speaker": "Ben", "dia_id": "D2:1", "text": "My cello recital went well."},
            {"speaker": "Ana", "dia_id": "D2:2", "text": "Congratulations!"},
        ],
    },
    "qa": [
        {
            "question": "What is the name of Ana's greyhound?",
            "answer": "Dash",
            "evidence": ["D1:1"],
            "category": 4,
        },
        {
            "question": "What instrument does Ben play?",
            "answer": "cello",
            "evidence": ["D1:2; D2:01"],
            "category": 1,
        },
        {"question": "What does Ana grow?", "answer": "tomatoes", "evidence": ["D1:3", "D"], "category": 3},
        {"question": "When was the recital?", "answer": "June 2023", "evidence": ["D9:9"], "category": 2},
        {
            "question": "What is Ben's favourite colour?",
            "adversarial_answer": "red",
            "evidence": [],
            "category": 5,
        },
    ],
}


def test_evidence_ids_are_split_normalised_and_checked() -> None:
    known = {"D1:1", "D8:6", "D9:17", "D30:5"}
    assert locomo.clean_evidence(["D1:1"], known) == ({"D1:1"}, 0, 0)
    assert locomo.clean_evidence(["D8:6; D9:17"], known) == ({"D8:6", "D9:17"}, 2, 0)
    assert locomo.clean_evidence(["D30:05", "D", "D99:1"], known) == ({"D30:5"}, 1, 2)


def test_replay_pairs_turns_dates_them_and_skips_what_cannot_be_scored() -> None:
    replay = locomo.build_replay([SAMPLE], "t-")
    first, lone, second = replay.writebacks
    assert first["conversation"] == [
        {"role": "user", "id": "D1:1", "content": "Ana: I adopted a greyhound called Dash."}
    ]
    assert (first["message_id"], first["timestamp"]) == ("D1:2", "2023-05-08T13:56:00")
    assert lone["conversation"] == []
    assert lone["response"] == "Ana: Here is my garden. [shared a photo: a photo of tomatoes in a raised bed]"
    assert second["timestamp"] == "2023-06-01T09:00:00"
    assert [q.evidence for q in replay.questions] == [{"D1:1"}, {"D1:2", "D2:1"}, {"D1:3"}]
    assert (replay.skipped_questions, replay.adversarial, replay.skipped_evidence) == (1, 1, 2)


def test_run_scores_the_returned_message_ids(client: FlaskClient) -> None:
    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        reply = client.post(path, json=body)
        assert reply.status_code == 200, reply.get_json()
        result: dict[str, Any] = reply.get_json()
        return result

    figures = locomo.run(locomo.build_replay([SAMPLE], "t-"), post, lambda *_: None)
    assert figures["overall"]["questions"] == 3
    assert figures["overall"]["any@10"] == 1.0
    assert figures["categories"]["single-hop"]["any@5"] == 1.0
    assert figures["assemble_own_ms"]["p95"] > 0


def test_the_eval_command_end_to_end(tmp_path: Path) -> None:
    data = tmp_path / "sample.json"
    data.write_text(json.dumps([SAMPLE]))
    out = tmp_path / "figures.json"
    result = bench_cli(
        "eval", "locomo", "--data", str(data), "--out", str(out), cwd=tmp_path, MEMPLANE_EMBEDDING_DIM="64"
    )
    assert result.returncode == 0, result.stderr
    assert "any@10" in result.stdout
    assert "overall" in result.stdout
    assert "replaying" in result.stderr  # the progress bar
    figures = json.loads(out.read_text())
    assert figures["overall"]["any@10"] == 1.0
    assert figures["skipped_evidence_ids"] == 2


def test_memplane_dialogues_are_what_their_generator_writes() -> None:
    """The committed second development set is regenerated whenever its generator changes, and every
    question points at turns that exist."""
    from memplane_bench import dialogues

    samples = dialogues.generate()
    assert json.loads(dialogues.DATA.read_text(encoding="utf-8")) == samples
    replay = locomo.build_replay(samples, "d-")
    assert len(replay.questions) == sum(len(s["qa"]) for s in samples) >= 150
    assert replay.skipped_evidence == replay.skipped_questions == 0
    assert {q.category for q in replay.questions} == {1, 2, 3, 4}
