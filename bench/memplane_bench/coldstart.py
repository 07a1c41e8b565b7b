"""Cold start of a deployed function: a fresh process imports its DigitalOcean entry point, then
answers one assemble web event and a second one, as a new container does.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys, time
started = time.perf_counter()
import importlib.util
spec = importlib.util.spec_from_file_location("entry", "functions/assemble/__main__.py")
entry = importlib.util.module_from_spec(spec)
spec.loader.exec_module(entry)
imported = time.perf_counter()

class Context:
    activation_id = "bench"
    function_name = "/ns/memory/assemble"
    def get_remaining_time_in_millis(self):
        return 8000

def call(method="POST"):
    body = json.dumps({"client_id": sys.argv[1], "query": "Where do I live?"})
    event = {"http": {"method": method, "path": "", "headers": {}, "body": body}}
    reply = entry.main(event, Context())
    assert reply["statusCode"] == 200, reply
    return reply["body"]

call()
answered = time.perf_counter()
call()
second = time.perf_counter()
index = call("GET")["checks"]["vector_index"]  # health: is the index client loaded by now?
print(json.dumps({
    "import_ms": (imported - started) * 1000,
    "first_response_ms": (answered - started) * 1000,
    "second_call_ms": (second - answered) * 1000,
    "index_ready_after_two_calls": index == "ok",
}))
"""


def sample(env: dict[str, str], client_id: str = "alice") -> dict[str, Any]:
    """One fresh process: import, first response and second call in ms, and whether the index was ready."""
    out = subprocess.run(  # noqa: S603 - our own interpreter and probe
        [sys.executable, "-c", PROBE, client_id],
        # The probe's events look like web calls; on this loopback bench no token is set.
        env={**env, "MEMPLANE_ALLOW_UNAUTHENTICATED": "true"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    figures: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return figures
