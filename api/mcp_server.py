"""`rag mcp`: a Model Context Protocol server over one service, for agents that call tools.

Tools `search` and `ask` return the same JSON as `POST /search` and `POST /ask` (the same schema
classes); the indexed documents are resources `rag://documents/{doc_id}`, as `GET /documents/{doc_id}`.
Errors keep MCP's shapes: a tool that fails returns `isError` with the message, a document that is
not there is a JSON-RPC invalid-params error.
"""

from __future__ import annotations

import hmac
import json
from typing import Annotated

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from mcp.types import Resource
from pydantic import Field
from starlette.types import ASGIApp, Receive, Scope, Send

from api.schemas import MAX_SEARCH_K, AnswerOut, DocumentDetail, SearchResponse
from rag import __version__
from rag.answerer import MAX_QUESTION_CHARS, MAX_TOP_K
from rag.errors import DocumentNotFoundError, RagError
from rag.filters import DocumentFilter
from rag.language import LanguageChoice
from rag.service import Service

DOCUMENT_URI = "rag://documents/{doc_id}"
MCP_PATH = "/mcp"
_INSTRUCTIONS = (
    "Questions about the indexed French news articles. `ask` answers in the question's language with "
    "numbered citations, each the exact text of an article between two offsets, or declines; `search` "
    "returns the best passages. Each article is a resource rag://documents/{doc_id}."
)

Text = Annotated[str, Field(min_length=1, max_length=MAX_QUESTION_CHARS)]
# The filters of `POST /search` and `POST /ask`, over the documents' stored metadata.
Since = Annotated[str | None, Field(max_length=40, description="Published on or after: YYYY-MM-DD, YYYY-MM or YYYY.")]
Until = Annotated[str | None, Field(max_length=40, description="Published on or before: YYYY-MM-DD, YYYY-MM or YYYY.")]
Sources = Annotated[list[str] | None, Field(max_length=100, description="Outlets to keep (case-insensitive).")]


class RagMCPServer(MCPServer):
    """The tools and resources of one running rag; the resource list follows the live index."""

    def __init__(self, service: Service) -> None:
        super().__init__("rag", version=__version__, instructions=_INSTRUCTIONS, log_level="WARNING")
        self.service = service
        self.add_tool(self.search, title="Search the articles")
        self.add_tool(self.ask, title="Answer from the articles, with citations")
        self.resource(DOCUMENT_URI, name="document", mime_type="application/json")(self.document)

    def search(
        self,
        query: Annotated[Text, Field(description="Free text, in French or English.")],
        k: Annotated[int, Field(ge=1, le=MAX_SEARCH_K, description="Number of passages.")] = 5,
        since: Since = None,
        until: Until = None,
        sources: Sources = None,
    ) -> SearchResponse:
        """The passages that best match a query (hybrid dense + BM25), as `POST /search`."""
        try:
            where = DocumentFilter.of(since, until, sources)
            return SearchResponse.of(self.service.corpus.search(query, k, where=where))
        except RagError as error:
            raise ToolError(str(error)) from error

    def ask(
        self,
        question: Annotated[Text, Field(description="The question, in French or English.")],
        language: Annotated[LanguageChoice, Field(description="Answer language; auto follows the question.")] = "auto",
        top_k: Annotated[int, Field(ge=1, le=MAX_TOP_K, description="Passages retrieved.")] = 5,
        since: Since = None,
        until: Until = None,
        sources: Sources = None,
    ) -> AnswerOut:
        """A verified answer with citations (or a refusal with the closest passages), as `POST /ask`."""
        try:
            where = DocumentFilter.of(since, until, sources)
            return AnswerOut.of(self.service.answerer.ask(question, language=language, top_k=top_k, where=where))
        except RagError as error:
            raise ToolError(str(error)) from error

    def document(self, doc_id: str) -> str:
        """One article with its cleaned text, which every offset points into, as `GET /documents/{doc_id}`."""
        snapshot = self.service.corpus.snapshot
        try:
            stored = self.service.corpus.document(doc_id)
        except DocumentNotFoundError as error:
            raise ResourceNotFoundError(str(error)) from error
        return DocumentDetail.of(stored, snapshot.chunks_of(doc_id)).model_dump_json()

    async def list_resources(self) -> list[Resource]:
        """Every document of the live snapshot (it changes when the index does)."""
        snapshot = self.service.corpus.snapshot
        return [
            Resource(
                uri=DOCUMENT_URI.format(doc_id=doc_id),
                name=doc_id,
                title=stored.document.title,
                description=", ".join(value for value in (stored.document.source, stored.document.date) if value)
                or None,
                mime_type="application/json",
            )
            for doc_id, stored in sorted(snapshot.documents.items())
        ]


class BearerKey:
    """Refuses HTTP requests without `Authorization: Bearer <key>` (401, OAuth's bearer error shape)."""

    def __init__(self, app: ASGIApp, key: str) -> None:
        self.app = app
        self.expected = f"Bearer {key}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        given = dict(scope.get("headers", ())).get(b"authorization", b"")
        if scope["type"] != "http" or hmac.compare_digest(given, self.expected):
            await self.app(scope, receive, send)
            return
        body = json.dumps({"error": "invalid_token", "error_description": "send `Authorization: Bearer <RAG_API_KEY>`"})
        await send({
            "type": "http.response.start",
            "status": 401,
            "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b'Bearer error="invalid_token"')],
        })
        await send({"type": "http.response.body", "body": body.encode()})
