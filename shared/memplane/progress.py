"""A progress bar on standard error, for the long commands (reindex, the benchmarks)."""

from __future__ import annotations

import sys
from typing import Any


class ProgressBar:
    """``bar(label, done, total)`` redraws one line, at most once a percent."""

    def __init__(self, stream: Any = sys.stderr, width: int = 30) -> None:
        self.stream, self.width = stream, width
        self._last: tuple[str, int] = ("", -1)

    def __call__(self, label: str, done: int, total: int) -> None:
        step = done * 100 // max(total, 1)
        if (label, step) == self._last and done != total:
            return
        self._last = (label, step)
        filled = self.width * done // max(total, 1)
        bar = "#" * filled + "." * (self.width - filled)
        end = "\n" if done == total else ""
        self.stream.write(f"\r{label:<10} [{bar}] {done}/{total}{end}")
        self.stream.flush()
