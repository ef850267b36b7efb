"""What keeps other web pages off the API: unknown Host headers and cross-site writes are refused, and
every HTML page runs under a strict Content-Security-Policy.

Without an API key the write endpoints are open to anything that can reach the port, browser tabs
included: a page can POST a multipart form with `mode: "no-cors"` (CORS hides the answer from it,
not the request from us), and DNS rebinding makes a hostile name resolve to 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import status
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag.config import Settings

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
ALL_INTERFACES = ("0.0.0.0", "::")
_CROSS_SITE = ("cross-site", "same-site")
_SHOWN_CHARACTERS = 100
# Pages load only their own scripts and stylesheets (no inline script) and talk only to this server.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
)


def allowed_hosts(settings: Settings) -> list[str]:
    """RAG_ALLOWED_HOSTS, else the names the listen address can be reached by.

    A loopback address is reachable only as loopback. All interfaces (Docker) can be reached by
    names we cannot know, so any Host passes there: RAG_ALLOWED_HOSTS or RAG_API_KEY shut out DNS
    rebinding in that case.
    """
    if settings.allowed_hosts:
        return list(settings.allowed_hosts)
    host = settings.host.strip().lower()
    if host in LOOPBACK_HOSTS:
        return list(LOOPBACK_HOSTS)
    if host in ALL_INTERFACES:
        return ["*"]
    # An IPv6 literal arrives bracketed in the Host header.
    return [f"[{host}]" if ":" in host and not host.startswith("[") else host]


async def _passed(scope: Scope, receive: Receive, send: Send) -> None:
    """The app behind the Host check: it answers nothing, so any answer is the check's refusal."""


class HostCheckMiddleware:
    """Starlette's TrustedHostMiddleware (against DNS rebinding), its refusal as JSON like every error.

    The check runs in front of an app that sends nothing, so anything it sends is its plain-text
    refusal, which is replaced by `{"detail": ...}`; a request that passes goes on to the real app.
    """

    def __init__(self, app: ASGIApp, allowed_hosts: Sequence[str]) -> None:
        self.app = app
        self.hosts = list(allowed_hosts)
        self.check = TrustedHostMiddleware(_passed, allowed_hosts=self.hosts, www_redirect=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refused = False

        async def note_refusal(message: Message) -> None:
            nonlocal refused
            refused = True

        await self.check(scope, receive, note_refusal)
        if not refused:
            await self.app(scope, receive, send)
            return
        host = Headers(scope=scope).get("host")
        given = f"Host header {_shown(host)!r}" if host is not None else "a request without a Host header"
        detail = (
            f"invalid Host header: this server does not answer {given}; "
            f"it answers {', '.join(self.hosts)} (set RAG_ALLOWED_HOSTS to add a name)"
        )
        await JSONResponse({"detail": detail}, status_code=status.HTTP_400_BAD_REQUEST)(scope, receive, send)


class CrossSiteWriteMiddleware:
    """Refuses (403) unsafe requests that a browser sends on behalf of another site.

    Browsers say where a request comes from (`Origin`, `Sec-Fetch-Site`); scripts and curl send
    neither and pass. The configured CORS origins are trusted: the operator asked for them.
    """

    def __init__(self, app: ASGIApp, trusted_origins: Sequence[str]) -> None:
        self.app = app
        self.trusted = {origin.lower() for origin in trusted_origins}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in UNSAFE_METHODS:
            await self.app(scope, receive, send)
            return
        reason = self.refusal(scope)
        if reason is None:
            await self.app(scope, receive, send)
            return
        detail = (
            f"cross-site request refused: {reason}; send it from this server's own page, from a script "
            "(no Origin header), or add the page's origin to RAG_CORS_ORIGINS"
        )
        await JSONResponse({"detail": detail}, status_code=status.HTTP_403_FORBIDDEN)(scope, receive, send)

    def refusal(self, scope: Scope) -> str | None:
        """Why this request is cross-site, or None when it may go on."""
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is not None and origin.lower() in self.trusted:
            return None
        fetch_site = headers.get("sec-fetch-site", "").lower()
        if fetch_site in _CROSS_SITE:
            return f"Sec-Fetch-Site is {fetch_site}"
        own = f"{scope['scheme']}://{headers.get('host', '')}".lower()
        if origin is not None and origin.lower() != own:
            return f"Origin {_shown(origin)} is not this server ({_shown(own)})"
        return None


class PagePolicyMiddleware:
    """Adds PAGE_POLICY to every HTML response (the chat page, the API page, any page added later)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if headers.get("content-type", "").startswith("text/html"):
                    headers["Content-Security-Policy"] = PAGE_POLICY
            await send(message)

        await self.app(scope, receive, with_policy)


def _shown(header: str) -> str:
    """A header value cut short for an error message: it is the client's input, of any length."""
    return header if len(header) <= _SHOWN_CHARACTERS else header[:_SHOWN_CHARACTERS] + "…"
