"""Calibrating "nothing relevant retrieved": best evidence-sentence cosine, answerable vs not.

Run: .venv/bin/python bench/refusal.py   (needs the seeds index: `rag index`)
e5 cosines are compressed (roughly 0.7-0.9), so the threshold in rag/answering.py is read off this
table, not guessed: it prints both distributions and, per threshold, how many answerable questions
would be wrongly refused and how many unanswerable ones would be caught before generation.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rag.answerer import EVIDENCE_SENTENCES, RELEVANCE_THRESHOLD, STRONG_EVIDENCE_THRESHOLD  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.evaluation.gold import load_gold  # noqa: E402
from rag.evidence import select_evidence  # noqa: E402
from rag.service import open_corpus  # noqa: E402


def main() -> None:
    corpus = open_corpus(Settings())
    items = load_gold(ROOT / "eval" / "gold.jsonl")
    scores: dict[bool, list[float]] = {True: [], False: []}
    for item in items:
        evidence = select_evidence(corpus.search(item.question, 5), EVIDENCE_SENTENCES, question=item.question)
        best = evidence[0].score if evidence else 0.0
        scores[item.answerable].append(best)
        print(f"{item.id:>8} {'ans' if item.answerable else 'NOT':>3} {best:.3f} {item.question[:70]}")
    for answerable, values in scores.items():
        array = np.array(values)
        label = "answerable" if answerable else "unanswerable"
        print(f"{label:>12}: n={len(array)} min={array.min():.3f} p10={np.percentile(array, 10):.3f} "
              f"median={np.median(array):.3f} max={array.max():.3f}")
    print(f"\n{'threshold':>9} {'answerable refused':>19} {'unanswerable caught':>20}")
    for threshold in np.arange(0.76, 0.90, 0.01):
        refused = sum(value < threshold for value in scores[True])
        caught = sum(value < threshold for value in scores[False])
        print(f"{threshold:>9.2f} {refused:>12}/{len(scores[True]):<6} {caught:>13}/{len(scores[False]):<6}")
    print(f"\nin use: RELEVANCE_THRESHOLD={RELEVANCE_THRESHOLD}, STRONG_EVIDENCE_THRESHOLD={STRONG_EVIDENCE_THRESHOLD}")


if __name__ == "__main__":
    main()
