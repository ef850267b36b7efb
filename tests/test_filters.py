"""Date and outlet filters: what they read, what they let through, and retrieval that honours them."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.answerer import Answerer
from rag.corpus import Corpus
from rag.documents import Document, parse_document
from rag.errors import InvalidInputError
from rag.filters import DocumentFilter


def doc(date: str | None = None, source: str | None = None) -> Document:
    return Document("d", "t", "Un texte.", date=date, source=source)


@pytest.mark.parametrize(
    ("since", "until", "expected"),
    [
        ("2025", None, ("2025-01-01", None)),
        (None, "2025", (None, "2025-12-31")),
        ("2024-02", "2024-02", ("2024-02-01", "2024-02-29")),
        (" 2025-11-05 ", "2025-11-05", ("2025-11-05", "2025-11-05")),
    ],
)
def test_bounds_read_as_days_periods_from_their_first_day_to_their_last(since, until, expected) -> None:
    where = DocumentFilter.of(since, until)
    assert (where.since, where.until) == expected


@pytest.mark.parametrize(
    ("since", "until", "sources", "words"),
    [
        ("hier", None, None, "since 'hier' is not a date"),
        (None, "2025-02-30", None, "until '2025-02-30' is not a date"),
        ("2025-13", None, None, "is not a date"),
        ("2025-12-01", "2025-11-01", None, "is after until"),
        (None, None, [" ", ""], "sources is empty"),
    ],
)
def test_bad_filters_are_refused_with_a_reason(since, until, sources, words) -> None:
    with pytest.raises(InvalidInputError, match=words):
        DocumentFilter.of(since, until, sources)


def test_what_a_filter_lets_through() -> None:
    where = DocumentFilter.of("2025-11", "2025-11-30", ["  le fil  TECH", "Techcrunch"])
    assert where.active and not DocumentFilter.of().active
    assert where.allows(doc("2025-11-05", "Le Fil Tech")) and where.allows(doc("2025-11-30", "TechCrunch"))
    assert not where.allows(doc("2025-10-31", "Techcrunch"))  # before
    assert not where.allows(doc("2025-12-01", "Techcrunch"))  # after
    assert not where.allows(doc(None, "Techcrunch"))  # a date is asked for: an undated article is left out
    assert not where.allows(doc("2025-11-05", None)) and not where.allows(doc("2025-11-05", "AFP"))
    assert DocumentFilter.of(sources=["AFP"]).allows(doc(None, "afp"))


def test_retrieval_ranks_only_allowed_documents_however_far_down_they_are(tmp_path: Path, keyword_embedder):
    """The one allowed article matches the query worst of 150: a top-100 pool filtered afterwards
    would miss it; the mask finds it."""
    articles = [
        parse_document(f"Le cloud progresse encore. Le cloud d'AWS gagne {n} clients.", f"cloud-{n:03d}",
                       date="2025-10-01", source="Le Cloud Quotidien")
        for n in range(150)
    ]
    articles.append(parse_document("Amazon conçoit des puces. Le cloud est cité une fois.", "puces",
                                   date="2024-03-01", source="Le Fil Tech"))
    corpus = Corpus.open(tmp_path / "index", keyword_embedder, missing_ok=True)
    corpus.upsert(articles)
    assert "puces" not in {hit.doc_id for hit in corpus.search("cloud", 100)}
    for where in (DocumentFilter.of(until="2024"), DocumentFilter.of(sources=["le fil tech"])):
        hits = corpus.search("cloud", 5, where=where)
        assert [hit.doc_id for hit in hits] == ["puces"]
        assert (hits[0].date, hits[0].source) == ("2024-03-01", "Le Fil Tech")
    assert corpus.search("cloud", 5, where=DocumentFilter.of(since="2026")) == []
    assert len(corpus.search("cloud", 5, where=DocumentFilter.of(since="2025"))) == 5


def _cloud_corpus(tmp_path: Path, keyword_embedder) -> Corpus:
    corpus = Corpus.open(tmp_path / "index", keyword_embedder, missing_ok=True)
    corpus.upsert([parse_document(f"Le cloud d'AWS gagne {n} clients. Le cloud progresse.", f"cloud-{n}")
                   for n in range(5)])
    return corpus


def test_excluded_documents_never_come_back(tmp_path: Path, keyword_embedder) -> None:
    corpus = _cloud_corpus(tmp_path, keyword_embedder)
    where = DocumentFilter(excluded=frozenset({"cloud-0", "cloud-3"}))
    assert where.active and not where.allows(Document("cloud-0", "t", "x"))
    assert where.allows(Document("cloud-1", "t", "x"))
    assert {hit.doc_id for hit in corpus.search("cloud", 50)} == {f"cloud-{n}" for n in range(5)}
    assert {hit.doc_id for hit in corpus.search("cloud", 50, where=where)} == {"cloud-1", "cloud-2", "cloud-4"}


def test_excluding_every_document_gives_the_no_passage_refusal(tmp_path: Path, keyword_embedder) -> None:
    answerer = Answerer(_cloud_corpus(tmp_path, keyword_embedder), None, max_tokens=64)
    question = "Combien de clients le cloud d'AWS gagne-t-il ?"
    assert not answerer.ask(question).abstained  # with every article there, the extractive answer quotes one
    answer = answerer.ask(question, where=DocumentFilter(excluded=frozenset(f"cloud-{n}" for n in range(5))))
    assert answer.abstained and answer.abstain_reason == "no_relevant_passage" and answer.citations == []
