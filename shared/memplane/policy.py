"""One home for how memplane behaves: every knob the use cases apply, named and explained once.

Settings (the environment) decide some of them (``wiring.policy_of``); the rest are measured choices
documented here. Use cases read a ``Policy``; none keeps a tuning constant of its own. This module
imports nothing of memplane's: every use case may depend on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Policy:
    """Retention, budgets and ranking weights the use cases apply: one instance a container."""

    memory_ttl: timedelta | None = None
    working_state_ttl: timedelta = timedelta(hours=24)
    episode_archive_after: timedelta = timedelta(days=180)
    audit_retention: timedelta = timedelta(days=30)
    text_language: str = "auto"  # see memplane/language.py
    context_token_budget: int = 1200
    backfill_batch: int = 256
    # Exchanges whose facts the LLM failed to give: how many cleanup retries a run, and how often.
    extraction_retry_batch: int = 20
    extraction_attempts: int = 3
    # Cleanup deletes a night's expired memory in one statement (100,000 chunks take ~3 s here): it
    # gets more than a request's budget, well inside the function's 90 s limit.
    cleanup_statement_timeout_ms: int = 30_000
    statement_timeout_ms: int = 5000  # every other transaction's, unless its deadline is nearer
    # A separate vector index (Qdrant): rows a writeback re-tries beside its own, the batch that
    # cleanup and reindex send at a time, and how long a call waits for a cold client to load.
    index_retry_batch: int = 64
    index_batch: int = 512
    index_wait_s: float = 2.0
    search_pool: int = 50  # candidates taken from each ranking before fusion
    bm25_k1: float = 1.2
    bm25_b: float = 0.75
    # Keyword candidates are taken from the rarest query words until about this many chunks, which
    # bounds the work of every search. On the scale benchmark's 100,000-chunk client, 1,500 left
    # 97.9% of the exact BM25 top 10 unchanged (in-sample: chosen on that data); 1,000 gave 95.4%.
    keyword_budget: int = 1500
    # A question that names a period ("on May 3, 2023", "in December 2023", memplane/dates.py) is also
    # searched among that period's messages: the best keyword candidates before its end (this many),
    # those inside it ranked again, weighed like the keyword ranking itself (chosen, not tuned).
    period_pool: int = 300
    period_weight: float = 1.0
    # How much a message's neighbours in its chat add to its score (see usecases/retrieval.py).
    neighbour_weight: float = 0.5
    # How much vector similarity counts next to keywords (weight 1). On conversational memory BM25 is
    # the stronger ranking, so a semantic embedder gets half its say; the offline hashing embedder only
    # sees shared words, which BM25 already weighs better, measured as no help at any weight, and is
    # not searched at all.
    vector_weight: float = 0.5
    offline_vector_weight: float = 0.0
    # How long assemble waits for a read-only node to replay the caller's last write before it reads
    # the primary instead. A healthy replica is milliseconds behind (docs/deploy.md measures it).
    replica_wait_s: float = 0.25
    # What assemble hands the model besides the ranked messages: current facts and recent episodes.
    facts_in_context: int = 30
    episodes_in_context: int = 3
    # Current facts shown to the extractor with an exchange, so that it reuses their keys.
    known_facts_for_extraction: int = 100
    # Near the platform's time limit, what must still happen after each slow step, in seconds: a model
    # call is cut short rather than the function killed (see memplane/deadline.py).
    assemble_reserve_to_answer_s: float = 0.3  # ranking and the answer
    writeback_reserve_after_extraction_s: float = 3.0  # the embeddings and the writes
    writeback_reserve_after_embedding_s: float = 1.0  # the writes
    forget_reserve_after_extraction_s: float = 1.0  # the answer
    # The platform stops cleanup at 90 s and its SLA is 30 s: index work gets what is left of 20 s,
    # and the run keeps time after the LLM's retries (for the index and the vacuum) and after the
    # index (for the vacuum).
    cleanup_index_budget_s: float = 20.0
    cleanup_reserve_after_extractions_s: float = 10.0
    cleanup_reserve_after_index_s: float = 3.0
