"""The gold questions over the HTML and feed versions of the seeds retrieve as over the .txt seeds, and
the date questions (eval/gold_dates.jsonl) over every dated fixture article.

tests/fixtures/news holds four seed articles as saved pages and the fifth in an RSS feed (plus a
page without an article and an entry without text, both skipped). Doc ids differ (file names, feed
entry ids), so each seed is matched to its version by text, and gold evidence by its words.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from servers import copy_index

from rag.answerer import Answerer
from rag.corpus import Corpus
from rag.evaluation.gold import GoldItem, load_gold
from rag.evaluation.metrics import ANSWER_TOP_K, evidence_recall, first_relevant_rank, groups, hit_at, summarize
from rag.evaluation.runner import LocalBackend, run_gold
from rag.evaluation.versions import translated, versions_of
from rag.retrieval import retrieve
from rag.store import CorpusIndex

ROOT = Path(__file__).resolve().parents[1]
NEWS = ROOT / "tests" / "fixtures" / "news"
TOLERANCE = 0.02


@pytest.fixture(scope="module")
def news_corpus(seed_index_dir: Path, tmp_path_factory: pytest.TempPathFactory, embedder) -> Corpus:
    """The pages and the feed indexed in place of the seeds (identical passages reuse their vectors)."""
    corpus = Corpus.open(copy_index(seed_index_dir, tmp_path_factory.mktemp("news") / "index"), embedder)
    report = corpus.sync_paths([NEWS])
    assert report.documents == 5 and len(report.skipped) == 2
    return corpus


def scores(index: CorpusIndex, items: list[GoldItem], vectors: np.ndarray) -> dict[str, float]:
    hits5 = recall = 0.0
    for item, vector in zip(items, vectors):
        hits = retrieve(index, item.question, lambda _, vector=vector: vector, ANSWER_TOP_K)
        hits5 += hit_at(first_relevant_rank([hit.doc_id for hit in hits], set(item.doc_ids)), ANSWER_TOP_K)
        recall += evidence_recall(hits, item.evidence)
    return {"hit_at_5": hits5 / len(items), "evidence_recall": recall / len(items)}


def test_gold_retrieval_over_pages_and_feeds_is_within_two_points_of_the_txt_seeds(
    seed_corpus: Corpus, news_corpus: Corpus, embedder
) -> None:
    items = [item for item in load_gold(ROOT / "eval" / "gold.jsonl") if item.answerable]
    vectors = embedder.embed_queries([item.question for item in items])
    seeds, news_index = seed_corpus.snapshot, news_corpus.snapshot
    over_seeds = scores(seeds, items, vectors)
    versions = versions_of(seeds, news_index)
    over_news = scores(news_index, [translated(item, news_index, versions) for item in items], vectors)
    print(f"\n{len(items)} answerable gold questions: seeds {over_seeds}, pages and feeds {over_news}")
    for name, value in over_seeds.items():
        assert abs(over_news[name] - value) <= TOLERANCE, (name, over_seeds, over_news)


ANSWER_SCORES = ("fact_accuracy", "citation_precision", "citation_recall", "exact_snippet", "refusal_recall")


def test_gold_answers_over_pages_and_feeds_are_within_two_points_of_the_txt_seeds(
    seed_corpus: Corpus, news_corpus: Corpus
) -> None:
    """Every single-turn gold question answered (extractively) over both versions of the articles;
    `python bench/pages.py --generator local` gives the same table with the local model."""
    items = [item for item in load_gold(ROOT / "eval" / "gold.jsonl") if not item.history]
    versions = versions_of(seed_corpus.snapshot, news_corpus.snapshot)
    assert len(versions) == 5
    over_pages = [translated(item, news_corpus.snapshot, versions) if item.answerable else item for item in items]
    seeds = summarize(run_gold(items, LocalBackend(seed_corpus, Answerer(seed_corpus, None, max_tokens=64))))
    pages = summarize(run_gold(over_pages, LocalBackend(news_corpus, Answerer(news_corpus, None, max_tokens=64))))
    print(f"\n{len(items)} gold questions, extractive: seeds {seeds}, pages and feeds {pages}")
    for name in ANSWER_SCORES:
        assert seeds[name] is not None and pages[name] is not None
        assert abs(pages[name] - seeds[name]) <= TOLERANCE, (name, seeds[name], pages[name])


DATED = [ROOT / "tests" / "fixtures" / name for name in ("news", "feeds", "exports")]


@pytest.fixture(scope="module")
def dated_corpus(seed_index_dir: Path, tmp_path_factory: pytest.TempPathFactory, embedder) -> Corpus:
    """Every dated fixture article (pages, feeds, briefs, export) indexed in place of the seeds."""
    corpus = Corpus.open(copy_index(seed_index_dir, tmp_path_factory.mktemp("dated") / "index"), embedder)
    corpus.sync_paths(DATED)
    return corpus


def test_date_gold_questions_are_true_to_the_fixture_articles(dated_corpus: Corpus) -> None:
    items = load_gold(ROOT / "eval" / "gold_dates.jsonl")
    assert len(items) >= 15 and {item.category for item in items} == {"date"}
    assert {item.language for item in items} == {"fr", "en"}
    for item in items:
        for span in item.evidence:
            assert dated_corpus.snapshot.documents[span.doc_id].document.text[span.start : span.end] == span.text


def test_date_questions_are_their_own_category_and_answers_say_as_of_when(dated_corpus: Corpus) -> None:
    """The extractive answerer over the dated articles: scored as `rag eval` scores, in category `date`."""
    items = load_gold(ROOT / "eval" / "gold_dates.jsonl")
    backend = LocalBackend(dated_corpus, Answerer(dated_corpus, None, max_tokens=64))
    results = run_gold(items, backend)
    scores = summarize(groups(results)["date"])
    print(f"\ndate questions, extractive: {scores}")
    assert scores["hit_at_1"] is not None and scores["hit_at_1"] >= 0.8
    dated = [result for result in results if not result.abstained]
    assert dated and all(result.answer.startswith(("As of ", "Au ")) for result in dated)
