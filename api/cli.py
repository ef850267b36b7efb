"""The `rag` command line: with the HTTP app, the only place that prints and turns errors into exit codes."""

from __future__ import annotations

import argparse
import atexit
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import get_args

from pydantic import ValidationError
from starlette.types import ASGIApp

from rag.answer_types import Answer, Turn
from rag.config import GeneratorName, Settings
from rag.errors import InvalidInputError, ModelUnavailableError, RagError
from rag.evaluation.cli import add_eval_parser
from rag.filters import DocumentFilter
from rag.followup import MAX_TURNS
from rag.language import LANGUAGE_CHOICES, LANGUAGES
from rag.retrieval import MODES
from rag.service import open_corpus, open_service

DEFAULT_CORPUS = Path("seeds")
SKIPPED_FILES = 3  # `rag index` exit status when it indexed the rest but skipped some files


def cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    started = time.perf_counter()
    corpus = open_corpus(settings, missing_ok=True, rebuild=args.rebuild)
    report = corpus.sync_paths(args.paths or [DEFAULT_CORPUS], show_progress=sys.stderr.isatty() or args.progress)
    if args.optimize:
        report = replace(report, merged=corpus.optimize().merged)
    seconds = time.perf_counter() - started
    status = SKIPPED_FILES if report.skipped else 0
    for item in report.skipped:
        print(f"rag: skipped {item.reason}", file=sys.stderr)
    for note in report.notes:
        print(f"rag: note: {note}", file=sys.stderr)
    if args.json:
        skipped = [{"path": str(item.path), "reason": item.reason} for item in report.skipped]
        summary = {**asdict(report), "skipped": skipped, "total_seconds": round(seconds, 3)}
        print(json.dumps(summary, ensure_ascii=False))
        return status
    for count in report.formats:
        print(f"{count.format}: {count.read} read, {count.skipped} skipped, {count.indexed} indexed")
    if not report.changed and not args.rebuild:
        print(f"Index up to date: {report.documents} documents, {report.chunks} chunks ({seconds:.1f} s).")
        return status
    changes = ", ".join(
        f"{len(names)} {label}" for label, names in
        (("added", report.added), ("updated", report.updated), ("removed", report.removed)) if names
    ) or ("none changed" if report.merged else "rebuilt")
    print(
        f"Indexed {report.documents} documents ({changes}), {report.chunks} chunks, "
        f"{report.embedded_texts} passages and sentences embedded, in {seconds:.1f} s -> {settings.index_dir}"
        + (f"; {report.merged} segments merged into one" if report.merged else "")
    )
    return status


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    where = DocumentFilter.of(args.since, args.until, args.sources)
    hits = open_corpus(settings).search(args.query, args.k, language=args.language, mode=args.mode, where=where)
    if args.json:
        rows = [{name: value for name, value in asdict(hit).items() if name != "sentences"} for hit in hits]
        print(json.dumps({"hits": rows}, ensure_ascii=False, indent=2))
        return 0
    if not hits:
        print("No passage found.")
    for rank, hit in enumerate(hits, 1):
        print(f"{rank}. [{hit.doc_id}] {hit.title}{_byline(hit.source, hit.date)}")
        print(f"   score={hit.score:.4f} cosine={hit.dense_score:.3f} offsets=[{hit.start}:{hit.end}]")
        print(f"   {hit.text}\n")
    return 0


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    if args.generator:
        settings = settings.model_copy(update={"generator": args.generator})
    where = DocumentFilter.of(args.since, args.until, args.sources)
    answer = open_service(settings).answerer.ask(args.question, language=args.language, top_k=args.k, where=where)
    if args.json:
        print(json.dumps(asdict(answer), ensure_ascii=False, indent=2))
        return 0
    _print_answer(answer, args.question)
    return 0


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    if args.generator:
        settings = settings.model_copy(update={"generator": args.generator})
    answerer = open_service(settings).answerer
    where = DocumentFilter.of(args.since, args.until, args.sources)
    _keep_line_history(settings.cache_dir / "chat_history")
    turns: list[Turn] = []
    print("Ask about the articles; follow-ups read the thread. /new starts a new thread, Ctrl-D quits.",
          file=sys.stderr)
    while True:
        try:
            question = input("> ").strip()
        except EOFError:
            print(file=sys.stderr)
            return 0
        if question == "/new":
            turns.clear()
            continue
        if not question:
            continue
        try:
            answer = answerer.ask(question, history=turns, language=args.language, top_k=args.k, where=where)
        except InvalidInputError as error:  # the thread goes on; other errors end the session
            print(f"rag: error: {error}", file=sys.stderr)
            continue
        _print_answer(answer, question)
        turns = [*turns, Turn(question, answer.answer)][-MAX_TURNS:]


def _keep_line_history(path: Path) -> None:
    """Line editing and the questions of earlier sessions under the arrow keys, where readline exists."""
    try:
        import readline
    except ImportError:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
        readline.read_history_file(path)
    except OSError:
        return
    readline.set_history_length(1000)
    atexit.register(readline.write_history_file, path)


def _print_answer(answer: Answer, question: str) -> None:
    print(answer.answer)
    if answer.standalone_question != question:
        print(f"(understood as: {answer.standalone_question})")
    sources = answer.related if answer.abstained else answer.citations
    if sources:
        print("\nClosest passages:" if answer.abstained else "\nSources:")
    for citation in sources:
        byline = _byline(citation.source, citation.date)
        print(f"[{citation.id}] {citation.doc_id} — {citation.title}{byline} [{citation.start}:{citation.end}]")
        print(f"    {citation.snippet}")
    total = answer.timings_ms.get("total", 0.0) / 1000
    print(f"\n({answer.model}, {answer.language}, {total:.1f} s)")


def _byline(source: str | None, date: str | None) -> str:
    """" (outlet · date)" with what is known, or nothing."""
    known = " · ".join(part for part in (source, date) if part)
    return f" ({known})" if known else ""


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from api.app import create_app
    from api.memory import limit_arenas

    limit_arenas()  # before any thread: the model's, torch's and the server's
    settings = settings.model_copy(update={"host": args.host or settings.host, "port": args.port or settings.port})
    # Models and index load before it listens, here rather than in the app's lifespan: a missing model
    # or a damaged index is then one line on stderr (`main`), not a traceback from uvicorn's start-up.
    service = open_service(settings, missing_ok=True)
    try:  # Proxy headers are not trusted.
        uvicorn.run(
            create_app(service=service),
            host=settings.host,
            port=settings.port,
            log_level="info",
            proxy_headers=False,
            timeout_graceful_shutdown=5,
        )
    finally:
        service.corpus.close()
    return 0


def cmd_mcp(args: argparse.Namespace, settings: Settings) -> int:
    from api.mcp_server import MCP_PATH, BearerKey, RagMCPServer

    server = RagMCPServer(open_service(settings))
    if args.http is None:
        server.run("stdio")  # stdout is the protocol: nothing else may print there
        return 0
    import uvicorn

    host, port = args.http
    app: ASGIApp = server.streamable_http_app(host=host, streamable_http_path=MCP_PATH)
    if settings.api_key and settings.api_key_for_ask:
        app = BearerKey(app, settings.api_key)
    print(f"MCP over streamable HTTP on http://{host}:{port}{MCP_PATH}", file=sys.stderr)
    uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=False)
    return 0


def _host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT, e.g. 127.0.0.1:8001")
    return host.strip("[]"), int(port)


def cmd_models_prepare(args: argparse.Namespace, settings: Settings) -> int:
    from rag.provisioning.embedding_model import prepare_embedding_model, prepare_onnx_export
    from rag.provisioning.generator_model import prepare_generator_model

    started = time.perf_counter()
    if settings.embedding_model is None:
        path = prepare_embedding_model(settings.cache_dir, force=args.force)
        print(f"Embedding model ready: {path}")
    elif Path(settings.embedding_model).is_dir():
        path = prepare_onnx_export(Path(settings.embedding_model), force=args.force)
        print(f"Embedding model ready: {settings.embedding_model} (RAG_EMBEDDING_MODEL; ONNX export in {path})")
    else:
        raise ModelUnavailableError(
            f"RAG_EMBEDDING_MODEL={settings.embedding_model!r} is not a folder; "
            "set it to a local sentence-transformers folder"
        )
    if settings.generator == "local" and settings.generator_model_path is None and not args.embedder_only:
        path = prepare_generator_model(settings.cache_dir, force=args.force)
        print(f"Generator model ready: {path}")
    print(f"Models prepared in {time.perf_counter() - started:.1f} s.")
    return 0


def add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    """--since, --until and --source: which documents to draw on, by their stored metadata."""
    parser.add_argument("--since", help="only articles published on or after YYYY-MM-DD (or YYYY-MM, YYYY)")
    parser.add_argument("--until", help="only articles published on or before YYYY-MM-DD (or YYYY-MM, YYYY)")
    parser.add_argument(
        "--source", dest="sources", action="append", metavar="OUTLET", help="only this outlet (repeatable)"
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and `--help`)."""
    parser = argparse.ArgumentParser(prog="rag", description="Question answering over news articles.")
    commands = parser.add_subparsers(dest="command", required=True)

    index = commands.add_parser("index", help="index files or folders (default: seeds/)")
    index.add_argument("paths", nargs="*", type=Path, help="article files (text, HTML, feeds, JSON Lines) or folders")
    index.add_argument("--rebuild", action="store_true", help="discard the existing index and rebuild it")
    index.add_argument("--optimize", action="store_true",
                       help="then merge every segment into one (searches scan fewer segments)")
    index.add_argument("--progress", action="store_true", help="show the progress bar even when not on a terminal")
    index.add_argument("--json", action="store_true", help="print a machine-readable report")
    index.set_defaults(handler=cmd_index)

    search = commands.add_parser("search", help="print the passages that best match a query")
    search.add_argument("query")
    search.add_argument("-k", type=int, default=5, help="number of passages (default 5)")
    search.add_argument("--language", choices=LANGUAGES, help="the query's language (default: detected)")
    search.add_argument("--mode", choices=MODES, default="hybrid")
    search.add_argument("--json", action="store_true", help="print machine-readable output")
    add_filter_arguments(search)
    search.set_defaults(handler=cmd_search)

    ask = commands.add_parser("ask", help="answer a question with cited snippets")
    ask.add_argument("question")
    ask.add_argument("--language", choices=LANGUAGE_CHOICES, default="auto", help="answer language")
    ask.add_argument("-k", type=int, default=5, help="passages to retrieve (default 5)")
    ask.add_argument("--generator", choices=get_args(GeneratorName), help="override RAG_GENERATOR")
    ask.add_argument("--json", action="store_true", help="print the answer object as JSON")
    add_filter_arguments(ask)
    ask.set_defaults(handler=cmd_ask)

    chat = commands.add_parser("chat", help="ask questions in a thread: follow-ups read the earlier turns")
    chat.add_argument("--language", choices=LANGUAGE_CHOICES, default="auto", help="answer language")
    chat.add_argument("-k", type=int, default=5, help="passages to retrieve (default 5)")
    chat.add_argument("--generator", choices=get_args(GeneratorName), help="override RAG_GENERATOR")
    add_filter_arguments(chat)
    chat.set_defaults(handler=cmd_chat)

    serve = commands.add_parser("serve", help="serve the HTTP API and chat page")
    serve.add_argument("--host", help="listen address (default RAG_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default RAG_PORT or 8000)")
    serve.set_defaults(handler=cmd_serve)

    mcp = commands.add_parser("mcp", help="serve the tools search and ask over the Model Context Protocol")
    mcp.add_argument(
        "--http", type=_host_port, metavar="HOST:PORT", help="streamable HTTP at HOST:PORT/mcp instead of stdio"
    )
    mcp.set_defaults(handler=cmd_mcp)

    models = commands.add_parser("models", help="provision the offline models")
    models_commands = models.add_subparsers(dest="models_command", required=True)
    prepare = models_commands.add_parser("prepare", help="convert and verify the bundled models (idempotent)")
    prepare.add_argument("--force", action="store_true", help="rebuild even if already prepared")
    prepare.add_argument("--embedder-only", action="store_true", help="skip the generator model")
    prepare.set_defaults(handler=cmd_models_prepare)

    add_eval_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `rag` console script."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # loading a model is no progress to report
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
        return int(args.handler(args, settings))
    except ValidationError as error:
        problems = "; ".join(f"RAG_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in error.errors())
        print(f"rag: error: invalid setting: {problems}", file=sys.stderr)
        return 2
    except RagError as error:
        print(f"rag: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("rag: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
