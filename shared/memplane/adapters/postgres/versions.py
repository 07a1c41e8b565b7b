"""What the installed pgvector can do. The managed service does not promise a version."""

from __future__ import annotations

PGVECTOR_VERSION = "SELECT extversion FROM pg_extension WHERE extname = 'vector'"


def iterative_scan(version: str | None) -> bool:
    """Whether this pgvector version has iterative index scans (0.8.0 and later)."""
    try:
        major, minor = (int(part) for part in (version or "").split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= (0, 8)
