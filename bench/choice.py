"""Calibrating refusals on the model's odds for the excerpt it would cite.

Run: .venv/bin/python bench/choice.py [--piaf N]
(needs the seeds index, `rag index`, the local model, and for --piaf the index `rag eval --dataset piaf` builds)

For each question the answer prompt is built as `rag ask` builds it, and the model is asked for two next
tokens over it (the prompt is evaluated once, then cached): the first token of its answer (NOT_FOUND or
not) and, after "[", which excerpt it would cite first, with its probability. Questions the answerer
refuses before asking the model (nothing relevant retrieved) count as refused. Sets: the single gold
questions; with --piaf N, N PIAF questions asked twice, over the whole index (answerable) and with their
article hidden (unanswerable, as `rag eval --dataset piaf --unanswerable` asks them).

Two tables come out. Refusing when the model declines or its choice is below a floor: the share of each
set refused, per floor. Measured 2026-12-02 (gold, --piaf 60): a floor of 0.45 refused 0.38 of the
hidden-article questions instead of 0.17, but 0.15 of the answerable PIAF ones instead of 0.03 and 0.11
of the answerable gold ones instead of 0.03, so no floor ships. Overruling a NOT_FOUND when the choice is
at least a threshold: how many declined answers that overrules, and of which kind (`CHOICE_THRESHOLD`
in rag/answerer.py is read off it: at 0.8, 2 answerable questions whose chosen excerpt states the answer,
no unanswerable one; at 0.5, 2 unanswerable ones too).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rag.answerer import (  # noqa: E402
    CHOICE_THRESHOLD,
    CROSS_CHECK_PASSAGES,
    EVIDENCE_SENTENCES,
    RELEVANCE_THRESHOLD,
)
from rag.choice import choose_excerpt  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.corpus import Corpus  # noqa: E402
from rag.evaluation.gold import FOLLOW_UP, load_gold  # noqa: E402
from rag.evaluation.normalize import fact_present  # noqa: E402
from rag.evaluation.piaf import DEFAULT_DATASET, article_paragraphs, default_index_dir, load_piaf, sample  # noqa: E402
from rag.evidence import article_texts, distinct_hits, names_the_subject, select_evidence, shares_a_word  # noqa: E402
from rag.filters import DocumentFilter  # noqa: E402
from rag.generation import Generator, load_generator  # noqa: E402
from rag.language import answer_language  # noqa: E402
from rag.prompting import NOT_FOUND, build_messages  # noqa: E402
from rag.service import open_corpus  # noqa: E402
from rag.slots import entity_check, read_slots  # noqa: E402

FLOORS = (0.0, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6)
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)


@dataclass(frozen=True)
class Case:
    """One question to put to the model: where to search, and the forms a right answer holds (none: unanswerable)."""

    set_name: str
    item_id: str
    question: str
    answers: tuple[tuple[str, ...], ...]
    where: DocumentFilter | None = None


@dataclass(frozen=True)
class Row:
    """The model's reading of one question."""

    case: Case
    refused_early: bool  # nothing relevant retrieved: refused before the model
    declined: bool
    probability: float
    chosen_states_answer: bool
    entity_mismatch: bool  # the question names entities and the chosen excerpt (with its period context) none

    @property
    def answerable(self) -> bool:
        return bool(self.case.answers)


def read(case: Case, corpus: Corpus, generator: Generator) -> Row:
    """Retrieve and select evidence as the answerer does, then read the model's two next-token odds."""
    language = answer_language(case.question, "auto", None)
    retrieved = corpus.search(case.question, CROSS_CHECK_PASSAGES, language=language, where=case.where)
    hits = distinct_hits(retrieved, 5)
    evidence = select_evidence(hits, EVIDENCE_SENTENCES, question=case.question)
    if (
        not evidence
        or max(e.score for e in evidence) < RELEVANCE_THRESHOLD
        or not shares_a_word(case.question, hits)
        or not names_the_subject(case.question, article_texts(hits, corpus.snapshot.documents))
    ):
        return Row(case, True, True, 0.0, False, False)
    messages = build_messages(case.question, evidence, language)
    odds = generator.next_token_odds(messages)
    first = max(odds, key=lambda token: odds[token], default="")
    choice = choose_excerpt(generator, messages, len(evidence))
    if choice is None:
        sys.exit("the generator gives no token probabilities")
    chosen = evidence[choice.number - 1]
    states = bool(case.answers) and all(fact_present(forms, chosen.text) for forms in case.answers)
    mismatch = entity_check(read_slots(case.question), [chosen.dated_text, chosen.title]) == "mismatch"
    declined = first.startswith("NOT") or first == NOT_FOUND[:1]
    return Row(case, False, declined, choice.probability, states, mismatch)


def gold_cases() -> list[Case]:
    return [
        Case("gold", item.id, item.question, item.facts)
        for item in load_gold(ROOT / "eval" / "gold.jsonl")
        if item.category != FOLLOW_UP
    ]


def piaf_cases(limit: int) -> list[Case]:
    dataset = load_piaf(DEFAULT_DATASET)
    cases = []
    for question in sample(dataset.questions, limit):
        hidden = DocumentFilter(excluded=frozenset(article_paragraphs(dataset, question.doc_id)))
        cases.append(Case("piaf", question.id, question.question, (question.answers,)))
        cases.append(Case("piaf, article hidden", question.id, question.question, (), hidden))
    return cases


def tables(rows: Sequence[Row]) -> None:
    groups: dict[str, list[Row]] = {}
    for row in rows:
        kind = "answerable" if row.answerable else "unanswerable"
        groups.setdefault(f"{row.case.set_name} ({kind})", []).append(row)
    print("\nRefused when the model declines or its choice is below the floor (share of each set):")
    print(f"{'floor':>6} " + " ".join(f"{name:>32}" for name in groups))
    for floor in FLOORS:
        cells = [sum(r.declined or r.probability < floor for r in group) / len(group) for group in groups.values()]
        print(f"{floor:>6.2f} " + " ".join(f"{cell:>32.3f}" for cell in cells))
    print("\nRefused when the model declines or the chosen excerpt names none of the question's entities:")
    for name, group in groups.items():
        share = sum(r.declined or r.entity_mismatch for r in group) / len(group)
        both = sum(r.declined or r.entity_mismatch or r.probability < 0.4 for r in group) / len(group)
        print(f"{name:>40}: {share:.3f} (and with the floor at 0.4: {both:.3f})")
    for name, group in groups.items():
        answered = [r for r in group if r.answerable and not r.refused_early]
        if answered:
            chosen = sum(r.chosen_states_answer for r in answered)
            print(f"{name}: the chosen excerpt states the answer for {chosen}/{len(answered)}")
    declined = [row for row in rows if row.declined and not row.refused_early]
    print(f"\nOverruling a NOT_FOUND ({len(declined)} declined by the model):")
    print(f"{'threshold':>9} {'overruled':>9} {'answerable, answer in excerpt':>30} {'answerable, not':>16} "
          f"{'unanswerable':>13}")
    for threshold in THRESHOLDS:
        over = [row for row in declined if row.probability >= threshold]
        good = sum(row.answerable and row.chosen_states_answer for row in over)
        empty = sum(row.answerable and not row.chosen_states_answer for row in over)
        print(f"{threshold:>9.2f} {len(over):>9} {good:>30} {empty:>16} {sum(not r.answerable for r in over):>13}")
    print(f"\nin use: CHOICE_THRESHOLD={CHOICE_THRESHOLD} (no floor)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--piaf", type=int, default=0, help="also N PIAF questions, with and without their article")
    args = parser.parse_args()
    settings = Settings()
    generator = load_generator(settings)
    if generator is None:
        sys.exit("the local model is not available: run `rag models prepare`")
    runs = [(open_corpus(settings), gold_cases())]
    if args.piaf:
        runs.append((open_corpus(settings, index_dir=default_index_dir(settings)), piaf_cases(args.piaf)))
    rows = []
    for corpus, cases in runs:
        for case in cases:
            row = read(case, corpus, generator)
            rows.append(row)
            said = "refused early" if row.refused_early else "declined" if row.declined else "answered"
            print(f"{case.set_name:>22} {case.item_id:>10} {'ans' if row.answerable else 'NOT':>3} {said:>13} "
                  f"p={row.probability:.2f} {'answer in choice' if row.chosen_states_answer else ''}", flush=True)
    tables(rows)


if __name__ == "__main__":
    main()
