"""Calibrating when a NOT_FOUND is overruled: the model's odds for the excerpt it would cite.

Run: .venv/bin/python bench/choice.py   (needs the seeds index, `rag index`, and the local model)

For each single gold question, the answer prompt is built as `rag ask` builds it; the model is asked
for two next tokens over it (the prompt is evaluated once and cached): the first token of its answer
(NOT_FOUND or not) and, after "[", which excerpt it would cite first. The table says, per threshold on
that excerpt's probability, how many declined answers would be overruled, and of those how many are
answerable questions whose chosen excerpt states a gold fact, and how many are unanswerable: the
threshold in rag/answerer.py (`CHOICE_THRESHOLD`) is read off it. It also prints how often the chosen
excerpt states a fact, against the first-ranked one, over all answerable questions.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rag.answerer import CHOICE_THRESHOLD, CROSS_CHECK_PASSAGES, EVIDENCE_SENTENCES  # noqa: E402
from rag.choice import choose_excerpt  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.evaluation.gold import FOLLOW_UP, load_gold  # noqa: E402
from rag.evaluation.normalize import fact_present  # noqa: E402
from rag.evidence import distinct_hits, select_evidence  # noqa: E402
from rag.generation import load_generator  # noqa: E402
from rag.language import answer_language  # noqa: E402
from rag.prompting import NOT_FOUND, build_messages  # noqa: E402
from rag.service import open_corpus  # noqa: E402

THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


@dataclass(frozen=True)
class Row:
    """One question: did the model decline, which excerpt it would cite, and whether that one states a fact."""

    item_id: str
    answerable: bool
    declined: bool
    chosen: int
    probability: float
    chosen_states_fact: bool
    first_states_fact: bool


def main() -> None:
    settings = Settings()
    corpus = open_corpus(settings)
    generator = load_generator(settings)
    if generator is None:
        sys.exit("the local model is not available: run `rag models prepare`")
    rows: list[Row] = []
    for item in load_gold(ROOT / "eval" / "gold.jsonl"):
        if item.category == FOLLOW_UP:
            continue
        language = answer_language(item.question, "auto", None)
        retrieved = corpus.search(item.question, CROSS_CHECK_PASSAGES, language=language)
        evidence = select_evidence(distinct_hits(retrieved, 5), EVIDENCE_SENTENCES)
        if not evidence:
            continue
        messages = build_messages(item.question, evidence, language)
        first = max((odds := generator.next_token_odds(messages)), key=lambda token: odds[token], default="")
        choice = choose_excerpt(generator, messages, len(evidence))
        if choice is None:
            sys.exit("the generator gives no token probabilities")
        stating = [bool(item.facts) and any(fact_present(forms, e.text) for forms in item.facts) for e in evidence]
        row = Row(item.id, item.answerable, NOT_FOUND.startswith(first) and bool(first), choice.number,
                  choice.probability, stating[choice.number - 1], stating[0])
        rows.append(row)
        said = "declined" if row.declined else "answered"
        print(f"{row.item_id:>8} {'ans' if row.answerable else 'NOT':>3} {said:>8} [{row.chosen}] "
              f"p={row.probability:.2f} {'fact' if row.chosen_states_fact else '-':>4}", flush=True)
    answerable = [row for row in rows if row.answerable]
    print(f"\nchosen excerpt states a fact: {sum(r.chosen_states_fact for r in answerable)}/{len(answerable)}; "
          f"first-ranked excerpt: {sum(r.first_states_fact for r in answerable)}/{len(answerable)}")
    declined = [row for row in rows if row.declined]
    print(f"declined by the model: {len(declined)} "
          f"({sum(r.answerable for r in declined)} answerable, {sum(not r.answerable for r in declined)} unanswerable)")
    print(f"\n{'threshold':>9} {'overruled':>9} {'answerable, fact in excerpt':>28} {'answerable, no fact':>20} "
          f"{'unanswerable':>13}")
    for threshold in THRESHOLDS:
        over = [row for row in declined if row.probability >= threshold]
        good = sum(row.answerable and row.chosen_states_fact for row in over)
        empty = sum(row.answerable and not row.chosen_states_fact for row in over)
        wrong = sum(not row.answerable for row in over)
        print(f"{threshold:>9.2f} {len(over):>9} {good:>28} {empty:>20} {wrong:>13}")
    print(f"\nin use: CHOICE_THRESHOLD={CHOICE_THRESHOLD}")


if __name__ == "__main__":
    main()
