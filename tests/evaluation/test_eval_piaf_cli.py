"""`rag eval --dataset piaf --unanswerable / --english` end to end on a five-question PIAF-format file:
the real e5 model, an index in tmp_path, extractive answers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from api.cli import main
from rag.evaluation.piaf import DEFAULT_DATASET, load_piaf
from rag.evaluation.piaf_unanswerable import build_set, render_set

ROOT = Path(__file__).resolve().parents[2]
MINI = ROOT / "tests" / "fixtures" / "piaf" / "piaf-mini.json"
ENGLISH = {
    "q-canal-1": "Who directed the construction of the Canal du Midi?",
    "q-volcan-1": "Where is the Piton de la Fournaise?",
    "q-camembert-1": "Who is said to have invented camembert?",
}


def _piaf(tmp_path: Path, *argv: str) -> int:
    """`rag eval --dataset piaf` over the small file, indexed into tmp_path, answered extractively."""
    return main([
        "eval", "--dataset", "piaf", "--dataset-path", str(MINI), "--index-dir", str(tmp_path / "index"),
        "--generator", "extractive", *argv,
    ])


def test_the_set_hides_each_question_s_whole_article() -> None:
    items = {item.id: item for item in build_set(load_piaf(MINI), size=5)}
    assert items["q-canal-2"].excluded_doc_ids == ("piaf-0-0", "piaf-0-1")  # both paragraphs of its article
    assert items["q-volcan-1"].excluded_doc_ids == ("piaf-1-0",)


def test_unanswerable_run_reports_refusals_and_what_was_answered(tmp_path: Path, capsys) -> None:
    hidden = tmp_path / "unanswerable.jsonl"
    hidden.write_text(render_set(build_set(load_piaf(MINI), size=5)), encoding="utf-8")
    out = tmp_path / "run"
    assert _piaf(tmp_path, "--unanswerable", str(hidden), "--limit", "4", "--out", str(out)) == 0
    printed = capsys.readouterr().out
    assert "refusal_rate" in printed and "Answered instead of refused" in printed

    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["dataset"] == "piaf-unanswerable" and report["run"]["questions"] == 4
    assert 0.0 <= report["totals"]["refusal_rate"] <= 1.0
    assert sum(report["refusal_reasons"].values()) == sum(item["abstained"] for item in report["items"])
    assert all(item["excluded"] >= 1 and item["answer"] for item in report["items"])
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "| refusal_rate |" in markdown and "## Answered instead of refused" in markdown

    again = tmp_path / "again"
    previous = str(out / "report.json")
    assert _piaf(tmp_path, "--unanswerable", str(hidden), "--limit", "4", "--out", str(again),
                 "--compare", previous, "--min", "refusal_rate=1.01") == 1
    captured = capsys.readouterr()
    assert "refusal_rate" in captured.out and "same" in captured.out
    assert "FAILED threshold refusal_rate >= 1.01" in captured.err


def test_english_run_reports_containment_answer_rate_and_english_share(tmp_path: Path) -> None:
    (tmp_path / "piaf-en.json").write_text(json.dumps(ENGLISH), encoding="utf-8")  # beside the index
    out = tmp_path / "run"
    assert _piaf(tmp_path, "--english", "--out", str(out)) == 0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["dataset"] == "piaf-english" and report["run"]["english"] is True
    assert [item["question"] for item in report["items"]] == list(ENGLISH.values())  # in file order
    totals = report["totals"]
    for name in ("answer_containment", "answer_rate", "recall_at_5"):
        assert 0.0 <= totals[name] <= 1.0
    assert totals["answered_in_english"] is None or 0.0 <= totals["answered_in_english"] <= 1.0
    assert (out / "report.md").read_text(encoding="utf-8").startswith("# rag eval: PIAF, English questions")


def test_a_missing_english_cache_says_how_to_make_it(tmp_path: Path, capsys) -> None:
    assert _piaf(tmp_path, "--english", "--out", str(tmp_path / "run")) == 1
    error = capsys.readouterr().err
    assert "python bench/retrieval.py --english 100" in error and "Traceback" not in error
    assert not (tmp_path / "index").exists()  # refused before any indexing


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--dataset", "piaf", "--unanswerable", "--english"], "drop --english"),
        (["--english"], "apply to --dataset piaf only"),
        (["--dataset", "piaf", "--unanswerable", "--min", "answer_rate=0.5"], "unknown metric answer_rate"),
    ],
)
def test_new_piaf_modes_refuse_arguments_that_do_not_fit(argv: list[str], words: str, capsys) -> None:
    assert main(["eval", *argv]) == 2
    assert words in capsys.readouterr().err


@pytest.mark.skipif(not (ROOT / DEFAULT_DATASET).exists(), reason="the PIAF dataset is not beside the repository")
def test_the_committed_unanswerable_set_is_up_to_date() -> None:
    built = subprocess.run([sys.executable, "eval/build_piaf_unanswerable.py", "--check"], cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
