"""How a use case records a dependency that failed without failing the request."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from memplane.contracts import WarningOut
from memplane.errors import DependencyError

log = logging.getLogger("memplane")


@dataclass
class Degradation:
    """Collects what went wrong; the response carries it so that callers can see and alert on it."""

    degraded: list[str] = field(default_factory=list)
    warnings: list[WarningOut] = field(default_factory=list)

    def record(self, component: str, error: DependencyError) -> None:
        log.warning("degraded: %s: %s", component, error.message)
        if component not in self.degraded:
            self.degraded.append(component)
        self.warnings.append(WarningOut(code=error.code, message=error.message))

    def merge(self, other: Degradation) -> None:
        for component in other.degraded:
            if component not in self.degraded:
                self.degraded.append(component)
        self.warnings.extend(other.warnings)
