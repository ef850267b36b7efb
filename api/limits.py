"""Bounds on a request body while it arrives: its size (413) and the time it takes to come (408).

Both errors are raised from `receive`, so they reach the app's HTTPException handler as JSON; a body
that is never read (the key was wrong, the route takes none) costs nothing.
"""

from __future__ import annotations

import asyncio

from fastapi import HTTPException, status
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Questions and queries are at most 2,000 characters: even fully \u-escaped JSON stays far below this.
MAX_JSON_BODY_BYTES = 64 * 1024


class BodyLimitMiddleware:
    """Refuses bodies over a per-path size limit before they fill memory, and bodies slower than `seconds`.

    The deadline holds only until the body is complete: afterwards `receive` waits for a disconnect
    (a streamed answer listens for one) for as long as the answer takes.
    """

    def __init__(
        self, app: ASGIApp, limits: dict[str, int], seconds: float, default: int = MAX_JSON_BODY_BYTES
    ) -> None:
        self.app = app
        self.limits = limits
        self.seconds = seconds
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.get(scope["path"], self.default)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        announced = int(declared) if declared.isdigit() else 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.seconds
        seen = 0
        complete = False

        async def limited() -> Message:
            nonlocal seen, complete
            if announced > limit:
                raise _too_large(limit)
            if complete:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), timeout=max(deadline - loop.time(), 0))
            except TimeoutError:
                raise _too_slow(self.seconds) from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                complete = not message.get("more_body", False)
                if seen > limit:
                    raise _too_large(limit)
            return message

        await self.app(scope, limited, send)


def _too_large(limit: int) -> HTTPException:
    return HTTPException(
        status.HTTP_413_CONTENT_TOO_LARGE, detail=f"the request body is larger than {limit // 1024} KiB"
    )


def _too_slow(seconds: float) -> HTTPException:
    return HTTPException(
        status.HTTP_408_REQUEST_TIMEOUT,
        detail=f"the request body did not arrive within {seconds:g} s (RAG_REQUEST_BODY_TIMEOUT_S)",
        headers={"Connection": "close"},
    )
