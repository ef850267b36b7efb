"""Fair admission to the model: one answer is written at a time, a bounded number wait their turn in
arrival order, and one more is refused at once (503 with `Retry-After`) instead of hanging.

The local model writes one answer at a time; without a bound, twenty users asking at once would each
wait minutes, and the model's own lock is not first come, first served.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import HTTPException, status

_FIRST_GUESS_S = 10.0  # seconds per answer until one has been measured (the local model takes ~7 s)
_SMOOTHING = 0.3  # weight of the newest answer in the running mean of answer times
_CANCEL_POLL_S = 0.25


class Ticket:
    """One admitted answer: it waits until it is first in line, then holds the model until released."""

    def __init__(self, queue: AnswerQueue) -> None:
        self._queue = queue
        self._turn = threading.Event()
        self._since: float | None = None

    def wait(self, cancel: threading.Event | None = None) -> bool:
        """Block until it is this answer's turn; False (and the place given up) if `cancel` is set first."""
        while not self._turn.wait(_CANCEL_POLL_S):
            if cancel is not None and cancel.is_set():
                self.release()
                return False
        self._since = time.monotonic()
        return True

    def release(self) -> None:
        """Leave the line (done, failed or cancelled); the next answer's turn comes."""
        self._queue._leave(self, None if self._since is None else time.monotonic() - self._since)


class AnswerQueue:
    """First come, first served; `waiting` answers may wait while one is written, one more gets a 503."""

    def __init__(self, waiting: int) -> None:
        self.capacity = waiting + 1
        self._line: deque[Ticket] = deque()
        self._lock = threading.Lock()
        self._mean_s = _FIRST_GUESS_S

    def __len__(self) -> int:
        """Answers admitted: the one being written and those waiting."""
        return len(self._line)

    def admit(self) -> Ticket:
        """A place in line, or HTTPException 503 with `Retry-After` when the line is full (never blocks)."""
        with self._lock:
            if len(self._line) >= self.capacity:
                retry = max(1, math.ceil(len(self._line) * self._mean_s))
                raise HTTPException(
                    status.HTTP_503_SERVICE_UNAVAILABLE,
                    detail=f"the model is busy: {len(self._line) - 1} answers are waiting already "
                    f"(RAG_MAX_WAITING_ANSWERS); try again in about {retry} s",
                    headers={"Retry-After": str(retry)},
                )
            ticket = Ticket(self)
            self._line.append(ticket)
            if len(self._line) == 1:
                ticket._turn.set()
            return ticket

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Admit, wait for the turn, and leave the line afterwards (for a blocking caller)."""
        ticket = self.admit()
        try:
            ticket.wait()
            yield
        finally:
            ticket.release()

    def _leave(self, ticket: Ticket, seconds: float | None) -> None:
        with self._lock:
            if ticket not in self._line:
                return  # released twice (a cancel, then the finally): the first one counts
            self._line.remove(ticket)
            if seconds is not None:
                self._mean_s += _SMOOTHING * (seconds - self._mean_s)
            if self._line:
                self._line[0]._turn.set()
