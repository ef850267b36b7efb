"""Hybrid retrieval over the real seed index with the real e5 model: the right article comes first."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from seed_ids import AMAZON_100, AMAZON_PLAN, AWS_GROWTH, OPENAI, TRAINIUM

from rag.errors import InvalidInputError
from rag.evaluation.gold import load_gold
from rag.evaluation.metrics import first_relevant_rank

GOLD = Path(__file__).resolve().parents[1] / "eval" / "gold.jsonl"

QUESTIONS = [
    ("Combien OpenAI paie-t-il AWS ?", {OPENAI}),
    ("How much is OpenAI paying AWS?", {OPENAI}),
    ("Quelle part de OpenAI Microsoft détiendra-t-elle après la recapitalisation ?", {OPENAI}),
    ("What stake will Microsoft hold in OpenAI Group PBC?", {OPENAI}),
    ("Combien d'emplois Amazon supprime-t-il ?", {AWS_GROWTH}),
    ("How many gigawatts of capacity did Amazon add in a year?", {AWS_GROWTH}),
    ("Quelles puces Amazon développe-t-il pour concurrencer NVIDIA ?", {TRAINIUM}),
    ("How much better is Trainium2's price-performance than GPU instances?", {TRAINIUM}),
    ("Combien Amazon va-t-il investir dans le cloud et l'IA en 2025 ?", {AMAZON_100, AMAZON_PLAN}),
    ("How much did Amazon invest in 2024?", {AMAZON_PLAN}),
    ("Qu'est-ce que le paradoxe de Jevons selon l'article ?", {AMAZON_PLAN}),
    ("Which Chinese start-up released a low-cost AI model?", {AMAZON_100}),
    ("What did Jeremy Goldman say about Microsoft?", {AMAZON_100}),
]


@pytest.mark.parametrize(("question", "expected"), QUESTIONS, ids=[q for q, _ in QUESTIONS])
def test_right_article_is_the_top_hit(seed_corpus, question, expected):
    hits = seed_corpus.search(question, 5)
    assert hits[0].doc_id in expected, [hit.doc_id for hit in hits]


def test_hits_carry_exact_offsets_and_titles(seed_corpus):
    hits = seed_corpus.search("Trainium", 5)
    assert len(hits) == 5
    for hit in hits:
        document = seed_corpus.snapshot.documents[hit.doc_id].document
        assert document.text[hit.start : hit.end] == hit.text
        assert hit.title == document.title
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)


def test_english_question_finds_french_passage_densely_and_hybrid(seed_corpus):
    question = "Who signed a seven-year agreement with Amazon Web Services for access to GPUs?"
    assert seed_corpus.search(question, 1, mode="dense")[0].doc_id == OPENAI
    assert seed_corpus.search(question, 1, mode="hybrid")[0].doc_id == OPENAI


def test_lexical_matches_count_less_across_languages(tmp_path, keyword_embedder):
    from rag.corpus import Corpus

    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "fr.txt").write_text("La puce Trainium équipe les centres de données d'Amazon depuis cette année.")
    (folder / "en.txt").write_text("The Trainium chip powers Amazon's data centres since this year.")
    corpus = Corpus.open(tmp_path / "index", keyword_embedder, missing_ok=True)
    corpus.sync_paths([folder])
    assert {item.language for item in corpus.snapshot.live_chunks()} == {"fr", "en"}
    english = corpus.search("Where is the Trainium chip used?", 2, language="en")
    french = corpus.search("Où la puce Trainium est-elle utilisée ?", 2, language="fr")
    assert english[0].doc_id == "en" and english[0].score > english[1].score
    assert french[0].doc_id == "fr" and french[0].score > french[1].score


@pytest.mark.parametrize(("query", "k"), [("   ", 5), ("cloud", 0)])
def test_bad_queries_are_refused(seed_corpus, query, k):
    with pytest.raises(InvalidInputError):
        seed_corpus.search(query, k)


def test_empty_index_returns_nothing(tmp_path, embedder):
    from rag.corpus import Corpus

    corpus = Corpus.open(tmp_path / "empty", embedder, missing_ok=True)
    assert corpus.search("cloud", 5) == []


def test_a_corpus_written_article_by_article_ranks_like_one_built_at_once(
    tmp_path, embedder, seed_documents, seed_index_dir, monkeypatch
):
    from dataclasses import replace

    from servers import copy_index

    from rag import indexing
    from rag.corpus import Corpus

    monkeypatch.setattr(indexing, "MERGE_MAX_CHUNKS", 0)  # one segment per article, with a tombstone too
    documents = seed_documents
    piecewise = Corpus.open(tmp_path / "piecewise", embedder, missing_ok=True)
    piecewise.upsert(documents[:2])
    for document in documents[2:]:
        piecewise.upsert([document])
    edited = replace(documents[0], text=documents[0].text + " Mis à jour.")
    piecewise.upsert([edited])  # the first article's old version becomes a tombstone
    whole = Corpus.open(copy_index(seed_index_dir, tmp_path / "whole"), embedder)
    whole.upsert([edited])
    whole.optimize()

    assert [len(view.deleted) for view in piecewise.snapshot.segments] == [1, 0, 0, 0, 0]
    assert len(whole.snapshot.segments) == 1
    for question in ("Combien OpenAI paie-t-il AWS ?", "How many jobs is Amazon cutting?", "puces Trainium"):
        for mode in ("hybrid", "lexical", "dense"):
            expected = [(hit.chunk_id, round(hit.score, 4)) for hit in whole.search(question, 8, mode=mode)]
            assert [(hit.chunk_id, round(hit.score, 4)) for hit in piecewise.search(question, 8, mode=mode)] == expected


def test_a_sentence_naming_no_period_reads_it_from_the_nearest_earlier_one(seed_corpus):
    hits = seed_corpus.search("De combien les revenus d'AWS ont-ils cru, pour quel bénéfice opérationnel ?", 5)
    evidence = next(item for hit in hits for item in hit.sentences if "ont cru de 19%" in item.text)
    assert "quatrième trimestre 2024" in evidence.period_context
    assert evidence.dated_text.endswith(evidence.text)
    dated = next(item for hit in hits for item in hit.sentences if "2025" in item.text)
    assert dated.period_context == "" and dated.dated_text == dated.text


def test_scoring_only_the_candidates_sentences_still_retrieves_the_gold_set(seed_corpus):
    """Only the sentences of the dense and lexical candidates are scored; every hit still carries its
    sentences, scored, and the gold articles are found."""
    answerable = [item for item in load_gold(GOLD) if item.answerable and not item.history]
    found = 0
    for item in answerable:
        hits = seed_corpus.search(item.question, 5)
        assert len(hits) == 5
        assert all(hit.sentences and all(np.isfinite(s.score) for s in hit.sentences) for hit in hits)
        found += first_relevant_rank([hit.doc_id for hit in hits], set(item.doc_ids)) is not None
    assert found / len(answerable) >= 0.98
