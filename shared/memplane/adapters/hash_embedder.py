"""An offline embedder: signed feature hashing of words and word pairs. Deterministic, no model.

It only knows which words two texts share, not what they mean, so it is an honest fallback for
running without an embedding endpoint; ``/health`` says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from hashlib import blake2b
from itertools import pairwise

from memplane.model import Vector
from memplane.text import terms


class HashEmbedder:
    name = "hash"
    offline = True

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def embed(self, texts: Sequence[str]) -> list[Vector]:
        return [self._one(text) for text in texts]

    def _one(self, text: str) -> Vector:
        words = terms(text)
        features = [(w, 1.0) for w in words]
        features += [(f"{a} {b}", 0.5) for a, b in pairwise(words)]
        vec = [0.0] * self.dim
        for feature, weight in features:
            h = int.from_bytes(blake2b(feature.encode(), digest_size=8).digest(), "little")
            vec[h % self.dim] += weight if h >> 63 else -weight
        norm = math.sqrt(sum(x * x for x in vec))
        if norm == 0.0:
            # A text with no words still needs a valid unit vector: cosine of a zero vector is NaN.
            vec[0] = 1.0
            return vec
        return [x / norm for x in vec]
