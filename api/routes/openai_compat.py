"""`/v1`: the OpenAI chat-completions API (`GET /v1/models`, `POST /v1/chat/completions`) over the answerer."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import nullcontext
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from api.admission import AnswerQueue
from api.deps import AnswererDep, AnswerQueueDep, AskAccess, MetricsDep
from api.errors import status_of
from api.openai_wire import (
    MODEL_ID,
    PREFIX,
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChunkChoice,
    Delta,
    ErrorOut,
    Model,
    ModelList,
    ModelNotFound,
    answer_text,
    citations_of,
    completion_id,
    conversation_of,
    error_body,
    now,
)
from api.routing import CLIENT_CLOSED
from api.streaming import AnswerStream
from rag.answer_types import Answer, AnswerEvent, Final
from rag.answerer import Answerer
from rag.errors import RagError
from rag.followup import Turn

log = logging.getLogger(__name__)

CHAT_COMPLETIONS = f"{PREFIX}/chat/completions"
_ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorOut} for code in (400, 401, 404, 413, 500, 503)}
_STREAM_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "`application/json` (a `chat.completion`), or with `\"stream\": true`, `text/event-stream`: "
        "`data:` lines of `chat.completion.chunk` (the role, then the verified text, then one chunk with "
        "`finish_reason` and `citations`), then `data: [DONE]`. A failure after the stream has started arrives "
        "as `data: {\"error\": ...}`.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    },
    **_ERRORS,
}

router = APIRouter(prefix=PREFIX, tags=["openai"])


@router.get("/models", dependencies=[AskAccess], responses=_ERRORS)
def models() -> ModelList:
    """The one model: `rag`, the whole pipeline (retrieval, a cited answer, verification)."""
    return ModelList(data=[Model(created=now())])


@router.post("/chat/completions", dependencies=[AskAccess], response_model=ChatCompletion, responses=_STREAM_DOC)
async def chat_completions(
    body: ChatCompletionRequest,
    request: Request,
    answerer: AnswererDep,
    metrics: MetricsDep,
    queue: AnswerQueueDep,
) -> Response:
    """Answer the last user message from the indexed articles, with [n] markers, a source list and `citations`."""
    if body.model != MODEL_ID:
        raise ModelNotFound(body.model)
    question, history = conversation_of(body)
    ident, created = completion_id(), now()
    if not body.stream:
        answer = await run_in_threadpool(_ask_in_line, answerer, queue, question, history)
        metrics.record_answer(answer)
        message = AssistantMessage(content=answer_text(answer))
        completion = ChatCompletion(
            id=ident, created=created, choices=[Choice(message=message)], citations=citations_of(answer)
        )
        return JSONResponse(completion.model_dump(mode="json"))
    ticket = queue.admit() if answerer.generator is not None else None  # a full line is a 503 now
    stream = AnswerStream(lambda cancel: answerer.stream(question, history=history, cancel=cancel), metrics, ticket)
    first = await stream.first(request)
    if first is None:
        return Response(status_code=CLIENT_CLOSED)
    return EventSourceResponse(_chunks(first, stream, ident, created), ping=10)


def _ask_in_line(answerer: Answerer, queue: AnswerQueue, question: str, history: list[Turn]) -> Answer:
    """The answer, once the model's line lets this request through (at once in extractive mode)."""
    with queue.turn() if answerer.generator is not None else nullcontext():
        return answerer.ask(question, history=history)


async def _chunks(first: AnswerEvent, stream: AnswerStream, ident: str, created: int) -> AsyncIterator[ServerSentEvent]:
    """The role at once, then the verified text when it is ready (an OpenAI stream cannot take text back,
    and the draft may change), then the citations, then [DONE]."""

    def chunk(delta: Delta, **extra: Any) -> ServerSentEvent:
        choice = ChunkChoice(delta=delta, finish_reason=extra.pop("finish_reason", None))
        body = ChatCompletionChunk(id=ident, created=created, choices=[choice], **extra)
        return ServerSentEvent(data=body.model_dump_json())

    try:
        yield chunk(Delta(role="assistant", content=""))
        async for event in _after(first, stream):
            if isinstance(event, Final):
                stream.metrics.record_answer(event.answer)
                yield chunk(Delta(content=answer_text(event.answer)))
                yield chunk(Delta(), finish_reason="stop", citations=citations_of(event.answer))
        yield ServerSentEvent(data="[DONE]")
    except RagError as error:
        yield ServerSentEvent(data=json.dumps(error_body(status_of(error), str(error)), ensure_ascii=False))
    except Exception:
        log.exception("chat completion stream failed")
        yield ServerSentEvent(data=json.dumps(error_body(500, "internal error")))


async def _after(first: AnswerEvent, stream: AnswerStream) -> AsyncIterator[AnswerEvent]:
    """`first`, then the rest of the stream."""
    yield first
    async for event in stream.rest():
        yield event
