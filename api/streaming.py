"""Running the blocking `Answerer.stream` on its own thread and handing its events to the event loop.

Both streaming routes (`/ask/stream` and `/v1/chat/completions`) read answers through it, so a
client that leaves stops the model the same way everywhere.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from dataclasses import dataclass

from fastapi import Request

from api.admission import Ticket
from api.metrics import ApiMetrics
from rag.answer_types import AnswerEvent

DISCONNECT_POLL_S = 0.25  # how often a worker's wait looks at whether the client left

EventSource = Callable[[threading.Event], Iterator[AnswerEvent]]
"""Starts an answer given the cancel event it must watch (`lambda cancel: answerer.stream(..., cancel=cancel)`)."""


class AnswerStream:
    """The events of one answer, produced on a worker thread, read with `first` then `rest`."""

    def __init__(self, source: EventSource, metrics: ApiMetrics, ticket: Ticket | None = None) -> None:
        """`ticket`, when given, is this answer's place in the model's line: it starts once admitted."""
        self.cancel = threading.Event()
        self.metrics = metrics
        self._ticket = ticket
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[AnswerEvent | _Failed | None] = asyncio.Queue()
        metrics.generating.inc()
        threading.Thread(target=self._produce, args=(source,), name="rag-answer-stream", daemon=True).start()

    def _produce(self, source: EventSource) -> None:
        try:
            if self._ticket is not None and not self._ticket.wait(self.cancel):
                return  # the client left while waiting for the model
            events = source(self.cancel)
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
            self._put(None)

    def _put(self, item: AnswerEvent | _Failed | None) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # the loop is closed: the server stopped, nobody is listening
            self.cancel.set()

    async def first(self, request: Request) -> AnswerEvent | None:
        """The first event, raising what the answerer raised before it; None (and generation cancelled)
        if the client leaves before it comes or nothing comes at all.

        Waiting for it before answering lets errors raised up front (bad input, missing index) keep
        their own HTTP status instead of arriving inside a 200 stream.
        """
        getting = asyncio.ensure_future(self._queue.get())
        while True:
            done, _ = await asyncio.wait({getting}, timeout=DISCONNECT_POLL_S)
            if done:
                item = getting.result()
                if isinstance(item, _Failed):
                    raise item.error
                return item
            if await request.is_disconnected():
                getting.cancel()
                self.cancel.set()
                return None

    async def rest(self) -> AsyncIterator[AnswerEvent]:
        """The events after the first, raising what the answerer raised; the model stops if the reader leaves."""
        try:
            while (item := await self._queue.get()) is not None:
                if isinstance(item, _Failed):
                    raise item.error
                yield item
        finally:
            self.cancel.set()  # a no-op once the answer is complete; stops the model if the client left


@dataclass(frozen=True)
class _Failed:
    """The producer thread raised: the event loop answers with the right shape."""

    error: Exception
