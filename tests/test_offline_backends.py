"""The offline embedder and extractor: honest, deterministic, and useful for plain statements."""

from __future__ import annotations

import math

import pytest

from memplane.adapters.hash_embedder import HashEmbedder
from memplane.adapters.rules_extractor import RulesExtractor
from memplane.model import Turn


def facts_of(text: str, role: str = "user") -> dict[str, str]:
    extraction = RulesExtractor().extract([Turn("k", role, text, None)])  # type: ignore[arg-type]
    return {f.key: f.value for f in extraction.facts}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hi, my name is Maria Lopez.", {"name": "Maria Lopez"}),
        ("I live in San Francisco, and I love it.", {"location": "San Francisco"}),
        ("These days I'm living in Kyoto.", {"location": "Kyoto"}),
        ("We moved last year; I've moved to Berlin for work.", {"location": "Berlin"}),
        ("I work as a nurse at night.", {"job": "nurse at night"}),
        ("I work for Acme Corp these days.", {"employer": "Acme Corp"}),
        ("I'm allergic to peanuts.", {"allergy:peanuts": "allergic to peanuts"}),
        ("I'm vegetarian.", {"diet": "vegetarian"}),
        ("I really like green tea", {"preference:green tea": "likes green tea"}),
        ("I hate green tea", {"preference:green tea": "dislikes green tea"}),
        ("My wife is named Ana.", {"family:wife": "Ana"}),
        (
            "My daughter is called Zoe and my daughter's name is Mia.",
            {"family:daughter:zoe": "Zoe", "family:daughter:mia": "Mia"},
        ),
        (
            "Please remember that my passport expires in March.",
            {"note:my_passport_expires_in_march": "my passport expires in March"},
        ),
        ("I live in fear of spiders.", {}),
        ("What is the capital of France?", {}),
    ],
)
def test_rules_find_plain_first_person_facts(text: str, expected: dict[str, str]) -> None:
    assert facts_of(text) == expected


def test_rules_ignore_what_the_assistant_says() -> None:
    assert facts_of("My name is Assistant and I live in the cloud.", role="assistant") == {}


def test_rules_summarise_the_exchange() -> None:
    extraction = RulesExtractor().extract(
        [Turn("a", "user", "Where should I eat?", None), Turn("b", "assistant", "Try the market.", None)]
    )
    assert extraction.summary == "User: Where should I eat? / Assistant: Try the market."


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_hash_embedder_is_deterministic_normalised_and_lexical() -> None:
    embedder = HashEmbedder(256)
    a, b, c, empty = embedder.embed(
        ["I love hiking in the mountains", "hiking mountains love", "quarterly tax filing deadline", "!!!"]
    )
    assert embedder.embed(["I love hiking in the mountains"])[0] == a
    assert math.isclose(math.sqrt(sum(x * x for x in a)), 1.0)
    assert cosine(a, b) > 0.5 > cosine(a, c)
    assert math.isclose(math.sqrt(sum(x * x for x in empty)), 1.0)  # never a zero vector
