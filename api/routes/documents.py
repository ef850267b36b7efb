"""`/documents`: list, read, add or replace, and delete the indexed articles."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from fastapi import APIRouter, Request, Response, status
from starlette.concurrency import run_in_threadpool

from api.deps import AskAccess, CorpusDep, DocumentUpload, SettingsDep, WriteAccess
from api.memory import release_free_memory
from api.openapi import body_errors, errors
from api.routing import CLIENT_CLOSED
from api.schemas import (
    DocumentBatchIn,
    DocumentDeleted,
    DocumentDetail,
    DocumentFields,
    DocumentIn,
    DocumentSummary,
    DocumentWritten,
    IndexingOut,
)
from api.streaming import DISCONNECT_POLL_S
from rag.errors import WriteCancelledError
from rag.indexing import WriteBounds

log = logging.getLogger(__name__)

router = APIRouter(prefix="/documents", tags=["documents"])

_FILE_HELP = "an article (.txt, .md, .html, .htm), a feed (.xml, .rss, .atom) or an export (.jsonl); 2 MB at most"

def _form_field(name: str) -> dict[str, Any]:
    """A multipart form field with the constraints of the same JSON field (a text value, never null)."""
    described = DocumentFields.model_json_schema()["properties"][name]
    text = next(option for option in described["anyOf"] if option.get("type") == "string")
    return {**text, **{key: described[key] for key in ("description",) if key in described}}


_BATCH_SCHEMA = {  # DocumentBatchIn, with DocumentIn inline: the body schema cannot reach `$defs`
    **{key: value for key, value in DocumentBatchIn.model_json_schema().items() if key != "$defs"},
    "properties": {
        "documents": {
            **DocumentBatchIn.model_json_schema()["properties"]["documents"],
            "items": DocumentIn.model_json_schema(),
        }
    },
}

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"anyOf": [DocumentIn.model_json_schema(), _BATCH_SCHEMA]}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": _FILE_HELP},
                        **{name: _form_field(name) for name in DocumentFields.model_fields},
                    },
                    "additionalProperties": False,
                }
            },
        },
    }
}


@router.get("", dependencies=[AskAccess], responses=errors(401))
def list_documents(corpus: CorpusDep) -> list[DocumentSummary]:
    """Every indexed document, sorted by id, without its text."""
    return DocumentSummary.listing(corpus.snapshot)


@router.get("/{doc_id}", dependencies=[AskAccess], responses=errors(401, 404))
def get_document(doc_id: str, corpus: CorpusDep) -> DocumentDetail:
    """One document with its cleaned text, the reference for every `start`/`end` offset."""
    snapshot = corpus.snapshot
    return DocumentDetail.of(corpus.document(doc_id), snapshot.chunks_of(doc_id))


@router.post(
    "", status_code=status.HTTP_201_CREATED, dependencies=[WriteAccess], openapi_extra=_UPLOAD_BODY,
    responses=body_errors(401, 503), response_model=DocumentWritten,
)
async def add_document(
    upload: DocumentUpload, corpus: CorpusDep, settings: SettingsDep, request: Request
) -> DocumentWritten | Response:
    """Add or replace documents (JSON, or an upload of any accepted format); searchable once this returns.

    One request embeds at most `RAG_MAX_WRITE_TEXTS` passages and sentences (413 beyond), and a client
    that leaves cancels its write before it is committed, so no request holds the write lock for long.
    """
    cancel = threading.Event()
    watcher = asyncio.create_task(_cancel_when_the_client_leaves(request, cancel))
    try:
        report = await run_in_threadpool(corpus.upsert, upload.documents, WriteBounds(settings.max_write_texts, cancel))
    except WriteCancelledError:
        log.info("POST /documents: the client left, its write was cancelled")
        return Response(status_code=CLIENT_CLOSED)
    finally:
        watcher.cancel()
        release_free_memory()
    snapshot = corpus.snapshot
    written = [
        DocumentSummary.of(snapshot.documents[document.doc_id], snapshot.chunks_of(document.doc_id))
        for document in upload.documents
    ]
    return DocumentWritten(
        document=written[0],
        documents=written,
        skipped=[item.reason for item in upload.skipped],
        notes=upload.notes,
        indexed=IndexingOut.of(report),
    )


@router.delete("/{doc_id}", dependencies=[WriteAccess], responses=errors(401, 403, 404, 503))
def delete_document(doc_id: str, corpus: CorpusDep) -> DocumentDeleted:
    """Remove a document from both the dense and the lexical index."""
    try:
        return DocumentDeleted(deleted=doc_id, indexed=IndexingOut.of(corpus.delete(doc_id)))
    finally:
        release_free_memory()


async def _cancel_when_the_client_leaves(request: Request, cancel: threading.Event) -> None:
    while not await request.is_disconnected():
        await asyncio.sleep(DISCONNECT_POLL_S)
    cancel.set()
