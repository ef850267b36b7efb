"""`rag eval` end to end: the real e5 model over a real index of the seeds, extractive answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.cli import main

IDS = "fr-001,en-004,fr-010,en-042"  # three answerable (fact, trap, list), one off-topic


def _rag_eval(*argv: str) -> int:
    """`rag eval ...` exactly as the console script runs it."""
    return main(["eval", *argv])


@pytest.fixture
def seed_env(seed_index_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_INDEX_DIR", str(seed_index_dir))
    monkeypatch.setenv("RAG_GENERATOR", "extractive")


def test_eval_writes_reports_and_enforces_thresholds(seed_env: None, tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    status = _rag_eval("--ids", IDS, "--generator", "extractive", "--out", str(out), "--min", "exact_snippet=1.0")
    printed = capsys.readouterr().out
    assert status == 0
    assert "all" in printed and "Reports:" in printed

    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert [item["id"] for item in report["items"]] == ["en-004", "en-042", "fr-001", "fr-010"]
    assert report["totals"]["exact_snippet"] == 1.0  # every snippet is the document's exact text
    assert report["totals"]["hit_at_5"] == 1.0
    item = report["items"][0]
    for key in ("answer", "abstained", "facts_found", "facts_missing", "gold_rank", "evidence_recall",
                "citations_ok", "language_ok", "timings_ms", "failures", "failure_class", "model"):
        assert key in item
    assert item["model"] == "extractive"
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert markdown.startswith("# rag eval") and "| all | 4 |" in markdown
    failing = sorted(entry["id"] for entry in report["items"] if entry["failures"])
    assert sorted(sum(report["failure_classes"].values(), [])) == failing  # each failing item in one class
    assert ("Failure classes" in printed) == ("## Failure classes" in markdown) == bool(failing)
    assert (out / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    again = tmp_path / "again"
    status = _rag_eval(
        "--ids", IDS, "--out", str(again), "--compare", str(out / "report.json"), "--min", "fact_accuracy=1.01"
    )
    captured = capsys.readouterr()
    assert status == 1
    assert "FAILED threshold fact_accuracy >= 1.01" in captured.err
    assert "exact_snippet" in captured.out and "same" in captured.out  # the comparison with the first run


def test_unknown_metric_is_a_usage_error(seed_env: None, tmp_path: Path, capsys) -> None:
    assert _rag_eval("--ids", "fr-001", "--out", str(tmp_path), "--min", "accuracy=0.9") == 2
    assert "unknown metric accuracy" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        _rag_eval("--min", "fact_accuracy")
    assert exit_info.value.code == 2


def test_missing_index_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("RAG_INDEX_DIR", str(tmp_path / "nothing"))
    assert _rag_eval("--ids", "fr-001", "--generator", "extractive", "--out", str(tmp_path / "out")) == 1
    assert "rag index" in capsys.readouterr().err


def test_a_malformed_gold_file_is_refused_with_its_line(tmp_path: Path) -> None:
    from rag.errors import InvalidInputError
    from rag.evaluation.gold import load_gold, select_items

    good = {
        "id": "fr-1", "language": "fr", "question": "Combien ?", "answerable": True, "category": "fact",
        "facts": [["14 000"]], "doc_ids": ["a"], "evidence": [{"doc_id": "a", "start": 0, "end": 6, "text": "14 000"}],
    }
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps(good) + "\n" + json.dumps({**good, "id": "fr-2", "language": "de"}) + "\n")
    with pytest.raises(InvalidInputError, match="line 2: fr-2: language must be fr or en"):
        load_gold(gold)
    gold.write_text(json.dumps(good) + "\n")
    [item] = load_gold(gold)
    assert item.facts == (("14 000",),) and item.evidence[0].end == 6
    with pytest.raises(InvalidInputError, match="unknown gold ids: fr-9"):
        select_items([item], ["fr-9"])
