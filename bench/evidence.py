"""What the answer prompt holds: prompt recall against prompt size, for evidence counts and rankings.

    .venv/bin/python bench/evidence.py [--counts 2,3,4,5,6] [--weights 0,0.1,0.2,0.3] [--piaf 300]

Prompt recall is the share of answerable questions whose every fact (gold set) or whose answer span
(PIAF) is written in the evidence sentences the model would read: no reader, however good, answers
beyond it. Characters are the evidence block's mean length, what the model pays for in prompt time.
A weight is `CHUNK_SCORE_WEIGHT` (rag/evidence.py): the share of its chunk's hybrid score a sentence
adds to its own cosine (answers use 0.2); 0 ranks sentences by cosine alone. Follow-ups are left out (they need their
rewrite first). PIAF runs over the index `rag eval --dataset piaf` builds, when it exists.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rag.config import Settings  # noqa: E402
from rag.corpus import Corpus  # noqa: E402
from rag.evaluation.gold import load_gold  # noqa: E402
from rag.evaluation.normalize import fact_present  # noqa: E402
from rag.evaluation.piaf import DEFAULT_DATASET, default_index_dir, load_piaf, sample  # noqa: E402
from rag.evidence import select_evidence  # noqa: E402
from rag.retrieval import Hit  # noqa: E402
from rag.service import open_corpus  # noqa: E402

Facts = Sequence[Sequence[str]]


Case = tuple[list[Hit], Facts]


def retrieved(corpus: Corpus, questions: Sequence[tuple[str, Facts]]) -> list[Case]:
    """Each question's hits as the answerer retrieves them (top 5), with the facts to find."""
    return [(corpus.search(question, 5), facts) for question, facts in questions]


def table(name: str, cases: list[Case], counts: list[int], weights: list[float]) -> None:
    """One row per weight: recall / mean characters for each evidence count."""
    print(f"\n{name}: {len(cases)} questions; prompt recall / mean evidence characters")
    print(f"{'weight':>6} " + " ".join(f"{f'{count} sentences':>15}" for count in counts))
    for weight in weights:
        cells = []
        for count in counts:
            found = chars = 0
            for hits, facts in cases:
                text = " ".join(item.text for item in select_evidence(hits, count, weight))
                chars += len(text)
                found += all(fact_present(forms, text) for forms in facts)
            cells.append(f"{found / len(cases):.3f} / {chars / len(cases):>5.0f}")
        print(f"{weight:>6g} " + " ".join(f"{cell:>15}" for cell in cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="2,3,4,5,6")
    parser.add_argument("--weights", default="0,0.1,0.2,0.3,0.5")
    parser.add_argument("--piaf", type=int, default=300, help="PIAF questions to sample (0: none)")
    args = parser.parse_args()
    counts = [int(value) for value in args.counts.split(",")]
    weights = [float(value) for value in args.weights.split(",")]
    settings = Settings()
    gold = [
        (item.question, item.facts)
        for item in load_gold(ROOT / "eval" / "gold.jsonl")
        if item.answerable and not item.history
    ]
    table("gold set (seeds)", retrieved(open_corpus(settings), gold), counts, weights)
    piaf_index = default_index_dir(settings)
    if args.piaf and piaf_index.exists():
        dataset = load_piaf(ROOT / DEFAULT_DATASET)
        questions = [(question.question, (question.answers,)) for question in sample(dataset.questions, args.piaf)]
        table("PIAF (fixed sample)", retrieved(open_corpus(settings, index_dir=piaf_index), questions), counts, weights)


if __name__ == "__main__":
    main()
