"""Answers over the seeds as saved web pages and a feed, against answers over the .txt seeds.

    .venv/bin/python bench/pages.py [--generator extractive|local] [--limit N]

tests/fixtures/news holds the five seed articles as four saved pages and one RSS entry (and a page
without an article and an entry without text, both skipped). The script indexes them into a scratch
copy of the index (identical passages reuse their vectors), points the gold set at them
(rag/evaluation/versions.py), answers every single-turn gold question over both corpora with the same
generator, and prints their scores side by side. tests/test_ingest_retrieval.py holds the extractive
scores within 0.02 of each other.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rag.answerer import Answerer  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.corpus import Corpus  # noqa: E402
from rag.embedding import Embedder  # noqa: E402
from rag.evaluation.gold import GoldItem, load_gold  # noqa: E402
from rag.evaluation.metrics import summarize  # noqa: E402
from rag.evaluation.runner import LocalBackend, run_gold  # noqa: E402
from rag.evaluation.versions import translated, versions_of  # noqa: E402
from rag.generation import load_generator  # noqa: E402
from rag.service import open_corpus  # noqa: E402

NEWS = ROOT / "tests" / "fixtures" / "news"
SCORES = ("hit_at_5", "evidence_recall", "fact_accuracy", "citation_precision", "citation_recall",
          "language_match", "refusal_precision", "refusal_recall")


def pages_corpus(settings: Settings, embedder: Embedder, scratch: Path) -> Corpus:
    """The pages and the feed indexed in place of the seeds, in a copy of the seeds' index."""
    shutil.copytree(settings.index_dir, scratch / "index", symlinks=True)
    corpus = open_corpus(settings, embedder=embedder, index_dir=scratch / "index")
    report = corpus.sync_paths([NEWS])
    print(f"pages and feed: {report.documents} documents, {len(report.skipped)} skipped", file=sys.stderr)
    return corpus


def scores(corpus: Corpus, items: list[GoldItem], answerer: Answerer) -> dict[str, float | None]:
    def progress(number: int, _: object) -> None:
        if number % 10 == 0 or number == len(items):
            print(f"  [{number}/{len(items)}]", file=sys.stderr)

    return summarize(run_gold(items, LocalBackend(corpus, answerer), on_result=progress))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generator", default="extractive", choices=("extractive", "local"))
    parser.add_argument("--limit", type=int, help="only the first N single-turn gold questions")
    args = parser.parse_args()
    settings = Settings(generator=args.generator)
    items = [item for item in load_gold(ROOT / "eval" / "gold.jsonl") if not item.history][: args.limit]
    embedder = Embedder.from_settings(settings)
    seeds = open_corpus(settings, embedder=embedder)
    generator = load_generator(settings)
    with tempfile.TemporaryDirectory(prefix="rag-pages-") as scratch:
        pages = pages_corpus(settings, embedder, Path(scratch))
        versions = versions_of(seeds.snapshot, pages.snapshot)
        over_pages = [translated(item, pages.snapshot, versions) if item.answerable else item for item in items]
        rows = {}
        for name, corpus, asked in (("seeds (.txt)", seeds, items), ("pages and feed", pages, over_pages)):
            print(f"answering {len(asked)} questions over {name}…", file=sys.stderr)
            rows[name] = scores(corpus, asked, Answerer(corpus, generator, max_tokens=settings.max_answer_tokens))
    print(f"\n{len(items)} gold questions, answers by {args.generator}\n")
    print("| corpus | " + " | ".join(SCORES) + " |")
    print("|---|" + "---|" * len(SCORES))
    for name, row in rows.items():
        cells = ["n/a" if row[score] is None else f"{row[score]:.2f}" for score in SCORES]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
