"""Where an answer's time goes, over the gold questions with the local model: one table per run.

    .venv/bin/python bench/latency.py [--limit N] [--json FILE]

For each question it times the stream as a client sees it (the sources event, the first token, the
verified answer) and reads llama.cpp's own figures for each generation call (prompt tokens evaluated
and reused from the cache, prompt seconds, tokens written, writing seconds). Settings come from RAG_*
variables, so a lever is measured by running it twice, e.g. `RAG_DECODE_THREADS=2` against the default.
Run it on an idle machine: timings are the point, so nothing else should compete for the two cores.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rag.answer_types import Final, Sources, Token  # noqa: E402
from rag.answerer import Answerer  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.evaluation.gold import load_gold  # noqa: E402
from rag.generation.local import LocalGenerator  # noqa: E402
from rag.service import open_answerer, open_corpus  # noqa: E402


class MeteredGenerator:
    """The local generator, recording llama.cpp's timings of every call of one question."""

    def __init__(self, inner: LocalGenerator) -> None:
        self.inner = inner
        self.name = inner.name
        self.calls: list[dict[str, float]] = []

    def stream(self, messages: Sequence[Mapping[str, str]], **kwargs: Any) -> Iterator[str]:
        yield from self.inner.stream(messages, **kwargs)
        self.calls.append(dict(self.inner.last_timings))

    def next_token_odds(self, messages: Sequence[Mapping[str, str]], **kwargs: Any) -> dict[str, float]:
        odds = self.inner.next_token_odds(messages, **kwargs)
        self.calls.append(dict(self.inner.last_timings))
        return odds


def measure(answerer: Answerer, metered: MeteredGenerator, question: str) -> dict[str, float]:
    """One question's figures in milliseconds and tokens."""
    metered.calls = []
    started = time.perf_counter()
    figures: dict[str, float] = {}
    for event in answerer.stream(question):
        elapsed = (time.perf_counter() - started) * 1000
        if isinstance(event, Sources):
            figures["sources_ms"] = elapsed
            figures["retrieve_ms"] = event.retrieve_ms
        elif isinstance(event, Token):
            figures.setdefault("first_token_ms", elapsed)
        elif isinstance(event, Final):
            figures["total_ms"] = elapsed
            figures["abstained"] = float(event.answer.abstained)
    calls = metered.calls
    figures["attempts"] = float(len(calls))
    for name in ("prompt_n", "cache_n", "prompt_ms", "predicted_n", "predicted_ms"):
        figures[name] = float(sum(call.get(name, 0.0) for call in calls))
    if figures["predicted_ms"]:
        figures["tokens_per_s"] = figures["predicted_n"] / figures["predicted_ms"] * 1000
    if figures["prompt_ms"]:
        figures["prompt_tokens_per_s"] = figures["prompt_n"] / figures["prompt_ms"] * 1000
    return figures


ROWS = [
    ("sources event (ms)", "sources_ms"),
    ("first token (ms)", "first_token_ms"),
    ("whole answer (ms)", "total_ms"),
    ("retrieve (ms)", "retrieve_ms"),
    ("prompt tokens evaluated", "prompt_n"),
    ("prompt tokens from cache", "cache_n"),
    ("prompt evaluation (ms)", "prompt_ms"),
    ("prompt tokens/s", "prompt_tokens_per_s"),
    ("tokens written", "predicted_n"),
    ("writing (ms)", "predicted_ms"),
    ("tokens/s written", "tokens_per_s"),
    ("generation calls", "attempts"),
]


def table(results: list[dict[str, float]]) -> str:
    lines = [f"{'':<26} {'p50':>9} {'p95':>9} {'mean':>9} {'n':>4}"]
    for label, key in ROWS:
        values = np.array([r[key] for r in results if key in r])
        if len(values):
            p50, p95 = np.percentile(values, 50), np.percentile(values, 95)
            lines.append(f"{label:<26} {p50:>9.1f} {p95:>9.1f} {values.mean():>9.1f} {len(values):>4}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", type=Path, default=ROOT / "eval" / "gold.jsonl")
    parser.add_argument("--limit", type=int, help="only the first N gold questions")
    parser.add_argument("--json", type=Path, help="also write every question's figures here")
    args = parser.parse_args()
    settings = Settings(generator="local")
    answerer = open_answerer(settings, open_corpus(settings))
    if not isinstance(answerer.generator, LocalGenerator):
        raise SystemExit("the local generator is not provisioned: run `rag models prepare`")
    metered = MeteredGenerator(answerer.generator)
    answerer.generator = metered
    items = load_gold(args.gold)[: args.limit]
    answerer.ask("Combien d'emplois Amazon supprime-t-il ?")  # warm-up: caches the system prompts
    answerer.ask("How many jobs is Amazon cutting?")
    results: list[dict[str, float]] = []
    for number, item in enumerate(items, 1):
        results.append(measure(answerer, metered, item.question))
        print(f"[{number}/{len(items)}] {item.id} {results[-1]['total_ms'] / 1000:.1f} s", file=sys.stderr)
    print(f"{len(results)} gold questions, local model, threads={settings.threads} "
          f"decode_threads={settings.decode_threads}")
    print(table(results))
    if args.json:
        rows = [{"id": item.id, **figures} for item, figures in zip(items, results)]
        args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
