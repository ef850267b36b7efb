"""`rag eval`: run the gold set (or PIAF), print the scores, write the reports, enforce thresholds.

Part of the CLI layer, so it prints; the work itself is in runner, piaf, metrics and report.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

from rag.config import GeneratorName, Settings
from rag.evaluation import metrics, piaf, piaf_unanswerable
from rag.evaluation.gold import CATEGORIES, load_gold, select_items
from rag.evaluation.report import (
    answered_lines,
    compare,
    failure_class_lines,
    failure_lines,
    gold_report,
    gold_table,
    latency_lines,
    load_report,
    piaf_report,
    piaf_table,
    unanswerable_report,
    unanswerable_table,
    write_reports,
)

if TYPE_CHECKING:
    from rag.answerer import Answerer
    from rag.corpus import Corpus
    from rag.evaluation.gold import GoldItem
    from rag.evaluation.runner import Backend, LocalBackend

DEFAULT_GOLD = Path("eval/gold.jsonl")
REPORTS_DIR = Path("eval/reports")
USAGE_ERROR = 2
_SHOWN = 20  # answered unanswerable questions printed; report.md lists them all
THRESHOLD_FAILED = 1


class _UsageError(Exception):
    """Arguments that make no sense together; reported like argparse's own errors (exit 2)."""


def add_eval_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `rag eval` on the main parser's subcommands."""
    parser = subparsers.add_parser(
        "eval",
        help="measure retrieval and answers on the gold set (or PIAF)",
        description="Ask every gold question, score retrieval, facts, citations, language and refusals, "
        "and write report.json, report.md and report.png.",
    )
    parser.add_argument("--dataset", choices=["gold", "piaf"], default="gold", help="what to evaluate (default gold)")
    parser.add_argument("--gold", type=Path, default=DEFAULT_GOLD, help=f"gold set (default {DEFAULT_GOLD})")
    parser.add_argument("--generator", choices=get_args(GeneratorName), help="override RAG_GENERATOR")
    parser.add_argument("--url", help="evaluate a running `rag serve` (e.g. http://127.0.0.1:8000) instead")
    parser.add_argument("--limit", type=int, help="only the first N gold items (PIAF: a fixed random sample of N)")
    parser.add_argument("--ids", type=_id_list, default=(), help="only these gold ids, comma-separated")
    parser.add_argument(
        "--category", action="append", choices=CATEGORIES, default=[], help="only this gold category (repeatable)"
    )
    parser.add_argument("--out", type=Path, help=f"report folder (default {REPORTS_DIR}/<timestamp>)")
    parser.add_argument("--compare", type=Path, help="a previous report.json: print the change of every score")
    parser.add_argument(
        "--min",
        action="append",
        type=_threshold,
        default=[],
        metavar="METRIC=VALUE",
        help="fail (exit 1) when a score is below VALUE, e.g. --min fact_accuracy=0.9 (repeatable)",
    )
    parser.add_argument("--dataset-path", type=Path, help=f"PIAF JSON file (default {piaf.DEFAULT_DATASET})")
    parser.add_argument("--index-dir", type=Path, help="PIAF index folder (default <RAG_CACHE_DIR>/eval/piaf-index)")
    parser.add_argument("--retrieval-only", action="store_true", help="PIAF: measure retrieval, do not answer")
    parser.add_argument(
        "--unanswerable",
        nargs="?",
        const=piaf_unanswerable.DEFAULT_SET,
        type=Path,
        metavar="SET",
        help="PIAF: ask the questions of SET (default "
        f"{piaf_unanswerable.DEFAULT_SET}) with their article hidden from retrieval, and score the refusals",
    )
    parser.add_argument(
        "--english",
        action="store_true",
        help="PIAF: ask the English translations that `python bench/retrieval.py --english 100` cached",
    )
    parser.set_defaults(handler=cmd_eval)
    return parser


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    """Handler of `rag eval`: 0 when every `--min` holds, 1 when one does not, 2 on bad arguments."""
    if args.generator:
        settings = settings.model_copy(update={"generator": args.generator})
    try:
        if args.dataset == "piaf":
            return _run_piaf(args, settings)
        return _run_gold(args, settings)
    except _UsageError as error:
        _say(f"rag eval: error: {error}", err=True)
        return USAGE_ERROR


def _run_gold(args: argparse.Namespace, settings: Settings) -> int:
    from rag.evaluation.runner import HttpBackend, missing_documents, run_gold

    if args.retrieval_only or args.index_dir or args.dataset_path or args.unanswerable or args.english:
        raise _UsageError(
            "--retrieval-only, --index-dir, --dataset-path, --unanswerable and --english apply to --dataset piaf only"
        )
    if args.url and args.generator:
        raise _UsageError("with --url the server's own generator answers; drop --generator")
    minimums = _minimums(args.min, metrics.SCORES)
    items = select_items(load_gold(args.gold), args.ids, args.limit, args.category)
    previous = _previous(args.compare, "gold")
    if args.url:
        backend: Backend = HttpBackend(args.url, api_key=settings.api_key)
        if missing := missing_documents(backend, items):
            _say(f"rag eval: warning: {args.url} lacks gold articles: {', '.join(missing)}", err=True)
        target = args.url
    else:
        backend = _local_backend(settings, items)
        target = f"in-process, index {settings.index_dir}"
    _say(f"Evaluating {len(items)} gold questions ({target})…", err=True)

    def progress(number: int, result: metrics.ItemResult) -> None:
        status = "; ".join(result.failures) if result.failures else "ok"
        _say(f"[{number}/{len(items)}] {result.id} {_seconds(result.timings_ms)} {status}", err=True)

    results = run_gold(items, backend, on_result=progress)
    run = {
        "target": target,
        "model": _most_common([result.model for result in results]),
        "generator": None if args.url else settings.generator,
        "gold": str(args.gold),
        "limit": args.limit,
        "ids": list(args.ids),
        "categories": list(args.category),
    }
    report = gold_report(results, run)
    out_dir = args.out or REPORTS_DIR / _timestamp()
    paths = write_reports(report, out_dir)
    _say(gold_table(report))
    if classes := failure_class_lines(report):
        _say("\nFailure classes\n" + "\n".join(classes))
    _say("\nLatency (ms)\n" + "\n".join(latency_lines(report)))
    failures = failure_lines(results)
    _say(f"\nFailures ({len(failures)} of {len(results)} questions)" + "".join(f"\n  {line}" for line in failures))
    return _finish(report, previous, minimums, paths)


def _run_piaf(args: argparse.Namespace, settings: Settings) -> int:
    from rag.service import open_answerer, open_corpus

    if args.url or args.ids or args.category or args.gold != DEFAULT_GOLD:
        raise _UsageError("--url, --ids, --category and --gold apply to the gold set only; PIAF runs in process")
    if args.unanswerable and (args.english or args.retrieval_only):
        raise _UsageError("--unanswerable scores the answers to French questions: drop --english and --retrieval-only")
    if args.unanswerable:
        known: Sequence[str] = piaf_unanswerable.SCORES
    else:
        known = (*piaf.SCORES, piaf.ENGLISH_SCORE) if args.english else piaf.SCORES
    minimums = _minimums(args.min, known)
    if args.retrieval_only and any(name not in piaf.BM25_REFERENCE for name, _ in minimums):
        raise _UsageError("--retrieval-only measures no answers: drop the --min on answer scores")
    dataset_path = args.dataset_path or piaf.DEFAULT_DATASET
    dataset = piaf.load_piaf(dataset_path)
    index_dir = args.index_dir or piaf.default_index_dir(settings)
    # What will be asked is read before the slow part, so that a missing file fails at once.
    hidden = piaf_unanswerable.load_set(args.unanswerable, dataset) if args.unanswerable else None
    questions = piaf.in_english(dataset.questions, piaf.english_cache(index_dir)) if args.english else dataset.questions
    kind = "piaf-unanswerable" if args.unanswerable else "piaf-english" if args.english else "piaf"
    previous = _previous(args.compare, kind)
    corpus = open_corpus(settings, index_dir=index_dir, missing_ok=True)
    _say(f"Indexing {len(dataset.documents)} PIAF paragraphs into {index_dir} (minutes the first time)…", err=True)
    indexed = piaf.index_piaf(corpus, dataset)
    _say(f"  {indexed.documents} documents, {indexed.chunks} chunks, {indexed.seconds:.1f} s", err=True)
    answerer = None if args.retrieval_only else open_answerer(settings, corpus)
    run = {
        "index_dir": str(index_dir),
        "model": "retrieval only" if answerer is None else answerer.model_name,
        "dataset_path": str(dataset_path),
        "sample_seed": piaf.SAMPLE_SEED,
    }
    every = 1 if answerer is not None and settings.generator != "extractive" else 50
    if hidden is not None and answerer is not None:
        asked = piaf.sample(hidden, args.limit)
        run |= {"set": str(args.unanswerable), "questions": len(asked), "of": len(hidden)}
        report = _refuse_piaf(asked, answerer, run, every)
    else:
        chosen = piaf.sample(questions, args.limit)
        run |= {"english": args.english, "questions": len(chosen), "of": len(questions)}
        report = _answer_piaf(chosen, corpus, answerer, run, every)
    paths = write_reports(report, args.out or REPORTS_DIR / f"{_timestamp()}-{kind}")
    if report["latency_ms"]:
        _say("\nLatency (ms)\n" + "\n".join(latency_lines(report)))
    return _finish(report, previous, minimums, paths)


def _answer_piaf(
    questions: Sequence[piaf.PiafQuestion], corpus: Corpus, answerer: Answerer | None, run: dict[str, Any], every: int
) -> dict[str, Any]:
    """Rank documents for `questions` and answer them unless retrieval only; print the scores."""
    what = "retrieval only" if answerer is None else f"answers by {answerer.model_name}"
    language = "English" if run["english"] else "French"
    _say(f"Evaluating {len(questions)} of {run['of']} {language} PIAF questions ({what})…", err=True)

    def progress(number: int, result: piaf.PiafResult) -> None:
        if number % every == 0 or number == len(questions):
            found = "" if result.contained is None else " answer found" if result.contained else " answer missed"
            rank = f"rank {result.rank}" if result.rank else "not in the top 20"
            _say(f"[{number}/{len(questions)}] {result.id} {rank}{found} {_seconds(result.timings_ms)}", err=True)

    results = piaf.run_piaf(questions, corpus, answerer, on_result=progress)
    report = piaf_report(results, run, english=run["english"])
    _say(piaf_table(report))
    return report


def _refuse_piaf(
    items: Sequence[piaf_unanswerable.UnanswerableQuestion], answerer: Answerer, run: dict[str, Any], every: int
) -> dict[str, Any]:
    """Ask `items` with their article hidden; print the refusal rate and what was said instead of refusing."""
    _say(f"Asking {len(items)} of {run['of']} PIAF questions with their article hidden "
         f"(answers by {answerer.model_name})…", err=True)

    def progress(number: int, result: piaf_unanswerable.UnanswerableResult) -> None:
        if number % every == 0 or number == len(items):
            said = result.abstain_reason if result.abstained else "ANSWERED"
            _say(f"[{number}/{len(items)}] {result.id} {said} {_seconds(result.timings_ms)}", err=True)

    results = piaf_unanswerable.run_unanswerable(items, answerer, on_result=progress)
    report = unanswerable_report(results, run)
    _say(unanswerable_table(report))
    answered = answered_lines(report)
    shown = f", the first {_SHOWN} shown" if len(answered) > _SHOWN else ""
    _say(f"\nAnswered instead of refused: {len(answered)}{shown}" + "".join(f"\n  {a}" for a in answered[:_SHOWN]))
    return report


def _local_backend(settings: Settings, items: Sequence[GoldItem]) -> LocalBackend:
    from rag.evaluation.runner import open_local
    from rag.service import open_service

    return open_local(settings.index_dir, open_service(settings).answerer, items)


def _previous(path: Path | None, dataset: str) -> dict[str, Any] | None:
    """The report to compare with, read before the run so that a wrong path fails at once."""
    if path is None:
        return None
    previous = load_report(path)
    if previous.get("dataset") != dataset:
        raise _UsageError(f"--compare {path} is a {previous.get('dataset')} report, not a {dataset} one")
    return previous


def _finish(
    report: dict[str, Any], previous: dict[str, Any] | None, minimums: list[tuple[str, float]], paths: list[Path]
) -> int:
    _say("\nReports: " + ", ".join(str(path) for path in paths))
    if previous is not None:
        _say(f"\nCompared with the run of {previous.get('created', '?')}\n" + "\n".join(compare(report, previous)))
    unmet = [
        (name, wanted, report["totals"].get(name))
        for name, wanted in minimums
        if report["totals"].get(name) is None or report["totals"][name] < wanted
    ]
    for name, wanted, value in unmet:
        measured = "not measured on these questions" if value is None else f"{value:.3f}"
        _say(f"FAILED threshold {name} >= {wanted}: {measured}", err=True)
    return THRESHOLD_FAILED if unmet else 0


def _minimums(thresholds: list[tuple[str, float]], known: Sequence[str]) -> list[tuple[str, float]]:
    unknown = [name for name, _ in thresholds if name not in known]
    if unknown:
        raise _UsageError(f"unknown metric {', '.join(unknown)} for --min; choose from: {', '.join(known)}")
    return thresholds


def _threshold(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    try:
        return name.strip(), float(value)
    except ValueError:
        pass
    if not sep:
        raise argparse.ArgumentTypeError(f"{text!r} is not METRIC=VALUE, e.g. fact_accuracy=0.9")
    raise argparse.ArgumentTypeError(f"{value!r} is not a number in {text!r}")


def _id_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _seconds(timings: dict[str, float]) -> str:
    return f"{timings['total'] / 1000:.1f} s" if "total" in timings else ""


def _most_common(values: Sequence[str]) -> str | None:
    return Counter(values).most_common(1)[0][0] if values else None


def _timestamp() -> str:
    return datetime.now().strftime("%Y%m%d-%H%M%S")


def _say(text: str, *, err: bool = False) -> None:
    print(text, file=sys.stderr if err else sys.stdout, flush=True)
