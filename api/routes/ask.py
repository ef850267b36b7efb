"""`POST /ask` (one JSON answer) and `POST /ask/stream` (Server-Sent Events while the model writes)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import nullcontext

from fastapi import APIRouter, Request, Response
from sse_starlette import EventSourceResponse, ServerSentEvent

from api.deps import AnswererDep, AnswerQueueDep, AskAccess, MetricsDep
from api.metrics import ApiMetrics
from api.openapi import STREAM_RESPONSE, body_errors
from api.routing import CLIENT_CLOSED, JsonRoute
from api.schemas import AnswerOut, AskRequest, ErrorOut, SourcesOut, TokenOut
from api.streaming import AnswerStream
from rag.answer_types import AnswerEvent, Final, Sources, Token
from rag.errors import RagError

log = logging.getLogger(__name__)

router = APIRouter(tags=["questions"], route_class=JsonRoute)


@router.post("/ask", dependencies=[AskAccess], responses=body_errors(401, 503))
def ask(body: AskRequest, answerer: AnswererDep, metrics: MetricsDep, queue: AnswerQueueDep) -> AnswerOut:
    """Answer a question from the indexed articles, citing verbatim snippets, or decline."""
    where = body.document_filter()
    with queue.turn() if answerer.generator is not None else nullcontext():
        answer = answerer.ask(body.question, history=body.turns(), language=body.language, top_k=body.top_k,
                              where=where)
    metrics.record_answer(answer)
    return AnswerOut.of(answer)


@router.post(
    "/ask/stream", dependencies=[AskAccess], response_class=EventSourceResponse,
    responses={**STREAM_RESPONSE, **body_errors(401, 503)},
)
async def ask_stream(
    body: AskRequest, request: Request, answerer: AnswererDep, metrics: MetricsDep, queue: AnswerQueueDep
) -> Response:
    """Stream the answer as Server-Sent Events; closing the connection stops the generation."""
    where = body.document_filter()
    # A full line is a 503 now, before any event: the stream would otherwise start and then hang.
    ticket = queue.admit() if answerer.generator is not None else None
    stream = AnswerStream(
        lambda cancel: answerer.stream(
            body.question, history=body.turns(), language=body.language, top_k=body.top_k, cancel=cancel, where=where
        ),
        metrics,
        ticket,
    )
    first = await stream.first(request)
    if first is None:
        return Response(status_code=CLIENT_CLOSED)
    return EventSourceResponse(_events(first, stream), ping=10)


async def _events(first: AnswerEvent, stream: AnswerStream) -> AsyncIterator[ServerSentEvent]:
    """sources token* answer done, as SSE; `error` replaces the rest if something fails mid-stream."""
    try:
        yield _event(first, stream.metrics)
        async for event in stream.rest():
            yield _event(event, stream.metrics)
        yield ServerSentEvent(event="done", data="{}")
    except RagError as error:
        yield ServerSentEvent(event="error", data=ErrorOut(detail=str(error)).model_dump_json())
    except Exception:
        log.exception("answer stream failed")
        yield ServerSentEvent(event="error", data=ErrorOut(detail="internal error").model_dump_json())


def _event(event: AnswerEvent, metrics: ApiMetrics) -> ServerSentEvent:
    match event:
        case Sources():
            return ServerSentEvent(event="sources", data=SourcesOut.of(event).model_dump_json())
        case Token(text):
            return ServerSentEvent(event="token", data=TokenOut(text=text).model_dump_json())
        case Final(answer):
            metrics.record_answer(answer)
            return ServerSentEvent(event="answer", data=AnswerOut.of(answer).model_dump_json())
