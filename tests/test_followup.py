"""Follow-up questions: when a question leans on the thread, its rewrite, the rewrite's check, the
deterministic fallback, the history's bounds, and the whole answer over the real seed index."""

from __future__ import annotations

import pytest
from doubles import ScriptedGenerator
from seed_ids import OPENAI

from rag.answer_types import Sources, Turn
from rag.answerer import Answerer
from rag.errors import GenerationError, InvalidInputError
from rag.followup import (
    MAX_HISTORY_CHARS,
    MAX_TURNS,
    carry_question,
    depends_on_thread,
    keeps_thread,
    recent_turns,
    standalone_question,
    thread_query,
)
from rag.language import answer_language

PAID = Turn("Combien OpenAI paie-t-il AWS ?", "OpenAI paie 38 milliards de dollars à Amazon Web Services [1].")
YEARS = "Et sur combien d'années ?"
REWRITE = "Sur combien d'années OpenAI paie-t-il AWS ?"


@pytest.mark.parametrize(
    ("question", "depends"),
    [
        (YEARS, True),  # no entity of its own
        ("Pourquoi ?", True),
        ("And what about Oracle?", True),  # an opening that leans on the thread
        ("Et Meta ?", True),
        ("How much is it worth?", True),  # a pronoun standing for something said earlier
        ("Quel est son chiffre d'affaires ?", True),
        ("Combien Amazon prévoit-il d'investir en 2025 ?", False),  # "-il" restates Amazon
        ("How much is OpenAI paying AWS, and for how long?", False),
        ("Combien d'emplois Amazon supprime-t-il ?", False),
    ],
)
def test_a_follow_up_is_told_from_a_question_that_stands_alone(question: str, depends: bool) -> None:
    assert depends_on_thread(question) is depends


def test_a_question_that_stands_alone_is_not_rewritten() -> None:
    generator = ScriptedGenerator()
    assert standalone_question("Combien Amazon investit-il en 2025 ?", [PAID], "fr", generator) == (
        "Combien Amazon investit-il en 2025 ?"
    )
    assert standalone_question(YEARS, [], "fr", generator) == YEARS
    assert generator.requests == []


def test_the_generator_rewrites_a_follow_up_from_a_short_prompt() -> None:
    generator = ScriptedGenerator()
    generator.enqueue(["Question : « Sur combien d'années ", "OpenAI paie-t-il AWS ? »\nIl paie 38 milliards."])
    assert standalone_question(YEARS, [PAID], "fr", generator) == REWRITE
    prompt = generator.requests[0][-1]["content"]
    assert PAID.question in prompt and prompt.endswith(f"Last question: {YEARS}")
    assert "[1]" not in prompt, "citation markers are not the model's business here"


@pytest.mark.parametrize(
    "reply",
    [
        "Sur combien d'années le contrat court-il ?",  # lost every entity of the thread
        YEARS,  # repeated as asked
        "",
        GenerationError("the model timed out"),
    ],
)
def test_a_rewrite_that_fails_its_check_falls_back_to_carrying_the_thread(reply: str | Exception) -> None:
    generator = ScriptedGenerator()
    generator.enqueue(reply)
    assert standalone_question(YEARS, [PAID], "fr", generator) == f"{PAID.question} {YEARS}"
    assert generator.pending == 0


def test_a_rewrite_in_the_other_language_is_not_kept() -> None:
    generator = ScriptedGenerator()
    generator.enqueue("Combien OpenAI paie-t-il Oracle ?")  # names the entities, in French
    oracle = "And what about Oracle?"
    assert standalone_question(oracle, [PAID], "en", generator) == f"{PAID.question} {oracle}"


def test_the_check_keeps_the_question_s_own_entities() -> None:
    oracle = "And what about Oracle?"
    assert keeps_thread("How much is OpenAI paying Oracle?", oracle, [PAID])
    assert not keeps_thread("How much is OpenAI paying AWS?", oracle, [PAID]), "Oracle was dropped"
    assert keeps_thread("Combien Meta prévoit-il d'investir en 2025 ?", "Et Meta ?", [PAID]), "Meta replaces them"
    assert not keeps_thread("Pourquoi ?", "Pourquoi ?", [PAID])


def test_without_a_generator_the_latest_question_that_stands_alone_is_carried() -> None:
    years = Turn(YEARS, "Sur sept ans [1].")
    assert standalone_question("And what about Oracle?", [PAID, years], "en", None) == (
        f"{PAID.question} And what about Oracle?"
    )
    assert carry_question("Pourquoi ?", [Turn("Pourquoi ?", "")]) == "Pourquoi ? Pourquoi ?"


def test_the_history_is_bounded() -> None:
    turns = [Turn(f"Question {number} sur Amazon ?", "Réponse.") for number in range(10)]
    assert recent_turns(turns) == turns[-MAX_TURNS:]
    too_long = [Turn("Combien ?", "x" * MAX_HISTORY_CHARS)]
    with pytest.raises(InvalidInputError, match=f"limit is {MAX_HISTORY_CHARS}"):
        recent_turns(too_long)
    with pytest.raises(InvalidInputError, match="turn 2 of the history has an empty question"):
        recent_turns([PAID, Turn("  ", "")])


def test_the_answer_language_is_the_latest_question_s_unless_it_is_too_short_to_tell() -> None:
    assert answer_language("And what about Oracle?", "auto", PAID.question) == "en"  # a switch
    assert answer_language("Et Meta ?", "auto", "How much does Google invest in 2025?") == "en"
    assert answer_language("Et Meta ?", "auto", PAID.question) == "fr"
    assert answer_language(YEARS, "auto", "How much is OpenAI paying AWS?") == "fr"
    assert answer_language("And what about Oracle?", "fr", PAID.question) == "fr"


def test_a_follow_up_is_searched_with_the_thread_s_anchor_question() -> None:
    years = Turn(YEARS, "Sur sept ans [1].")
    assert thread_query(REWRITE, YEARS, [PAID, years]) == f"{REWRITE} {PAID.question}"
    carried = carry_question(YEARS, [PAID])
    assert thread_query(carried, YEARS, [PAID]) == carried, "the anchor is already in it"
    assert thread_query(PAID.question, PAID.question, [years]) == PAID.question, "it stands alone"


def test_a_follow_up_is_searched_and_answered_as_its_rewrite(seed_corpus) -> None:
    generator = ScriptedGenerator()
    answerer = Answerer(seed_corpus, generator, max_tokens=160)
    rewrite = "For how long is OpenAI paying AWS?"
    # The evidence the rewrite and the thread's question find together, before any generation.
    preview = next(iter(answerer.stream(f"{rewrite} {PAID.question}")))
    assert isinstance(preview, Sources)
    number = next(n for n, passage in enumerate(preview.passages, 1) if "sept ans" in passage.snippet)
    generator.enqueue(rewrite, f"OpenAI pays AWS 38 billion dollars over seven years [{number}].")
    events = list(answerer.stream("And for how long?", history=[PAID]))
    assert events[0] == Sources("en", preview.passages, events[0].retrieve_ms)  # type: ignore[union-attr]
    final = events[-1].answer  # type: ignore[union-attr]
    assert final.standalone_question == rewrite
    assert final.language == "en" and not final.abstained and "seven years" in final.answer
    assert final.citations[0].doc_id == OPENAI
    assert rewrite in generator.requests[1][-1]["content"], "the answer prompt asks the rewrite"
    assert set(final.timings_ms) == {"rewrite", "retrieve", "generate", "total"}
    assert generator.pending == 0


def test_without_history_the_standalone_question_is_the_question(seed_corpus) -> None:
    answer = Answerer(seed_corpus, None, max_tokens=160).ask("Combien OpenAI paie-t-il AWS ?")
    assert answer.standalone_question == "Combien OpenAI paie-t-il AWS ?" and "rewrite" not in answer.timings_ms
