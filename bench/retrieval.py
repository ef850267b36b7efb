"""Retrieval on PIAF (761 French paragraphs, 3,835 questions): BM25 alone, dense alone, hybrid.

Run: .venv/bin/python bench/retrieval.py [--limit N] [--english N] [--dataset PATH]
     [--index-dir DIR] [--store local|milvus]

Prints document-level recall@1/5/10/20 and MRR@20 per mode next to the dataset README's plain-BM25
reference, the embedding throughput (chunks/s), and hybrid query latency (p50/p95 ms, query
embedding included). `--english N` also machine-translates N questions into English with the local
generator (cached beside the index) and scores English questions over the French paragraphs, with the
lexical side weighted as shipped and language-blind, which is what the language-aware fusion fixes.
`--store milvus` searches the candidates in Milvus (RAG_MILVUS_URI; default a Milvus Lite file in the index).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import get_args

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rag import retrieval  # noqa: E402
from rag.config import Settings, StoreName  # noqa: E402
from rag.corpus import Corpus  # noqa: E402
from rag.embedding import Embedder  # noqa: E402
from rag.evaluation.metrics import hit_at, reciprocal_rank  # noqa: E402
from rag.evaluation.piaf import (  # noqa: E402
    BM25_REFERENCE,
    DEFAULT_DATASET,
    MRR_CUTOFF,
    RECALL_KS,
    PiafQuestion,
    default_index_dir,
    english_cache,
    in_english,
    index_piaf,
    load_piaf,
    rank_documents,
    sample,
    translations,
)
from rag.generation import load_generator  # noqa: E402
from rag.generation.base import generate  # noqa: E402
from rag.retrieval import Mode  # noqa: E402
from rag.service import open_corpus  # noqa: E402

MODES: tuple[Mode, ...] = ("lexical", "dense", "hybrid")


def scores(questions: list[PiafQuestion], rankings: list[list[str]]) -> dict[str, float]:
    """Recall@k and MRR@20 at the document level."""
    ranks = [ranking.index(q.doc_id) + 1 if q.doc_id in ranking else None for q, ranking in zip(questions, rankings)]
    table = {f"recall_at_{k}": float(np.mean([hit_at(rank, k) for rank in ranks])) for k in RECALL_KS}
    table["mrr_at_20"] = float(np.mean([reciprocal_rank(rank, MRR_CUTOFF) for rank in ranks]))
    return table


def print_table(title: str, rows: dict[str, dict[str, float]]) -> None:
    columns = list(BM25_REFERENCE)
    print(f"\n{title}")
    print(f"{'':>22} " + " ".join(f"{name.replace('recall_at_', 'R@').replace('mrr_at_20', 'MRR@20'):>7}"
                                   for name in columns))
    for label, row in rows.items():
        print(f"{label:>22} " + " ".join(f"{row[name]:>7.3f}" for name in columns))


def throughput(embedder: Embedder, corpus: Corpus, count: int = 128) -> float:
    """Passage chunks embedded per second, on real PIAF chunks."""
    texts = [item.chunk.text for item, _ in zip(corpus.snapshot.live_chunks(), range(count))]
    started = time.perf_counter()
    embedder.embed_passages(texts)
    return len(texts) / (time.perf_counter() - started)


def latency_ms(corpus: Corpus, questions: list[PiafQuestion], count: int = 200) -> tuple[float, float]:
    """p50 and p95 of one hybrid search, query embedding included."""
    timings = []
    for question in questions[:count]:
        started = time.perf_counter()
        corpus.search(question.question, 20)
        timings.append((time.perf_counter() - started) * 1000)
    return float(np.percentile(timings, 50)), float(np.percentile(timings, 95))


def english_questions(questions: list[PiafQuestion], cache: Path, settings: Settings) -> list[PiafQuestion]:
    """The questions translated into English by the local generator, cached by question id (where
    `rag eval --dataset piaf --english` reads them)."""
    translated = translations(cache)
    missing = [q for q in questions if q.id not in translated]
    if missing:
        generator = load_generator(settings.model_copy(update={"generator": "local"}))
        if generator is None:
            raise SystemExit("the local generator is not provisioned: run `rag models prepare`")
        for number, question in enumerate(missing, 1):
            messages = [
                {"role": "system", "content": "Translate the user's French question into English. "
                                              "Reply with the English question only."},
                {"role": "user", "content": question.question},
            ]
            translated[question.id] = generate(generator, messages, max_tokens=80).strip().splitlines()[0]
            if number % 25 == 0:
                print(f"  translated {number}/{len(missing)}", file=sys.stderr)
                cache.write_text(json.dumps(translated, ensure_ascii=False), "utf-8")
        cache.write_text(json.dumps(translated, ensure_ascii=False), "utf-8")
    return in_english(questions, cache)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=ROOT / DEFAULT_DATASET)
    parser.add_argument("--index-dir", type=Path, help="PIAF index folder (default: under RAG_CACHE_DIR)")
    parser.add_argument("--limit", type=int, default=None, help="French questions to score (default: all)")
    parser.add_argument("--english", type=int, default=0, help="also score N questions translated into English")
    parser.add_argument("--store", choices=get_args(StoreName), help="candidate search (default: RAG_STORE)")
    args = parser.parse_args()

    settings = Settings()
    settings = settings.model_copy(update={"store": args.store or settings.store})
    index_dir = args.index_dir or default_index_dir(settings)
    embedder = Embedder.from_settings(settings)
    dataset = load_piaf(args.dataset)
    corpus = open_corpus(settings, embedder=embedder, index_dir=index_dir, missing_ok=True)
    report = index_piaf(corpus, dataset)
    print(f"PIAF index: {report.documents} paragraphs, {report.chunks} chunks "
          f"({report.embedded_texts} texts embedded in {report.seconds:.1f} s) in {index_dir}, store {settings.store}")
    print(f"embedding throughput: {throughput(embedder, corpus):.1f} chunks/s")

    questions = sample(dataset.questions, args.limit)
    rankings = rank_documents(corpus, questions, modes=MODES)
    rows = {"BM25 reference (README)": dict(BM25_REFERENCE)}
    rows.update({mode: scores(questions, rankings[mode]) for mode in MODES})
    print_table(f"French questions (n={len(questions)})", rows)
    p50, p95 = latency_ms(corpus, questions)
    print(f"\nhybrid query latency: p50 {p50:.1f} ms, p95 {p95:.1f} ms")

    if args.english:
        english = english_questions(sample(dataset.questions, args.english), english_cache(index_dir), settings)
        rows = {}
        shipped = retrieval.CROSS_LANGUAGE_LEXICAL_FACTOR
        for label, factor in (("hybrid (shipped)", shipped), ("hybrid, language-blind", 1.0)):
            retrieval.CROSS_LANGUAGE_LEXICAL_FACTOR = factor
            rankings = rank_documents(corpus, english, modes=("hybrid",))
            rows[label] = scores(english, rankings["hybrid"])
        for mode, ranking in rank_documents(corpus, english, modes=("lexical", "dense")).items():
            rows[mode] = scores(english, ranking)
        print_table(f"English questions over French paragraphs (n={len(english)})", rows)


if __name__ == "__main__":
    main()
