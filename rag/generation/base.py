"""The one interface every answer generator implements: chat messages in, a stream of text out."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

Message = Mapping[str, str]

ROLES = frozenset({"system", "user", "assistant"})
TOP_ODDS = 20  # the most alternatives OpenAI-style servers return per token


@runtime_checkable
class Generator(Protocol):
    """Turns chat messages into text, streamed as the model writes it (greedy, so repeatable).

    `name` says which backend and model answered ("local:<model>", "openai:<model>"), for logs
    and for the answer's provenance.
    """

    name: str

    def stream(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int,
        stop: Sequence[str] = (),
        cancel: threading.Event | None = None,
    ) -> Iterator[str]:
        """Yield text pieces in order; end early and quietly once `cancel` is set.

        Raises `GenerationError` when the backend fails or exceeds its time budget.
        """
        ...

    def next_token_odds(
        self, messages: Sequence[Message], *, cancel: threading.Event | None = None
    ) -> dict[str, float]:
        """The probabilities of the model's likeliest next tokens after `messages`, by stripped token text.

        `messages` may end with an assistant message the model continues ("[" to read which excerpt it
        would cite). Empty when the backend gives no probabilities. Raises like `stream`.
        """
        ...


def generate(generator: Generator, messages: Sequence[Message], **kwargs: Any) -> str:
    """Run `generator.stream` to the end and return the whole text (for callers that don't stream)."""
    return "".join(generator.stream(messages, **kwargs))


def top_odds(chunk: Mapping[str, Any]) -> dict[str, float] | None:
    """The first token's top probabilities in one OpenAI-style streamed chunk, or None when it has none."""
    for choice in chunk.get("choices") or []:
        entries = ((choice.get("logprobs") or {}).get("content")) or []
        if entries:
            odds: dict[str, float] = {}
            for entry in entries[0].get("top_logprobs") or []:
                token = str(entry.get("token", "")).strip()
                odds[token] = odds.get(token, 0.0) + math.exp(float(entry.get("logprob", -math.inf)))
            return odds
    return None


def validate_request(messages: Sequence[Message], max_tokens: int, max_tokens_limit: int) -> list[dict[str, str]]:
    """Check a request before it reaches a backend and return the messages as plain dicts.

    Bad arguments are programming errors, so they raise `ValueError` naming the bad value.
    """
    if not messages:
        raise ValueError("messages must not be empty")
    if not 1 <= max_tokens <= max_tokens_limit:
        raise ValueError(f"max_tokens must be between 1 and {max_tokens_limit}, got {max_tokens}")
    plain: list[dict[str, str]] = []
    for i, message in enumerate(messages):
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise ValueError(f"messages[{i}] has role {role!r}; expected one of {sorted(ROLES)}")
        if not isinstance(content, str):
            raise ValueError(f"messages[{i}] content must be a string, got {type(content).__name__}")
        plain.append({"role": role, "content": content})
    return plain
