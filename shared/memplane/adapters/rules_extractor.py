"""An offline fact extractor: a handful of patterns for what people say about themselves.

It reads only the user's own messages, catches plain first-person statements (name, where they live,
work, likes and dislikes, family, "remember that ...") and misses everything subtler. It is the honest
fallback when no LLM is configured, and ``/health`` says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from memplane.model import Extraction, Fact, FactCandidate, Turn
from memplane.text import summarize, terms

_NAME = r"([A-Z][\w'-]+(?: [A-Z][\w'-]+){0,2})"
_PLACE = r"([A-Z][\w.'-]*(?:,? [A-Z][\w.'-]*){0,3})"
_PHRASE = r"([^.,!?;\n]{2,60})"
_RELATIVES = "wife|husband|partner|son|daughter|mother|father|mom|dad|brother|sister|dog|cat"
_SINGLE = {"wife", "husband", "partner", "mother", "father", "mom", "dad"}

# (pattern, key template, value template, confidence). Lead phrases are case-insensitive; names and
# places must be capitalised, which keeps "I live in fear" from becoming a location.
_RULES: list[tuple[re.Pattern[str], str, str, float]] = [
    (re.compile(r"(?i:\bmy name is|\bcall me)\s+" + _NAME), "name", "{0}", 0.9),
    (
        re.compile(
            r"(?i:\bI(?: live| am living|'m living) in|\bI(?: have|'ve)? moved to|"
            r"\bI(?: am|'m) based in)\s+" + _PLACE
        ),
        "location",
        "{0}",
        0.8,
    ),
    (re.compile(r"(?i:\bI(?: am|'m) from)\s+" + _PLACE), "hometown", "{0}", 0.7),
    (
        re.compile(r"(?i:\bI work as|\bmy job is|\bI(?: am|'m) employed as)\s+(?:an? )?" + _PHRASE),
        "job",
        "{0}",
        0.8,
    ),
    (re.compile(r"(?i:\bI work (?:at|for))\s+" + _NAME), "employer", "{0}", 0.8),
    (re.compile(r"(?i:\bmy birthday is)\s+(?:on )?" + _PHRASE), "birthday", "{0}", 0.8),
    (
        re.compile(r"(?i:\bI(?: am|'m) allergic to)\s+" + _PHRASE),
        "allergy:{0}",
        "allergic to {0}",
        0.9,
    ),
    (
        re.compile(r"(?i:\bI(?: am|'m) (?:a )?)(vegetarian|vegan|pescatarian)\b", re.I),
        "diet",
        "{0}",
        0.8,
    ),
    (
        re.compile(r"(?i:\bI (?:really )?(?:like|love|enjoy|prefer|adore))\s+" + _PHRASE),
        "preference:{0}",
        "likes {0}",
        0.7,
    ),
    (
        re.compile(r"(?i:\bI (?:really )?(?:don't like|do not like|dislike|hate|can't stand))\s+" + _PHRASE),
        "preference:{0}",
        "dislikes {0}",
        0.7,
    ),
    (
        re.compile(r"(?i:\bmy (" + _RELATIVES + r")(?:'s name)? is (?:named |called )?)" + _NAME),
        "family:{0}",
        "{1}",
        0.8,
    ),
    (
        re.compile(r"(?i:\bI have (\w+) (kids|children|sons|daughters|brothers|sisters|dogs|cats))\b"),
        "family:{1}",
        "{0}",
        0.7,
    ),
    (
        re.compile(r"(?i:\b(?:please )?remember that|\bdon't forget that|\bnote that)\s+([^\n]{3,300})"),
        "note:{slug}",
        "{0}",
        0.9,
    ),
]


# Statements that a fact stopped being true, and the keys they end. A new value said in the same
# exchange ("I don't live in Lisbon any more, I moved to Porto") replaces the fact instead.
_ENDINGS: list[tuple[re.Pattern[str], tuple[str, ...]]] = [
    (
        re.compile(
            r"(?i:\bI(?: am|'m) (?:not|no longer) (?:an? )?|\bI stopped being (?:an? )?)"
            r"(?:vegetarian|vegan|pescatarian)"
        ),
        ("diet",),
    ),
    (re.compile(r"(?i:\bI (?:don't|do not|no longer) live in)\b"), ("location",)),
    (re.compile(r"(?i:\bI (?:don't|do not|no longer) work (?:at|for))\b"), ("employer",)),
    (re.compile(r"(?i:\bI (?:quit|lost|left) my job)\b"), ("job", "employer")),
]


class RulesExtractor:
    name = "rules"
    offline = True

    def extract(self, turns: Sequence[Turn], known: Sequence[Fact] = ()) -> Extraction:
        facts: dict[str, FactCandidate] = {}
        ended: list[str] = []
        for turn in turns:
            if turn.role != "user":
                continue
            for fact in _facts_in(turn.content):
                facts[fact.key] = fact  # a later statement in the same exchange wins
            ended += [key for pattern, keys in _ENDINGS if pattern.search(turn.content) for key in keys]
        return Extraction(
            facts=tuple(facts.values()), summary=summarize(turns), ended=tuple(dict.fromkeys(ended))
        )


def _facts_in(text: str) -> Iterator[FactCandidate]:
    for pattern, key_t, value_t, confidence in _RULES:
        for match in pattern.finditer(text):
            groups = [g.strip().rstrip(".!?") for g in match.groups()]
            if not terms(groups[-1]):
                continue  # "I love it", "I like that": nothing durable to keep
            template = key_t
            if key_t == "family:{0}" and groups[0].lower() not in _SINGLE:
                template = "family:{0}:{1}"  # one can have several daughters, not several wives
            slug = "_".join(re.findall(r"\w+", groups[0].lower())[:6])
            key = template.format(*[g.lower() for g in groups], slug=slug)
            yield FactCandidate(key=key, value=value_t.format(*groups), confidence=confidence)
