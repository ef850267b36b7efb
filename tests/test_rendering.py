"""French figures in English answers are rewritten deterministically: scales, decimal commas, thousands."""

from __future__ import annotations

import pytest

from rag.rendering import as_of, render_figures

SOURCES = [
    "La capitalisation d'Amazon atteint 3,67 billions de dollars.",
    "AWS a réalisé 33,1 milliards de dollars au troisième trimestre.",
    "Amazon supprime 14 000 emplois.",
]


@pytest.mark.parametrize(
    ("written", "rendered"),
    [
        ("Amazon is valued at 3,67 billion dollars [1].", "Amazon is valued at 3.67 trillion dollars [1]."),
        ("Amazon is valued at 3,67 billions de dollars.", "Amazon is valued at 3.67 trillion dollars."),
        ("Its valuation is 3,67 billions of dollars [1].", "Its valuation is 3.67 trillion dollars [1]."),
        ("AWS made 33,1 milliards de dollars [2].", "AWS made 33.1 billion dollars [2]."),
        ("Amazon cuts 14 000 jobs.", "Amazon cuts 14,000 jobs."),
        ("Growth was 17,5% in 2024.", "Growth was 17.5% in 2024."),
        ("OpenAI pays 38 billion dollars over 7 years.", "OpenAI pays 38 billion dollars over 7 years."),
        ("It spends billions of dollars on 14,000 servers.", "It spends billions of dollars on 14,000 servers."),
    ],
)
def test_english_answers_get_english_figures(written, rendered):
    assert render_figures(written, "en", SOURCES) == rendered


def test_french_answers_are_left_as_written():
    text = "AWS a réalisé 33,1 milliards de dollars et Amazon supprime 14 000 emplois."
    assert render_figures(text, "fr", SOURCES) == text


def test_billion_stays_billion_when_no_source_writes_the_value_in_french_trillions():
    assert render_figures("AWS made 33,1 billion dollars.", "en", SOURCES) == "AWS made 33.1 billion dollars."


@pytest.mark.parametrize(
    ("text", "day", "language", "expected"),
    [
        ("OpenAI pays AWS 38 billion dollars [1].", "2025-11-05", "en",
         "As of 5 November 2025, OpenAI pays AWS 38 billion dollars [1]."),
        ("The deal runs for seven years [1].", "2025-11-05", "en",
         "As of 5 November 2025, the deal runs for seven years [1]."),
        ("D'après les articles : « … » [1]", "2025-11-01", "fr",
         "Au 1er novembre 2025, d'après les articles : « … » [1]"),
        ("L’accord court sur sept ans [1].", "2025-02-07", "fr", "Au 7 février 2025, l’accord court sur sept ans [1]."),
        ("Amazon investira 100 milliards [1].", "2025-12-31", "fr",
         "Au 31 décembre 2025, Amazon investira 100 milliards [1]."),
    ],
)
def test_answers_over_dated_articles_say_as_of_when(text: str, day: str, language: str, expected: str) -> None:
    assert as_of(text, day, language) == expected  # type: ignore[arg-type]
