"""One extraction, and a record of how it went: a model whose replies cannot be read is named in health
rather than failing every writeback in silence; what each extraction cost is logged."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from memplane.deadline import Deadline
from memplane.errors import DependencyError, ExtractionFailed, Timeout
from memplane.model import Extraction, Fact, Turn
from memplane.ports import ExtractionLog, Extractor
from memplane.usecases.facts import normalised

log = logging.getLogger("memplane")
usage = logging.getLogger("memplane.usage")


def extract(
    extractor: Extractor,
    extractions: ExtractionLog,
    turns: Sequence[Turn],
    known: Sequence[Fact],
    deadline: Deadline,
    keep_s: float,
) -> Extraction:
    """The exchange's facts, keys folded. Raises ``ExtractionFailed`` or ``Timeout`` as the extractor
    and the deadline do, after recording the failure against the model."""
    name = extractor.name
    try:
        found = deadline.run(lambda: extractor.extract(turns, known), keep_s=keep_s, what="fact extraction")
    except ExtractionFailed as failed:
        kind, error, excerpt = failed.kind, failed.message, failed.excerpt
        _record(extractor, lambda at: extractions.failed(name, at, kind, error, excerpt))
        raise
    except Timeout as timeout:
        error = timeout.message
        _record(extractor, lambda at: extractions.failed(name, at, "timeout", error, None))
        raise
    if found.refused:
        _record(extractor, lambda at: extractions.refused(extractor.name, at))
    else:
        _record(extractor, lambda at: extractions.succeeded(extractor.name, at))
    if found.usage is not None:
        usage.info(
            "extraction used %d + %d tokens",
            found.usage.prompt_tokens,
            found.usage.completion_tokens,
            extra={
                "model": extractor.name,
                "prompt_tokens": found.usage.prompt_tokens,
                "completion_tokens": found.usage.completion_tokens,
                "requests": found.usage.requests,
            },
        )
    return normalised(found)


def _record(extractor: Extractor, write: Callable[[datetime], None]) -> None:
    """Best effort: the log of how extraction goes must not fail the call it describes."""
    if extractor.offline:
        return  # the rules extractor cannot fail the way a model does
    try:
        write(datetime.now(UTC))
    except DependencyError as exc:
        log.warning("could not record how extraction went: %s", exc.message)
