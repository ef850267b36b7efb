"""How the index holds as the corpus grows: write cost per article, bulk throughput, search latency, memory.

Run: .venv/bin/python bench/scale.py [--sizes 1000 10000] [--writes 20] [--queries 50] [--store local|milvus]

Corpora are perturbed copies of the PIAF paragraphs (shuffled sentences, a numbered suffix), chunked
with the real e5 tokenizer and analysed for BM25 as in production. The dense side uses deterministic
random unit vectors instead of e5 (embedding costs the same per article at any corpus size: see the
chunks/s of `bench/retrieval.py`), so the figures are the index's own work. For each size it prints:
the bulk load (one `upsert` of every article: articles/s), then one-article writes on the loaded corpus
(add, replace, delete: p50/p95 seconds, each a real commit to disk), `rag index --optimize`, hybrid
search p50/p95 (ms, query embedding excluded) before and after optimizing, segment counts and the
process's peak resident memory. `--store milvus` runs the candidate searches in Milvus (RAG_MILVUS_URI;
default a Milvus Lite file in the scratch index, whose server's memory is its own process's), and
every write then also syncs the collection.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import get_args

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rag.config import Settings, StoreName  # noqa: E402
from rag.corpus import Corpus  # noqa: E402
from rag.documents import Document  # noqa: E402
from rag.embedding import Embedder  # noqa: E402
from rag.evaluation.piaf import DEFAULT_DATASET, load_piaf  # noqa: E402
from rag.sentences import split_sentences  # noqa: E402
from rag.service import open_search_backend  # noqa: E402


class HashedVectors:
    """The real tokenizer for chunking, deterministic random unit vectors for embeddings."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder
        self.model_id = embedder.model_id
        self.dimension = embedder.dimension

    def count_tokens(self, text: str) -> int:
        return self._embedder.count_tokens(text)

    def embed_passages(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        return self._vectors(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._vectors(texts)

    def _vectors(self, texts: Sequence[str]) -> np.ndarray:
        rows = np.empty((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
            rows[row] = np.random.default_rng(seed).standard_normal(self.dimension)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def perturbed(documents: Sequence[Document], count: int) -> list[Document]:
    """`count` distinct articles made from the paragraphs: sentences shuffled, a numbered last line."""
    chooser = random.Random(0)
    made = []
    for number in range(count):
        source = documents[number % len(documents)]
        sentences = [source.text[start:end] for start, end in split_sentences(source.text)]
        chooser.shuffle(sentences)
        text = " ".join(sentences) + f"\nDépêche numéro {number}."
        made.append(Document(f"a{number:07d}", f"{source.title} ({number})", text))
    return made


def timed(action: Callable[..., object], *args: object) -> float:
    started = time.perf_counter()
    action(*args)
    return time.perf_counter() - started


def percentiles(values: Sequence[float], scale: float = 1.0) -> str:
    return f"{np.percentile(values, 50) * scale:8.3f} {np.percentile(values, 95) * scale:8.3f}"


def search_times(corpus: Corpus, queries: Sequence[str]) -> list[float]:
    return [timed(corpus.search, query, 5) for query in queries]


def measure(
    size: int, paragraphs: Sequence[Document], vectors: HashedVectors, writes: int, queries: int, settings: Settings
) -> None:
    articles = perturbed(paragraphs, size + writes)
    base, extra = articles[:size], articles[size:]
    questions = [article.title for article in random.Random(1).sample(base, queries)]
    with tempfile.TemporaryDirectory() as folder:
        index_dir = Path(folder) / "index"
        backend = open_search_backend(settings, index_dir)
        corpus = Corpus.open(index_dir, vectors, missing_ok=True, backend=backend)  # type: ignore[arg-type]
        bulk = timed(corpus.upsert, base)
        searched = search_times(corpus, questions)
        added = [timed(corpus.upsert, [article]) for article in extra]
        edits = [replace(article, text=article.text + " Mise à jour.") for article in base[:writes]]
        replaced = [timed(corpus.upsert, [edit]) for edit in edits]
        doomed = base[writes : 2 * writes]
        deleted = [timed(corpus.delete, article.doc_id) for article in doomed]
        segments = len(corpus.snapshot.segments)
        fragmented = search_times(corpus, questions)
        optimize = timed(corpus.optimize)
        optimized = search_times(corpus, questions)
        corpus.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n{size:,} articles ({corpus.snapshot.chunk_count:,} chunks), store {settings.store}")
    print(f"  bulk load            {size / bulk:10.1f} articles/s ({bulk:.1f} s)")
    print(f"  {'':20} {'p50':>8} {'p95':>8}")
    print(f"  add one (s)          {percentiles(added)}")
    print(f"  replace one (s)      {percentiles(replaced)}")
    print(f"  delete one (s)       {percentiles(deleted)}")
    print(f"  search, 1 segment (ms)   {percentiles(searched, 1000)}")
    print(f"  search, {segments} segments (ms) {percentiles(fragmented, 1000)}")
    print(f"  search, optimized (ms)   {percentiles(optimized, 1000)}")
    print(f"  optimize             {optimize:8.2f} s; peak resident memory {peak_mb:,.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--writes", type=int, default=20, help="one-article writes of each kind")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--dataset", type=Path, default=ROOT / DEFAULT_DATASET)
    parser.add_argument("--store", choices=get_args(StoreName), help="candidate search (default: RAG_STORE)")
    args = parser.parse_args()
    settings = Settings()
    settings = settings.model_copy(update={"store": args.store or settings.store})
    paragraphs = load_piaf(args.dataset).documents
    vectors = HashedVectors(Embedder.from_settings(settings))
    for size in args.sizes:
        measure(size, paragraphs, vectors, args.writes, args.queries, settings)


if __name__ == "__main__":
    main()
