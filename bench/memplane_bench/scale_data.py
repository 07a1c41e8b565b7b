"""Realistic memory at scale, written fast: chat text with real word frequencies, seeded with COPY.

Text: the turns of the development conversations, where half of the turns have one or two of their
longer words swapped for words drawn from a Zipf distribution over a large generated vocabulary. Real
chat keeps meeting new names, places and typos as it grows (Heaps' law); without that long tail every
word of a big memory would be common, which is neither realistic nor fair to keyword search.

Clients: one heavy client holding ``scale`` chunks and a long tail of small ones (Pareto-sized, half as
many chunks in all), each chunk a message of a chat of 10-40 messages, dated over two years.

Rows go in with COPY through the store's own schema, so the statement triggers keep the keyword
statistics exactly as writeback would; the HNSW index is dropped before and rebuilt after, as a bulk
build is much faster than row-by-row inserts into the graph.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from pgvector import Vector as PgVector

from memplane.adapters.hash_embedder import HashEmbedder

HEAVY = "heavy-0"
_SYLLABLES = (
    "ka lo mi ne ru sa ti vo bel dan fer gul hom jin kor lut mar nis por quen rav sol tor vin".split()
)
_BATCH = 5_000
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Corpus:
    turns: tuple[str, ...]
    questions: tuple[str, ...]


def load_corpus(path: Path) -> Corpus:
    """The turns and questions of LoCoMo-format conversations (see shared/eval/README.md)."""
    samples: list[dict[str, Any]] = json.loads(path.read_text())
    turns = [
        t["text"]
        for s in samples
        for key, value in s["conversation"].items()
        if key.startswith("session_") and isinstance(value, list)
        for t in value
        if t.get("text")
    ]
    questions = [q["question"] for s in samples for q in s["qa"] if q.get("question")]
    return Corpus(tuple(turns), tuple(questions))


class ChatText:
    """Messages that read like the corpus, with a long tail of rare words."""

    def __init__(self, corpus: Corpus, rng: random.Random, vocabulary: int = 200_000) -> None:
        self._turns = corpus.turns
        self._rng = rng
        self._vocabulary = vocabulary
        # Zipf weights by rank, cumulated once: rank r is drawn with probability ~ 1 / r^1.1.
        self._cumulative: list[float] = []
        total = 0.0
        for rank in range(1, vocabulary + 1):
            total += 1.0 / rank**1.1
            self._cumulative.append(total)

    def message(self) -> str:
        words = self._rng.choice(self._turns).split()
        if self._rng.random() < 0.5:
            long_words = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
            for i in self._rng.sample(long_words, min(len(long_words), self._rng.choice((1, 2)))):
                words[i] = self._rare_word()
        return " ".join(words)

    def _rare_word(self) -> str:
        rank = _bisect(self._cumulative, self._rng.random() * self._cumulative[-1])
        rng = random.Random(rank)  # noqa: S311 - the same rank is always the same word
        return "".join(rng.choice(_SYLLABLES) for _ in range(2 + rank % 3))


def _bisect(cumulative: list[float], x: float) -> int:
    lo, hi = 0, len(cumulative) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cumulative[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


def plan(scale: int, rng: random.Random) -> list[tuple[str, int]]:
    """(client id, chunks): one heavy client with ``scale`` chunks, then the long tail."""
    tail_clients = max(20, scale // 500)
    weights = [rng.paretovariate(1.2) for _ in range(tail_clients)]
    share = (scale // 2) / sum(weights)
    return [(HEAVY, scale)] + [(f"tail-{i}", max(5, round(w * share))) for i, w in enumerate(weights)]


@dataclass(frozen=True)
class Row:
    client_id: str
    key: str
    chat_id: str
    role: str
    content: str
    created_at: datetime


def seed(url: str, rows: list[Row], dim: int, progress: Progress) -> int:
    """Write the rows with COPY, as the store's own schema would; rebuild the vector index."""
    total = len(rows)
    clients = sorted({r.client_id for r in rows})
    embedder = HashEmbedder(dim)
    done = 0
    with psycopg.connect(url, autocommit=True) as conn:
        from pgvector.psycopg import register_vector

        register_vector(conn)
        conn.execute("DROP INDEX IF EXISTS memory_entries_embedding")
        with conn.cursor() as cur, cur.copy("COPY client_profiles (id, full_name) FROM STDIN") as copy:
            for client_id in clients:
                copy.write_row((client_id, client_id.title()))
        progress("seeding", 0, total)
        for start in range(0, total, _BATCH):
            done += _copy(conn, rows[start : start + _BATCH], embedder)
            progress("seeding", done, total)
        progress("indexing", 0, 1)
        # A graph that fits in maintenance_work_mem builds several times faster than one that does not
        # (1,500,000 vectors of 384 dimensions take about 2.6 GB).
        graph_mb = total * (dim * 4 + 300) // 1_000_000
        conn.execute(f"SET maintenance_work_mem = '{min(max(512, graph_mb), 4096)}MB'")
        conn.execute(
            "CREATE INDEX memory_entries_embedding ON memory_entries USING hnsw (embedding vector_cosine_ops)"
        )
        # The steady state of a deployment: autovacuum (and cleanup) keep the visibility map current,
        # which lets keyword search read its postings from the index alone.
        conn.execute("VACUUM ANALYZE")
        progress("indexing", 1, 1)
    return done


def generate(clients: list[tuple[str, int]], text: ChatText, rng: random.Random) -> list[Row]:
    """Every client's messages, chat by chat, dated evenly over the last two years."""
    return list(_rows(clients, text, rng))


def _rows(clients: list[tuple[str, int]], text: ChatText, rng: random.Random) -> Iterator[Row]:
    start = datetime.now(UTC) - timedelta(days=730)
    for client_id, count in clients:
        step = timedelta(days=730) / max(count, 1)
        n, chat = 0, 0
        while n < count:
            length = min(rng.randint(10, 40), count - n)
            for i in range(length):
                role = "user" if i % 2 == 0 else "assistant"
                key = f"{client_id}:{chat}:{i}"
                yield Row(client_id, key, f"chat-{chat}", role, text.message(), start + step * n)
                n += 1
            chat += 1


def _copy(conn: psycopg.Connection[Any], rows: list[Row], embedder: HashEmbedder) -> int:
    if not rows:
        return 0
    vectors = embedder.embed([r.content for r in rows])
    with conn.cursor() as cur:
        with cur.copy(
            "COPY memory_entries (client_id, turn_key, message_id, chat_id, role, content, created_at, "
            "embedding) FROM STDIN"
        ) as copy:
            for r, vector in zip(rows, vectors, strict=True):
                copy.write_row(
                    (r.client_id, r.key, r.key, r.chat_id, r.role, r.content, r.created_at, PgVector(vector))
                )
        with cur.copy("COPY stored_turns (client_id, turn_key) FROM STDIN") as copy:
            for r in rows:
                copy.write_row((r.client_id, r.key))
    return len(rows)
