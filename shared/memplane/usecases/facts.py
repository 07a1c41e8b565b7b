"""One key per kind of fact, whichever extractor found it.

An LLM names keys freely: "city" in one exchange and "location" in the next would be two current facts
that never supersede each other. Extractors are shown the known keys and asked to reuse them; the
common synonyms below are folded as well, for the replies that do not.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime

from memplane.model import Extraction
from memplane.ports import MemoryWrites

SYNONYMS = {
    "city": "location",
    "home": "location",
    "home_city": "location",
    "current_city": "location",
    "current_location": "location",
    "residence": "location",
    "lives_in": "location",
    "place_of_residence": "location",
    "full_name": "name",
    "user_name": "name",
    "occupation": "job",
    "profession": "job",
    "job_title": "job",
    "role": "job",
    "company": "employer",
    "workplace": "employer",
    "works_at": "employer",
    "diet_preference": "diet",
    "dietary_preference": "diet",
    "dietary_restriction": "diet",
    "birthdate": "birthday",
    "date_of_birth": "birthday",
}


def canonical_key(key: str) -> str:
    """Lower case, with the known synonyms folded: "Home City" and "home-city" become "location"."""
    lowered = key.strip().lower()
    return SYNONYMS.get(re.sub(r"[\s-]+", "_", lowered), lowered)


def normalised(found: Extraction) -> Extraction:
    """An extractor's answer with its keys folded, each ended key once."""
    facts = tuple(replace(f, key=canonical_key(f.key)) for f in found.facts if canonical_key(f.key))
    ended = tuple(dict.fromkeys(k for k in map(canonical_key, found.ended) if k))
    return replace(found, facts=facts, ended=ended)


def record_facts(
    s: MemoryWrites, client_id: str, extraction: Extraction, at: datetime, episode_id: str
) -> int:
    """Upsert what was said, one value per key (the last one said), and close what ended; the count."""
    facts = {f.key: f for f in extraction.facts}
    upserted = sum(s.upsert_fact(client_id, f, at, episode_id) for f in facts.values())
    # An ended fact without a new value closes; its history keeps both dates.
    return upserted + sum(s.end_fact(client_id, k, at) for k in extraction.ended if k not in facts)
