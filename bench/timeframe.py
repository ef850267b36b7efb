"""Questions that name a time, measured: the date weights on dated news, and no loss on the gold set.

Run: .venv/bin/python bench/timeframe.py
Two corpora: tests/fixtures (the seeds as dated pages and feeds, Atom briefs and a JSON Lines export:
12 articles, two or three per subject at different dates) with the date questions of
eval/gold_dates.jsonl (a period or the latest news, each with the articles published then); and
seeds/ with the 75 answerable gold questions (one seed is dated). Per pair of weights (period,
recency): the share of date questions whose first passage is from one of their articles, and gold
hit@1, hit@5 and evidence recall@5.
"""

from __future__ import annotations

import os
import sys
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rag import retrieval  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.documents import read_documents  # noqa: E402
from rag.embedding import Embedder  # noqa: E402
from rag.evaluation.gold import load_gold  # noqa: E402
from rag.evaluation.metrics import ANSWER_TOP_K, evidence_recall, first_relevant_rank, hit_at  # noqa: E402
from rag.indexing import Indexer  # noqa: E402
from rag.store import CorpusIndex  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
WEIGHTS = ((0.0, 0.0), (0.05, 0.05), (0.1, 0.1), (0.15, 0.15), (0.2, 0.2))


def main() -> None:
    embedder = Embedder.from_settings(Settings())
    indexer = Indexer(embedder)
    folders = [FIXTURES / "news", FIXTURES / "feeds", FIXTURES / "exports"]
    news, _ = indexer.sync(indexer.empty(), read_documents(folders).documents, "file")
    seeds, _ = indexer.sync(news, read_documents([ROOT / "seeds"]).documents, "file")
    gold = [item for item in load_gold(ROOT / "eval" / "gold.jsonl") if item.answerable]
    dates = load_gold(ROOT / "eval" / "gold_dates.jsonl")
    date_vectors = embedder.embed_queries([item.question for item in dates])
    gold_vectors = embedder.embed_queries([item.question for item in gold])
    print(f"{len(news.documents)} dated-news articles, {len(dates)} date questions; "
          f"{len(seeds.documents)} seeds, {len(gold)} gold questions")
    print(f"{'period':>6} {'recency':>7} {'date hit@1':>10} {'gold hit@1':>10} {'gold hit@5':>10} {'gold evid@5':>11}"
          "  date questions missed")
    for period, recency in WEIGHTS:
        retrieval.PERIOD_WEIGHT, retrieval.RECENCY_WEIGHT = period, recency
        firsts = [_first_is(news, item.question, vector, item.doc_ids) for item, vector in zip(dates, date_vectors)]
        missed = [item.id for item, first in zip(dates, firsts) if not first]
        hits = [retrieval.retrieve(seeds, item.question, partial(_given, vector), ANSWER_TOP_K)
                for item, vector in zip(gold, gold_vectors)]
        ranks = [first_relevant_rank([h.doc_id for h in found], set(item.doc_ids)) for item, found in zip(gold, hits)]
        hit1 = np.mean([hit_at(rank, 1) for rank in ranks])
        hit5 = np.mean([hit_at(rank, ANSWER_TOP_K) for rank in ranks])
        recall = np.mean([evidence_recall(found, item.evidence) for item, found in zip(gold, hits)])
        print(f"{period:>6.2f} {recency:>7.2f} {np.mean(firsts):>10.3f} {hit1:>10.3f} {hit5:>10.3f} {recall:>11.3f}"
              f"  {missed}")


def _first_is(index: CorpusIndex, question: str, vector: np.ndarray, expected: tuple[str, ...]) -> bool:
    hit = retrieval.retrieve(index, question, partial(_given, vector), 1)[0]
    return hit.doc_id in expected


def _given(vector: np.ndarray, _query: str) -> np.ndarray:
    return vector


if __name__ == "__main__":
    main()
