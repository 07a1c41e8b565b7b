"""A request's deadline: the moment the platform would end the call, less the time to answer.

On DigitalOcean a function that runs past its time limit is killed and the caller gets the platform's
error instead of memplane's answer. The use cases read the deadline to give slow dependencies only the
time that is left (the database's statement budget, the LLM, the embedder) and to answer with what they
have, saying what is missing, rather than be killed. Locally there is no deadline.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from threading import Lock
from typing import TypeVar

from memplane.errors import Timeout

T = TypeVar("T")


@dataclass(frozen=True)
class Deadline:
    at: float | None = None  # time.monotonic() by which the answer must be on its way; None: no limit

    @classmethod
    def after(cls, seconds: float | None) -> Deadline:
        return cls(None if seconds is None else time.monotonic() + seconds)

    def left(self) -> float:
        return math.inf if self.at is None else max(0.0, self.at - time.monotonic())

    def wait_s(self, *, keep_s: float) -> float | None:
        """How long to wait for something still ``keep_s`` before the deadline (None: as long as it takes)."""
        return None if self.at is None else max(0.0, self.left() - keep_s)

    def budget_ms(self, configured_ms: int) -> int:
        """A database statement budget: the configured one, or less when less time is left."""
        left = self.left()
        return configured_ms if left == math.inf else max(1, min(configured_ms, int(left * 1000)))

    def run(self, work: Callable[[], T], *, keep_s: float = 0.0, what: str) -> T:
        """``work()``, given up (``Timeout``) if it is still running ``keep_s`` before the deadline:
        the time kept is for what must still happen after it. Without a deadline it simply runs."""
        if self.at is None:
            return work()
        allowed = self.wait_s(keep_s=keep_s) or 0.0
        if allowed <= 0:
            raise Timeout(f"{what} was skipped: the function's time limit was too close")
        future: Future[T] = workers().submit(work)
        try:
            return future.result(timeout=allowed)
        except FutureTimeout:
            # The call goes on in its worker until its own timeout; its result is not waited for.
            raise Timeout(
                f"{what} was cut off after {allowed:.1f} s, before the function's time limit"
            ) from None


NONE = Deadline()

_pool: ThreadPoolExecutor | None = None
_pool_lock = Lock()


def workers() -> ThreadPoolExecutor:
    """Threads for slow calls made beside or under a deadline: made on first use, not at import."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="memplane")
        return _pool
