"""Evaluation reports: the terminal table, report.json, report.md and report.png, and run-to-run deltas."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rag.errors import InvalidInputError
from rag.evaluation.gold import ANSWERABLE_CATEGORIES
from rag.evaluation.metrics import FAILURE_CLASSES, ItemResult, failures_by_class, groups, latency, summarize
from rag.evaluation.piaf import BM25_REFERENCE, ENGLISH_SCORE, PiafResult, english_share, summarize_piaf
from rag.evaluation.piaf_unanswerable import REFUSAL_TARGET, UnanswerableResult, summarize_unanswerable

Report = dict[str, Any]

# Terminal and Markdown columns: (score, header).
_COLUMNS = (
    ("hit_at_1", "H@1"),
    ("hit_at_5", "H@5"),
    ("mrr", "MRR"),
    ("evidence_recall", "EvRec"),
    ("fact_accuracy", "Fact"),
    ("answer_f1", "F1"),
    ("citation_precision", "CitP"),
    ("citation_recall", "CitR"),
    ("exact_snippet", "Exact"),
    ("language_match", "Lang"),
    ("refusal_precision", "RefP"),
    ("refusal_recall", "RefR"),
    ("standalone_entities", "Alone"),
    ("conflict_precision", "ConfP"),
    ("conflict_recall", "ConfR"),
    ("corroboration", "Corr"),
)
_CHART_SCORES = (
    "hit_at_5", "evidence_recall", "fact_accuracy", "answer_f1", "citation_precision",
    "citation_recall", "language_match", "refusal_recall",
)


def gold_report(results: Sequence[ItemResult], run: Mapping[str, Any]) -> Report:
    """The whole run as JSON-ready data: settings, totals, failure classes, per-group scores, latency, items."""
    return {
        "dataset": "gold",
        "created": _now(),
        "run": dict(run),
        "totals": summarize(results),
        "failure_classes": failures_by_class(results),
        "latency_ms": latency([r.timings_ms for r in results]),
        "groups": {label: {"n": len(members), **summarize(members)} for label, members in groups(results).items()},
        "items": [asdict(result) for result in results],
    }


def piaf_report(results: Sequence[PiafResult], run: Mapping[str, Any], *, english: bool = False) -> Report:
    """The PIAF run as JSON-ready data, with the BM25 reference figures beside ours (French questions)
    or the share of answers written in English (English ones: the reference is for French questions)."""
    totals = summarize_piaf(results)
    if english:
        totals[ENGLISH_SCORE] = english_share(results)
    return {
        "dataset": "piaf-english" if english else "piaf",
        "created": _now(),
        "run": dict(run),
        "totals": totals,
        "reference_bm25": {} if english else BM25_REFERENCE,
        "latency_ms": latency([r.timings_ms for r in results]),
        "items": [asdict(result) for result in results],
    }


def unanswerable_report(results: Sequence[UnanswerableResult], run: Mapping[str, Any]) -> Report:
    """The unanswerable PIAF run as JSON-ready data: refusal rate, why refusals happened, latency, items."""
    return {
        "dataset": "piaf-unanswerable",
        "created": _now(),
        "run": dict(run),
        "totals": summarize_unanswerable(results),
        "target": {"refusal_rate": REFUSAL_TARGET},
        "refusal_reasons": dict(Counter(r.abstain_reason for r in results if r.abstained).most_common()),
        "latency_ms": latency([r.timings_ms for r in results]),
        "items": [asdict(result) for result in results],
    }


def write_reports(report: Report, out_dir: Path) -> list[Path]:
    """Write report.json, report.md and (except for the unanswerable set) report.png into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    markdown, chart = _WRITERS[report["dataset"]]
    paths = [out_dir / "report.json", out_dir / "report.md"]
    paths[0].write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    paths[1].write_text(markdown(report), encoding="utf-8")
    if chart is not None:
        paths.append(out_dir / "report.png")
        chart(report, paths[2])
    return paths


def load_report(path: Path) -> Report:
    """A previous report.json, for `--compare`."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InvalidInputError(f"cannot read {path} ({error.strerror}); --compare takes a report.json") from error
    except ValueError as error:
        raise InvalidInputError(f"{path} is not JSON ({error}); --compare takes a report.json") from error
    if not isinstance(report, dict) or not isinstance(report.get("totals"), dict):
        raise InvalidInputError(f"{path} is not a `rag eval` report.json (no totals)")
    return report


def gold_table(report: Report) -> str:
    """Scores per category × language, per category, per language and overall, as aligned text."""
    header = f"{'group':<20} {'n':>3} " + " ".join(f"{title:>5}" for _, title in _COLUMNS)
    lines = [header, "-" * len(header)]
    for label, scores in report["groups"].items():
        cells = " ".join(f"{_fmt(scores.get(name)):>5}" for name, _ in _COLUMNS)
        lines.append(f"{label:<20} {scores['n']:>3} {cells}")
        if label not in ("fr", "en", "all") and "/" not in label:
            lines.append("")  # a category's total closes its block
    return "\n".join(lines)


def latency_lines(report: Report) -> list[str]:
    """One line per timed stage: p50 and p95 in ms."""
    return [
        f"{stage:<9} p50 {_ms(values['p50'])}  p95 {_ms(values['p95'])}"
        for stage, values in report["latency_ms"].items()
    ]


def failure_lines(results: Sequence[ItemResult]) -> list[str]:
    """One line per item with anything wrong: its id, category, failure class and what failed."""
    return [
        f"{result.id} ({result.category}) {result.failure_class}: {'; '.join(result.failures)}"
        for result in results
        if result.failures
    ]


def failure_class_lines(report: Report) -> list[str]:
    """One line per failure class that occurred, in class order: its label, its count and the items' ids."""
    return [f"{FAILURE_CLASSES[key]:<40} {len(ids):>3}  {', '.join(ids)}" for key, ids in _classes_seen(report)]


def piaf_table(report: Report) -> str:
    """Our PIAF figures next to the BM25 reference from the dataset's README."""
    totals = report["totals"]
    lines = [f"{'metric':<20} {'ours':>6} {'BM25':>6} {'delta':>7}", "-" * 42]
    for name, value in totals.items():
        reference = report["reference_bm25"].get(name)
        if value is None and reference is None:
            continue  # an answer score in a retrieval-only run
        delta = f"{value - reference:+.3f}" if value is not None and reference is not None else ""
        lines.append(f"{name:<20} {_fmt(value, 3):>6} {_fmt(reference, 3):>6} {delta:>7}")
    return "\n".join(lines)


def unanswerable_table(report: Report) -> str:
    """The refusal rate against its target, then why the refusals happened."""
    value, target = report["totals"]["refusal_rate"], report["target"]["refusal_rate"]
    lines = [f"{'metric':<20} {'ours':>6} {'target':>6}", "-" * 34]
    lines.append(f"{'refusal_rate':<20} {_fmt(value, 3):>6} {target:>6.2f}")
    lines += [f"  {reason:<18} {count:>6}" for reason, count in report["refusal_reasons"].items()]
    return "\n".join(lines)


def answered_lines(report: Report, width: int = 200) -> list[str]:
    """One line per question answered instead of refused: its id, the question and the start of what was said."""
    answered = [item for item in report["items"] if not item["abstained"]]
    return [f"{item['id']}: {_md(item['question'])} -> {_md(item['answer'])[:width]}" for item in answered]


def compare(current: Report, previous: Report) -> list[str]:
    """Per score, latency stage and failure class, the change since `previous`, said as better or worse."""
    lines = []
    for name, now in current["totals"].items():
        before = previous["totals"].get(name)
        if now is None or before is None:
            continue
        lines.append(f"{name:<20} {before:.3f} -> {now:.3f}  {now - before:+.3f}  {_verdict(now - before)}")
    for stage, values in current.get("latency_ms", {}).items():
        before = previous.get("latency_ms", {}).get(stage, {}).get("p50")
        if before is None or values["p50"] is None:
            continue
        change = values["p50"] - before
        verdict = _verdict(-change, 0.05 * before)  # latency: lower is better, 5% is noise
        lines.append(f"{stage + ' p50 ms':<20} {before:.0f} -> {values['p50']:.0f}  {change:+.0f}  {verdict}")
    return lines + _class_changes(current, previous)


def gold_markdown(report: Report) -> str:
    """report.md: run settings, the score table, totals, latency, and every failing item."""
    run = report["run"]
    lines = [
        "# rag eval: gold set",
        "",
        f"{report['created']} · {len(report['items'])} questions · model `{run.get('model')}` · "
        f"{run.get('target')}",
        "",
        "![scores and latency](report.png)",
        "",
        "## Scores",
        "",
        "| group | n | " + " | ".join(title for _, title in _COLUMNS) + " |",
        "| --- | ---: | " + " | ".join("---:" for _ in _COLUMNS) + " |",
    ]
    for label, scores in report["groups"].items():
        cells = " | ".join(_fmt(scores.get(name)) for name, _ in _COLUMNS)
        lines.append(f"| {label} | {scores['n']} | {cells} |")
    if classes := _classes_seen(report):
        lines += ["", "## Failure classes", "", "| class | n | questions |", "| --- | ---: | --- |"]
        lines += [f"| {FAILURE_CLASSES[key]} | {len(ids)} | {', '.join(ids)} |" for key, ids in classes]
    lines += ["", "## Totals", "", "| score | value |", "| --- | ---: |"]
    lines += [f"| {name} | {_fmt(value, 3)} |" for name, value in report["totals"].items()]
    lines += ["", "## Latency (ms)", "", "| stage | p50 | p95 |", "| --- | ---: | ---: |"]
    lines += [f"| {s} | {_ms(v['p50'])} | {_ms(v['p95'])} |" for s, v in report["latency_ms"].items()]
    failing = [item for item in report["items"] if item["failures"]]
    lines += ["", f"## Failures ({len(failing)})", ""]
    for item in failing:
        where = f"{item['category']}, {item['language']}, {FAILURE_CLASSES[item['failure_class']]}"
        lines.append(f"- **{item['id']}** ({where}) {_md(item['question'])}")
        lines.extend(f"  - {_md(failure)}" for failure in item["failures"])
        lines.append(f"  - answer: {_md(item['answer'])}")
    return "\n".join(lines) + "\n"


def piaf_markdown(report: Report) -> str:
    """report.md for a PIAF run: our figures against BM25, latency, and the questions we missed."""
    run = report["run"]
    english = report["dataset"] == "piaf-english"
    lines = [
        "# rag eval: PIAF, English questions" if english else "# rag eval: PIAF",
        "",
        f"{report['created']} · {len(report['items'])} questions · model `{run.get('model')}` · "
        f"index `{run.get('index_dir')}`",
        "",
        *(["Machine-translated questions over the French paragraphs; the BM25 figures are for the French "
           "questions, so none stands beside these.", ""] if english else []),
        "![PIAF scores](report.png)",
        "",
        "| metric | ours | plain BM25 (README) |",
        "| --- | ---: | ---: |",
    ]
    for name, value in report["totals"].items():
        lines.append(f"| {name} | {_fmt(value, 3)} | {_fmt(report['reference_bm25'].get(name), 3)} |")
    if report["latency_ms"]:
        lines += ["", "| stage | p50 ms | p95 ms |", "| --- | ---: | ---: |"]
        lines += [f"| {s} | {_ms(v['p50'])} | {_ms(v['p95'])} |" for s, v in report["latency_ms"].items()]
    missed = [item for item in report["items"] if item["rank"] is None][:50]
    lines += ["", f"## Gold paragraph not in the top 20 (first {len(missed)})", ""]
    lines += [f"- {item['id']} ({item['doc_id']}): {_md(item['question'])}" for item in missed]
    return "\n".join(lines) + "\n"


def unanswerable_markdown(report: Report) -> str:
    """report.md for the unanswerable set: the refusal rate, its reasons, latency, and what was answered."""
    run = report["run"]
    answered = [item for item in report["items"] if not item["abstained"]]
    lines = [
        "# rag eval: PIAF, article hidden",
        "",
        f"{report['created']} · {len(report['items'])} questions, each asked with its article hidden · "
        f"model `{run.get('model')}` · index `{run.get('index_dir')}`",
        "",
        "| metric | ours | target |",
        "| --- | ---: | ---: |",
        f"| refusal_rate | {_fmt(report['totals']['refusal_rate'], 3)} | {report['target']['refusal_rate']:.2f} |",
        "",
        "| refusal reason | n |",
        "| --- | ---: |",
    ]
    lines += [f"| {reason} | {count} |" for reason, count in report["refusal_reasons"].items()]
    if report["latency_ms"]:
        lines += ["", "| stage | p50 ms | p95 ms |", "| --- | ---: | ---: |"]
        lines += [f"| {s} | {_ms(v['p50'])} | {_ms(v['p95'])} |" for s, v in report["latency_ms"].items()]
    lines += ["", f"## Answered instead of refused ({len(answered)})", ""]
    for item in answered:
        lines += [f"- **{item['id']}** {_md(item['question'])}", f"  - answer: {_md(item['answer'])}"]
    return "\n".join(lines) + "\n"


def gold_chart(report: Report, path: Path) -> None:
    """report.png: the headline score per category and language, scores per language, latency histogram."""
    plt = _pyplot()
    figure, (by_category, by_language, timing) = plt.subplots(3, 1, figsize=(11, 12))
    categories = [label for label in report["groups"] if "/" not in label and label not in ("fr", "en", "all")]
    width = 0.38
    for offset, language in ((-width / 2, "fr"), (width / 2, "en")):
        values = [_headline(report["groups"].get(f"{category}/{language}"), category) for category in categories]
        by_category.bar([i + offset for i in range(len(categories))], values, width, label=language)
    by_category.set_xticks(range(len(categories)), categories)
    by_category.set_ylim(0, 1.05)
    by_category.set_title("Fact accuracy per category (refusal recall for near_miss and off_topic)")
    by_category.legend()
    for offset, group in ((-width / 2, "fr"), (width / 2, "en")):
        scores = report["groups"].get(group, {})
        values = [scores.get(name) or 0.0 for name in _CHART_SCORES]
        by_language.bar([i + offset for i in range(len(_CHART_SCORES))], values, width, label=group)
    by_language.set_xticks(range(len(_CHART_SCORES)), _CHART_SCORES, rotation=20, ha="right")
    by_language.set_ylim(0, 1.05)
    by_language.set_title("Scores per question language")
    by_language.legend()
    _latency_histogram(timing, report["items"])
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def piaf_chart(report: Report, path: Path) -> None:
    """report.png: our document recall and MRR next to plain BM25 (when it applies), and the latency histogram."""
    plt = _pyplot()
    figure, (scores, timing) = plt.subplots(2, 1, figsize=(10, 8))
    names = list(BM25_REFERENCE)
    reference = report["reference_bm25"]
    width = 0.38
    offset = width / 2 if reference else 0.0
    ours = [report["totals"].get(name) or 0.0 for name in names]
    scores.bar([i - offset for i in range(len(names))], ours, width, label="rag (hybrid)")
    if reference:
        scores.bar([i + width / 2 for i in range(len(names))], [reference[n] for n in names], width, label="BM25")
    scores.set_xticks(range(len(names)), names)
    scores.set_ylim(0, 1.05)
    english = ", English questions" if report["dataset"] == "piaf-english" else ""
    scores.set_title(f"PIAF document retrieval{english} ({len(report['items'])} questions)")
    scores.legend()
    _latency_histogram(timing, report["items"])
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


_WRITERS: dict[str, tuple[Callable[[Report], str], Callable[[Report, Path], None] | None]] = {
    "gold": (gold_markdown, gold_chart),
    "piaf": (piaf_markdown, piaf_chart),
    "piaf-english": (piaf_markdown, piaf_chart),
    "piaf-unanswerable": (unanswerable_markdown, None),
}


def _classes_seen(report: Report) -> list[tuple[str, list[str]]]:
    return [(key, ids) for key, ids in report["failure_classes"].items() if ids]


def _class_changes(current: Report, previous: Report) -> list[str]:
    """The change of each failure class's count; none against a report from before the classes (or PIAF)."""
    before_ids = previous.get("failure_classes")
    if not isinstance(before_ids, dict):
        return []
    lines = []
    for key, ids in current.get("failure_classes", {}).items():
        before, now = len(before_ids.get(key, [])), len(ids)
        if before or now:
            lines.append(f"{key:<20} {before} -> {now}  {now - before:+d}  {_verdict(before - now)}")
    return lines


def _latency_histogram(axes: Any, items: Sequence[Mapping[str, Any]]) -> None:
    for stage in ("total", "generate"):
        values = [item["timings_ms"][stage] for item in items if stage in item["timings_ms"]]
        if values and max(values) > 0:
            axes.hist(values, bins=30, alpha=0.6, label=stage)
    axes.set_xlabel("ms per question")
    axes.set_title("Latency")
    if axes.get_legend_handles_labels()[0]:
        axes.legend()
    else:
        axes.text(0.5, 0.5, "no answers timed (retrieval only)", ha="center", va="center", transform=axes.transAxes)


def _pyplot() -> Any:
    """pyplot on the Agg backend, imported only when a chart is drawn (it is slow to import)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _headline(scores: Mapping[str, Any] | None, category: str) -> float:
    if not scores:
        return 0.0
    name = "fact_accuracy" if category in ANSWERABLE_CATEGORIES else "refusal_recall"
    return scores.get(name) or 0.0


def _verdict(change: float, tolerance: float = 0.0005) -> str:
    if change > tolerance:
        return "better"
    if change < -tolerance:
        return "worse"
    return "same"


def _fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"


def _md(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
