"""`POST /search`: the passages that best match a query, without generating an answer."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import AskAccess, CorpusDep
from api.openapi import body_errors
from api.routing import JsonRoute
from api.schemas import SearchRequest, SearchResponse

router = APIRouter(tags=["questions"], route_class=JsonRoute)


@router.post("/search", dependencies=[AskAccess], responses=body_errors(401, 503))
def search(body: SearchRequest, corpus: CorpusDep) -> SearchResponse:
    """Hybrid (dense + BM25) retrieval; each hit's text is `text[start:end]` of its document."""
    return SearchResponse.of(corpus.search(body.query, body.k, where=body.document_filter()))
