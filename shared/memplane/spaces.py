"""Memory spaces: a memory of its own within a client, for one model or persona.

A space's memory is kept under a key of its own, the client id and the space's name joined by U+001F
(a character that neither may hold). Every table, index and query keeps keys apart, so a space is as
isolated from its client's other memory as two clients are from each other, at no cost to the common
case. Its profile row names the client it belongs to (``client_profiles.space_of``, migration 0015):
that is how a forget without a space reaches every space, and how an export lists them.
"""

from __future__ import annotations

MARK = "\x1f"


def key_of(client_id: str, space: str | None) -> str:
    """The key a client's memory in ``space`` is stored under (the client's own id without one)."""
    return client_id if space is None else f"{client_id}{MARK}{space}"


def client_of(key: str) -> str:
    """The client a memory key belongs to."""
    return key.split(MARK, 1)[0]


def space_of(key: str) -> str | None:
    """The space a memory key names, or None for the client's own memory."""
    _, mark, space = key.partition(MARK)
    return space if mark else None
