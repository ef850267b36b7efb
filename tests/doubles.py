"""A generator that replays scripted replies, so every branch of the answer decision tree is tested exactly.

Modelled on simonw/llm's `MockModel.enqueue`: a test queues what the model "writes", then reads back
the messages it was sent. The real model is tested too (the `llm` tests): this double pins the logic.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

ENDLESS = object()  # a reply that never ends by itself: only a cancel stops it


@dataclass(frozen=True)
class Held:
    """A reply the model writes only once the test sets `release`: it stays busy until then."""

    reply: str
    started: threading.Event = field(default_factory=threading.Event)  # set when the model began
    release: threading.Event = field(default_factory=threading.Event)


class ScriptedGenerator:
    """Replies in the order they were enqueued; each reply is a list of pieces, an error, or ENDLESS."""

    name = "scripted:test"

    def __init__(self) -> None:
        self._replies: deque[object] = deque()
        self.requests: list[list[dict[str, str]]] = []
        self.cancelled = threading.Event()  # set when a stream noticed its cancel and stopped
        self._odds: deque[dict[str, float]] = deque()
        self.odds_requests: list[list[dict[str, str]]] = []

    def enqueue(self, *replies: str | list[str] | Exception | object) -> None:
        """Queue replies: a string is one piece, a list several pieces, an exception is raised, a Held waits,
        and a function is called with the messages sent (a reply citing whichever excerpt holds a sentence)."""
        self._replies.extend([reply] if isinstance(reply, str) else reply for reply in replies)

    def stream(
        self,
        messages: Sequence[Mapping[str, str]],
        *,
        max_tokens: int,
        stop: Sequence[str] = (),
        cancel: threading.Event | None = None,
    ) -> Iterator[str]:
        """Yield the next scripted reply piece by piece, stopping quietly once `cancel` is set."""
        self.requests.append([dict(message) for message in messages])
        if not self._replies:
            raise AssertionError("the answerer asked the model more often than the test scripted")
        reply = self._replies.popleft()
        if isinstance(reply, Exception):
            raise reply
        if callable(reply):
            reply = [reply(self.requests[-1])]
        if isinstance(reply, Held):
            reply.started.set()
            if not reply.release.wait(120):
                raise AssertionError("the test never released a held reply")
            reply = [reply.reply]
        pieces = _endless() if reply is ENDLESS else iter(reply)  # type: ignore[call-overload]
        for piece in pieces:
            if cancel is not None and cancel.is_set():
                self.cancelled.set()
                return
            yield piece
            if cancel is not None and reply is ENDLESS:
                cancel.wait(0.01)

    def enqueue_odds(self, *odds: dict[str, float]) -> None:
        """Queue next-token odds; when none is queued the model gives none (as a server without logprobs)."""
        self._odds.extend(odds)

    def next_token_odds(
        self, messages: Sequence[Mapping[str, str]], *, cancel: threading.Event | None = None
    ) -> dict[str, float]:
        """The next queued odds, or none."""
        self.odds_requests.append([dict(message) for message in messages])
        return self._odds.popleft() if self._odds else {}

    @property
    def pending(self) -> int:
        """Replies not consumed yet (a test checks it is 0: the model was asked exactly as scripted)."""
        return len(self._replies) + len(self._odds)


def _endless() -> Iterator[str]:
    while True:
        yield "mot "

