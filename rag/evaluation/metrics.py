"""Scores for one answered gold item, and their aggregates: retrieval, facts, citations, refusals, latency.

Every score is a share in [0, 1] where higher is better, or None when nothing in the selection
could be scored (refusal recall over answerable items only). Latency is reported apart, in ms.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from rag.answer_types import Answer
from rag.answerer import REFUSALS
from rag.evaluation.gold import CATEGORIES, GoldItem
from rag.evaluation.normalize import best_forms, fact_present, split_facts, strip_markers, token_f1
from rag.language import detect_language
from rag.slots import mentions
from rag.textnorm import fold

ANSWER_TOP_K = 5  # passages the answerer reads: evidence recall and hit@5 look this deep
SEARCH_K = 10  # passages ranked for MRR
LATENCY_STAGES = ("rewrite", "retrieve", "generate", "total", "roundtrip")
# Every aggregate score, in report order; `--min NAME=VALUE` accepts exactly these names.
SCORES = (
    "hit_at_1",
    "hit_at_5",
    "mrr",
    "evidence_recall",
    "fact_accuracy",
    "fact_recall",
    "answer_f1",
    "evidence_f1",
    "citation_precision",
    "citation_recall",
    "exact_snippet",
    "language_match",
    "answer_rate",
    "refusal_precision",
    "refusal_recall",
    "standalone_entities",
    "conflict_precision",
    "conflict_recall",
    "corroboration",
)
_REFUSAL_LANGUAGE = {text: language for language, text in REFUSALS.items()}
# Why a failing item failed, key -> label: each item gets the first class that applies, in this order.
FAILURE_CLASSES = {
    "refused_answerable": "refused an answerable question",
    "near_miss_answered": "answered an unanswerable question",
    "french_scale": "French number form in an English answer",
    "missing_part": "one of several requested parts missing",
    "wrong_figure": "a figure other than the asked one",
    "missing_fact": "the asked fact is absent",
    "no_citation": "right fact, no supporting citation",
    "language": "wrong language",
    "other": "other (snippet, rewrite, retrieval)",
}
# French ways of writing a number: milliard(s), a decimal comma ("3,67"), digits grouped by spaces ("14 000").
_FRENCH_NUMBER = re.compile(r"\bmilliards?\b|\d,\d{1,2}(?!\d)|\b\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?!\d)", re.IGNORECASE)
_BILLION = re.compile(r"\bbillions?\b", re.IGNORECASE)

DocumentText = Callable[[str], "str | None"]


class Located(Protocol):
    """Anything that points at a span of a document: hits, citations, gold evidence."""

    @property
    def doc_id(self) -> str: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...


@dataclass(frozen=True)
class CitationCheck:
    """One cited snippet: does it back the gold answer, and is it the document's exact text?"""

    id: int
    doc_id: str
    start: int
    end: int
    supported: bool
    exact: bool


@dataclass(frozen=True)
class ItemResult:
    """Everything measured on one gold item; `failures` says in words what went wrong."""

    id: str
    language: str
    category: str
    answerable: bool
    question: str
    answer: str
    abstained: bool
    abstain_reason: str | None
    model: str
    facts_found: tuple[str, ...]
    facts_missing: tuple[str, ...]
    retrieved_doc_ids: tuple[str, ...]
    gold_rank: int | None  # 1-based rank of the first passage from a source document
    evidence_recall: float | None
    answer_f1: float | None
    evidence_f1: float | None
    citations: tuple[CitationCheck, ...]
    related_exact: tuple[bool, ...]
    citations_ok: bool | None  # answered answerable items: at least one supporting citation
    detected_language: str
    language_ok: bool
    standalone_question: str = ""
    standalone_missing: tuple[str, ...] | None = None  # follow-ups: expected entities the rewrite lacks
    timings_ms: dict[str, float] = field(default_factory=dict)
    conflict_expected: bool = False
    conflict_said: bool = False  # a claim of the answer reports a conflict between outlets
    min_sources: int | None = None
    sources: int = 0  # the most outlets any claim of the answer is cited from
    failures: tuple[str, ...] = ()
    failure_class: str | None = None  # a key of FAILURE_CLASSES, None when nothing failed


def first_relevant_rank(doc_ids: Sequence[str], relevant: Collection[str]) -> int | None:
    """1-based rank of the first retrieved passage whose document is relevant, None when none is."""
    return next((rank for rank, doc_id in enumerate(doc_ids, 1) if doc_id in relevant), None)


def hit_at(rank: int | None, k: int) -> float:
    """1.0 when a relevant passage is among the first k."""
    return 1.0 if rank is not None and rank <= k else 0.0


def reciprocal_rank(rank: int | None, cutoff: int | None = None) -> float:
    """1/rank, 0.0 when nothing relevant was retrieved (or only below `cutoff`)."""
    if rank is None or (cutoff is not None and rank > cutoff):
        return 0.0
    return 1.0 / rank


def overlaps(left: Located, right: Located) -> bool:
    """Same document and at least one character in common."""
    return left.doc_id == right.doc_id and left.start < right.end and right.start < left.end


def evidence_recall(retrieved: Sequence[Located], evidence: Sequence[Located]) -> float:
    """Share of gold evidence spans that some retrieved passage overlaps."""
    if not evidence:
        return 0.0
    return sum(any(overlaps(passage, span) for passage in retrieved) for span in evidence) / len(evidence)


def supports(doc_id: str, start: int, end: int, snippet: str, item: GoldItem) -> bool:
    """A citation backs the answer when it overlaps gold evidence or itself states a required fact."""
    cited = _Span(doc_id, start, end)
    return any(overlaps(cited, span) for span in item.evidence) or any(
        fact_present(forms, snippet) for forms in item.facts
    )


def answer_language(answer: str) -> str:
    """The language an answer is written in; a fixed refusal sentence is known without detection."""
    text = answer.strip()
    if text in _REFUSAL_LANGUAGE:
        return _REFUSAL_LANGUAGE[text]
    return detect_language(strip_markers(text))


def refusal_scores(abstained: Sequence[bool], answerable: Sequence[bool]) -> tuple[float | None, float | None]:
    """(precision, recall) of refusing, the positives being the unanswerable questions."""
    correct = sum(refused and not ok for refused, ok in zip(abstained, answerable))
    refused = sum(abstained)
    unanswerable = sum(not ok for ok in answerable)
    return _share(correct, refused), _share(correct, unanswerable)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile with linear interpolation between ranks (numpy's default), None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def score_item(
    item: GoldItem, answer: Answer, retrieved: Sequence[Located], document_text: DocumentText
) -> ItemResult:
    """Measure one answer and the passages retrieved for its question (best first, `SEARCH_K` deep)."""
    text = strip_markers(answer.answer)
    answered = item.answerable and not answer.abstained
    if answered:
        found, missing = split_facts(item.facts, text)
    else:  # a refusal states no fact, whatever its wording
        found, missing = [], [forms[0] for forms in item.facts]
    checks = tuple(
        CitationCheck(
            c.id, c.doc_id, c.start, c.end, supports(c.doc_id, c.start, c.end, c.snippet, item),
            _exact(document_text, c.doc_id, c.start, c.end, c.snippet),
        )
        for c in answer.citations
    )
    related = tuple(_exact(document_text, c.doc_id, c.start, c.end, c.snippet) for c in answer.related)
    doc_ids = tuple(passage.doc_id for passage in retrieved)
    rank = first_relevant_rank(doc_ids, set(item.doc_ids)) if item.answerable else None
    detected = answer_language(answer.answer)
    result = ItemResult(
        id=item.id,
        language=item.language,
        category=item.category,
        answerable=item.answerable,
        question=item.question,
        answer=answer.answer,
        abstained=answer.abstained,
        abstain_reason=answer.abstain_reason,
        model=answer.model,
        facts_found=tuple(found),
        facts_missing=tuple(missing),
        retrieved_doc_ids=doc_ids,
        gold_rank=rank,
        evidence_recall=evidence_recall(retrieved[:ANSWER_TOP_K], item.evidence) if item.answerable else None,
        answer_f1=token_f1(text, " ".join(best_forms(item.facts, text))) if item.answerable else None,
        evidence_f1=token_f1(text, " ".join(span.text for span in item.evidence)) if item.answerable else None,
        citations=checks,
        related_exact=related,
        citations_ok=any(check.supported for check in checks) if answered else None,
        detected_language=detected,
        language_ok=detected == item.language,
        standalone_question=answer.standalone_question,
        standalone_missing=(
            tuple(entity for entity in item.standalone_entities if not names(entity, answer.standalone_question))
            if item.standalone_entities else None
        ),
        timings_ms=dict(answer.timings_ms),
        conflict_expected=item.conflict,
        conflict_said=any(claim.checks.agreement == "conflict" for claim in answer.claims),
        min_sources=item.min_sources,
        sources=max((claim.sources for claim in answer.claims), default=0),
    )
    return _with_failures(result, item.facts)


def summarize(results: Sequence[ItemResult]) -> dict[str, float | None]:
    """Every score in `SCORES` over `results` (see the module docstring for None)."""
    answerable = [r for r in results if r.answerable]
    answered = [r for r in answerable if not r.abstained]
    cited = [check for r in answered for check in r.citations]
    exact = [check.exact for r in results for check in r.citations] + [x for r in results for x in r.related_exact]
    ranks = [r.gold_rank for r in answerable]
    precision, recall = refusal_scores([r.abstained for r in results], [r.answerable for r in results])
    follow_ups = [r for r in results if r.standalone_missing is not None]
    scores: dict[str, float | None] = {
        "hit_at_1": _mean(hit_at(rank, 1) for rank in ranks),
        "hit_at_5": _mean(hit_at(rank, ANSWER_TOP_K) for rank in ranks),
        "mrr": _mean(reciprocal_rank(rank, SEARCH_K) for rank in ranks),
        "evidence_recall": _mean(r.evidence_recall or 0.0 for r in answerable),
        "fact_accuracy": _mean(float(not r.abstained and not r.facts_missing) for r in answerable),
        "fact_recall": _share(
            sum(len(r.facts_found) for r in answerable),
            sum(len(r.facts_found) + len(r.facts_missing) for r in answerable),
        ),
        "answer_f1": _mean(r.answer_f1 or 0.0 for r in answerable),
        "evidence_f1": _mean(r.evidence_f1 or 0.0 for r in answerable),
        "citation_precision": _share(sum(check.supported for check in cited), len(cited)),
        "citation_recall": _share(sum(bool(r.citations_ok) for r in answered), len(answered)),
        "exact_snippet": _share(sum(exact), len(exact)),
        "language_match": _mean(float(r.language_ok) for r in results),
        "answer_rate": _share(len(answered), len(answerable)),
        "refusal_precision": precision,
        "refusal_recall": recall,
        "standalone_entities": _mean(float(not r.standalone_missing) for r in follow_ups),
        # Conflicts said where the gold answer has one (any other is a false alarm), and claims cited
        # from as many outlets as the gold answer's.
        "conflict_precision": _share(sum(r.conflict_said and r.conflict_expected for r in results),
                                     sum(r.conflict_said for r in results)),
        "conflict_recall": _share(sum(r.conflict_said for r in results if r.conflict_expected),
                                  sum(r.conflict_expected for r in results)),
        "corroboration": _mean(float(r.sources >= r.min_sources) for r in results if r.min_sources),
    }
    return scores


def failure_class(result: ItemResult, facts: Sequence[Sequence[str]] = ()) -> str | None:
    """The primary reason `result` failed, a key of `FAILURE_CLASSES` (None when nothing failed), so a run's
    errors can be counted by kind. `facts` are the gold item's, whose other forms tell a trillion apart."""
    if not result.failures:
        return None
    if result.answerable and result.abstained:
        return "refused_answerable"
    if not result.answerable and not result.abstained:
        return "near_miss_answered"
    if result.answerable and result.facts_missing:
        return _missing_fact_class(result, facts)
    if result.citations_ok is False:
        return "no_citation"
    if not result.language_ok:
        return "language"
    return "other"


def failures_by_class(results: Sequence[ItemResult]) -> dict[str, list[str]]:
    """The ids of the items in each failure class, every class in `FAILURE_CLASSES` order."""
    return {key: [r.id for r in results if r.failure_class == key] for key in FAILURE_CLASSES}


def latency(timings: Sequence[Mapping[str, float]]) -> dict[str, dict[str, float | None]]:
    """p50 and p95 in ms of each stage (`LATENCY_STAGES`) that any of `timings` measured."""
    table: dict[str, dict[str, float | None]] = {}
    for stage in LATENCY_STAGES:
        values = [timing[stage] for timing in timings if stage in timing]
        if values:
            table[stage] = {"p50": percentile(values, 50), "p95": percentile(values, 95)}
    return table


def groups(results: Sequence[ItemResult]) -> dict[str, list[ItemResult]]:
    """Results per `category/language`, per category, per language, and `all`, in a stable order."""
    grouped: dict[str, list[ItemResult]] = {}
    categories = sorted({r.category for r in results}, key=_category_order)
    languages = sorted({r.language for r in results})
    for category in categories:
        for language in languages:
            members = [r for r in results if r.category == category and r.language == language]
            if members:
                grouped[f"{category}/{language}"] = members
        grouped[category] = [r for r in results if r.category == category]
    for language in languages:
        grouped[language] = [r for r in results if r.language == language]
    grouped["all"] = list(results)
    return grouped


@dataclass(frozen=True)
class _Span:
    doc_id: str
    start: int
    end: int


def _with_failures(result: ItemResult, facts: Sequence[Sequence[str]]) -> ItemResult:
    failures: list[str] = []
    if result.answerable and result.abstained:
        failures.append(f"refused an answerable question ({result.abstain_reason})")
    if result.answerable and not result.abstained:
        failures.extend(f"missing fact: {fact}" for fact in result.facts_missing)
        if not result.citations_ok:
            failures.append("no supporting citation")
    if not result.answerable and not result.abstained:
        failures.append("not refused")
    if not result.language_ok:
        failures.append(f"wrong language: answered {result.detected_language}, asked {result.language}")
    failures.extend(f"snippet [{check.id}] is not the document's text" for check in result.citations if not check.exact)
    if not all(result.related_exact):
        failures.append("a related snippet is not the document's text")
    if result.standalone_missing:
        failures.append(f"standalone question lacks {', '.join(result.standalone_missing)}")
    if result.answerable and hit_at(result.gold_rank, ANSWER_TOP_K) == 0.0:
        failures.append(f"no source passage in the top {ANSWER_TOP_K}")
    failed = replace(result, failures=tuple(failures))
    return replace(failed, failure_class=failure_class(failed, facts))


def _missing_fact_class(result: ItemResult, facts: Sequence[Sequence[str]]) -> str:
    """The class of an answer that misses a fact: read the answer's numbers to tell why."""
    text = strip_markers(result.answer)
    if result.language == "en" and _french_scale(text, result.facts_missing, facts):
        return "french_scale"
    if result.facts_found:
        return "missing_part"
    return "wrong_figure" if re.search(r"\d", text) else "missing_fact"


def _french_scale(text: str, missing: Sequence[str], facts: Sequence[Sequence[str]]) -> bool:
    """A French number form, or "billion" for a missing fact in trillions (French "billions" misread)."""
    forms = [*missing, *(form for fact in facts if fact[0] in missing for form in fact)]
    in_trillions = any("trillion" in form.lower() for form in forms)
    return bool(_FRENCH_NUMBER.search(text)) or (in_trillions and bool(_BILLION.search(text)))


def names(entity: str, question: str) -> bool:
    """Whether a standalone question names an expected entity (its words, acronym, or as part of a
    longer name: "Trainium" in "Trainium3")."""
    return fold(entity) in fold(question) or mentions(fold(entity), question)


def _exact(document_text: DocumentText, doc_id: str, start: int, end: int, snippet: str) -> bool:
    text = document_text(doc_id)
    return text is not None and text[start:end] == snippet


def _mean(values: Iterable[float]) -> float | None:
    items = list(values)
    return sum(items) / len(items) if items else None


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _category_order(category: str) -> int:
    return CATEGORIES.index(category) if category in CATEGORIES else len(CATEGORIES)

