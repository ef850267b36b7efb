"""The API's error responses: domain errors to statuses, and one shape per protocol.

Every route answers `{"detail": ...}`; the OpenAI-compatible routes under `/v1` answer OpenAI's
`{"error": {"message", "type", "param", "code"}}` instead, so its SDKs raise their own exceptions.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import Request, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from api.openai_wire import PREFIX as OPENAI_PREFIX
from api.openai_wire import error_body
from api.routing import CLIENT_CLOSED, documented_methods
from rag.errors import (
    DocumentNotFoundError,
    GenerationError,
    IndexIncompatibleError,
    IndexMissingError,
    InvalidInputError,
    ModelUnavailableError,
    RagError,
    SearchBackendError,
    WriteTooLargeError,
)

log = logging.getLogger(__name__)

# Most specific first: the first class a domain error is an instance of gives its status.
STATUS_OF: tuple[tuple[type[RagError], int], ...] = (
    (WriteTooLargeError, status.HTTP_413_CONTENT_TOO_LARGE),
    (InvalidInputError, status.HTTP_400_BAD_REQUEST),
    (DocumentNotFoundError, status.HTTP_404_NOT_FOUND),
    (IndexMissingError, status.HTTP_503_SERVICE_UNAVAILABLE),
    (IndexIncompatibleError, status.HTTP_503_SERVICE_UNAVAILABLE),
    (ModelUnavailableError, status.HTTP_503_SERVICE_UNAVAILABLE),
    (GenerationError, status.HTTP_503_SERVICE_UNAVAILABLE),
    (SearchBackendError, status.HTTP_503_SERVICE_UNAVAILABLE),
    (RagError, status.HTTP_400_BAD_REQUEST),
)
_MAX_REPORTED = 10


def status_of(error: RagError) -> int:
    """The HTTP status of a domain error."""
    return next(code for kind, code in STATUS_OF if isinstance(error, kind))


def describe_validation(errors: Sequence[Any]) -> str:
    """Pydantic's errors as "field: message" parts, never echoing the (possibly huge) input."""
    parts = []
    for error in list(errors)[:_MAX_REPORTED]:
        location = tuple(error.get("loc", ()))
        if location[:1] in (("body",), ("query",), ("path",), ("header",)):
            location = location[1:]
        field = ".".join(str(part) for part in location)
        kind = error.get("type")
        message = error.get("msg", "invalid value")
        if kind == "json_invalid":
            reason = (error.get("ctx") or {}).get("error")
            parts.append(f"malformed JSON body ({reason})" if reason else "malformed JSON body")
            continue
        if kind == "missing" and not field:
            message = "a JSON body is required"
        elif kind in ("model_attributes_type", "dict_type", "model_type") and not field:
            message = "the body must be a JSON object"
        elif kind == "extra_forbidden":
            message = "unknown field"
        parts.append(f"{field}: {message}" if field else message)
    if len(errors) > _MAX_REPORTED:
        parts.append(f"and {len(errors) - _MAX_REPORTED} more problems")
    return "; ".join(parts) or "invalid request"


def is_openai(request: Request) -> bool:
    """Whether the request is for the OpenAI-compatible routes, which answer errors in OpenAI's shape."""
    return request.url.path.startswith(OPENAI_PREFIX + "/")


def error_response(
    request: Request,
    code: int,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
    openai_code: str | None = None,
    param: str | None = None,
) -> JSONResponse:
    """The error in the shape of the protocol the request speaks."""
    if is_openai(request):
        body: dict[str, object] = error_body(code, message, openai_code, param)
    else:
        body = {"detail": message}
    return JSONResponse(body, status_code=code, headers=dict(headers) if headers else None)


async def on_rag_error(request: Request, error: Exception) -> JSONResponse:
    code = status_of(error) if isinstance(error, RagError) else status.HTTP_500_INTERNAL_SERVER_ERROR
    if code >= 500:
        log.warning("%s %s: %s", request.method, request.url.path, error)
    return error_response(request, code, str(error))


async def on_validation_error(request: Request, error: Exception) -> JSONResponse:
    errors = error.errors() if isinstance(error, RequestValidationError) else []
    if is_openai(request):  # OpenAI answers a malformed request with 400 and names the parameter
        return error_response(request, status.HTTP_400_BAD_REQUEST, describe_validation(errors), param=_param(errors))
    return error_response(request, status.HTTP_422_UNPROCESSABLE_CONTENT, describe_validation(errors))


async def on_http_error(request: Request, error: Exception) -> Response:
    """An HTTPException in the request's protocol, with every documented method of the path in the
    `Allow` of a 405."""
    if not isinstance(error, HTTPException):
        return await http_exception_handler(request, error)  # type: ignore[arg-type]
    headers = dict(error.headers or {})
    if error.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:
        methods = documented_methods(request.app.openapi(), request.url.path)
        if methods:
            headers["Allow"] = ", ".join(methods)
    if not is_openai(request):
        return JSONResponse({"detail": error.detail}, status_code=error.status_code, headers=headers)
    return error_response(
        request, error.status_code, str(error.detail), headers=headers, openai_code=getattr(error, "code", None)
    )


async def on_client_gone(request: Request, error: Exception) -> Response:
    """The client left while its body was arriving: nothing to answer, nothing went wrong here."""
    log.info("%s %s: the client left before its request body arrived", request.method, request.url.path)
    return Response(status_code=CLIENT_CLOSED)


async def on_unexpected(request: Request, error: Exception) -> JSONResponse:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=error)
    return error_response(request, status.HTTP_500_INTERNAL_SERVER_ERROR, "internal error")


def _param(errors: Sequence[Any]) -> str | None:
    """The first invalid field, dotted ("messages.0.role"), as OpenAI's `param`."""
    for error in errors:
        location = [str(part) for part in error.get("loc", ()) if part != "body"]
        if location:
            return ".".join(location)
    return None
