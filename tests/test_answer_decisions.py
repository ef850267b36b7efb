"""Every branch of the answer decision tree, deterministically: a scripted generator over the real seed index.

First attempt, firmer retry, extractive fallback, the three refusal reasons, generator failure and
cancel. The real model is exercised by the `llm` tests; these pin what the system does with its replies.
"""

from __future__ import annotations

import re
import threading

import pytest
from doubles import ENDLESS, ScriptedGenerator
from seed_ids import AMAZON_100, AMAZON_PLAN

from rag.answer_types import Final, Sources, Token
from rag.answerer import (
    CHOICE_THRESHOLD,
    EXTRACTIVE_MODEL,
    REFUSALS,
    RELEVANCE_THRESHOLD,
    STRONG_EVIDENCE_THRESHOLD,
    Answerer,
)
from rag.errors import GenerationError
from rag.prompting import NOT_FOUND

INVEST = "Combien Amazon prévoit-il d'investir en 2025 ?"
GOOD_REPLY = ["Amazon prévoit d'investir plus de ", "100 milliards de dollars", " en 2025 [1]."]
WRONG_FIGURE = "Amazon prévoit d'investir 999 milliards de dollars en 2025 [1]."
ENGLISH_REPLY = "Amazon plans to invest more than 100 billion dollars in 2025, mostly in its cloud [1]."
# Candidates for a question whose best evidence is relevant but not strong (between the two thresholds).
MIDDLING = [
    "Quelle est la position d'Amazon face à la concurrence ?",
    "Que pense Andy Jassy de l'efficacité des modèles ?",
    "Pourquoi les investissements dans l'IA augmentent-ils ?",
    "What does Amazon say about its competitors?",
    "Quels sont les risques pour Amazon ?",
]


@pytest.fixture
def scripted(seed_corpus) -> tuple[Answerer, ScriptedGenerator]:
    generator = ScriptedGenerator()
    return Answerer(seed_corpus, generator, max_tokens=160), generator


def best_evidence_score(answerer: Answerer, question: str) -> float:
    sources = next(event for event in answerer.stream(question) if isinstance(event, Sources))
    return max((passage.score for passage in sources.passages), default=0.0)


def test_events_come_as_sources_then_tokens_then_the_verified_answer(scripted):
    answerer, generator = scripted
    generator.enqueue(GOOD_REPLY)
    events = list(answerer.stream(INVEST))
    assert isinstance(events[0], Sources) and events[0].language == "fr" and events[0].passages
    assert [event.text for event in events[1:-1] if isinstance(event, Token)] == GOOD_REPLY
    assert isinstance(events[-1], Final) and len(events) == len(GOOD_REPLY) + 2
    answer = events[-1].answer
    assert not answer.abstained and answer.model == generator.name
    assert "100 milliards" in answer.answer and answer.citations
    assert {citation.doc_id for citation in answer.citations} <= {AMAZON_100, AMAZON_PLAN}
    # The sources event showed the passage the model cited; cross-checking may add another article's
    # sentence giving the same figure, from the other retrieved passages.
    shown = {(passage.doc_id, passage.start, passage.end) for passage in events[0].passages}
    first = answer.citations[0]
    assert (first.doc_id, first.start, first.end) in shown
    assert len(generator.requests) == 1 and generator.pending == 0


def test_an_unsupported_figure_gets_one_firmer_retry_and_the_retry_answers(scripted):
    answerer, generator = scripted
    generator.enqueue(WRONG_FIGURE, GOOD_REPLY)
    events = list(answerer.stream(INVEST))
    answer = events[-1].answer
    assert not answer.abstained and "100 milliards" in answer.answer and "999" not in answer.answer
    # Only the first attempt is previewed as tokens; the retry's request carries the correction.
    assert [event.text for event in events if isinstance(event, Token)] == [WRONG_FIGURE]
    assert len(generator.requests) == 2
    assert "figures or claims that the cited excerpts do not contain" in generator.requests[1][-1]["content"]
    assert "do not contain" not in generator.requests[0][-1]["content"]


def test_a_figure_of_another_named_company_is_retried_without_that_company_s_sentences(scripted):
    answerer, generator = scripted
    sources = next(event for event in answerer.stream(INVEST) if isinstance(event, Sources))
    meta = [p.id for p in sources.passages if p.snippet.startswith("Meta a également annoncé")]
    assert meta, "the test needs Meta's 60 billion among the evidence for Amazon's plan"
    generator.enqueue(f"Amazon prévoit d'investir au moins 60 milliards de dollars en 2025 [{meta[0]}].", GOOD_REPLY)
    answer = answerer.ask(INVEST)
    assert not answer.abstained and "100 milliards" in answer.answer and "60 milliards" not in answer.answer
    retry = generator.requests[1][-1]["content"]
    assert "Meta a également annoncé" not in retry and "Amazon" in retry


def test_a_head_count_answered_with_job_cuts_is_refused_once_the_retry_reads_no_cuts(scripted):
    answerer, generator = scripted
    question = "Combien d'employés compte AWS ?"
    sources = next(event for event in answerer.stream(question) if isinstance(event, Sources))
    cuts = [p.id for p in sources.passages if "14 000" in p.snippet]
    assert cuts, "the test needs the 14,000 job cuts among the evidence for AWS's head count"
    generator.enqueue(f"AWS compte 14 000 employés [{cuts[0]}].", NOT_FOUND)
    answer = answerer.ask(question)
    assert answer.abstained and "14 000" not in answer.answer
    assert "14 000" not in generator.requests[1][-1]["content"]


def test_two_failed_checks_with_strong_evidence_answer_by_quoting(scripted):
    answerer, generator = scripted
    assert best_evidence_score(answerer, INVEST) >= STRONG_EVIDENCE_THRESHOLD, "the test needs strong evidence"
    generator.enqueue(WRONG_FIGURE, WRONG_FIGURE)
    answer = answerer.ask(INVEST)
    assert not answer.abstained and answer.model == EXTRACTIVE_MODEL
    assert "999" not in answer.answer and answer.citations[0].snippet in answer.answer


def test_two_failed_checks_with_middling_evidence_refuse(scripted):
    answerer, generator = scripted
    scores = {question: best_evidence_score(answerer, question) for question in MIDDLING}
    middling = [q for q, score in scores.items() if RELEVANCE_THRESHOLD <= score < STRONG_EVIDENCE_THRESHOLD]
    assert middling, f"no candidate question has middling evidence any more ({scores}): add one"
    generator.enqueue(WRONG_FIGURE, WRONG_FIGURE)
    answer = answerer.ask(middling[0], language="fr")
    assert answer.abstained and answer.abstain_reason == "unsupported_after_check"
    assert answer.answer == REFUSALS["fr"] and answer.related and not answer.citations
    assert generator.pending == 0


def test_an_answer_in_the_wrong_language_twice_is_replaced_by_a_quote(scripted):
    answerer, generator = scripted
    generator.enqueue(ENGLISH_REPLY, ENGLISH_REPLY)
    answer = answerer.ask(INVEST)
    assert answer.model == EXTRACTIVE_MODEL and answer.language == "fr"
    assert answer.answer.startswith("D'après les articles")
    assert "not written in French" in generator.requests[1][-1]["content"]


def test_the_model_saying_not_found_is_a_refusal_not_in_passages(scripted):
    answerer, generator = scripted
    generator.enqueue(NOT_FOUND)
    answer = answerer.ask(INVEST)
    assert answer.abstained and answer.abstain_reason == "not_in_passages"
    assert answer.answer == REFUSALS["fr"] and answer.related
    assert len(generator.requests) == 1


def test_a_not_found_is_overruled_when_the_model_would_cite_an_excerpt_with_confidence(scripted):
    answerer, generator = scripted
    generator.enqueue(NOT_FOUND, "Amazon prévoit d'investir plus de 100 milliards de dollars en 2025.")
    generator.enqueue_odds({"1": CHOICE_THRESHOLD + 0.05, "2": 0.03, "Amazon": 0.01})
    answer = answerer.ask(INVEST)
    assert not answer.abstained and answer.model == generator.name and "100 milliards" in answer.answer
    # The model was asked which excerpt it would cite ("["), then made to answer from it ("[1]").
    assert generator.odds_requests[0][-1] == {"role": "assistant", "content": "["}
    assert generator.requests[1][-1] == {"role": "assistant", "content": "[1]"}
    assert answer.citations[0].snippet in generator.requests[1][-2]["content"]
    assert generator.pending == 0


def test_a_not_found_after_the_firmer_retry_is_overruled_from_the_first_prompt(scripted):
    answerer, generator = scripted
    generator.enqueue(WRONG_FIGURE, NOT_FOUND, "Amazon prévoit d'investir plus de 100 milliards de dollars en 2025.")
    generator.enqueue_odds({"1": 0.95})
    answer = answerer.ask(INVEST)
    assert not answer.abstained and "100 milliards" in answer.answer and "999" not in answer.answer
    # The forced answer goes on from the first prompt (the cached one), not from the firmer retry's.
    assert generator.requests[2][:-1] == generator.requests[0]
    assert generator.pending == 0


def test_a_not_found_stands_when_the_model_is_unsure_which_excerpt_to_cite(scripted):
    answerer, generator = scripted
    generator.enqueue(NOT_FOUND)
    generator.enqueue_odds({"1": CHOICE_THRESHOLD - 0.1, "2": 0.05})
    answer = answerer.ask(INVEST)
    assert answer.abstained and answer.abstain_reason == "not_in_passages"
    assert len(generator.requests) == 1 and generator.pending == 0


def test_an_overruled_not_found_is_still_verified(scripted):
    answerer, generator = scripted
    generator.enqueue(NOT_FOUND, WRONG_FIGURE, WRONG_FIGURE)
    generator.enqueue_odds({"1": 0.99})
    answer = answerer.ask(INVEST)
    assert "999" not in answer.answer and answer.model == EXTRACTIVE_MODEL
    assert generator.pending == 0


def test_a_quote_after_failed_checks_is_of_the_excerpt_the_model_would_cite(scripted):
    answerer, generator = scripted
    generator.enqueue(WRONG_FIGURE, WRONG_FIGURE)
    generator.enqueue_odds({"3": 0.7, "1": 0.2})
    answer = answerer.ask(INVEST)
    assert answer.model == EXTRACTIVE_MODEL
    third = re.search(r"^\[3\] (.*)$", generator.requests[0][-1]["content"], re.M)
    assert third is not None and answer.citations[0].snippet == third.group(1)


def test_nothing_relevant_is_refused_without_asking_the_model(scripted):
    answerer, generator = scripted
    answer = answerer.ask("Who won the rugby world cup?")
    assert answer.abstained and answer.abstain_reason == "no_relevant_passage"
    assert answer.answer == REFUSALS["en"] and answer.timings_ms["generate"] == 0.0
    assert generator.requests == []


def test_a_question_about_a_company_no_article_names_is_refused_without_asking_the_model(scripted):
    answerer, generator = scripted
    question = "How much will Alibaba invest in data centres in 2025?"
    assert best_evidence_score(answerer, question) >= RELEVANCE_THRESHOLD, "the test needs close-looking evidence"
    answer = answerer.ask(question)
    assert answer.abstained and answer.abstain_reason == "no_relevant_passage" and answer.related
    assert generator.requests == [] and generator.odds_requests == []


def test_a_failing_generator_falls_back_to_quoting(scripted):
    answerer, generator = scripted
    generator.enqueue(GenerationError("the model timed out"))
    answer = answerer.ask(INVEST)
    assert not answer.abstained and answer.model == EXTRACTIVE_MODEL and answer.citations


def test_cancel_stops_the_model_and_no_answer_follows(scripted):
    answerer, generator = scripted
    generator.enqueue(ENDLESS)
    cancel = threading.Event()
    events = []
    for event in answerer.stream(INVEST, cancel=cancel):
        events.append(event)
        if isinstance(event, Token) and len(events) == 4:
            cancel.set()
    # An endless reply can only end through the cancel, so reaching this line proves it stopped.
    assert generator.cancelled.is_set()
    assert not any(isinstance(event, Final) for event in events)


def test_a_verified_answer_lists_its_claims_with_the_answer_numbering(scripted):
    answerer, generator = scripted
    generator.enqueue(GOOD_REPLY)
    answer = answerer.ask(INVEST)
    assert answer.claims and all(claim.citations for claim in answer.claims)
    assert {n for claim in answer.claims for n in claim.citations} == {citation.id for citation in answer.citations}
    assert answer.claims[0].checks.figures == "supported" and answer.claims[0].checks.period != "mismatch"


def test_an_english_answer_gets_english_figures_from_french_excerpts(scripted):
    answerer, generator = scripted
    generator.enqueue("Amazon plans to invest more than 100 milliards de dollars in 2025 [1].")
    answer = answerer.ask("How much will Amazon invest in 2025?")
    assert not answer.abstained and "100 billion dollars" in answer.answer and "milliards" not in answer.answer
    assert "100 billion dollars" in answer.claims[0].text


def test_a_figure_of_another_quarter_is_refused_not_given_for_the_asked_one(scripted):
    answerer, generator = scripted
    question = "What operating profit did AWS make in Q2 2025?"
    sources = next(event for event in answerer.stream(question) if isinstance(event, Sources))  # no generation yet
    assert any("10,6 milliards" in passage.snippet for passage in sources.passages), "the test needs Q4 2024's figure"
    generator.enqueue("AWS reported an operating income of 10.6 billion dollars for the second quarter of 2025.")
    answer = answerer.ask(question)
    assert answer.abstained and answer.abstain_reason == "unsupported_after_check"
    assert answer.answer == REFUSALS["en"] and not answer.citations and generator.pending == 0
    generator.enqueue("AWS revenue reached 30.9 billion dollars in the second quarter of 2025.")
    assert not answerer.ask("What revenue did AWS report for the second quarter of 2025?").abstained
