"""`POST /ask` (one JSON answer) and `POST /ask/stream` (Server-Sent Events while the model writes)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request, Response
from sse_starlette import EventSourceResponse, ServerSentEvent

from api.deps import AnswererDep, AskAccess, MetricsDep
from api.metrics import ApiMetrics
from api.schemas import AnswerOut, AskRequest, SourcesOut
from api.streaming import AnswerStream
from rag.answer_types import AnswerEvent, Final, Sources, Token
from rag.errors import RagError

log = logging.getLogger(__name__)

router = APIRouter(tags=["questions"])

_STREAM_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "`text/event-stream`: one `sources` event (the evidence being read, as soon as retrieval "
        "is done), `token` events (`{\"text\": piece}`) while the model writes, then one `answer` event (the "
        "same object as `POST /ask`), then `done`. A failure after the stream has started arrives as an "
        "`error` event (`{\"detail\": ...}`).",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}
_CLIENT_CLOSED = 499  # nginx's status for "the client went away before the answer"


@router.post("/ask", dependencies=[AskAccess])
def ask(body: AskRequest, answerer: AnswererDep, metrics: MetricsDep) -> AnswerOut:
    """Answer a question from the indexed articles, citing verbatim snippets, or decline."""
    answer = answerer.ask(
        body.question, history=body.turns(), language=body.language, top_k=body.top_k, where=body.document_filter()
    )
    metrics.record_answer(answer)
    return AnswerOut.of(answer)


@router.post("/ask/stream", dependencies=[AskAccess], response_class=EventSourceResponse, responses=_STREAM_DOC)
async def ask_stream(body: AskRequest, request: Request, answerer: AnswererDep, metrics: MetricsDep) -> Response:
    """Stream the answer as Server-Sent Events; closing the connection stops the generation."""
    where = body.document_filter()
    stream = AnswerStream(
        lambda cancel: answerer.stream(
            body.question, history=body.turns(), language=body.language, top_k=body.top_k, cancel=cancel, where=where
        ),
        metrics,
    )
    first = await stream.first(request)
    if first is None:
        return Response(status_code=_CLIENT_CLOSED)
    return EventSourceResponse(_events(first, stream), ping=10)


async def _events(first: AnswerEvent, stream: AnswerStream) -> AsyncIterator[ServerSentEvent]:
    """sources token* answer done, as SSE; `error` replaces the rest if something fails mid-stream."""
    try:
        yield _event(first, stream.metrics)
        async for event in stream.rest():
            yield _event(event, stream.metrics)
        yield ServerSentEvent(event="done", data="{}")
    except RagError as error:
        yield ServerSentEvent(event="error", data=json.dumps({"detail": str(error)}, ensure_ascii=False))
    except Exception:
        log.exception("answer stream failed")
        yield ServerSentEvent(event="error", data=json.dumps({"detail": "internal error"}))


def _event(event: AnswerEvent, metrics: ApiMetrics) -> ServerSentEvent:
    match event:
        case Sources():
            return ServerSentEvent(event="sources", data=SourcesOut.of(event).model_dump_json())
        case Token(text):
            return ServerSentEvent(event="token", data=json.dumps({"text": text}, ensure_ascii=False))
        case Final(answer):
            metrics.record_answer(answer)
            return ServerSentEvent(event="answer", data=AnswerOut.of(answer).model_dump_json())
