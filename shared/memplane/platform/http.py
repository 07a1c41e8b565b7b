"""One HTTP pipeline for every platform: auth, size, JSON, validation, use case, error mapping, audit.

Platform adapters only translate their event into ``HttpRequest`` and ``HttpResponse`` back. This is
also the one place that maps error codes to HTTP statuses, and the one catch-all in memplane: an
unexpected exception is logged with the request id and answered with a 500 that reveals nothing.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ValidationError

from memplane import errors
from memplane.contracts import ErrorBody, ErrorDetail
from memplane.deadline import NONE, Deadline
from memplane.fields import check_storable
from memplane.logs import hash_client
from memplane.model import Execution
from memplane.platform import clients
from memplane.platform.routes import FUNCTIONS
from memplane.usecases.health import health, public_view
from memplane.wiring import Container

log = logging.getLogger("memplane")
access = logging.getLogger("memplane.access")

# DigitalOcean Functions rejects requests and responses over 1 MB; we answer the same everywhere.
MAX_BODY_BYTES = 1_000_000

STATUS: Mapping[str, int] = {
    "invalid_request": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "client_not_found": 404,
    "not_found": 404,
    "method_not_allowed": 405,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "embeddings_failed": 502,
    "extraction_failed": 502,
    "vector_search_failed": 502,
    "vector_index_failed": 502,
    "vector_index_warming_up": 503,
    "database_error": 503,
    "configuration_error": 503,
    "secrets_unavailable": 503,
    "timeout": 504,
}


@dataclass(frozen=True)
class HttpRequest:
    """A platform-neutral request. ``body`` is raw bytes, or an already-parsed object."""

    method: str
    headers: Mapping[str, str]
    body: bytes | dict[str, Any] | None
    request_id: str
    trusted: bool = False  # invoked by the platform itself (a scheduled trigger), not over the web
    public: bool = False  # reached from the internet through the platform (a DigitalOcean web call)
    oversized: bool = False  # the adapter saw a body over MAX_BODY_BYTES and did not read it all
    deadline: Deadline = NONE  # when the platform would end the call (DigitalOcean says; locally none)


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})


def handle(function: str, request: HttpRequest, container: Callable[[], Container]) -> HttpResponse:
    """Serve ``function`` ("assemble", "writeback", "cleanup" or "health") for one request."""
    started = time.perf_counter()
    state: dict[str, Any] = {}
    try:
        response = _serve(function, request, container, state)
    except errors.MemplaneError as exc:
        response = error_response(exc, request.request_id)
    except Exception:  # the one catch-all: never a stack trace or internals to the caller
        log.exception("unexpected error in %s (request %s)", function, request.request_id)
        response = HttpResponse(
            500,
            {
                "error": {
                    "code": "internal_error",
                    "message": "unexpected error; it has been logged",
                    "request_id": request.request_id,
                }
            },
        )
    duration_ms = round((time.perf_counter() - started) * 1000, 2)
    _log_call(function, request, response, state.get("client_id"), duration_ms)
    if function in FUNCTIONS and "caller" in state:
        _audit(state["container"], function, request, response, state, duration_ms)
    return response


def _serve(
    function: str, request: HttpRequest, container: Callable[[], Container], state: dict[str, Any]
) -> HttpResponse:
    # GET on any function is its health check: on DigitalOcean each function has only its own URL.
    if function == "health" or (function in FUNCTIONS and request.method in ("GET", "HEAD")):
        if request.method not in ("GET", "HEAD"):
            raise errors.MethodNotAllowed("use GET /health", allow="GET, HEAD")
        c = container()
        serving, auth = _auth_state(c, request)
        # Anyone may ask whether memplane is up; only a caller with a credential (or the operator on
        # this machine) sees versions, models and counts, and only for them is the embedder (a paid
        # call) probed. A report is reused for a few seconds.
        full = _sees_everything(c, request)
        ok, report = _cached_health(c, full)
        report = {**(report if full else public_view(report)), "auth": auth}
        if not serving:
            report["status"] = "error"
        return HttpResponse(200 if ok and serving else 503, report)
    if function == "openapi.json" and request.method == "GET":
        from memplane.platform.openapi import spec  # built only when asked for

        return HttpResponse(200, spec())
    route = FUNCTIONS.get(function)
    if route is None:
        raise errors.RouteNotFound(
            f"no function '{function}'; use /assemble, /writeback, /cleanup or /health"
        )
    if request.method != "POST":
        raise errors.MethodNotAllowed(f"use POST /{function}", allow="GET, HEAD, POST")
    if request.oversized or (isinstance(request.body, bytes) and len(request.body) > MAX_BODY_BYTES):
        raise errors.PayloadTooLarge(f"the body is larger than {MAX_BODY_BYTES} bytes")
    c = container()
    caller = _caller(c, request)
    # Only a call that passed the credential check is audited: refused calls cost no database rows.
    state["container"], state["caller"] = c, caller
    payload = _parse(request.body)
    state["client_id"] = _loggable_client(payload.get("client_id"))
    model = _validate(route.request, payload)
    state["action"] = getattr(model, "action", None)
    if route.operator_only(model) and caller not in (PLATFORM, OPERATOR):
        raise errors.Forbidden(_OPERATOR_ONLY)
    result: BaseModel = route.run(model, c, datetime.now(UTC), request.deadline)
    body = result.model_dump(mode="json")
    stale = clients.outdated(request.headers.get(clients.HEADER))
    if stale is not None and "warnings" in body:  # every response but export's carries warnings
        log.warning("outdated integration: %s", stale)
        body["warnings"] = [*body["warnings"], {"code": "client_outdated", "message": stale}]
    return HttpResponse(200, body)


# Who is calling, once the credential is checked. What each reaches is decided here and nowhere else:
# the chat token (the one Open WebUI holds) serves assemble, writeback, and export and forget of one
# client (the Tool's); the full cleanup run needs the operator, or the platform's own trigger.
PLATFORM = "platform"  # invoked by the platform itself (DigitalOcean's schedule), not over the web
OPERATOR = "operator"  # MEMPLANE_OPERATOR_TOKEN, or a caller on this machine when no token is set
CHAT = "chat"  # MEMPLANE_API_TOKEN
ANYONE = "anyone"  # no token, reached from elsewhere, and MEMPLANE_ALLOW_UNAUTHENTICATED=true


def _caller(c: Container, request: HttpRequest) -> str:
    """The one rule for every runtime: with a token, every call carries one; without, only callers on
    this machine are served, and only with JSON sent to a loopback name (a web page the operator has
    open can neither post a form nor rebind a name to 127.0.0.1), unless the operator opted out."""
    settings = c.settings
    if request.trusted:
        return PLATFORM
    if settings.protected:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        sent = value.strip().encode() if scheme.lower() == "bearer" else b""
        # compare_digest takes the same time wherever the first difference is; every token is compared.
        operator = [hmac.compare_digest(sent, token) for token in settings.operator_tokens]
        chat = [hmac.compare_digest(sent, token) for token in settings.api_tokens]
        if any(operator):
            return OPERATOR
        if any(chat):
            return CHAT
        raise errors.Unauthorized("send the header 'Authorization: Bearer <MEMPLANE_API_TOKEN>'")
    if request.public:
        if settings.allow_unauthenticated:
            return ANYONE
        raise errors.ConfigurationError(_UNPROTECTED)
    host = request.headers.get("host", "")
    if not _loopback_name(host):
        raise errors.Forbidden(
            f"without MEMPLANE_API_TOKEN memplane answers only requests addressed to this machine's "
            f"loopback (127.0.0.1, localhost), not to '{host[:100]}': set a token to serve other names"
        )
    if request.method == "POST" and not _is_json(request.headers.get("content-type", "")):
        raise errors.UnsupportedMediaType(
            "send the body as JSON with the header 'Content-Type: application/json'"
        )
    return OPERATOR


def _sees_everything(c: Container, request: HttpRequest) -> bool:
    try:
        return _caller(c, request) != ANYONE
    except (errors.RequestError, errors.ConfigurationError):
        return False


def _loopback_name(host: str) -> bool:
    name = host.strip().lower()
    if name.startswith("["):  # [::1]:8080
        name = name[1 : name.find("]")] if "]" in name else name
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    return name == "localhost" or name.endswith(".localhost") or is_loopback(name)


def is_loopback(address: str) -> bool:
    """An IP address of this machine's loopback (127.0.0.0/8, ::1)."""
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


_UNPROTECTED = (
    "MEMPLANE_API_TOKEN is not set, so memplane serves only callers on this machine: set it (or set "
    "MEMPLANE_ALLOW_UNAUTHENTICATED=true to let anyone who reaches it read and erase memory)"
)
_OPERATOR_ONLY = (
    "the full cleanup run needs the operator's credential: send 'Authorization: Bearer "
    "<MEMPLANE_OPERATOR_TOKEN>' (the chat token exports and forgets one client; the nightly trigger "
    "needs no token)"
)


def _tokens(kind: str, count: int) -> str:
    return f"{kind} ({count} accepted while rotating)" if count > 1 else kind


def _auth_state(c: Container, request: HttpRequest) -> tuple[bool, str]:
    """(serving, what /health says about auth): what is true for this deployment."""
    settings = c.settings
    if settings.protected:
        parts = [_tokens("bearer token", len(settings.api_tokens))]
        if settings.operator_tokens:
            parts.append(_tokens("operator token", len(settings.operator_tokens)))
        else:
            parts.append("no operator token: the full cleanup run starts only from the schedule")
        return True, "; ".join(parts)
    if not request.public:
        return True, "disabled (no MEMPLANE_API_TOKEN): only callers on this machine are served"
    if settings.allow_unauthenticated:
        return True, "disabled by MEMPLANE_ALLOW_UNAUTHENTICATED: anyone with the URL can call"
    return False, "refusing calls from other machines: MEMPLANE_API_TOKEN is not set"


HEALTH_TTL_S = 10.0
# Keyed by the container's id, and checked against a weak reference to it: an id can be reused by a
# later container once the first is gone, and its report must not be.
_health_reports: dict[tuple[int, bool], tuple[float, bool, dict[str, Any], weakref.ref[Container]]] = {}


def _cached_health(c: Container, deep: bool) -> tuple[bool, dict[str, Any]]:
    key = (id(c), deep)
    cached = _health_reports.get(key)
    if cached is not None and cached[3]() is c and time.monotonic() - cached[0] < HEALTH_TTL_S:
        return cached[1], cached[2]
    ok, report = health(
        store=c.store,
        embedder=c.embedder,
        extractor=c.extractor,
        index=c.index,
        runs=c.runs,
        extractions=c.extractions,
        secrets=c.settings.secrets_source,
        now=datetime.now(UTC),
        cleanup_max_age=timedelta(hours=c.settings.cleanup_max_age_hours),
        probe_embedder=deep,
        replica=c.replica,
    )
    for gone in [k for k, entry in _health_reports.items() if entry[3]() is None]:
        del _health_reports[gone]  # containers closed and collected leave nothing behind
    _health_reports[key] = (time.monotonic(), ok, report, weakref.ref(c))
    return ok, report


def _parse(body: bytes | dict[str, Any] | None) -> dict[str, Any]:
    if body is None or body == b"":
        return {}
    if isinstance(body, dict):
        return body
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise errors.InvalidRequest(f"the body is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise errors.InvalidRequest(
            "the body nests too deeply; memplane's requests are flat objects"
        ) from exc
    if not isinstance(payload, dict):
        raise errors.InvalidRequest("the body must be a JSON object")
    return payload


def _loggable_client(value: Any) -> str | None:
    """The client a request named, for the logs and the audit row even when the request is refused;
    only a value that could be stored (a refused one may be anything)."""
    if not isinstance(value, str) or not 0 < len(value) <= 255:
        return None
    try:
        check_storable(value)
    except ValueError:
        return None
    return value


def _validate(model: type[BaseModel], payload: dict[str, Any]) -> BaseModel:
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        problems = exc.errors(include_url=False, include_input=False)
        where = ".".join(str(p) for p in problems[0]["loc"]) or None
        text = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in problems[:5])
        raise errors.InvalidRequest(text, field=where) from exc


def error_response(exc: errors.MemplaneError, request_id: str) -> HttpResponse:
    status = STATUS.get(exc.code, 500)
    if status >= 500:
        log.warning("%s (request %s): %s", exc.code, request_id, exc.message)
    detail = ErrorDetail(
        code=exc.code, message=exc.message, request_id=request_id, field=getattr(exc, "field", None)
    )
    headers = {"Content-Type": "application/json"}
    if isinstance(exc, errors.Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, errors.MethodNotAllowed):
        headers["Allow"] = exc.allow
    return HttpResponse(status, ErrorBody(error=detail).model_dump(mode="json", exclude_none=True), headers)


def _error_code(response: HttpResponse) -> str | None:
    err = response.body.get("error") if response.status >= 400 else None
    return err.get("code") if isinstance(err, dict) else None


def _log_call(
    function: str, request: HttpRequest, response: HttpResponse, client_id: str | None, duration_ms: float
) -> None:
    access.info(
        "%s %s %.1f ms",
        function,
        response.status,
        duration_ms,
        extra={
            "function": function,
            "request_id": request.request_id,
            "client": hash_client(client_id),
            "status": response.status,
            "error_code": _error_code(response),
            "duration_ms": duration_ms,
            "degraded": response.body.get("degraded", []),
        },
    )


def _audit(
    c: Container,
    function: str,
    request: HttpRequest,
    response: HttpResponse,
    state: dict[str, Any],
    duration_ms: float,
) -> None:
    """Write the call's audit row. Best effort: a failing audit must not fail the call it records.

    A forget or an export records its kind (``action``) and not whom it concerned.
    """
    action = state.get("action")
    client_id = None if action else state.get("client_id")
    execution = Execution(
        function=function,
        request_id=request.request_id,
        status=response.status,
        duration_ms=duration_ms,
        client_id=client_id,
        error_code=_error_code(response),
        degraded=tuple(response.body.get("degraded", ())),
        action=action,
    )
    try:
        c.store.log_execution(execution)
    except errors.DependencyError as exc:
        log.warning("could not write the audit row (request %s): %s", request.request_id, exc.message)
