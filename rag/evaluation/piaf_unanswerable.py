"""PIAF questions made unanswerable: each asked with every paragraph of its article hidden from retrieval.

The other articles are other Wikipedia pages, so what is left rarely holds the answer: the right reply
is a refusal, and `refusal_rate` is the share refused (issue #9 asks at least REFUSAL_TARGET over
SET_SIZE questions). The index stays whole; a `DocumentFilter` hides the article per question. The set
(`eval/piaf_unanswerable.jsonl`, written by `eval/build_piaf_unanswerable.py`) holds question ids, texts
and hidden paragraph ids only: the paragraphs themselves are read from the PIAF file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rag.answerer import Answerer
from rag.errors import InvalidInputError
from rag.evaluation.piaf import PiafDataset, article_paragraphs, sample
from rag.filters import DocumentFilter

DEFAULT_SET = Path("eval/piaf_unanswerable.jsonl")
SET_SIZE = 200
REFUSAL_TARGET = 0.85
SCORES = ("refusal_rate",)
_BUILD = "python eval/build_piaf_unanswerable.py"


@dataclass(frozen=True)
class UnanswerableQuestion:
    """A PIAF question (about paragraph `doc_id`) to ask with `excluded_doc_ids`, its whole article, hidden."""

    id: str
    question: str
    doc_id: str
    excluded_doc_ids: tuple[str, ...]


@dataclass(frozen=True)
class UnanswerableResult:
    """What was said to one question once its article was hidden; `excluded` counts hidden paragraphs."""

    id: str
    question: str
    excluded: int
    answer: str
    abstained: bool
    abstain_reason: str | None
    timings_ms: dict[str, float] = field(default_factory=dict)


def build_set(dataset: PiafDataset, size: int = SET_SIZE) -> list[UnanswerableQuestion]:
    """`size` questions of the fixed PIAF sample, each with the paragraphs of its article to hide."""
    return [
        UnanswerableQuestion(q.id, q.question, q.doc_id, article_paragraphs(dataset, q.doc_id))
        for q in sample(dataset.questions, size)
    ]


def render_set(items: Sequence[UnanswerableQuestion]) -> str:
    """The set as JSON lines, one question a line, as `eval/piaf_unanswerable.jsonl` stores it."""
    return "".join(json.dumps(asdict(item), ensure_ascii=False) + "\n" for item in items)


def load_set(path: Path, dataset: PiafDataset) -> list[UnanswerableQuestion]:
    """Read a set, checking that it hides paragraphs `dataset` has (else its exclusions would hide nothing)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        reason = f"cannot read the unanswerable set {path} ({error.strerror}); run `{_BUILD}`"
        raise InvalidInputError(reason) from error
    items = []
    for number, line in enumerate(lines, 1):
        try:
            raw = json.loads(line)
            items.append(UnanswerableQuestion(
                str(raw["id"]), str(raw["question"]), str(raw["doc_id"]), tuple(map(str, raw["excluded_doc_ids"]))
            ))
        except (ValueError, KeyError, TypeError) as error:
            raise InvalidInputError(f"{path} line {number} is not an unanswerable question ({error!r}); "
                                    f"run `{_BUILD}`") from error
    known = {document.doc_id for document in dataset.documents}
    unknown = sorted({doc_id for item in items for doc_id in item.excluded_doc_ids} - known)
    if unknown:
        raise InvalidInputError(f"{path} hides paragraphs this PIAF file lacks ({', '.join(unknown[:3])}…): "
                                f"it was built from another one; run `{_BUILD} --dataset-path <that file>`")
    return items


def run_unanswerable(
    items: Sequence[UnanswerableQuestion],
    answerer: Answerer,
    *,
    on_result: Callable[[int, UnanswerableResult], None] | None = None,
) -> list[UnanswerableResult]:
    """Ask each question with its article hidden from retrieval."""
    results = []
    for number, item in enumerate(items, 1):
        answer = answerer.ask(item.question, where=DocumentFilter(excluded=frozenset(item.excluded_doc_ids)))
        result = UnanswerableResult(
            item.id, item.question, len(item.excluded_doc_ids), answer.answer, answer.abstained,
            answer.abstain_reason, dict(answer.timings_ms),
        )
        results.append(result)
        if on_result is not None:
            on_result(number, result)
    return results


def summarize_unanswerable(results: Sequence[UnanswerableResult]) -> dict[str, float | None]:
    """The share of questions refused."""
    return {"refusal_rate": sum(r.abstained for r in results) / len(results) if results else None}
