"""Ranking memory for a query: fuse keyword and vector evidence, then read each hit with its neighbours.

Two lessons shape this, neither specific to any data set:
- Fusing a weak ranking at equal weight makes results worse, so each ranking has a weight, and scores
  (not just ranks) are fused, so that one strong match is not drowned by several weak ones.
- A message is understood with the messages around it ("Yes, last Tuesday" answers the question
  before it), so a hit lends part of its score to its neighbours in the chat, and borrows theirs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from memplane.model import Hit

Neighbours = Callable[[Sequence[str]], dict[str, tuple[Hit | None, Hit | None]]]


def normalised(hits: Sequence[Hit]) -> dict[str, float]:
    """Scores scaled into (0, 1] by the best one, so rankings on different scales can be added."""
    if not hits:
        return {}
    top = max(h.score for h in hits)
    low = min(h.score for h in hits)
    if top <= 0:
        return {h.id: 0.0 for h in hits}
    # Vector similarities crowd near each other; measuring from the weakest candidate spreads them.
    floor = low if low < top and len(hits) > 1 else 0.0
    return {h.id: max(0.0, (h.score - floor) / (top - floor)) for h in hits}


def rank(
    rankings: Sequence[tuple[Sequence[Hit], float]],
    neighbours: Neighbours,
    *,
    limit: int,
    neighbour_weight: float,
    spread: int = 30,
) -> list[Hit]:
    """The ``limit`` best hits: weighted score fusion, then neighbour smoothing over the ``spread`` best."""
    own: dict[str, float] = {}
    hits: dict[str, Hit] = {}
    for ranked, weight in rankings:
        for hit_id, score in normalised(ranked).items():
            own[hit_id] = own.get(hit_id, 0.0) + weight * score
        for hit in ranked:
            hits.setdefault(hit.id, hit)
    best = sorted(own, key=lambda i: own[i], reverse=True)[:spread]
    final = dict(own)
    if neighbour_weight > 0 and best:
        chosen = set(best)
        for hit_id, pair in neighbours(best).items():
            for near in pair:
                if near is None:
                    continue
                final[hit_id] += neighbour_weight * own.get(near.id, 0.0)
                if near.id not in chosen:
                    # A neighbour that did not match on its own is reached only through this hit.
                    final[near.id] = final.get(near.id, 0.0) + neighbour_weight * own[hit_id]
                    hits.setdefault(near.id, near)
    ordered = sorted(final, key=lambda i: (final[i], hits[i].created_at), reverse=True)[:limit]
    return [replace(hits[i], score=round(final[i], 6)) for i in ordered]
