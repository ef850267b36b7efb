"""Each metric on tiny hand-made inputs whose right values can be worked out by hand."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rag.answer_types import AbstainReason, Answer, Citation, Claim, ClaimChecks
from rag.answerer import REFUSALS
from rag.evaluation.gold import GoldItem, GoldSpan
from rag.evaluation.metrics import (
    FAILURE_CLASSES,
    answer_language,
    evidence_recall,
    failure_class,
    failures_by_class,
    first_relevant_rank,
    groups,
    hit_at,
    latency,
    percentile,
    reciprocal_rank,
    refusal_scores,
    score_item,
    summarize,
)
from rag.evaluation.runner import Passage

TEXT = "AWS grandit. Amazon supprime 14 000 emplois pour l'IA. Perplexity et Cursor sont clients."
DOCS = {"a": TEXT, "b": "Un autre article sans rapport avec la question posée ici."}
JOBS = TEXT.index("Amazon")
JOBS_END = TEXT.index(" Perplexity")


def _item(item_id: str = "en-1", *, answerable: bool = True, language: str = "en") -> GoldItem:
    if not answerable:
        return GoldItem(item_id, language, "Who won the match?", False, "off_topic", (), (), ())
    span = GoldSpan("a", JOBS, JOBS_END, TEXT[JOBS:JOBS_END])
    return GoldItem(item_id, language, "How many jobs?", True, "trap", (("14 000", "14,000"),), ("a",), (span,))


def _citation(number: int, doc_id: str, start: int, end: int, snippet: str | None = None) -> Citation:
    return Citation(number, doc_id, "title", DOCS[doc_id][start:end] if snippet is None else snippet, start, end, 0.9)


def _answer(text: str, citations: list[Citation], *, abstained: bool = False, ms: float = 100.0) -> Answer:
    reason: AbstainReason | None = "no_relevant_passage" if abstained else None
    timings = {"retrieve": ms / 2, "generate": ms / 2, "total": ms}
    return Answer(text, "en", abstained, reason, citations, [], "test", "How many jobs?", timings)


def test_ranks_hits_and_reciprocal_rank() -> None:
    assert first_relevant_rank(["b", "c", "a", "a"], {"a"}) == 3
    assert first_relevant_rank(["b", "c"], {"a"}) is None
    assert [hit_at(3, 1), hit_at(3, 5), hit_at(None, 5)] == [0.0, 1.0, 0.0]
    assert reciprocal_rank(4) == 0.25
    assert reciprocal_rank(None) == 0.0
    assert reciprocal_rank(12, cutoff=10) == 0.0


def test_evidence_recall_counts_gold_spans_overlapped() -> None:
    spans = [GoldSpan("a", 10, 20, "x" * 10), GoldSpan("a", 50, 60, "x" * 10)]
    assert evidence_recall([Passage("a", 0, 11)], spans) == 0.5
    assert evidence_recall([Passage("a", 0, 10)], spans) == 0.0  # touching is not overlapping
    assert evidence_recall([Passage("b", 0, 100)], spans) == 0.0  # other document
    assert evidence_recall([Passage("a", 0, 100)], spans) == 1.0


def test_refusal_precision_and_recall() -> None:
    # 2 unanswerable (one refused), 3 answerable (one refused by mistake)
    abstained = [True, False, True, False, False]
    answerable = [False, False, True, True, True]
    assert refusal_scores(abstained, answerable) == (0.5, 0.5)
    assert refusal_scores([False, False], [True, True]) == (None, None)


def test_percentiles_interpolate_like_numpy() -> None:
    values = [10.0, 20.0, 30.0, 40.0, 1000.0]
    assert percentile(values, 50) == 30.0
    assert percentile(values, 95) == pytest.approx(808.0)  # 40 + 0.8 * 960
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) is None
    table = latency([{"total": 1.0}, {"total": 3.0}])
    assert table == {"total": {"p50": 2.0, "p95": pytest.approx(2.9)}}


def test_refusal_language_is_read_from_the_fixed_sentence() -> None:
    assert answer_language(REFUSALS["en"]) == "en"
    assert answer_language(REFUSALS["fr"]) == "fr"
    assert answer_language("Amazon is cutting 14,000 jobs to speed up its investments in AI [1].") == "en"


def test_a_correct_cited_answer() -> None:
    supporting = _citation(1, "a", JOBS, JOBS_END)
    unrelated = _citation(2, "b", 0, 15)
    answer = _answer("Amazon is cutting 14,000 jobs to fund its AI spending [1][2].", [supporting, unrelated])
    result = score_item(_item(), answer, [Passage("b", 0, 5), Passage("a", 0, 20), Passage("a", 40, 80)], DOCS.get)
    assert result.facts_found == ("14 000",) and result.facts_missing == ()
    assert result.gold_rank == 2
    assert result.evidence_recall == 1.0
    assert [check.supported for check in result.citations] == [True, False]
    assert all(check.exact for check in result.citations)
    assert result.citations_ok and result.language_ok
    assert result.failures == ()
    scores = summarize([result])
    assert scores["fact_accuracy"] == 1.0
    assert scores["hit_at_1"] == 0.0 and scores["hit_at_5"] == 1.0 and scores["mrr"] == 0.5
    assert scores["citation_precision"] == 0.5
    assert scores["citation_recall"] == 1.0
    assert scores["exact_snippet"] == 1.0
    assert scores["refusal_precision"] is None and scores["refusal_recall"] is None


def test_a_citation_stating_the_fact_elsewhere_supports() -> None:
    snippet = "14 000 emplois"
    start = TEXT.index(snippet)
    item = GoldItem("en-2", "en", "q", True, "fact", (("14 000",),), ("a",), (GoldSpan("a", 0, 12, TEXT[:12]),))
    result = score_item(item, _answer("14,000 jobs [1].", [_citation(1, "a", start, start + 14)]), [], DOCS.get)
    assert result.citations[0].supported


def test_failures_are_named() -> None:
    wrong = _answer("Amazon is hiring 2,000 people [1].", [_citation(1, "b", 0, 15, snippet="not the text")])
    result = score_item(_item(), wrong, [Passage("b", 0, 5)], DOCS.get)
    assert result.failures == (
        "missing fact: 14 000",
        "no supporting citation",
        "snippet [1] is not the document's text",
        "no source passage in the top 5",
    )
    refused = score_item(_item(), _answer(REFUSALS["fr"], [], abstained=True), [], DOCS.get)
    assert refused.failures == (
        "refused an answerable question (no_relevant_passage)",
        "wrong language: answered fr, asked en",
        "no source passage in the top 5",
    )
    assert refused.facts_missing == ("14 000",)
    answered = score_item(_item(answerable=False), _answer("The home team won 3-1 [1].", []), [], DOCS.get)
    assert answered.failures == ("not refused",)


PERPLEXITY = (("14 000", "14,000"), ("Perplexity",))  # two requested parts
TRILLIONS = (("3,67 billions", "3.67 trillion", "3 670 milliards"),)  # the first form hides the scale


@pytest.mark.parametrize(
    ("expected", "facts", "text", "language"),
    [
        ("french_scale", None, "Amazon is cutting 14 500 jobs [1].", "en"),  # digits grouped by a space
        ("french_scale", None, "Amazon is cutting 14,5 thousand jobs [1].", "en"),  # decimal comma
        ("french_scale", None, "Amazon is cutting 2 milliards of jobs [1].", "en"),
        ("french_scale", TRILLIONS, "AWS is worth 3.67 billion dollars [1].", "en"),
        ("wrong_figure", TRILLIONS, "AWS vaut 3.67 billion de dollars [1].", "fr"),  # French answers may say this
        ("wrong_figure", None, "Amazon is cutting 2,000 jobs [1].", "en"),  # a thousands comma is English
        ("missing_part", PERPLEXITY, "Amazon is cutting 14,000 jobs [1].", "en"),
        ("missing_fact", None, "Amazon is cutting jobs [1].", "en"),
    ],
)
def test_a_missed_fact_is_classed_by_what_the_answer_says(
    expected: str, facts: tuple[tuple[str, ...], ...] | None, text: str, language: str
) -> None:
    item = _item(language=language)
    if facts is not None:
        item = replace(item, facts=facts)
    answer = _answer(text, [_citation(1, "a", JOBS, JOBS_END)])
    assert score_item(item, answer, [Passage("a", 0, 20)], DOCS.get).failure_class == expected


def test_each_failing_item_gets_the_first_class_that_applies() -> None:
    right = _citation(1, "a", JOBS, JOBS_END)
    top = [Passage("a", 0, 20)]

    def classed(text: str, citations: list[Citation], *, abstained: bool = False, answerable: bool = True,
                retrieved: list[Passage] = top) -> str | None:
        answer = _answer(text, citations, abstained=abstained)
        return score_item(_item(answerable=answerable), answer, retrieved, DOCS.get).failure_class

    assert classed(REFUSALS["fr"], [], abstained=True) == "refused_answerable"  # wrong language too
    assert classed("The home team won 3-1.", [], answerable=False) == "near_miss_answered"
    assert classed("Amazon is cutting 14,000 jobs to fund AI [1].", [_citation(1, "b", 0, 15)]) == "no_citation"
    french = "Amazon supprime 14 000 emplois pour financer ses investissements dans l'intelligence artificielle [1]."
    assert classed(french, [right]) == "language"  # "14 000" is French, but the fact is found
    assert classed("Amazon is cutting 14,000 jobs to fund AI [1].", [right], retrieved=[]) == "other"
    assert classed("Amazon is cutting 14,000 jobs to fund AI [1].", [right]) is None
    assert classed(REFUSALS["en"], [], abstained=True, answerable=False) is None


def test_the_trillion_check_reads_every_form_of_the_missing_fact() -> None:
    item = replace(_item(), facts=TRILLIONS)
    result = score_item(item, _answer("AWS is worth 3.67 billion dollars [1].", []), [], DOCS.get)
    assert failure_class(result, TRILLIONS) == "french_scale"
    assert failure_class(result) == "wrong_figure"  # "3,67 billions", the name of the fact, says no trillion


def test_failing_ids_are_grouped_by_class_in_class_order() -> None:
    right = _citation(1, "a", JOBS, JOBS_END)
    results = [
        score_item(_item("en-1"), _answer("Amazon is cutting jobs [1].", [right]), [], DOCS.get),
        score_item(_item("en-2"), _answer(REFUSALS["en"], [], abstained=True), [], DOCS.get),
        score_item(_item("en-3"), _answer("Amazon is cutting no jobs [1].", [right]), [], DOCS.get),
    ]
    grouped = failures_by_class(results)
    assert list(grouped) == list(FAILURE_CLASSES)
    assert grouped["refused_answerable"] == ["en-2"] and grouped["missing_fact"] == ["en-1", "en-3"]
    assert sum(map(len, grouped.values())) == 3


def test_summary_over_a_mixed_run() -> None:
    right = _citation(1, "a", JOBS, JOBS_END)
    results = [
        score_item(_item("en-1"), _answer("Amazon is cutting 14,000 jobs [1].", [right], ms=100), [], DOCS.get),
        score_item(_item("en-2"), _answer("Amazon is cutting jobs [1].", [right], ms=200), [], DOCS.get),
        score_item(_item("en-3"), _answer(REFUSALS["en"], [], abstained=True, ms=300), [], DOCS.get),
        score_item(
            _item("en-4", answerable=False), _answer(REFUSALS["en"], [], abstained=True, ms=400), [], DOCS.get
        ),
        score_item(_item("en-5", answerable=False), _answer("Yes, it did.", [], ms=500), [], DOCS.get),
    ]
    scores = summarize(results)
    assert scores["fact_accuracy"] == pytest.approx(1 / 3)
    assert scores["answer_rate"] == pytest.approx(2 / 3)
    assert scores["citation_precision"] == 1.0
    assert scores["citation_recall"] == 1.0
    assert scores["refusal_precision"] == 0.5  # two refusals, one of them right
    assert scores["refusal_recall"] == 0.5  # two unanswerable, one refused
    assert scores["language_match"] == 1.0
    assert latency([r.timings_ms for r in results])["total"] == {"p50": 300.0, "p95": pytest.approx(480.0)}
    assert list(groups(results)) == ["trap/en", "trap", "off_topic/en", "off_topic", "en", "all"]


def _claimed(answer: Answer, agreement: str, sources: int) -> Answer:
    checks = ClaimChecks("supported", "n/a", "n/a", agreement)  # type: ignore[arg-type]
    return replace(answer, claims=[Claim(answer.answer, [1], checks, sources)])


def test_conflicts_said_are_scored_against_the_gold_and_outlets_counted() -> None:
    right = _citation(1, "a", JOBS, JOBS_END)
    said = _answer("Amazon is cutting 14,000 jobs [1].", [right])
    results = [
        score_item(replace(_item("en-1"), conflict=True), _claimed(said, "conflict", 2), [], DOCS.get),
        score_item(replace(_item("en-2"), conflict=True), _claimed(said, "n/a", 1), [], DOCS.get),  # missed
        score_item(_item("en-3"), _claimed(said, "conflict", 2), [], DOCS.get),  # a false alarm
        score_item(replace(_item("en-4"), min_sources=3), _claimed(said, "consistent", 3), [], DOCS.get),
        score_item(replace(_item("en-5"), min_sources=3), _claimed(said, "consistent", 2), [], DOCS.get),
    ]
    scores = summarize(results)
    assert scores["conflict_precision"] == 0.5
    assert scores["conflict_recall"] == 0.5
    assert scores["corroboration"] == 0.5


def test_piaf_document_recall_mrr_and_containment() -> None:
    from rag.evaluation.piaf import PiafResult, summarize_piaf

    def result(rank: int | None, contained: bool | None = None) -> PiafResult:
        abstained = None if contained is None else False
        return PiafResult("q", "question", "d", ("x",), (), rank, None, abstained, contained)

    scores = summarize_piaf([result(1), result(3), result(12), result(None)])
    assert scores["recall_at_1"] == 0.25
    assert scores["recall_at_5"] == 0.5
    assert scores["recall_at_10"] == 0.5
    assert scores["recall_at_20"] == 0.75
    assert scores["mrr_at_20"] == pytest.approx((1 + 1 / 3 + 1 / 12) / 4)
    assert scores["answer_containment"] is None  # retrieval only
    assert summarize_piaf([result(1, True), result(2, False)])["answer_containment"] == 0.5


def test_piaf_sample_is_deterministic_and_in_file_order() -> None:
    from rag.evaluation.piaf import PiafQuestion, sample

    questions = [PiafQuestion(str(n), "q", "d", ("a",)) for n in range(100)]
    first = sample(questions, 10)
    assert first == sample(questions, 10)
    assert [int(q.id) for q in first] == sorted(int(q.id) for q in first)
    assert sample(questions, 500) == questions
