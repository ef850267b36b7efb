"""Lists in questions: which names are asked for together, and the answer made to give the ones it left out."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import pytest
from doubles import ScriptedGenerator

from rag.answerer import Answerer
from rag.parts import listed_names, missing_parts

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


def test_a_part_is_missing_only_when_an_excerpt_gives_it():
    excerpts = ["Microsoft a alloué 80 milliards de dollars.", "Google a annoncé 75 milliards."]
    assert missing_parts(CAPEX, "Google prévoit 75 milliards [1].", excerpts) == ["Microsoft"]
    assert missing_parts(CAPEX, "Google 75 milliards [1], Microsoft 80 milliards [2].", excerpts) == []


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
