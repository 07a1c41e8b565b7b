"""Owed extractions: an episode whose facts are still to be found, because the LLM failed when it was
written (cleanup retries it) or because a forget took some of its messages (the rest are read again)."""

from __future__ import annotations

from collections.abc import Sequence

from memplane.deadline import Deadline
from memplane.errors import ExtractionFailed, Timeout
from memplane.model import OwedExtraction
from memplane.policy import Policy
from memplane.ports import ExtractionLog, Extractor, MemoryStore
from memplane.usecases._degrade import Degradation
from memplane.usecases.extracting import extract
from memplane.usecases.facts import record_facts


def extract_all(
    store: MemoryStore,
    extractor: Extractor,
    extractions: ExtractionLog,
    episodes: Sequence[OwedExtraction],
    policy: Policy,
    notes: Degradation,
    deadline: Deadline,
    keep_s: float,
) -> int:
    """Extract each episode's facts in turn; stop at the first failure (the model is likely still
    failing: what is left stays owed to the next cleanup). How many were done."""
    done = 0
    for episode in episodes:
        try:
            extract_owed(store, extractor, extractions, episode, policy, deadline, keep_s)
        except (ExtractionFailed, Timeout) as exc:
            notes.record("extraction", exc)
            break
        done += 1
    return done


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
