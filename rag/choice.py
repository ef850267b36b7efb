"""Which excerpt the model would cite: read from its next-token odds, not from what it writes.

The 1.5B model often writes NOT_FOUND when the answer is in an excerpt it ranks first with high odds
(`python bench/choice.py` prints both, per gold question). One more token over the cached prompt gives
those odds, so the decision to refuse can rest on a calibrated number instead of one greedy token.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from rag.generation.base import Generator, Message
from rag.prompting import continuing


@dataclass(frozen=True)
class Choice:
    """The excerpt (1-based) the model would cite first, and the probability it gave that token."""

    number: int
    probability: float


def choose_excerpt(
    generator: Generator, messages: Sequence[Message], excerpts: int, cancel: threading.Event | None = None
) -> Choice | None:
    """The likeliest excerpt number after "[" in the answer, or None when the backend gives no odds."""
    odds = generator.next_token_odds(continuing(messages, "["), cancel=cancel)
    numbered = {int(token): p for token, p in odds.items() if token.isdigit() and 1 <= int(token) <= excerpts}
    if not numbered:
        return None
    number = max(numbered, key=lambda n: numbered[n])
    return Choice(number, numbered[number])
