"""Answers over the real seed index: language, citations, figures, refusals, injection, fallback."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from seed_ids import AMAZON_100, AMAZON_PLAN, AWS_GROWTH, OPENAI

from rag.answerer import REFUSALS, Answerer
from rag.errors import InvalidInputError
from rag.language import detect_language
from rag.textnorm import number_values

ANSWERABLE = [
    ("How much is OpenAI paying AWS, and for how long?", "en", {OPENAI}, "38"),
    ("Combien Amazon prévoit-il d'investir en 2025 ?", "fr", {AMAZON_100, AMAZON_PLAN}, "100"),
    ("Combien d'emplois Amazon supprime-t-il ?", "fr", {AWS_GROWTH}, "14000"),
    ("What stake will Microsoft hold in OpenAI Group PBC?", "en", {OPENAI}, "27"),
]
UNANSWERABLE = [
    ("Who won the rugby world cup?", "en"),
    ("What was Google Cloud's operating margin in 2024?", "en"),
    ("Quel est le bénéfice net de NVIDIA en 2024 ?", "fr"),
]


def check_well_formed(answer, corpus) -> None:
    """Every snippet is verbatim at its offsets; markers and citations match one to one."""
    for citation in answer.citations + answer.related:
        text = corpus.snapshot.documents[citation.doc_id].document.text
        assert text[citation.start : citation.end] == citation.snippet
        assert len(citation.snippet) <= 600
    assert len({(item.doc_id, item.start) for item in answer.related}) == len(answer.related)
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)}
    assert markers == {citation.id for citation in answer.citations}


@pytest.fixture(scope="module")
def local_answerer(seed_corpus, settings):
    from rag.generation import load_generator

    generator = load_generator(settings.model_copy(update={"generator": "local"}))
    assert generator is not None, "the local model is not provisioned: run `rag models prepare`"
    return Answerer(seed_corpus, generator, max_tokens=settings.max_answer_tokens)


@pytest.fixture(scope="module")
def extractive_answerer(seed_corpus, settings):
    return Answerer(seed_corpus, None, max_tokens=settings.max_answer_tokens)


@pytest.mark.llm
@pytest.mark.parametrize(("question", "language", "sources", "figure"), ANSWERABLE, ids=[q[0] for q in ANSWERABLE])
def test_local_answer_is_in_language_cited_and_holds_the_figure(local_answerer, seed_corpus, question, language,
                                                                sources, figure):
    answer = local_answerer.ask(question)
    assert not answer.abstained, answer
    assert answer.language == language
    assert detect_language(re.sub(r"\[\d+\]", "", answer.answer)) == language, answer.answer
    assert {citation.doc_id for citation in answer.citations} & sources
    assert any(value == int(figure) for value in number_values(answer.answer)), answer.answer
    assert answer.model.startswith("local:")
    check_well_formed(answer, seed_corpus)


@pytest.mark.llm
@pytest.mark.parametrize(("question", "language"), UNANSWERABLE, ids=[q[0] for q in UNANSWERABLE])
def test_unanswerable_questions_are_refused_in_their_language(local_answerer, seed_corpus, question, language):
    answer = local_answerer.ask(question)
    assert answer.abstained, answer
    assert answer.answer == REFUSALS[language]
    assert answer.abstain_reason in {"no_relevant_passage", "not_in_passages", "unsupported_after_check"}
    assert answer.citations == [] and answer.related
    check_well_formed(answer, seed_corpus)


def test_extractive_answer_quotes_the_best_evidence(extractive_answerer, seed_corpus):
    answer = extractive_answerer.ask("Combien d'emplois Amazon supprime-t-il ?")
    assert not answer.abstained and answer.model == "extractive" and answer.language == "fr"
    assert answer.citations[0].doc_id == AWS_GROWTH and "14 000" in answer.citations[0].snippet
    assert answer.citations[0].snippet in answer.answer
    check_well_formed(answer, seed_corpus)


def test_off_topic_question_is_refused_without_generating(extractive_answerer):
    answer = extractive_answerer.ask("Who won the rugby world cup?", language="auto")
    assert answer.abstained and answer.abstain_reason == "no_relevant_passage"
    assert answer.answer == REFUSALS["en"]
    assert answer.timings_ms["generate"] == 0.0


def test_language_override_wins(extractive_answerer):
    assert extractive_answerer.ask("Who won the rugby world cup?", language="fr").answer == REFUSALS["fr"]


@pytest.mark.parametrize(
    ("question", "language", "top_k"),
    [("  ", "auto", 5), ("x" * 2001, "auto", 5), ("Qui ?", "de", 5), ("Qui ?", "auto", 0), ("Qui ?", "auto", 21)],
)
def test_bad_requests_are_refused_clearly(extractive_answerer, question, language, top_k):
    with pytest.raises(InvalidInputError):
        extractive_answerer.ask(question, language=language, top_k=top_k)


def test_missing_model_falls_back_to_extractive_with_a_log_line(seed_index_dir, tmp_path):
    env = {**os.environ, "RAG_INDEX_DIR": str(seed_index_dir), "RAG_GENERATOR": "local",
           "RAG_GENERATOR_MODEL_PATH": str(tmp_path / "missing.gguf")}
    result = subprocess.run(
        [sys.executable, "-m", "api.cli", "ask", "Combien d'emplois Amazon supprime-t-il ?", "--json"],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "extractive" in result.stderr.lower()
    assert '"model": "extractive"' in result.stdout
