"""HTTP API and chat page over the `rag` library (`create_app`, served by `rag serve`)."""

from api.app import create_app

__all__ = ["create_app"]
