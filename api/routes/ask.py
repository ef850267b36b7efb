"""`POST /ask` (one JSON answer) and `POST /ask/stream` (Server-Sent Events while the model writes)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Generator
from contextlib import nullcontext
from dataclasses import dataclass

from fastapi import APIRouter, Request, Response
from sse_starlette import EventSourceResponse, ServerSentEvent

from api.admission import Ticket
from api.deps import AnswererDep, AnswerQueueDep, AskAccess, MetricsDep
from api.metrics import ApiMetrics
from api.openapi import STREAM_RESPONSE, body_errors
from api.routing import CLIENT_CLOSED, JsonRoute
from api.schemas import AnswerOut, AskRequest, ErrorOut, SourcesOut, TokenOut
from rag.answer_types import AnswerEvent, Final, Sources, Token
from rag.answerer import Answerer
from rag.errors import RagError

log = logging.getLogger(__name__)

router = APIRouter(tags=["questions"], route_class=JsonRoute)

_DISCONNECT_POLL_S = 0.25


@router.post("/ask", dependencies=[AskAccess], responses=body_errors(401, 503))
def ask(body: AskRequest, answerer: AnswererDep, metrics: MetricsDep, queue: AnswerQueueDep) -> AnswerOut:
    """Answer a question from the indexed articles, citing verbatim snippets, or decline."""
    with queue.turn() if answerer.generator is not None else nullcontext():
        answer = answerer.ask(body.question, language=body.language, top_k=body.top_k)
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
    # A full line is a 503 now, before any event: the stream would otherwise start and then hang.
    ticket = queue.admit() if answerer.generator is not None else None
    stream = _AnswerStream(answerer, body, metrics, ticket)
    # Waiting for the first event before answering lets errors raised up front (bad input, missing
    # index) keep their own HTTP status instead of arriving inside a 200 stream.
    first = await stream.first(request)
    if first is None:
        return Response(status_code=CLIENT_CLOSED)
    return EventSourceResponse(stream.events(first), ping=10)


@dataclass(frozen=True)
class _Failed:
    """The producer thread raised: the event loop answers with the right shape."""

    error: Exception


@dataclass(frozen=True)
class _Ended:
    """The producer thread is done (the answer was sent, or it was cancelled)."""


_Item = AnswerEvent | _Failed | _Ended


class _AnswerStream:
    """Runs the blocking `Answerer.stream` on its own thread and hands its events to the event loop."""

    def __init__(self, answerer: Answerer, body: AskRequest, metrics: ApiMetrics, ticket: Ticket | None) -> None:
        self.cancel = threading.Event()
        self.metrics = metrics
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._ticket = ticket
        metrics.generating.inc()
        threading.Thread(target=self._produce, args=(answerer, body), name="rag-answer-stream", daemon=True).start()

    def _produce(self, answerer: Answerer, body: AskRequest) -> None:
        try:
            if self._ticket is not None and not self._ticket.wait(self.cancel):
                return  # the client left while waiting for the model
            events = answerer.stream(body.question, language=body.language, top_k=body.top_k, cancel=self.cancel)
            try:
                for event in events:
                    if self.cancel.is_set():
                        break
                    self._put(event)
            finally:
                if isinstance(events, Generator):
                    events.close()  # stops the model at once instead of when the generator is collected
        except Exception as error:  # handed to the event loop, which answers with the right shape
            self._put(_Failed(error))
        finally:
            if self._ticket is not None:
                self._ticket.release()
            self.metrics.generating.dec()
            self._put(_Ended())

    def _put(self, item: _Item) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # the loop is closed: the server stopped, nobody is listening
            self.cancel.set()

    async def first(self, request: Request) -> _Item | None:
        """The first event; None (and generation cancelled) if the client leaves before it comes."""
        getting = asyncio.ensure_future(self._queue.get())
        while True:
            done, _ = await asyncio.wait({getting}, timeout=_DISCONNECT_POLL_S)
            if done:
                item = getting.result()
                if isinstance(item, _Failed):
                    raise item.error
                return item
            if await request.is_disconnected():
                getting.cancel()
                self.cancel.set()
                return None

    async def events(self, first: _Item) -> AsyncIterator[ServerSentEvent]:
        """sources token* answer done, as SSE; `error` replaces the rest if something fails mid-stream."""
        try:
            item = first
            while not isinstance(item, _Ended):
                match item:
                    case _Failed(error):
                        raise error
                    case Sources():
                        yield ServerSentEvent(event="sources", data=SourcesOut.of(item).model_dump_json())
                    case Token(text):
                        yield ServerSentEvent(event="token", data=TokenOut(text=text).model_dump_json())
                    case Final(answer):
                        self.metrics.record_answer(answer)
                        yield ServerSentEvent(event="answer", data=AnswerOut.of(answer).model_dump_json())
                item = await self._queue.get()
            yield ServerSentEvent(event="done", data="{}")
        except RagError as error:
            yield ServerSentEvent(event="error", data=ErrorOut(detail=str(error)).model_dump_json())
        except Exception:
            log.exception("answer stream failed")
            yield ServerSentEvent(event="error", data=ErrorOut(detail="internal error").model_dump_json())
        finally:
            self.cancel.set()  # a no-op once the answer is complete; stops the model if the client left
