"""The FastAPI application: models and index load once in the lifespan; every error is `{"detail": ...}`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from api.admission import AnswerQueue
from api.deps import MAX_UPLOAD_BODY_BYTES
from api.limits import BodyLimitMiddleware
from api.metrics import ApiMetrics, MetricsMiddleware
from api.openapi import install_schema
from api.routes import ask, documents, search, system
from api.routes.system import STATIC_DIR, SWAGGER_DIR
from api.routing import CLIENT_CLOSED, documented_methods
from api.security import CrossSiteWriteMiddleware, HostCheckMiddleware, PagePolicyMiddleware, allowed_hosts
from rag import __version__
from rag.config import Settings
from rag.errors import (
    DocumentNotFoundError,
    GenerationError,
    IndexIncompatibleError,
    IndexMissingError,
    InvalidInputError,
    ModelUnavailableError,
    RagError,
)
from rag.service import Service, open_service

log = logging.getLogger(__name__)

# Most specific first: the first class a domain error is an instance of gives its status.
STATUS_OF: tuple[tuple[type[RagError], int], ...] = (
    (InvalidInputError, status.HTTP_400_BAD_REQUEST),
    (DocumentNotFoundError, status.HTTP_404_NOT_FOUND),
    (IndexMissingError, status.HTTP_503_SERVICE_UNAVAILABLE),
    (IndexIncompatibleError, status.HTTP_503_SERVICE_UNAVAILABLE),
    (ModelUnavailableError, status.HTTP_503_SERVICE_UNAVAILABLE),
    (GenerationError, status.HTTP_503_SERVICE_UNAVAILABLE),
    (RagError, status.HTTP_400_BAD_REQUEST),
)
_MAX_REPORTED = 10


def create_app(settings: Settings | None = None, *, service: Service | None = None) -> FastAPI:
    """Build the app; unless `service` is given already built, the models and index load when it starts."""
    settings = service.settings if service is not None else settings if settings is not None else Settings()
    app = FastAPI(
        title="rag",
        summary="Questions answered from French news articles, with verbatim cited snippets.",
        version=__version__,
        lifespan=_lifespan,
        docs_url=None,  # served by api/routes/system.py from local files, not from a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.service = service
    app.state.metrics = ApiMetrics()
    app.state.answer_queue = AnswerQueue(settings.max_waiting_answers)
    app.state.metrics.admitted.set_function(lambda: len(app.state.answer_queue))
    for router in (ask.router, search.router, documents.router, system.router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.mount("/swagger", StaticFiles(directory=SWAGGER_DIR), name="swagger")
    install_schema(app, settings)
    app.add_exception_handler(RagError, _on_rag_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(ClientDisconnect, _on_client_gone)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(Exception, _on_unexpected)
    app.add_middleware(
        BodyLimitMiddleware, limits={"/documents": MAX_UPLOAD_BODY_BYTES}, seconds=settings.request_body_timeout_s
    )
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(PagePolicyMiddleware)
    app.add_middleware(CrossSiteWriteMiddleware, trusted_origins=settings.cors_origins)
    app.add_middleware(HostCheckMiddleware, allowed_hosts=allowed_hosts(settings))
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Load the heavy parts once, off the event loop, unless they came built; keep them in `app.state`."""
    settings: Settings = app.state.settings
    if app.state.service is None:
        app.state.service = await run_in_threadpool(open_service, settings, missing_ok=True)
    service: Service = app.state.service
    snapshot = service.corpus.snapshot
    log.info(
        "serving %d documents (%d chunks) from %s; answers by %s",
        len(snapshot.documents), len(snapshot.chunks), settings.index_dir, service.answerer.model_name,
    )
    yield


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


async def _on_rag_error(request: Request, error: Exception) -> JSONResponse:
    code = status_of(error) if isinstance(error, RagError) else status.HTTP_500_INTERNAL_SERVER_ERROR
    if code >= 500:
        log.warning("%s %s: %s", request.method, request.url.path, error)
    return JSONResponse({"detail": str(error)}, status_code=code)


async def _on_http_error(request: Request, error: Exception) -> JSONResponse:
    """FastAPI's answer to an HTTPException, with every documented method of the path in the `Allow` of a 405."""
    assert isinstance(error, StarletteHTTPException)
    headers = dict(error.headers or {})
    if error.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:
        methods = documented_methods(request.app.openapi(), request.url.path)
        if methods:
            headers["Allow"] = ", ".join(methods)
    return JSONResponse({"detail": error.detail}, status_code=error.status_code, headers=headers)


async def _on_client_gone(request: Request, error: Exception) -> Response:
    """The client left while its body was arriving: nothing to answer, nothing went wrong here."""
    log.info("%s %s: the client left before its request body arrived", request.method, request.url.path)
    return Response(status_code=CLIENT_CLOSED)


async def _on_validation_error(request: Request, error: Exception) -> JSONResponse:
    errors = error.errors() if isinstance(error, RequestValidationError) else []
    return JSONResponse({"detail": describe_validation(errors)}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _on_unexpected(request: Request, error: Exception) -> JSONResponse:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=error)
    return JSONResponse({"detail": "internal error"}, status_code=status.HTTP_500_INTERNAL_SERVER_ERROR)
