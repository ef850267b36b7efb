"""Service routes: health, Prometheus metrics and the chat page."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, Response
from fastapi.responses import FileResponse

from api.deps import AnswererDep, CorpusDep, MetricsDep
from api.openapi import errors
from api.schemas import Health

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
SWAGGER_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"  # swagger-ui's dist files
router = APIRouter()


@router.get("/health", tags=["service"], responses=errors())
def health(corpus: CorpusDep, answerer: AnswererDep) -> Health:
    """Liveness and what is being served."""
    snapshot = corpus.snapshot
    return Health(
        status="ok",
        documents=len(snapshot.documents),
        chunks=snapshot.chunk_count,
        embedding_model=corpus.model_id,
        generator=answerer.model_name,
    )


@router.get(
    "/metrics", tags=["service"], response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}, **errors()},
)
def metrics(metrics: MetricsDep) -> Response:
    """Prometheus text format: requests and latencies per route, answers and refusals."""
    return Response(metrics.render(), media_type=metrics.content_type)


@router.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
def chat_page() -> FileResponse:
    """The chat page (plain HTML, one script, one stylesheet; nothing loaded from elsewhere)."""
    return FileResponse(STATIC_DIR / "index.html")


@router.api_route("/docs", methods=["GET", "HEAD"], include_in_schema=False)
def api_page() -> FileResponse:
    """Swagger UI over /openapi.json, from the swagger-ui files of `fastapi-offline` (served at /swagger)."""
    return FileResponse(STATIC_DIR / "docs.html")
