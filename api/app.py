"""The FastAPI application: models and index load once in the lifespan; errors are shaped in api/errors.py."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from api.admission import AnswerQueue
from api.deps import MAX_UPLOAD_BODY_BYTES
from api.errors import on_client_gone, on_http_error, on_rag_error, on_unexpected, on_validation_error
from api.limits import BodyLimitMiddleware
from api.metrics import ApiMetrics, MetricsMiddleware
from api.openapi import install_schema
from api.routes import ask, documents, openai_compat, search, system
from api.routes.system import STATIC_DIR, SWAGGER_DIR
from api.security import CrossSiteWriteMiddleware, HostCheckMiddleware, PagePolicyMiddleware, allowed_hosts
from rag import __version__
from rag.config import Settings
from rag.errors import RagError
from rag.service import Service, open_service

log = logging.getLogger(__name__)

# A question with its history (24,000 characters at most), even fully \u-escaped.
MAX_ASK_BODY_BYTES = 256 * 1024
# Chat front-ends send the whole conversation each time (only its last turns are read).
MAX_CHAT_BODY_BYTES = 1024 * 1024


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
    for router in (ask.router, search.router, documents.router, openai_compat.router, system.router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.mount("/swagger", StaticFiles(directory=SWAGGER_DIR), name="swagger")
    install_schema(app, settings)
    app.add_exception_handler(RagError, on_rag_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(ClientDisconnect, on_client_gone)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_unexpected)
    limits = {
        "/documents": MAX_UPLOAD_BODY_BYTES,
        "/ask": MAX_ASK_BODY_BYTES,
        "/ask/stream": MAX_ASK_BODY_BYTES,
        openai_compat.CHAT_COMPLETIONS: MAX_CHAT_BODY_BYTES,
    }
    app.add_middleware(BodyLimitMiddleware, limits=limits, seconds=settings.request_body_timeout_s)
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
    opened = app.state.service is None
    if opened:
        app.state.service = await run_in_threadpool(open_service, settings, missing_ok=True)
    service: Service = app.state.service
    snapshot = service.corpus.snapshot
    log.info(
        "serving %d documents (%d chunks) from %s; answers by %s",
        len(snapshot.documents), snapshot.chunk_count, settings.index_dir, service.answerer.model_name,
    )
    yield
    if opened:  # a service handed in belongs to whoever built it
        service.corpus.close()

