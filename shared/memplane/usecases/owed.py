"""Owed extractions: an episode whose facts are still to be found, because the LLM failed when it was
written (cleanup retries it) or because a forget took some of its messages (the rest are read again)."""

from __future__ import annotations

from memplane.deadline import Deadline
from memplane.errors import ExtractionFailed
from memplane.model import OwedExtraction, Policy
from memplane.ports import Extractor, MemoryStore
from memplane.usecases.facts import KNOWN_FACTS, normalised, record_facts


def extract_owed(
    store: MemoryStore,
    extractor: Extractor,
    episode: OwedExtraction,
    policy: Policy,
    deadline: Deadline,
    keep_s: float,
) -> None:
    """Find and record one episode's facts. Raises ``ExtractionFailed`` (the episode is charged an
    attempt; given up after a few) or ``Timeout`` (not the LLM's failure: not charged)."""
    with store.session() as s:
        known = s.current_facts(episode.client_id, episode.created_at, KNOWN_FACTS)
    try:
        found = normalised(
            deadline.run(
                lambda: extractor.extract(episode.turns, known), keep_s=keep_s, what="fact extraction"
            )
        )
    except ExtractionFailed:
        with store.session() as s:
            s.extraction_settled(episode.episode_id, False, policy.extraction_attempts)
        raise
    with store.session() as s:
        record_facts(s, episode.client_id, found, episode.created_at, episode.episode_id)
        s.extraction_settled(episode.episode_id, True, policy.extraction_attempts)
