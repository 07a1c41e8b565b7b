"""functions-framework and ``memplane serve``: a Flask request in, a Flask response out."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable

from flask import Flask, Request, Response
from flask import request as current_request

from memplane import wiring
from memplane.logs import configure_json
from memplane.platform.http import MAX_BODY_BYTES, HttpRequest, HttpResponse, handle, is_loopback
from memplane.wiring import Container


def respond(
    function: str, request: Request, container: Callable[[], Container] = wiring.container
) -> Response:
    configure_json()
    return _to_flask(handle(function, to_request(request), container))


def to_request(request: Request) -> HttpRequest:
    headers = {k.lower(): v for k, v in request.headers.items()}
    sent_id = headers.get("x-request-id", "")
    # A caller's id is kept for tracing only when it looks like one: it is logged and audited.
    request_id = sent_id if _REQUEST_ID.fullmatch(sent_id) else uuid.uuid4().hex
    public = not _from_this_machine(request.remote_addr, headers)
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        # Refuse without reading a body we will not use.
        return HttpRequest(request.method, headers, None, request_id, public=public, oversized=True)
    # Read one byte past the limit, so an oversized chunked body is refused, not buffered.
    body = request.stream.read(MAX_BODY_BYTES + 1)
    return HttpRequest(request.method, headers, body, request_id, public=public)


_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# Headers a reverse proxy adds: a request it forwarded came from elsewhere, even over loopback.
_FORWARDED = ("forwarded", "x-forwarded-for", "x-real-ip")


def _from_this_machine(remote_addr: str | None, headers: dict[str, str]) -> bool:
    """A caller on this machine's loopback that no proxy forwarded: functions-framework binds every
    interface, so this, not the bind address, is what keeps a token-less server to its own machine."""
    return bool(remote_addr) and not any(h in headers for h in _FORWARDED) and is_loopback(remote_addr or "")


def _to_flask(response: HttpResponse) -> Response:
    return Response(json.dumps(response.body), status=response.status, headers=response.headers)


_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]


def create_app(container: Callable[[], Container] = wiring.container) -> Flask:
    """One app serving all functions: POST /assemble, /writeback, /cleanup and GET /health."""
    app = Flask("memplane")

    # Every method reaches memplane's own handler, OPTIONS included, so that a method a function does
    # not answer gets memplane's JSON 405 with a true Allow header rather than Flask's own.
    @app.route("/<function>", methods=_METHODS, provide_automatic_options=False)
    def route(function: str) -> Response:
        return _to_flask(handle(function, to_request(current_request), container))

    @app.route("/", methods=_METHODS, provide_automatic_options=False)
    def index() -> Response:
        return _to_flask(handle("health", to_request(current_request), container))

    return app
