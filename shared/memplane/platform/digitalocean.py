"""DigitalOcean Functions: the web event and context in, ``{statusCode, headers, body}`` out.

Handlers must be plain ``def main(event, context)``: the runtime counts ``main``'s parameters to decide
what to pass, so a decorated ``main`` would be called with nothing.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from memplane import wiring
from memplane.deadline import NONE, Deadline
from memplane.logs import configure_json
from memplane.platform.http import HttpRequest, handle
from memplane.wiring import Container

# Keys the platform itself adds to a non-raw web event, next to the merged JSON body.
_PLATFORM_KEYS = ("http",)
# Kept from the platform's time limit for answering: serialising the response and handing it back.
_ANSWER_MARGIN_S = 0.5


def respond(
    function: str,
    event: dict[str, Any],
    context: Any,
    container: Callable[[], Container] = wiring.container,
) -> dict[str, Any]:
    configure_json()  # the platform collects stdout; JSON lines are what its log viewer can filter
    response = handle(function, to_request(event, context), container)
    return {"statusCode": response.status, "headers": response.headers, "body": response.body}


def to_request(event: dict[str, Any], context: Any) -> HttpRequest:
    request_id = str(getattr(context, "activation_id", "") or uuid.uuid4().hex)
    deadline = _deadline(context)
    web: dict[str, Any] | None
    if "http" in event:
        # A web call. Anything but the object the platform sends is still a web call, never a trusted
        # one: its headers are read as none, so it must pass the token check like any other.
        web = event["http"] if isinstance(event["http"], dict) else {}
    else:
        web = _legacy_web(event)
    if web is None:
        # No sign of HTTP at all: a scheduled trigger or an authenticated API invocation.
        return HttpRequest("POST", {}, _merged_body(event), request_id, trusted=True, deadline=deadline)
    headers = {str(k).lower(): str(v) for k, v in (web.get("headers") or {}).items()}
    method = str(web.get("method") or "POST").upper()
    # `web: raw` gives the body as sent, which lets us report malformed JSON precisely.
    body = _raw_body(web) if "body" in web else _merged_body(event)
    return HttpRequest(method, headers, body, request_id, public=True, deadline=deadline)


def _deadline(context: Any) -> Deadline:
    """The time the platform leaves this call, from ``get_remaining_time_in_millis()`` (or the epoch-ms
    ``deadline``), less the margin for answering. No context (a test, a script): no deadline."""
    remaining_ms: Any = None
    if callable(getattr(context, "get_remaining_time_in_millis", None)):
        remaining_ms = context.get_remaining_time_in_millis()
    elif isinstance(getattr(context, "deadline", None), int | float):
        remaining_ms = context.deadline - time.time() * 1000
    if not isinstance(remaining_ms, int | float) or isinstance(remaining_ms, bool):
        return NONE
    return Deadline.after(max(0.0, remaining_ms / 1000 - _ANSWER_MARGIN_S))


def _legacy_web(event: dict[str, Any]) -> dict[str, Any] | None:
    """The older OpenWhisk shape (``__ow_method``, ``__ow_headers``, ``__ow_body``), if it arrives.

    Whether the platform still sends it is unverified; a web call in that shape must never be taken
    for a trusted platform invocation, which would skip the token check.
    """
    if not any(key.startswith("__ow_") for key in event):
        return None
    web: dict[str, Any] = {"method": event.get("__ow_method"), "headers": event.get("__ow_headers") or {}}
    if "__ow_body" in event:
        web["body"] = event["__ow_body"]
    return web


def _merged_body(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k not in _PLATFORM_KEYS and not k.startswith("__ow_")}


def _raw_body(web: dict[str, Any]) -> bytes:
    body = web.get("body") or ""
    if not isinstance(body, str):
        return json.dumps(body).encode()
    raw = body.encode()
    if web.get("isBase64Encoded") or not _looks_like_json(raw):
        # The platform base64-encodes bodies it considers binary; whether it flags that is not
        # documented, so a body that is not JSON as it stands is tried as base64.
        try:
            return base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            return raw
    return raw


def _looks_like_json(raw: bytes) -> bool:
    return raw.lstrip()[:1] in (b"{", b"[", b"")
