"""The OpenAPI 3.1 description of memplane's HTTP API, generated from the request and response models.

Served at ``GET /openapi.json`` and checked in as ``docs/openapi.json`` (a test keeps the two equal;
`memplane openapi` writes it). Pydantic's JSON Schema is OpenAPI 3.1's dialect, so the models are
used as they are.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from memplane import __version__
from memplane.contracts import (
    AssembleRequest,
    AssembleResponse,
    CleanupRequest,
    CleanupResponse,
    ErrorBody,
    ExportResponse,
    ForgetResponse,
    WritebackRequest,
    WritebackResponse,
)

_REF = "#/components/schemas/{model}"
_ERRORS = {
    "400": "invalid_request: the body or a field is wrong; `field` names it",
    "401": "unauthorized: missing or wrong bearer token",
    "403": "forbidden: the full cleanup run needs the operator token; or, without a token, a request "
    "not addressed to localhost",
    "404": "client_not_found, or not_found",
    "413": "payload_too_large: over 1 MB",
    "415": "unsupported_media_type: without a token, only Content-Type application/json is accepted",
    "502": "a dependency failed and nothing could be answered",
    "503": "database_error, configuration_error, secrets_unavailable, vector_index_warming_up",
    "504": "timeout",
}


def spec(version: str = __version__) -> dict[str, Any]:
    models: list[type[BaseModel]] = [
        AssembleRequest,
        AssembleResponse,
        WritebackRequest,
        WritebackResponse,
        CleanupRequest,
        CleanupResponse,
        ForgetResponse,
        ExportResponse,
        ErrorBody,
    ]
    refs, schema = models_json_schema(
        [(m, _mode(m)) for m in models],
        ref_template=_REF,
    )

    def ref(model: type[BaseModel], mode: JsonSchemaMode = "serialization") -> dict[str, Any]:
        return refs[(model, mode)]

    health = {
        "get": {
            "summary": "Health: whether memplane and each dependency is up, for anyone; the full report "
            "(versions, models, latencies, counts) with a bearer token",
            "responses": {
                "200": {
                    "description": "serving",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "503": {
                    "description": "not serving",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
            },
        }
    }

    def post(
        summary: str, request: type[BaseModel], *responses: type[BaseModel], body_required: bool = True
    ) -> dict[str, Any]:
        ok = ref(responses[0]) if len(responses) == 1 else {"oneOf": [ref(r) for r in responses]}
        return {
            # On DigitalOcean each function has only its own URL: GET on it is the health report.
            **health,
            "post": {
                "summary": summary,
                "security": [{"bearer": []}],
                "requestBody": {
                    "required": body_required,
                    "content": {"application/json": {"schema": ref(request, "validation")}},
                },
                "responses": {
                    "200": {"description": "done", "content": {"application/json": {"schema": ok}}},
                    **{
                        code: {
                            "description": text,
                            "content": {"application/json": {"schema": ref(ErrorBody)}},
                        }
                        for code, text in _ERRORS.items()
                    },
                },
            },
        }

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "memplane",
            "version": version,
            "description": "Memory for Open WebUI: assemble before the model answers, writeback after, "
            "cleanup nightly and on demand (forget, export).",
        },
        "paths": {
            "/assemble": post(
                "What memplane knows that helps answer a message", AssembleRequest, AssembleResponse
            ),
            "/writeback": post("Remember an exchange, exactly once", WritebackRequest, WritebackResponse),
            "/cleanup": post(
                "The nightly cleanup ({}), or forget or export one client",
                CleanupRequest,
                CleanupResponse,
                ForgetResponse,
                ExportResponse,
                body_required=False,  # the nightly trigger may send nothing
            ),
            "/health": health,
        },
        "components": {
            "schemas": schema.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _mode(model: type[BaseModel]) -> JsonSchemaMode:
    """Requests are described as they are validated, responses as they are written."""
    return "validation" if model.__name__.endswith("Request") else "serialization"
