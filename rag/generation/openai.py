"""A generator backed by any OpenAI-compatible `/v1/chat/completions` server (llama.cpp, vLLM, ...)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Generator, Iterator, Mapping, Sequence
from contextlib import closing
from typing import Any

import httpx

from rag.config import Settings
from rag.errors import GenerationError
from rag.generation.base import TOP_ODDS, top_odds, validate_request

MAX_TOKENS_LIMIT = 4096
_BODY_EXCERPT = 300


class OpenAIGenerator:
    """Streams chat completions over HTTP (server-sent events), greedy decoding.

    Stopping early closes the connection, which is how OpenAI-compatible servers learn to stop.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str = "",
        timeout_s: float = 60.0,
        max_tokens_limit: int = MAX_TOKENS_LIMIT,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        if not model:
            raise ValueError("model must not be empty")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        self.name = f"openai:{model}"
        self.model = model
        self.url = base_url.rstrip("/") + "/chat/completions"
        self._timeout_s = timeout_s
        self._max_tokens_limit = max_tokens_limit
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(headers=headers, timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)))

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAIGenerator:
        """Build from `openai_base_url`, `openai_model`, `openai_api_key` and the time budget."""
        return cls(
            settings.openai_base_url,
            settings.openai_model,
            api_key=settings.openai_api_key,
            timeout_s=settings.generation_timeout_s,
        )

    def stream(
        self,
        messages: Sequence[Mapping[str, str]],
        *,
        max_tokens: int,
        stop: Sequence[str] = (),
        cancel: threading.Event | None = None,
    ) -> Iterator[str]:
        """Yield the answer piece by piece as the server sends it; see `Generator.stream`."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": validate_request(messages, max_tokens, self._max_tokens_limit),
            "max_tokens": max_tokens,
            "temperature": 0.0,
            "stream": True,
        }
        if stop:
            body["stop"] = list(stop)
        return (text for chunk in self._run(body, cancel) if (text := _piece(chunk)))

    def next_token_odds(
        self, messages: Sequence[Mapping[str, str]], *, cancel: threading.Event | None = None
    ) -> dict[str, float]:
        """The likeliest next tokens from the server's `logprobs`; empty when it gives none.

        A trailing assistant message is continued by servers that support it (llama.cpp's does).
        """
        body: dict[str, Any] = {
            "model": self.model,
            "messages": validate_request(messages, 1, self._max_tokens_limit),
            "max_tokens": 1,
            "temperature": 0.0,
            "stream": True,
            "logprobs": True,
            "top_logprobs": TOP_ODDS,
        }
        with closing(self._run(body, cancel)) as chunks:
            for chunk in chunks:
                odds = top_odds(chunk)
                if odds is not None:
                    return odds
        return {}

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    def _run(self, body: dict[str, Any], cancel: threading.Event | None) -> Generator[dict[str, Any], None, None]:
        deadline = time.monotonic() + self._timeout_s
        try:
            with self._client.stream("POST", self.url, json=body) as response:
                if response.status_code >= 400:
                    excerpt = response.read().decode("utf-8", "replace")[:_BODY_EXCERPT]
                    raise GenerationError(f"{self.name}: HTTP {response.status_code} from {self.url}: {excerpt}")
                for line in response.iter_lines():
                    if cancel is not None and cancel.is_set():
                        return
                    if time.monotonic() > deadline:
                        raise GenerationError(f"{self.name} took longer than {self._timeout_s:g}s")
                    if not line.startswith("data:"):
                        continue  # blank separators, comments (": ping"), event names
                    data = line[len("data:") :].strip()
                    if data == "[DONE]":
                        return
                    yield self._chunk(data)
        except httpx.TimeoutException as exc:
            raise GenerationError(f"{self.name} timed out after {self._timeout_s:g}s ({self.url})") from exc
        except httpx.HTTPError as exc:
            raise GenerationError(f"{self.name}: cannot reach {self.url}: {exc}") from exc

    def _chunk(self, data: str) -> dict[str, Any]:
        try:
            chunk = json.loads(data)
        except ValueError as exc:
            raise GenerationError(f"{self.name} sent invalid JSON: {data[:_BODY_EXCERPT]}") from exc
        if not isinstance(chunk, dict):
            raise GenerationError(f"{self.name} sent an unexpected chunk: {data[:_BODY_EXCERPT]}")
        if "error" in chunk:
            raise GenerationError(f"{self.name} reported an error: {json.dumps(chunk['error'])[:_BODY_EXCERPT]}")
        return chunk


def _piece(chunk: dict[str, Any]) -> str:
    """The text a streamed chunk adds ("" for role-only or usage-only chunks)."""
    choices = chunk.get("choices") or []
    if not choices:
        return ""
    content = (choices[0].get("delta") or {}).get("content")
    return content if isinstance(content, str) else ""
