"""Secrets from Infisical at cold start: Universal Auth login, then the raw secrets of one path.

A small client on httpx rather than the official SDK, which pulls in boto3 (a function would no longer
fit the platform's 48 MB) and whose HTTP session has no timeout. Every request here has one: a cold
start must not hang. Fetched secrets are cached on local disk (mode 0600) so that a cold start while
Infisical is unreachable can still serve with recent values (see ``SecretCache`` for how a shared
host's other users are kept out of it).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import stat
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from memplane.errors import ConfigurationError, SecretsUnavailable

log = logging.getLogger("memplane")

LOGIN = "/api/v1/auth/universal-auth/login"
SECRETS = "/api/v3/secrets/raw"


@dataclass(frozen=True)
class InfisicalTarget:
    host: str
    client_id: str
    client_secret: str
    project_id: str
    environment: str
    secret_path: str
    timeout_s: float


@dataclass(frozen=True)
class Fetched:
    values: dict[str, str]
    source: str  # "infisical", or "cached" when Infisical was unreachable
    fetched_at: float


class _Unreachable(Exception):
    """Infisical did not answer in time, or answered with a server error."""


def fetch(target: InfisicalTarget) -> dict[str, str]:
    """Log in and list the secrets; each request gets ``timeout_s`` and one retry.

    Raises ``ConfigurationError`` when Infisical refuses the credentials or the project, and
    ``_Unreachable`` when it cannot be reached or fails on its side.
    """
    with httpx.Client(base_url=target.host.rstrip("/"), timeout=target.timeout_s) as client:
        login = _request(
            client, "POST", LOGIN, json={"clientId": target.client_id, "clientSecret": target.client_secret}
        )
        token = login.get("accessToken")
        if not isinstance(token, str):
            raise _Unreachable("the login reply has no accessToken")
        listing = _request(
            client,
            "GET",
            SECRETS,
            headers={"Authorization": f"Bearer {token}"},
            params={
                "workspaceId": target.project_id,
                "environment": target.environment,
                "secretPath": target.secret_path,
                "viewSecretValue": "true",
                "expandSecretReferences": "true",
                "recursive": "false",
                "include_imports": "true",
            },
        )
    values: dict[str, str] = {}
    for imported in listing.get("imports") or []:  # the project's own secrets win over imported ones
        values.update(_pairs(imported.get("secrets") or []))
    values.update(_pairs(listing.get("secrets") or []))
    return values


def _request(client: httpx.Client, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    last: Exception | None = None
    for _ in range(2):  # one retry: a dropped connection at cold start is common, a second rarely
        try:
            response = client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            last = exc
            continue
        if response.status_code in (401, 403, 404):
            raise ConfigurationError(
                f"Infisical refused {path} (HTTP {response.status_code}): check INFISICAL_CLIENT_ID, "
                "INFISICAL_CLIENT_SECRET, INFISICAL_PROJECT_ID and INFISICAL_ENVIRONMENT"
            )
        if response.status_code >= 500:
            last = _Unreachable(f"HTTP {response.status_code}")
            continue
        try:
            body: dict[str, Any] = response.json()
        except ValueError as exc:
            raise _Unreachable(f"{path} did not answer JSON") from exc
        return body
    raise _Unreachable(type(last).__name__ if last else "no answer") from last


def _pairs(secrets: list[dict[str, Any]]) -> dict[str, str]:
    return {s["secretKey"]: str(s.get("secretValue", "")) for s in secrets if s.get("secretKey")}


class SecretCache:
    """The last fetched secrets of one target, in a directory and a file only this user can read.

    The cache lives under the system's temporary directory (the only writable place on the platform),
    which other users of a shared host can write to as well. So the cache is a private directory
    (0700, owned by this user, not a link) holding a file written without following links and only
    if it did not exist, and a cache is read only from a regular file of this user's that nobody else
    can read or write, dated in the past: a planted file or link could otherwise point
    OPENAI_BASE_URL or DATABASE_URL somewhere else.
    """

    def __init__(self, directory: Path, target: InfisicalTarget) -> None:
        key = f"{target.host}|{target.project_id}|{target.environment}|{target.secret_path}"
        self.directory = directory / f"memplane-{os.geteuid()}"
        self.path = self.directory / f"memplane-secrets-{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"

    def save(self, values: dict[str, str], at: float) -> None:
        with suppress(FileExistsError):
            os.mkdir(self.directory, 0o700)
        _check_private(os.lstat(self.directory), stat.S_ISDIR, self.directory)
        tmp = self.directory / f".{self.path.name}.{secrets.token_hex(8)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump({"fetched_at": at, "values": values}, f)
            os.replace(tmp, self.path)  # readers never see half a file
        except BaseException:
            with suppress(OSError):
                os.unlink(tmp)
            raise

    def load(self, max_age_s: float, now: float) -> Fetched | None:
        try:
            _check_private(os.lstat(self.directory), stat.S_ISDIR, self.directory)
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError as exc:
            if not isinstance(exc, FileNotFoundError):
                log.warning("Infisical cache not used: %s", exc)
            return None
        try:
            with os.fdopen(fd) as f:
                _check_private(os.fstat(f.fileno()), stat.S_ISREG, self.path)
                cached = json.load(f)
            fetched_at = float(cached["fetched_at"])
            values = {str(k): str(v) for k, v in cached["values"].items()}
        except OSError as exc:
            log.warning("Infisical cache not used: %s", exc)
            return None
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
        if not now - max_age_s <= fetched_at <= now + _CLOCK_SKEW_S:
            return None  # too old, or dated in the future (which would never expire)
        return Fetched(values, "cached", fetched_at)


_CLOCK_SKEW_S = 300.0


def _check_private(info: os.stat_result, kind: Callable[[int], bool], path: Path) -> None:
    """Raise unless ``info`` is of the right kind (not a link), this user's, and private to them."""
    if not kind(info.st_mode):
        raise PermissionError(f"{path} is not a plain {'directory' if kind is stat.S_ISDIR else 'file'}")
    if info.st_uid != os.geteuid():
        raise PermissionError(f"{path} belongs to another user")
    if stat.S_IMODE(info.st_mode) & 0o077:
        raise PermissionError(f"{path} can be read or written by other users")


def load(target: InfisicalTarget, cache: SecretCache, max_age_s: float) -> Fetched:
    """Fresh secrets when Infisical answers; recent cached ones when it does not; else a clear error."""
    now = time.time()
    try:
        values = fetch(target)
    except _Unreachable as exc:
        cached = cache.load(max_age_s, now)
        if cached is not None:
            return cached
        raise SecretsUnavailable(
            f"Infisical at {target.host} is unreachable ({exc}) and there is no cached copy younger than "
            f"{max_age_s / 3600:g} h that only this user can read; set the secrets in the environment or "
            "retry when Infisical is back"
        ) from exc
    try:
        cache.save(values, now)
    except OSError as exc:  # a read-only disk, or a cache directory not ours: only the fallback is lost
        log.warning("Infisical cache not written: %s", exc)
    return Fetched(values, "infisical", now)
