"""DigitalOcean Functions: the web event and context in, ``{statusCode, headers, body}`` out.

Handlers must be plain ``def main(event, context)``: the runtime counts ``main``'s parameters to decide
what to pass, so a decorated ``main`` would be called with nothing.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable
from typing import Any

from memplane import wiring
from memplane.logs import configure_json
from memplane.platform.http import HttpRequest, handle
from memplane.wiring import Container

# Keys the platform itself adds to a non-raw web event, next to the merged JSON body.
_PLATFORM_KEYS = ("http",)


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
    web = event.get("http")
    if not isinstance(web, dict):
        web = _legacy_web(event)
    if web is None:
        # No sign of HTTP at all: a scheduled trigger or an authenticated API invocation.
        return HttpRequest("POST", {}, _merged_body(event), request_id, trusted=True)
    headers = {str(k).lower(): str(v) for k, v in (web.get("headers") or {}).items()}
    method = str(web.get("method") or "POST").upper()
    if "body" in web:  # `web: raw`: the body as sent, which lets us report malformed JSON precisely
        return HttpRequest(method, headers, _raw_body(web), request_id, public=True)
    return HttpRequest(method, headers, _merged_body(event), request_id, public=True)


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
