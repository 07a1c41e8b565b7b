"""Which request model and use case serve each function: the only table of them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from memplane.contracts import AssembleRequest, CleanupRequest, WritebackRequest
from memplane.deadline import Deadline
from memplane.usecases.assemble import assemble
from memplane.usecases.cleanup import cleanup
from memplane.usecases.export import export
from memplane.usecases.forget import forget
from memplane.usecases.writeback import writeback
from memplane.wiring import Container


@dataclass(frozen=True)
class Route:
    request: type[BaseModel]
    run: Callable[[Any, Container, datetime, Deadline], BaseModel]
    # Requests only the operator (or the platform's trigger) may send, whatever the chat token allows.
    operator_only: Callable[[Any], bool] = lambda request: False


FUNCTIONS: dict[str, Route] = {
    "assemble": Route(
        AssembleRequest,
        lambda r, c, now, deadline: assemble(
            r,
            store=c.store,
            embedder=c.query_embedder,
            index=c.index,
            fallback=c.pgvector,
            policy=c.policy,
            now=now,
            deadline=deadline,
            replica=c.replica,
        ),
    ),
    "writeback": Route(
        WritebackRequest,
        lambda r, c, now, deadline: writeback(
            r,
            store=c.store,
            embedder=c.embedder,
            extractor=c.extractor,
            extractions=c.extractions,
            index=c.index,
            policy=c.policy,
            now=now,
            deadline=deadline,
            report_position=c.replica is not None,
        ),
    ),
    "cleanup": Route(
        CleanupRequest,
        lambda r, c, now, deadline: _cleanup(r, c, now, deadline),
        # The full run (vacuum, LLM retries, backfill) costs the whole deployment; forget and export
        # concern one client, and the Tool needs them.
        operator_only=lambda r: r.action is None,
    ),
}


def _cleanup(r: CleanupRequest, c: Container, now: datetime, deadline: Deadline) -> BaseModel:
    """The nightly run, or on demand: forget or export one client."""
    if r.forget is not None:
        return forget(
            r.forget,
            store=c.store,
            index=c.index,
            extractor=c.extractor,
            extractions=c.extractions,
            policy=c.policy,
            deadline=deadline,
        )
    if r.export is not None:
        return export(r.export, store=c.store)
    return cleanup(
        r,
        store=c.store,
        runs=c.runs,
        embedder=c.embedder,
        extractor=c.extractor,
        extractions=c.extractions,
        index=c.index,
        policy=c.policy,
        now=now,
        deadline=deadline,
    )
