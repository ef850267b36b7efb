"""Lists in questions: which names are asked for together, and the answer made to give the ones it left out."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import pytest
from doubles import ScriptedGenerator

from rag.answerer import Answerer
from rag.parts import listed_names, missing_parts, question_parts
from rag.retrieval import Evidence

CAPEX = "Quels montants Alphabet (Google), Microsoft et Meta comptent-ils investir en 2025 ?"


@pytest.mark.parametrize(
    ("question", "listed"),
    [
        (CAPEX, ["Alphabet", "Google", "Microsoft", "Meta"]),
        ("How did AWS growth compare with Microsoft Azure and Google Cloud?", ["Microsoft Azure", "Google Cloud"]),
        ("What price targets did JPMorgan and UBS set for Amazon's stock?", ["JPMorgan", "UBS"]),
        ("Combien OpenAI paie-t-il AWS ?", []),  # two names, one fact
        ("How much will Amazon invest in 2025?", []),
        ("At what EV/EBITDA multiple does Amazon trade?", []),
    ],
)
def test_names_listed_together_are_the_parts_asked_for(question, listed):
    assert listed_names(question) == listed


def excerpt(text: str, period_context: str = "") -> Evidence:
    return Evidence("doc", "title", text, 0, len(text), 0.85, period_context=period_context)


def test_a_part_is_missing_only_when_an_excerpt_gives_it():
    excerpts = [excerpt("Microsoft a alloué 80 milliards de dollars."), excerpt("Google a annoncé 75 milliards.")]
    missing = missing_parts(CAPEX, "Google prévoit 75 milliards [1].", excerpts)
    assert [part.label for part in missing] == ["Microsoft"]
    assert missing_parts(CAPEX, "Google 75 milliards [1], Microsoft 80 milliards [2].", excerpts) == []


GROWTH = (
    "Quelle a été la croissance du chiffre d'affaires d'AWS au quatrième trimestre 2024, "
    "puis au deuxième trimestre 2025 ?"
)


@pytest.mark.parametrize(
    ("question", "labels"),
    [
        (GROWTH, ["quatrième trimestre 2024", "deuxième trimestre 2025"]),
        ("Compare Amazon's capital expenditure in Q4 2024 with that in Q2 2025.", ["Q4 2024", "Q2 2025"]),
        ("Quelle taille le marché pesait-il en 2024 et devrait-il atteindre en 2029 ?", ["2024", "2029"]),
        ("What did AWS earn in the second quarter of 2025?", []),  # one period: one fact
    ],
)
def test_each_period_of_a_question_naming_several_is_a_part_asked_alone(question, labels):
    parts = question_parts(question)
    assert [part.label for part in parts] == labels
    for part in parts:
        others = [label for label in labels if label != part.label]
        assert part.label in part.query and not any(label in part.query for label in others)


def test_a_period_part_is_given_by_an_excerpt_naming_it_or_its_article_before_it():
    second = question_parts(GROWTH)[1]
    assert second.given_by(excerpt("Les revenus d'AWS ont augmenté de 17,5 %.", "les résultats du T2 2025"))
    assert not second.given_by(excerpt("Les revenus d'AWS ont cru de 19 %.", "au quatrième trimestre 2024"))
    assert second.said_in("17,5 % au T2 2025 [2].") and not second.said_in("19 % au T4 2024 [1].")


def test_an_answer_goes_on_from_a_period_as_a_phrase_of_the_answer_s_language():
    quarter, year = question_parts("Combien au T4 2024, et en 2029 ?")
    assert (quarter.opening("fr"), quarter.opening("en")) == ("Au T4 2024,", "In T4 2024,")
    assert (year.opening("fr"), year.opening("en")) == ("En 2029,", "In 2029,")


def test_each_period_s_own_sentence_is_read_and_the_model_goes_on_from_the_period_it_left_out(seed_corpus):
    generator = ScriptedGenerator()
    generator.enqueue(
        citing("cru de 19%", "Au quatrième trimestre 2024, les revenus d'AWS ont cru de 19 % [n]."),
        citing("17,5 %", " les revenus d'AWS ont augmenté de 17,5 % [n]."),
    )
    answer = Answerer(seed_corpus, generator, max_tokens=160).ask(GROWTH)
    prompt = next(message["content"] for message in generator.requests[0] if message["role"] == "user")
    assert "cru de 19%" in prompt and "17,5 %" in prompt  # the whole question's search alone misses the second
    assert generator.requests[1][-1]["content"].endswith(" Au deuxième trimestre 2025,")
    assert not answer.abstained and "19 %" in answer.answer and "17,5 %" in answer.answer
    assert len(answer.citations) == 2 and generator.pending == 0


def citing(sentence_part: str, reply: str):
    """A reply citing, as [n], whichever excerpt of the user turn holds `sentence_part`."""

    def write(messages: Sequence[Mapping[str, str]]) -> str:
        user = next(message["content"] for message in messages if message["role"] == "user")
        number = re.findall(rf"^\[(\d+)\] [^\n]*{sentence_part}", user, re.MULTILINE)[0]
        return reply.replace("[n]", f"[{number}]")

    return write


def test_the_model_is_made_to_go_on_from_each_name_it_left_out(seed_corpus):
    generator = ScriptedGenerator()
    generator.enqueue(
        citing("75 milliards", "Alphabet (Google) prévoit 75 milliards de dollars [n]."),
        citing("80 milliards", " a alloué 80 milliards de dollars [n]."),
        citing("60 milliards", " prévoit au moins 60 milliards de dollars [n]."),
    )
    answer = Answerer(seed_corpus, generator, max_tokens=160).ask(CAPEX)
    assert not answer.abstained
    assert all(figure in answer.answer for figure in ("75 milliards", "80 milliards", "60 milliards"))
    # Each continuation starts from the answer so far and the missing name, as the model's own words.
    assert generator.requests[1][-1]["role"] == "assistant"
    assert generator.requests[1][-1]["content"].startswith("Alphabet (Google) prévoit 75 milliards")
    assert generator.requests[1][-1]["content"].endswith(" Microsoft")
    assert generator.requests[2][-1]["content"].endswith(" Meta")
    assert len(answer.citations) >= 3 and generator.pending == 0


def test_a_continuation_that_fails_its_check_is_dropped(seed_corpus):
    generator = ScriptedGenerator()
    generator.enqueue(
        citing("75 milliards", "Alphabet (Google) prévoit 75 milliards de dollars [n]."),
        " a alloué 999 milliards de dollars.",
        " prévoit 12345 milliards.",
    )
    answer = Answerer(seed_corpus, generator, max_tokens=160).ask(CAPEX)
    assert "75 milliards" in answer.answer and "999" not in answer.answer and "12345" not in answer.answer
    assert generator.pending == 0
