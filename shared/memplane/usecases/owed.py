"""Owed extractions: an episode whose facts are still to be found, because the LLM failed when it was
written (cleanup retries it) or because a forget took some of its messages (the rest are read again)."""

from __future__ import annotations

from memplane.deadline import Deadline
from memplane.errors import ExtractionFailed
from memplane.model import OwedExtraction
from memplane.policy import Policy
from memplane.ports import ExtractionLog, Extractor, MemoryStore
from memplane.usecases.extracting import extract
from memplane.usecases.facts import record_facts


def extract_owed(
    store: MemoryStore,
    extractor: Extractor,
    extractions: ExtractionLog,
    episode: OwedExtraction,
    policy: Policy,
    deadline: Deadline,
    keep_s: float,
) -> None:
    """Find and record one episode's facts. Raises ``ExtractionFailed`` (the episode is charged an
    attempt, waits longer before the next, and is given up after a few) or ``Timeout`` (the run's
    time ran out: not charged)."""
    with store.session() as s:
        known = s.current_facts(episode.client_id, episode.created_at, policy.known_facts_for_extraction)
    try:
        found = extract(extractor, extractions, episode.turns, known, deadline, keep_s)
    except ExtractionFailed:
        with store.session() as s:
            s.extraction_settled(episode.episode_id, False, policy.extraction_attempts)
        raise
    with store.session() as s:
        record_facts(s, episode.client_id, found, episode.created_at, episode.episode_id)
        s.extraction_settled(episode.episode_id, True, policy.extraction_attempts)
