"""One key per kind of fact, whichever extractor found it.

An LLM names keys freely: "city" in one exchange and "location" in the next would be two current facts
that never supersede each other. Extractors are shown the known keys and asked to reuse them; the
common synonyms below are folded as well, for the replies that do not.
"""

from __future__ import annotations

import re

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
