"""The Open WebUI filter and Tool report their version; an older one than this server expects is told.

Each sends ``X-Memplane-Client: <name>/<version>``. The server and its integrations change together
(a new request field, a new response shape): after an upgrade the functions are replaced at once, the
filter and Tool only when an admin pastes the new files into Open WebUI. The response then says so in
its ``warnings``, and the call is logged, until they are updated.
"""

from __future__ import annotations

import re

HEADER = "x-memplane-client"
# The oldest version of each integration that this server fully serves: raise it with the files in
# integrations/openwebui/ whenever they must change together (a test holds the two in step).
EXPECTED: dict[str, str] = {"openwebui-filter": "0.5.0", "openwebui-tool": "0.4.0"}

_CLIENT = re.compile(r"^([a-z][a-z0-9-]{0,40})/(\d{1,4})\.(\d{1,4})\.(\d{1,4})$")


def outdated(header: str | None) -> str | None:
    """A sentence for the caller when ``header`` names one of our integrations older than expected."""
    found = _CLIENT.match((header or "").strip())
    if found is None or found.group(1) not in EXPECTED:
        return None  # curl, a script, or another client: nothing to compare
    name = found.group(1)
    sent = tuple(int(n) for n in found.groups()[1:])
    wanted = tuple(int(n) for n in EXPECTED[name].split("."))
    if sent >= wanted:
        return None
    version = ".".join(str(n) for n in sent)
    return (
        f"the {name} installed in Open WebUI is {version}; this memplane expects {EXPECTED[name]} or newer: "
        "update it from integrations/openwebui/ (docs/openwebui.md, 'Upgrading')"
    )
