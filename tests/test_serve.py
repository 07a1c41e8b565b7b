"""`memplane serve`, as `make run` uses it: its own embedded Postgres, a clean stop, data kept."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import clean_env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def call(url: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


class Served:
    def __init__(self, data_dir: Path, *args: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = clean_env(MEMPLANE_DATA_DIR=str(data_dir), MEMPLANE_EMBEDDING_DIM="64")
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "memplane.cli", "serve", "--migrate", "--port", str(self.port), *args],
            env=env,
            cwd=data_dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.first_response_s = self._wait_healthy()

    def _wait_healthy(self) -> float:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.process.communicate()[0]
            try:
                if call(f"{self.base}/health")[0] == 200:
                    return time.perf_counter() - self.started
            except OSError:
                time.sleep(0.05)
        raise AssertionError("memplane serve did not become healthy in 60 s")

    def stop(self) -> str:
        self.process.send_signal(signal.SIGINT)  # what Ctrl-C sends
        output, _ = self.process.communicate(timeout=30)
        assert self.process.returncode == 0, output
        return output


def postmaster_running(data_dir: Path) -> bool:
    pid_file = data_dir / "pgdata" / "postmaster.pid"
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text().split()[0])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_serve_on_embedded_postgres_stops_cleanly_and_keeps_its_data(tmp_path: Path) -> None:
    served = Served(tmp_path)
    print(f"time to first healthy response, fresh data dir: {served.first_response_s:.2f} s")
    written = {
        "client_id": "alice",
        "message_id": "m2",
        "response": "Noted, you live in Lisbon.",
        "conversation": [{"role": "user", "id": "m1", "content": "I live in Lisbon."}],
    }
    assert call(f"{served.base}/writeback", written)[0] == 200
    output = served.stop()
    assert "curl" in output
    assert f"{served.base}/assemble" in output
    assert "memplane: stopping" in output
    assert not postmaster_running(tmp_path)

    again = Served(tmp_path)
    print(f"time to first healthy response, existing data dir: {again.first_response_s:.2f} s")
    try:
        status, memory = call(f"{again.base}/assemble", {"client_id": "alice", "query": "Where do I live?"})
        assert status == 200
        assert memory["similar_chunks"][0]["content"] == "I live in Lisbon."
    finally:
        again.stop()


@pytest.mark.parametrize("host", ["0.0.0.0"])
def test_without_a_token_serve_binds_loopback_only(tmp_path: Path, host: str) -> None:
    served = Served(tmp_path, "--host", host)
    output = served.stop()
    assert "MEMPLANE_API_TOKEN is not set" in output
    assert "refusing to listen on 0.0.0.0" in output
