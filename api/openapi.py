"""The OpenAPI schema as this server enforces it: its error responses, its SSE events and its API keys.

Schemathesis checks every response against it (tests/api/test_api_fuzz.py), so what it says is what
a client gets: one error shape per status, each event of `/ask/stream`, and a key only where the
settings require one.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from api.schemas import AnswerOut, ErrorOut, SourcesOut, TokenOut
from rag.config import Settings

WRITE_KEY = "WriteKey"  # the bearer scheme of document changes (RAG_API_KEY)
ASK_KEY = "AskKey"  # the bearer scheme of questions and reads (RAG_API_KEY with RAG_API_KEY_FOR_ASK)

_MEANING = {
    400: "Input that matches the schema but cannot be used (a question without a letter or digit, a text "
    "empty after cleaning, an upload that is not UTF-8 text), or a Host header this server does not answer.",
    401: "Missing or wrong API key: send `Authorization: Bearer <key>`.",
    403: "A write that a browser sent from another site.",
    404: "No document with this id.",
    408: "The body did not arrive within RAG_REQUEST_BODY_TIMEOUT_S seconds.",
    413: "The body is over the route's size limit (2 MB of document text, 64 KiB for questions).",
    415: "A body in a media type this route does not take (or an upload that is not a .txt/.md text file).",
    422: "The body does not match the schema: malformed or non-UTF-8 JSON, a missing, unknown or mistyped "
    "field, a value out of range (integers are strict: `\"5\"` and `true` are not 5).",
    503: "The index is missing or damaged, or a model is unavailable (the message says how to fix it), or "
    "RAG_MAX_WAITING_ANSWERS answers already wait for the model (`Retry-After` says when to try again).",
}
_HEADERS = {
    503: {"headers": {"Retry-After": {"description": "Seconds to wait when the model is busy.",
                                      "schema": {"type": "integer"}}}},
}
# The errors a request can meet before any route: a foreign Host; a cross-site write; a body too big or slow.
_EVERY_ROUTE = (400,)
_WITH_A_BODY = (400, 403, 408, 413, 415, 422)


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The documented error responses of a route: each one is `{"detail": ...}`."""
    return {code: {"model": ErrorOut, "description": _MEANING[code], **_HEADERS.get(code, {})}
            for code in sorted({*_EVERY_ROUTE, *codes})}


def body_errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The errors of a route that takes a body, plus `codes`."""
    return errors(*_WITH_A_BODY, *codes)


def _event(name: str, data: type[BaseModel] | None, meaning: str) -> dict[str, Any]:
    """One Server-Sent Event: its name and its `data`, a JSON document of schema `data`."""
    payload: dict[str, Any] = {"type": "string", "contentMediaType": "application/json"}
    if data is not None:
        payload["contentSchema"] = {"$ref": f"#/components/schemas/{data.__name__}"}
    return {
        "type": "object",
        "description": meaning,
        "required": ["event", "data"],
        "properties": {"event": {"const": name}, "data": payload},
    }


_STREAM_EVENTS: list[tuple[str, type[BaseModel] | None, str]] = [
    ("sources", SourcesOut, "First, as soon as retrieval is done: the passages being read."),
    ("token", TokenOut, "A piece of the answer while the model writes it (none for the extractive answerer)."),
    ("answer", AnswerOut, "The verified answer, the same object as `POST /ask`."),
    ("done", None, "Last; its data is `{}`."),
    ("error", ErrorOut, "Replaces the rest when something fails after the stream started."),
]
STREAM_MODELS = [model for _, model, _ in _STREAM_EVENTS if model is not None]

STREAM_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "`text/event-stream`: `sources`, `token`…, `answer`, then `done` (each `data` is JSON); "
        "`error` replaces the rest if something fails mid-stream. Comment lines keep the connection alive.",
        "content": {
            "text/event-stream": {
                "schema": {"oneOf": [_event(name, model, meaning) for name, model, meaning in _STREAM_EVENTS]}
            }
        },
    }
}


def install_schema(app: FastAPI, settings: Settings) -> None:
    """Make `app.openapi()` describe this server: its SSE event models, and a key only where one is required."""
    keyed = settings.api_key is not None
    required = {WRITE_KEY: keyed, ASK_KEY: keyed and settings.api_key_for_ask}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=app.routes,
                separate_input_output_schemas=app.separate_input_output_schemas,
            )
            models = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in STREAM_MODELS:
                json_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
                for name, definition in {**json_schema.pop("$defs", {}), model.__name__: json_schema}.items():
                    models.setdefault(name, definition)
            _keep_required_keys(schema, required)
            _drop_fastapi_validation_errors(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _keep_required_keys(schema: dict[str, Any], required: dict[str, bool]) -> None:
    """Drop the key requirement (and its 401) from operations this server leaves open."""
    for operations in schema["paths"].values():
        for operation in operations.values():
            kept = [need for need in operation.get("security", []) if all(required.get(name) for name in need)]
            if kept:
                operation["security"] = kept
                continue
            operation.pop("security", None)
            operation.get("responses", {}).pop("401", None)
    schemes = schema.get("components", {}).get("securitySchemes", {})
    for name, needed in required.items():
        if not needed:
            schemes.pop(name, None)
    if not schemes:
        schema.get("components", {}).pop("securitySchemes", None)


def _drop_fastapi_validation_errors(schema: dict[str, Any]) -> None:
    """FastAPI documents a 422 of its own shape on routes with parameters; ours is `ErrorOut`, where declared."""
    fastapi_shape = "#/components/schemas/HTTPValidationError"
    for operations in schema["paths"].values():
        for operation in operations.values():
            content = operation.get("responses", {}).get("422", {}).get("content", {})
            if content.get("application/json", {}).get("schema", {}).get("$ref") == fastapi_shape:
                del operation["responses"]["422"]
    for name in ("HTTPValidationError", "ValidationError"):
        schema.get("components", {}).get("schemas", {}).pop(name, None)
