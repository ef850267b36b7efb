"""What the answer prompt holds: prompt recall against prompt size, for evidence counts and rankings.

    .venv/bin/python bench/evidence.py [--counts 2,3,4,5,6] [--weights 0,0.1,0.2,0.3] [--penalties 0,0.02,0.04]
                                       [--piaf 300]
    .venv/bin/python bench/evidence.py --follow-ups
    .venv/bin/python bench/evidence.py --parts


Prompt recall is the share of answerable questions whose every fact (gold set) or whose answer span
(PIAF) is written in the evidence sentences the model would read: no reader, however good, answers
beyond it. Characters are the evidence block's mean length, what the model pays for in prompt time.
A weight is `CHUNK_SCORE_WEIGHT` (rag/evidence.py): the share of its chunk's hybrid score a sentence
adds to its own cosine (answers use 0.2); 0 ranks sentences by cosine alone. A penalty is
`FIGURELESS_PENALTY`: what a sentence writing no figure loses for a question asking for one (answers use
0.04); each table holds the other knob at its shipped value. Follow-ups are left out (they need their
rewrite first). PIAF runs over the index `rag eval --dataset piaf` builds, when it exists. `--follow-ups`
rewrites the gold follow-ups with the configured generator and compares what each search query puts in
the prompt: the rewrite alone, or the rewrite with the thread's anchor question (what answers search).
`--parts` takes the questions that list names or name several periods (rag/parts.py) and compares their
evidence without and with each part's own best sentence (what answers read).
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

from rag.answerer import CROSS_CHECK_PASSAGES, EVIDENCE_SENTENCES, search_parts  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.corpus import Corpus  # noqa: E402
from rag.evaluation.gold import load_gold  # noqa: E402
from rag.evaluation.normalize import fact_present  # noqa: E402
from rag.evaluation.piaf import DEFAULT_DATASET, default_index_dir, load_piaf, sample  # noqa: E402
from rag.evidence import (  # noqa: E402
    CHUNK_SCORE_WEIGHT,
    FIGURELESS_PENALTY,
    distinct_hits,
    select_evidence,
    with_parts,
)
from rag.followup import standalone_question, thread_query  # noqa: E402
from rag.language import answer_language  # noqa: E402
from rag.retrieval import Hit  # noqa: E402
from rag.service import open_answerer, open_corpus  # noqa: E402

Facts = Sequence[Sequence[str]]


Case = tuple[str, list[Hit], Facts]


def retrieved(corpus: Corpus, questions: Sequence[tuple[str, Facts]]) -> list[Case]:
    """Each question's hits as the answerer retrieves them (top 5), with the facts to find."""
    return [(question, corpus.search(question, 5), facts) for question, facts in questions]


def table(name: str, cases: list[Case], counts: list[int], knob: str, values: list[float]) -> None:
    """One row per value of `knob` (weight or penalty): recall / mean characters for each evidence count."""
    print(f"\n{name}: {len(cases)} questions; prompt recall / mean evidence characters")
    print(f"{knob:>7} " + " ".join(f"{f'{count} sentences':>15}" for count in counts))
    for value in values:
        weight = value if knob == "weight" else CHUNK_SCORE_WEIGHT
        penalty = value if knob == "penalty" else FIGURELESS_PENALTY
        cells = []
        for count in counts:
            found = chars = 0
            for question, hits, facts in cases:
                text = " ".join(item.text for item in select_evidence(hits, count, weight, question=question,
                                                                    figureless_penalty=penalty))
                chars += len(text)
                found += all(fact_present(forms, text) for forms in facts)
            cells.append(f"{found / len(cases):.3f} / {chars / len(cases):>5.0f}")
        print(f"{value:>7g} " + " ".join(f"{cell:>15}" for cell in cells))


def follow_ups(corpus: Corpus, settings: Settings) -> None:
    """Prompt recall of the gold follow-ups with each search query, and the ones each query misses."""
    generator = open_answerer(settings, corpus).generator
    rows: dict[str, list[str]] = {"rewrite alone": [], "rewrite + anchor question": []}
    items = [item for item in load_gold(ROOT / "eval" / "gold.jsonl") if item.history]
    for number, item in enumerate(items, 1):
        print(f"\rrewriting follow-up {number}/{len(items)}", end="", file=sys.stderr, flush=True)
        turns = list(item.history)
        language = answer_language(item.question, "auto", turns[-1].question)
        asked = standalone_question(item.question, turns, language, generator)
        for name, query in zip(rows, (asked, thread_query(asked, item.question, turns))):
            hits = distinct_hits(corpus.search(query, CROSS_CHECK_PASSAGES), 5)
            evidence = select_evidence(hits, EVIDENCE_SENTENCES, question=asked)
            text = " ".join(sentence.text for sentence in evidence)
            if not all(fact_present(forms, text) for forms in item.facts):
                rows[name].append(item.id)
    rewriter = generator.name if generator else "no generator"
    print(f"\n\ngold follow-ups: {len(items)} threads, {EVIDENCE_SENTENCES} sentences, rewritten by {rewriter}")
    print(f"{'search query':<28} {'prompt recall':>13}  missed")
    for name, missed in rows.items():
        print(f"{name:<28} {1 - len(missed) / len(items):>13.3f}  {' '.join(missed) or '-'}")


def parts(name: str, corpus: Corpus, questions: Sequence[tuple[str, Facts]]) -> None:
    """Prompt recall / characters of the questions with parts, without and with their parts' sentences."""
    rows: dict[str, list[tuple[bool, int]]] = {"whole question": [], "+ each part's sentence": []}
    for question, facts in questions:
        found = search_parts(corpus, question, 5)
        if not found:
            continue
        evidence = select_evidence(distinct_hits(corpus.search(question, CROSS_CHECK_PASSAGES), 5),
                                   EVIDENCE_SENTENCES, question=question)
        with_own = with_parts(evidence, [(part, sentences) for part, (_, sentences) in found.items()])
        for key, chosen in zip(rows, (evidence, with_own)):
            text = " ".join(item.text for item in chosen)
            rows[key].append((all(fact_present(forms, text) for forms in facts), len(text)))
    count = len(rows["whole question"])
    print(f"\n{name}: {count} questions with parts; prompt recall / mean evidence characters")
    for key, results in rows.items():
        recall = sum(ok for ok, _ in results) / max(count, 1)
        print(f"{key:<24} {recall:.3f} / {sum(size for _, size in results) / max(count, 1):>5.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="2,3,4,5,6")
    parser.add_argument("--weights", default="0,0.1,0.2,0.3,0.5")
    parser.add_argument("--penalties", default="0,0.02,0.04,0.08")
    parser.add_argument("--piaf", type=int, default=300, help="PIAF questions to sample (0: none)")
    parser.add_argument("--follow-ups", action="store_true", help="only the gold follow-ups, rewritten first")
    parser.add_argument("--parts", action="store_true", help="only questions with parts, without and with theirs")
    args = parser.parse_args()
    counts = [int(value) for value in args.counts.split(",")]
    weights = [float(value) for value in args.weights.split(",")]
    penalties = [float(value) for value in args.penalties.split(",")]
    settings = Settings()
    if args.follow_ups:
        follow_ups(open_corpus(settings), settings)
        return
    gold = [
        (item.question, item.facts)
        for item in load_gold(ROOT / "eval" / "gold.jsonl")
        if item.answerable and not item.history
    ]
    piaf_index = default_index_dir(settings)
    if args.parts:
        parts("gold set (seeds)", open_corpus(settings), gold)
        if args.piaf and piaf_index.exists():
            sampled = sample(load_piaf(ROOT / DEFAULT_DATASET).questions, args.piaf)
            questions = [(item.question, (item.answers,)) for item in sampled]
            parts("PIAF (fixed sample)", open_corpus(settings, index_dir=piaf_index), questions)
        return
    cases = retrieved(open_corpus(settings), gold)
    table("gold set (seeds)", cases, counts, "weight", weights)
    table("gold set (seeds)", cases, counts, "penalty", penalties)
    if args.piaf and piaf_index.exists():
        dataset = load_piaf(ROOT / DEFAULT_DATASET)
        questions = [(question.question, (question.answers,)) for question in sample(dataset.questions, args.piaf)]
        cases = retrieved(open_corpus(settings, index_dir=piaf_index), questions)
        table("PIAF (fixed sample)", cases, counts, "weight", weights)
        table("PIAF (fixed sample)", cases, counts, "penalty", penalties)


if __name__ == "__main__":
    main()
