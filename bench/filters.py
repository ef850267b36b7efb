"""Filters, measured: masking the refused rows before ranking against keeping the allowed hits of a pool.

Run: .venv/bin/python bench/filters.py [--copies 40]
The seeds, syndicated: each article published by `--copies` outlets on different days (the same
text, as wire copy is), so one outlet holds 1/copies of the corpus. For the 75 answerable gold
questions and a one-outlet filter (and a one-month one), prints how often each way returns the k=5
passages asked for, how often its passages are the exact best allowed ones, and query latency.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from datetime import date, timedelta
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rag.config import Settings  # noqa: E402
from rag.documents import load_documents  # noqa: E402
from rag.embedding import Embedder  # noqa: E402
from rag.evaluation.gold import GoldItem, load_gold  # noqa: E402
from rag.filters import DocumentFilter  # noqa: E402
from rag.indexing import Indexer  # noqa: E402
from rag.retrieval import Hit, retrieve  # noqa: E402
from rag.store import CorpusIndex  # noqa: E402

K = 5
POOLS = (20, 100, 500)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=40)
    args = parser.parse_args()
    seeds = load_documents([ROOT / "seeds"])
    documents = [
        replace(seed, doc_id=f"{seed.doc_id}-{n:02d}", source=f"Outlet {n:02d}",
                date=(date(2025, 1, 1) + timedelta(days=9 * n + row)).isoformat())
        for n in range(args.copies)
        for row, seed in enumerate(seeds)
    ]
    embedder = Embedder.from_settings(Settings())
    indexer = Indexer(embedder)
    index, _ = indexer.sync(indexer.empty(), documents, "file")  # one embedding per distinct text
    items = [item for item in load_gold(ROOT / "eval" / "gold.jsonl") if item.answerable]
    vectors = embedder.embed_queries([item.question for item in items])
    sentences = sum(len(view.segment.sentences) for view in index.segments)
    print(f"{len(documents)} documents, {index.chunk_count} chunks, {sentences} sentences; "
          f"{len(items)} questions, k={K}")
    filters = {
        "one outlet": DocumentFilter.of(sources=["Outlet 07"]),
        "one month": DocumentFilter.of("2025-04", "2025-04"),
    }
    print(f"{'filter':<11} {'way':<22} {'k hits':>7} {'exact':>6} {'p50 ms':>7}")
    for label, where in filters.items():
        exact, exact_ms = _run(index, items, vectors, where, None)
        print(f"{label:<11} {'mask (shipped)':<22} {_share(exact):>7.3f} {1.0:>6.3f} {exact_ms:>7.1f}")
        for pool in POOLS:
            found, ms = _run(index, items, vectors, where, pool)
            same = np.mean([[h.chunk_id for h in a] == [h.chunk_id for h in b] for a, b in zip(found, exact)])
            print(f"{label:<11} {f'pool of {pool}, then keep':<22} {_share(found):>7.3f} {same:>6.3f} {ms:>7.1f}")


def _run(
    index: CorpusIndex, items: list[GoldItem], vectors: np.ndarray, where: DocumentFilter, pool: int | None
) -> tuple[list[list[Hit]], float]:
    """Hits per question with the mask (`pool` None) or from an unfiltered pool, and the p50 in ms."""
    results, times = [], []
    for item, vector in zip(items, vectors):
        started = time.perf_counter()
        embed = partial(_given, vector)
        if pool is None:
            hits = retrieve(index, item.question, embed, K, where=where)
        else:
            ranked = retrieve(index, item.question, embed, pool)
            hits = [hit for hit in ranked if where.allows(index.documents[hit.doc_id].document)][:K]
        times.append((time.perf_counter() - started) * 1000)
        results.append(hits)
    return results, float(np.percentile(times, 50))


def _given(vector: np.ndarray, _query: str) -> np.ndarray:
    """The query vector embedded beforehand, in one batch."""
    return vector


def _share(results: list[list[Hit]]) -> float:
    return float(np.mean([len(hits) == K for hits in results]))


if __name__ == "__main__":
    main()
