"""The offline generator: llama.cpp (through xllamacpp) running the provisioned GGUF in this process."""

from __future__ import annotations

import queue
import secrets
import threading
import time
from collections.abc import Generator, Iterator, Mapping, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

from rag.config import Settings
from rag.errors import GenerationError, ModelUnavailableError
from rag.generation.base import TOP_ODDS, top_odds, validate_request

DEFAULT_CONTEXT = 2048
MAX_TOKENS_LIMIT = 1024
_POLL_S = 0.05  # how often the consumer looks at cancel and the deadline while waiting for a piece
_DONE = object()


class LocalGenerator:
    """One llama.cpp model per process; calls are serialized because a single slot serves them.

    Generation runs on a worker thread that feeds a queue, so the caller's iterator can give up
    (cancel, timeout, or simply stop iterating) and the model stops at its next token. The prompt
    itself is evaluated in one piece and cannot be interrupted, so a call that times out during
    a long prompt still holds the model until that prompt is done.
    """

    def __init__(
        self,
        model_path: Path,
        *,
        threads: int = 2,
        decode_threads: int = 1,
        n_ctx: int = DEFAULT_CONTEXT,
        timeout_s: float = 60.0,
        max_tokens_limit: int = MAX_TOKENS_LIMIT,
        cache_prompt: bool = True,
    ) -> None:
        if threads < 1 or decode_threads < 1:
            raise ValueError(f"threads and decode_threads must be at least 1, got {threads} and {decode_threads}")
        if n_ctx < 256:
            raise ValueError(f"n_ctx must be at least 256, got {n_ctx}")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        if not 1 <= max_tokens_limit < n_ctx:
            raise ValueError(f"max_tokens_limit must be between 1 and n_ctx - 1, got {max_tokens_limit}")
        model_path = Path(model_path)
        if not model_path.is_file():
            raise ModelUnavailableError(f"generator model not found at {model_path}")
        self.name = f"local:{model_path.stem}"
        self.model_path = model_path
        self._timeout_s = timeout_s
        self._max_tokens_limit = max_tokens_limit
        self._cache_prompt = cache_prompt
        self._lock = threading.Lock()
        # llama.cpp's own figures for the last call (prompt_n, cache_n, prompt_ms, predicted_n, ...),
        # read by the latency benchmark; calls are serialised, so it is never torn.
        self.last_timings: dict[str, float] = {}
        self._server: Any = _load_server(
            model_path, threads=threads, decode_threads=decode_threads, n_ctx=n_ctx, n_predict=max_tokens_limit
        )

    @classmethod
    def from_settings(cls, settings: Settings, model_path: Path) -> LocalGenerator:
        """Load `model_path` with the thread count and time budget from `settings`."""
        return cls(
            model_path,
            threads=settings.threads,
            decode_threads=settings.decode_threads,
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
        """Yield the answer piece by piece (greedy decoding); see `Generator.stream`."""
        plain = validate_request(messages, max_tokens, self._max_tokens_limit)
        request = {
            "messages": plain,
            "max_tokens": max_tokens,
            "stop": list(stop),
            "temperature": 0.0,
            "seed": 0,
            "stream": True,
            "cache_prompt": self._cache_prompt,
        }
        return (text for chunk in self._run(request, cancel) if (text := _piece(chunk, self.name)))

    def next_token_odds(
        self, messages: Sequence[Mapping[str, str]], *, cancel: threading.Event | None = None
    ) -> dict[str, float]:
        """The likeliest next tokens and their probabilities; see `Generator.next_token_odds`.

        With the prompt cache, asking this after (or before) a `stream` over the same messages costs
        only the tokens that differ: choosing an excerpt after "[" is one token of work.
        """
        request = {
            "messages": validate_request(messages, 1, self._max_tokens_limit),
            "max_tokens": 1,
            "temperature": 0.0,
            "seed": 0,
            "stream": True,
            "cache_prompt": self._cache_prompt,
            "logprobs": True,
            "top_logprobs": TOP_ODDS,
        }
        with closing(self._run(request, cancel)) as chunks:
            for chunk in chunks:
                _piece(chunk, self.name)  # raises on an error chunk
                odds = top_odds(chunk)
                if odds is not None:
                    return odds
        return {}

    @property
    def busy(self) -> bool:
        """True while a generation holds the model (including one still winding down after a cancel)."""
        return self._lock.locked()

    def close(self) -> None:
        """Free the model (waits for a running call); the generator is unusable afterwards."""
        with self._lock:
            self._server = None

    def _run(self, request: dict[str, Any], cancel: threading.Event | None) -> Generator[dict[str, Any], None, None]:
        deadline = time.monotonic() + self._timeout_s
        if not self._lock.acquire(timeout=self._timeout_s):
            raise GenerationError(f"{self.name} stayed busy for {self._timeout_s:g}s; try again later")
        server = self._server
        if server is None:
            self._lock.release()
            raise GenerationError(f"{self.name} was closed")
        pieces: queue.Queue[object] = queue.Queue()
        stop = threading.Event()

        def on_chunk(chunk: dict[str, Any]) -> bool:
            if stop.is_set() or (cancel is not None and cancel.is_set()):
                return True  # tells llama.cpp to stop generating
            pieces.put(chunk)
            return False

        def work() -> None:
            try:
                server.handle_chat_completions(request, on_chunk)
            except Exception as exc:  # noqa: BLE001 - handed over to the consuming thread
                pieces.put(exc)
            finally:
                self._lock.release()
                pieces.put(_DONE)

        threading.Thread(target=work, name="local-generator", daemon=True).start()
        try:
            while True:
                if cancel is not None and cancel.is_set():
                    return
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise GenerationError(f"{self.name} took longer than {self._timeout_s:g}s; generation stopped")
                try:
                    item = pieces.get(timeout=min(remaining, _POLL_S))
                except queue.Empty:
                    continue
                if item is _DONE:
                    return
                if isinstance(item, Exception):
                    raise GenerationError(f"{self.name} failed: {item}") from item
                if not isinstance(item, dict):
                    raise GenerationError(f"{self.name} sent an unexpected chunk: {item!r:.200}")
                if isinstance(item.get("timings"), dict):
                    self.last_timings = dict(item["timings"])
                yield item
        finally:
            stop.set()


def _piece(chunk: dict[str, Any], name: str) -> str:
    """The text of one streamed chunk; an error chunk becomes a `GenerationError`."""
    if "error" in chunk:
        error = chunk["error"]
        message = error.get("message", error) if isinstance(error, dict) else error
        raise GenerationError(f"{name} failed: {message}")
    choices = chunk.get("choices") or []
    if not choices:
        return ""
    content = (choices[0].get("delta") or {}).get("content")
    return content if isinstance(content, str) else ""


def _load_server(model_path: Path, *, threads: int, decode_threads: int, n_ctx: int, n_predict: int) -> Any:
    """Start llama.cpp's server engine over the GGUF; errors become `ModelUnavailableError`.

    Prompt evaluation (batches) uses `threads`; writing token by token uses `decode_threads`: on two
    cores, one decode thread was faster (19.2 against 17.7 tokens/s) and never collapsed when the
    other core was busy, where two decode threads fell to 0.2-1.2 tokens/s.

    xllamacpp always opens an HTTP listener too; it is bound to loopback on a free port and
    locked with a random key nobody knows, since this process calls the engine directly.
    """
    try:
        import xllamacpp
    except ImportError as exc:
        raise ModelUnavailableError(
            "xllamacpp is not installed; run `pip install xllamacpp` (see pyproject.toml for the pin)"
        ) from exc
    params = xllamacpp.CommonParams()
    params.model.path = str(model_path)
    params.n_ctx = n_ctx
    params.n_predict = n_predict
    params.n_parallel = 1
    params.cpuparams.n_threads = decode_threads
    params.cpuparams_batch.n_threads = threads
    params.verbosity = 1  # errors only: llama.cpp's info lines would flood the service log
    params.hostnames = ["127.0.0.1"]
    params.port = 0
    params.api_keys = [secrets.token_urlsafe(24)]
    try:
        return xllamacpp.Server(params)
    except (RuntimeError, ValueError) as exc:
        raise ModelUnavailableError(f"llama.cpp could not load {model_path}: {exc}") from exc
