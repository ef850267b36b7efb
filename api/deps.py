"""Dependencies of the routes: what the lifespan loaded, API-key checks and the document upload body."""

from __future__ import annotations

import hmac
import json
from collections.abc import AsyncGenerator
from dataclasses import replace
from pathlib import Path, PurePath
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from api.admission import AnswerQueue
from api.metrics import ApiMetrics
from api.openapi import ASK_KEY, WRITE_KEY
from api.schemas import DocumentBatchIn, DocumentFields, DocumentIn
from rag.answerer import Answerer
from rag.config import Settings
from rag.corpus import Corpus
from rag.documents import (
    ACCEPTED_SUFFIXES,
    FileContents,
    format_of,
    override,
    parse_document,
    text_doc_id,
    validate_doc_id,
)
from rag.errors import InvalidInputError
from rag.ingest.markup import looks_binary

MAX_DOCUMENT_BYTES = 2 * 1024 * 1024
_ENVELOPE_BYTES = 64 * 1024  # multipart boundaries and form fields, or JSON quoting, around the text
MAX_DOCUMENT_BODY_BYTES = MAX_DOCUMENT_BYTES + _ENVELOPE_BYTES  # what `read_document` reads at most
# The transport-level cap of POST /documents, above ours so that our clearer 413 message wins.
MAX_UPLOAD_BODY_BYTES = MAX_DOCUMENT_BYTES + 2 * _ENVELOPE_BYTES


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_corpus(request: Request) -> Corpus:
    return request.app.state.service.corpus


def get_answerer(request: Request) -> Answerer:
    return request.app.state.service.answerer


def get_metrics(request: Request) -> ApiMetrics:
    return request.app.state.metrics


def get_answer_queue(request: Request) -> AnswerQueue:
    return request.app.state.answer_queue


SettingsDep = Annotated[Settings, Depends(get_settings)]
CorpusDep = Annotated[Corpus, Depends(get_corpus)]
AnswererDep = Annotated[Answerer, Depends(get_answerer)]
MetricsDep = Annotated[ApiMetrics, Depends(get_metrics)]
AnswerQueueDep = Annotated[AnswerQueue, Depends(get_answer_queue)]

# Two names for the one key, so the schema can say which routes this server's settings lock.
_write_bearer = HTTPBearer(
    scheme_name=WRITE_KEY, auto_error=False, description="RAG_API_KEY: required for document changes when set."
)
_ask_bearer = HTTPBearer(
    scheme_name=ASK_KEY, auto_error=False,
    description="RAG_API_KEY: required for questions, searches and reads when RAG_API_KEY_FOR_ASK is on.",
)
WriteBearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_write_bearer)]
AskBearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_ask_bearer)]


def _check_key(settings: Settings, credentials: HTTPAuthorizationCredentials | None) -> None:
    expected = settings.api_key
    if not expected:
        return
    given = credentials.credentials if credentials is not None else ""
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing or wrong API key: send `Authorization: Bearer <key>`",
            headers={"WWW-Authenticate": "Bearer"},
        )


def require_write_key(settings: SettingsDep, credentials: WriteBearerDep) -> None:
    """Document changes need the API key whenever the server has one."""
    _check_key(settings, credentials)


def require_ask_key(settings: SettingsDep, credentials: AskBearerDep) -> None:
    """Questions and searches need the key only when RAG_API_KEY_FOR_ASK is on."""
    if settings.api_key_for_ask:
        _check_key(settings, credentials)


WriteAccess = Depends(require_write_key)
AskAccess = Depends(require_ask_key)


async def read_document(request: Request) -> FileContents:
    """The posted document(s): a JSON body, or a multipart upload (field `file`) of any accepted format.

    The body is counted while it arrives, so an oversized one is refused (413) without being kept.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("application/json", "multipart/form-data"):
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            detail="send the document as JSON ({\"text\": ...}) or as a multipart/form-data upload in field `file`",
        )
    body = await _read_limited(request, MAX_DOCUMENT_BODY_BYTES)
    if content_type == "application/json":
        return _from_json(body)
    return await _from_upload(request, body)


DocumentUpload = Annotated[FileContents, Depends(read_document)]


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large()
    body = bytearray()
    async for piece in request.stream():
        body += piece
        if len(body) > limit:
            raise _too_large()
    return bytes(body)


def _too_large() -> HTTPException:
    return HTTPException(
        status.HTTP_413_CONTENT_TOO_LARGE,
        detail=f"the document or batch is larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MB; split it into smaller "
        "articles or requests",
    )


def _from_json(body: bytes) -> FileContents:
    """One document (`{"text": ...}`) or a batch (`{"documents": [...]}`); a repeated id keeps the later one,
    as in a feed or an export."""
    try:
        payloads = (
            DocumentBatchIn.model_validate_json(body).documents if _is_batch(body)
            else [DocumentIn.model_validate_json(body)]
        )
    except ValidationError as error:
        raise RequestValidationError(_in_body(error)) from None
    documents = {}
    for payload in payloads:
        if len(payload.text.encode("utf-8")) > MAX_DOCUMENT_BYTES:
            raise _too_large()
        doc_id = payload.doc_id if payload.doc_id is not None else text_doc_id(payload.text)
        fields = payload.model_dump(exclude={"text", "doc_id"})
        documents[doc_id] = parse_document(payload.text, doc_id, **fields)
    return FileContents(list(documents.values()), read=len(payloads))


def _is_batch(body: bytes) -> bool:
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return False  # not JSON, or nested too deep: the single-document validation reports it
    return isinstance(parsed, dict) and "documents" in parsed


async def _from_upload(request: Request, body: bytes) -> FileContents:
    async def replay() -> AsyncGenerator[bytes, None]:
        yield body

    try:
        parser = MultiPartParser(request.headers, replay(), max_files=1, max_fields=len(DocumentFields.model_fields))
        form = await parser.parse()
    except MultiPartException as error:
        raise _unlike_schema(f"malformed multipart upload: {error.message}") from None
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise _unlike_schema("no file in the upload: send it in the multipart field `file`")
    try:
        content = await upload.read(MAX_DOCUMENT_BYTES + 1)
    finally:
        await form.close()
    if len(content) > MAX_DOCUMENT_BYTES:
        raise _too_large()
    filename = upload.filename or ""
    if "/" in filename or "\\" in filename:
        raise InvalidInputError(f"the file name {filename[:100]!r} holds a path: send the file's bare name")
    name = PurePath(filename)
    try:
        kind = format_of(name)
    except InvalidInputError:
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            detail=f"unsupported file type {name.suffix or '(none)'!r}: upload one of {', '.join(ACCEPTED_SUFFIXES)}",
        ) from None
    if looks_binary(content):
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            detail=f"{name.name} looks binary (it contains NUL or control bytes): "
            "upload text, HTML, a feed or JSON Lines",
        )
    try:  # the form fields obey the same schema as the JSON ones (422 otherwise)
        given = DocumentFields.model_validate({key: value for key, value in form.items() if key != "file"})
    except ValidationError as error:
        raise RequestValidationError(_in_body(error)) from None
    fields = {key: value for key, value in given.model_dump().items() if isinstance(value, str) and value.strip()}
    if kind.entries and fields:
        raise InvalidInputError(
            f"{name.name} holds several documents, each with its own metadata: send it without form fields "
            f"({', '.join(sorted(fields))})"
        )
    path = Path(name)
    if not kind.entries:  # a one-article file is read under the doc id it is given: its name or `doc_id`
        try:
            path = Path(validate_doc_id(fields.get("doc_id", name.stem)) + name.suffix)
        except InvalidInputError as error:
            raise InvalidInputError(f"{error}; rename the file or send a `doc_id` form field") from None
    contents = kind.read(path, content)
    if not contents.documents:
        reasons = "; ".join(item.reason for item in contents.skipped[:3])
        raise InvalidInputError(f"nothing could be read from {name.name}: {reasons}")
    if fields:
        (document,) = contents.documents
        return replace(contents, documents=[override(document, fields)])
    return contents


def _unlike_schema(detail: str) -> HTTPException:
    """A body that does not match the route's schema: 422, as for JSON bodies."""
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=detail)


def _in_body(error: ValidationError) -> list[dict[str, object]]:
    """Pydantic's errors located in the body, as FastAPI reports its own."""
    errors = []
    for item in error.errors(include_url=False):
        entry = dict(item)
        entry["loc"] = ("body", *item["loc"])
        if item["type"] == "json_invalid":
            entry["loc"] = ("body",)
        errors.append(json.loads(json.dumps(entry, default=str)))
    return errors
