"""`rag serve`: the HTTP API and chat page under uvicorn."""

from __future__ import annotations

from rag.config import Settings


def serve(settings: Settings) -> None:
    """Serve on `settings.host`:`settings.port` until interrupted (models load before it listens)."""
    import uvicorn

    from api import create_app

    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="info",
        proxy_headers=False,
        timeout_graceful_shutdown=5,
    )
