"""Questions that name a time: the period or recency read from French and English wordings."""

from __future__ import annotations

from datetime import date

import pytest

from rag.timeframe import Timeframe, read_timeframe

TODAY = date(2025, 11, 5)  # the corpus's newest article


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Combien Amazon va-t-il investir en 2025 ?", Timeframe("2025-01-01", "2025-12-31")),
        ("What did AWS earn in the third quarter of 2025?", Timeframe("2025-07-01", "2025-09-30")),
        ("Quel chiffre d'affaires au quatrième trimestre 2024 ?", Timeframe("2024-10-01", "2024-12-31")),
        ("AWS results, Q3 2025", Timeframe("2025-07-01", "2025-09-30")),
        ("Les résultats du T2 ?", Timeframe("2025-04-01", "2025-06-30")),  # the latest second quarter
        ("Qu'a annoncé Amazon en février ?", Timeframe("2025-02-01", "2025-02-28")),
        ("What happened in December?", Timeframe("2024-12-01", "2024-12-31")),  # not a December to come
        ("Les annonces de mars 2024", Timeframe("2024-03-01", "2024-03-31")),
        ("Quoi de neuf sur Trainium depuis octobre ?", Timeframe("2025-10-01", None, latest=True)),
        ("What has changed since March 2024?", Timeframe("2024-03-01", None)),
        ("Qu'a fait Amazon depuis 2024 ?", Timeframe("2024-01-01", None)),
        ("What is the latest news on OpenAI?", Timeframe(latest=True)),
        ("Les dernières nouvelles sur AWS ?", Timeframe(latest=True)),
        ("Qu'a annoncé OpenAI récemment ?", Timeframe(latest=True)),
    ],
)
def test_periods_and_recency_are_read(question: str, expected: Timeframe) -> None:
    assert read_timeframe(question, TODAY) == expected


@pytest.mark.parametrize(
    "question",
    ["Combien OpenAI paie-t-il AWS ?", "How many jobs is Amazon cutting?", "Quel est le rythme jamais vu depuis ?"],
)
def test_a_question_without_a_time_reads_none(question: str) -> None:
    assert read_timeframe(question, TODAY) is None


def test_a_period_covers_the_articles_published_in_it_and_never_an_undated_one() -> None:
    february = Timeframe("2025-02-01", "2025-02-28")
    assert february.covers("2025-02-10") and february.covers("2025-02-28")
    assert not february.covers("2025-03-01") and not february.covers(None)
    assert Timeframe("2025-10-01", None).covers("2026-01-01")
    assert not Timeframe(latest=True).covers("2025-11-05")  # recency is a preference, not a period


def test_retrieval_leans_to_the_articles_of_the_period_or_the_newest(tmp_path, keyword_embedder) -> None:
    """Two equally matching articles on one subject: the question's time picks between them."""
    from rag.corpus import Corpus
    from rag.documents import parse_document

    corpus = Corpus.open(tmp_path / "index", keyword_embedder, missing_ok=True)
    corpus.upsert([
        parse_document("Amazon dévoile ses puces Trainium pour le cloud.", "hiver", date="2025-02-10"),
        parse_document("Amazon présente ses puces Trainium pour le cloud.", "automne", date="2025-10-20"),
        parse_document("Amazon parle de ses puces Trainium pour le cloud.", "sans-date"),
    ])
    assert corpus.search("Les puces Trainium d'Amazon en février ?", 1)[0].doc_id == "hiver"
    assert corpus.search("Les puces Trainium d'Amazon depuis octobre ?", 1)[0].doc_id == "automne"
    assert corpus.search("What is the latest on Amazon's Trainium puces?", 1)[0].doc_id == "automne"
    assert {hit.doc_id for hit in corpus.search("Les puces Trainium d'Amazon en 2019 ?", 3)} == {
        "hiver", "automne", "sans-date",
    }  # a period weighs, never filters: nothing is left out
