"""Service routes: health, Prometheus metrics and the chat page."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Response
from fastapi.responses import FileResponse

from api.deps import AnswererDep, CorpusDep, MetricsDep
from api.openapi import errors
from api.schemas import Health

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
# The page loads only its own script and stylesheet and talks only to this server.
_PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

router = APIRouter()


@router.get("/health", tags=["service"], responses=errors())
def health(corpus: CorpusDep, answerer: AnswererDep) -> Health:
    """Liveness and what is being served."""
    snapshot = corpus.snapshot
    return Health(
        status="ok",
        documents=len(snapshot.documents),
        chunks=len(snapshot.chunks),
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
    return FileResponse(STATIC_DIR / "index.html", headers={"Content-Security-Policy": _PAGE_POLICY})
