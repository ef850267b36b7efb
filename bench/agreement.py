"""Conflict detection and corroboration between outlets, without a model: what `rag/agreement.py` says
when an answer states its best evidence sentence.

    .venv/bin/python bench/agreement.py

For every gold question, the answer is simulated as the evidence sentence stating its first fact (the
top one when none does), cited: what a right answer restates. The cross-check then runs as in
`Answerer.stream` over the sentences of the 10 best passages. Over the stories corpus (built into a
temporary index from tests/fixtures/stories) the conflict questions are the positives; over the main
gold set (the seeds, `index/`) every conflict said is a false alarm. Prints one table: questions,
conflicts expected and said, precision, recall, and the share of claims cited from 2+ outlets.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rag.agreement import annotate, cross_check  # noqa: E402
from rag.answerer import CROSS_CHECK_PASSAGES, EVIDENCE_SENTENCES  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.corpus import Corpus  # noqa: E402
from rag.embedding import Embedder  # noqa: E402
from rag.evaluation.gold import GoldItem, load_gold  # noqa: E402
from rag.evaluation.normalize import fact_present  # noqa: E402
from rag.evidence import select_evidence  # noqa: E402
from rag.language import detect_language  # noqa: E402
from rag.verification import recheck  # noqa: E402

STORIES = ROOT / "tests" / "fixtures" / "stories"


def said(corpus: Corpus, item: GoldItem) -> tuple[bool, int]:
    """(a conflict is said, the most outlets a claim is cited from) for the simulated answer."""
    retrieved = corpus.search(item.question, CROSS_CHECK_PASSAGES)
    evidence = select_evidence(retrieved[:5], EVIDENCE_SENTENCES, question=item.question)
    if not evidence:
        return False, 0
    pool = [sentence for hit in retrieved for sentence in hit.sentences]
    stating = next((n for n, e in enumerate(evidence, 1) if fact_present(item.facts[0], e.text)), 1)
    claim = f"{evidence[stating - 1].text.rstrip('.!?… ')} [{stating}]."
    checked = cross_check(claim, evidence, pool, detect_language(item.question))
    claims = annotate(recheck(checked.text, checked.evidence, item.question).claims, checked.evidence,
                      checked.conflicts)
    return bool(checked.conflicts), max((claim.sources for claim in claims), default=0)


def row(name: str, corpus: Corpus, items: list[GoldItem]) -> str:
    items = [item for item in items if item.answerable and not item.history]
    results = [(item, *said(corpus, item)) for item in items]
    expected = sum(item.conflict for item, _, _ in results)
    flagged = sum(conflict for _, conflict, _ in results)
    right = sum(conflict and item.conflict for item, conflict, _ in results)
    precision = f"{right / flagged:.2f}" if flagged else "–"
    recall = f"{right / expected:.2f}" if expected else "–"
    corroborated = sum(sources >= 2 for _, _, sources in results) / len(results)
    wrong = [item.id for item, conflict, _ in results if conflict and not item.conflict]
    return (f"{name:<14}{len(results):>5}{expected:>10}{flagged:>7}{precision:>11}{recall:>8}{corroborated:>14.2f}"
            f"   {', '.join(wrong) or '-'}")


def main() -> int:
    settings = Settings()
    embedder = Embedder.from_settings(settings)
    print(f"{'corpus':<14}{'items':>5}{'expected':>10}{'said':>7}{'precision':>11}{'recall':>8}"
          f"{'2+ outlets':>14}   false alarms")
    with tempfile.TemporaryDirectory() as folder:
        stories = Corpus.open(Path(folder), embedder, missing_ok=True)
        stories.sync_paths([STORIES])
        print(row("stories", stories, load_gold(ROOT / "eval" / "gold_stories.jsonl")))
    seeds = Corpus.open(settings.index_dir, embedder)
    print(row("gold (seeds)", seeds, load_gold(ROOT / "eval" / "gold.jsonl")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
