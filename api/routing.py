"""How routes read bodies and refuse methods, the same way on every route.

A JSON route answers 415 to a body in another media type and 422 to bytes that are not UTF-8 or nest
too deeply (FastAPI would take the first for a bad JSON body and answer 400 "error parsing the body"
to the others); a 405
lists every method the schema documents at the path in `Allow`, not only those of the first route
that matched it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

JSON_ONLY = "send the body as JSON with `Content-Type: application/json`"
CLIENT_CLOSED = 499  # nginx's status for "the client went away before the answer"; nobody receives it


def is_json(content_type: str | None) -> bool:
    """`application/json`, with or without parameters (`; charset=utf-8`)."""
    return (content_type or "").split(";")[0].strip().lower() == "application/json"


class JsonRoute(APIRoute):
    """A route whose body is JSON: the media type and the encoding are checked before FastAPI parses it."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def checked(request: Request) -> Response:
            declared = request.headers.get("content-type")
            if declared is not None and not is_json(declared):
                raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, detail=f"{JSON_ONLY}, not {declared[:100]}")
            body = await request.body()  # kept by the request: FastAPI reads it from there
            if body and declared is None:
                raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, detail=JSON_ONLY)
            if body:
                _check_parses(body)
            return await handler(request)

        return checked


def _check_parses(body: bytes) -> None:
    """Malformed JSON as FastAPI reports it (422), also for what it would call a 400: bytes that are not
    UTF-8, and nesting deeper than Python's parser goes. The body is at most 64 KiB: parsing it twice is cheap."""
    try:
        json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as error:
        problem = f"not UTF-8: invalid byte at offset {error.start}"
    except RecursionError:
        problem = "nested too deeply"
    except ValueError:
        return  # FastAPI reports where the syntax breaks
    else:
        return
    raise RequestValidationError(
        [{"type": "json_invalid", "loc": ("body",), "msg": "JSON decode error", "ctx": {"error": problem}}]
    )


def documented_methods(schema: dict[str, Any], path: str) -> list[str]:
    """The methods the OpenAPI schema documents at `path` (an `Allow` header), none for an undocumented path."""
    for template, operations in schema["paths"].items():
        pattern = re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            return sorted(method.upper() for method in operations)
    return []
