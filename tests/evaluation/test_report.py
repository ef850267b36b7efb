"""The failure-class table in the terminal text, report.md and `--compare`, on hand-made results."""

from __future__ import annotations

from rag.evaluation.metrics import ItemResult
from rag.evaluation.report import compare, failure_class_lines, failure_lines, gold_markdown, gold_report

RUN = {"target": "test", "model": "test"}


def _result(item_id: str, failure_class: str | None) -> ItemResult:
    """A result with its class set by hand: these tests read the report, not the classification."""
    return ItemResult(
        id=item_id, language="en", category="fact", answerable=True, question="q?", answer="a.", abstained=False,
        abstain_reason=None, model="test", facts_found=(), facts_missing=(), retrieved_doc_ids=("a",), gold_rank=1,
        evidence_recall=1.0, answer_f1=1.0, evidence_f1=1.0, citations=(), related_exact=(), citations_ok=True,
        detected_language="en", language_ok=True, failures=("something failed",) if failure_class else (),
        failure_class=failure_class,
    )


RESULTS = [
    _result("en-1", "missing_fact"),
    _result("en-2", "refused_answerable"),
    _result("en-3", None),
    _result("en-4", "missing_fact"),
]


def test_the_class_table_lists_classes_that_occurred_in_class_order() -> None:
    report = gold_report(RESULTS, RUN)
    assert report["failure_classes"]["missing_fact"] == ["en-1", "en-4"]
    assert report["failure_classes"]["wrong_figure"] == []
    assert [line.split() for line in failure_class_lines(report)] == [
        ["refused", "an", "answerable", "question", "1", "en-2"],
        ["the", "asked", "fact", "is", "absent", "2", "en-1,", "en-4"],
    ]
    assert failure_lines(RESULTS)[0] == "en-1 (fact) missing_fact: something failed"


def test_report_md_has_the_class_table_and_each_failure_its_class() -> None:
    markdown = gold_markdown(gold_report(RESULTS, RUN))
    table = markdown.split("## Failure classes\n\n")[1].split("\n\n")[0]
    assert table.splitlines() == [
        "| class | n | questions |",
        "| --- | ---: | --- |",
        "| refused an answerable question | 1 | en-2 |",
        "| the asked fact is absent | 2 | en-1, en-4 |",
    ]
    assert "- **en-2** (fact, en, refused an answerable question) q?" in markdown
    assert "## Failure classes" not in gold_markdown(gold_report([_result("en-3", None)], RUN))


def test_compare_gives_the_change_per_class_when_the_previous_run_has_classes() -> None:
    previous = gold_report([_result("en-1", "missing_fact"), _result("en-5", "wrong_figure")], RUN)
    current = gold_report(RESULTS, RUN)
    lines = compare(current, previous)
    assert [line.split() for line in lines[-3:]] == [  # classes counted in either run, in class order
        ["refused_answerable", "0", "->", "1", "+1", "worse"],
        ["wrong_figure", "1", "->", "0", "-1", "better"],
        ["missing_fact", "1", "->", "2", "+1", "worse"],
    ]
    del previous["failure_classes"]  # a report.json written before the classes existed
    for item in previous["items"]:
        del item["failure_class"]
    assert compare(current, previous) == lines[:-3]
