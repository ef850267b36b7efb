"""Answers written the reader's way, deterministically, not left to the model: French figures the
English way in English answers, and the day the cited articles speak of.

The articles are French: "3,67 billions de dollars" is 3.67 trillion, "33,1 milliards" is 33.1 billion,
"14 000" is 14,000. A 1.5B model copies them as "3,67 billion" or "14 000"; this rewrites the answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from rag.language import LanguageCode
from rag.textnorm import number_values

# A decimal comma: one or two digits after it, so it can never be a thousands separator.
_DECIMAL_COMMA = re.compile(r"(?<![\d,.])(\d+),(\d{1,2})(?![\d,])")
# Thousands grouped with (narrow) spaces, as French writes them: 14 000, 1 117 320 768.
_SPACED_THOUSANDS = re.compile(r"(?<![\d,.])\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?![\d,])")
_FRENCH_SCALE = re.compile(r"\b(milliards?|billions?)(\s+(?:de|of))?(?=\s|$|[.,;:!?)])", re.IGNORECASE)
_NUMBER_BEFORE = re.compile(r"(\d[\d.,]*)\s*$")


def render_figures(text: str, language: LanguageCode, sources: Sequence[str]) -> str:
    """`text` with French number forms and scale words made English when `language` is English.

    "billion(s)" becomes "trillion" only when a source writes that same value with the French
    "billions" (10^12); "milliard(s)" is always "billion". French answers are left as written.
    """
    if language != "en":
        return text
    trillions = _french_trillions(sources)
    text = _SPACED_THOUSANDS.sub(lambda match: re.sub(r"[ \u00a0\u202f]", ",", match.group()), text)
    text = _DECIMAL_COMMA.sub(r"\1.\2", text)

    def scale(match: re.Match[str]) -> str:
        if match.group(1).casefold().startswith("milliard"):
            return "billion"
        before = _NUMBER_BEFORE.search(text[: match.start()])
        if before and number_values(before.group(1)) & trillions:
            return "trillion"
        return match.group(0)  # an English "billion", or "billions of"

    return _FRENCH_SCALE.sub(scale, text)


def _french_trillions(sources: Sequence[str]) -> set:
    """Values the sources write with the French "billions" (10^12)."""
    values: set = set()
    for source in sources:
        for match in re.finditer(r"(\d[\d\s\u00a0\u202f.,]*?)\s*billions?\b", source, re.IGNORECASE):
            values |= number_values(match.group(1))
    return values


_MONTH_NAMES: dict[LanguageCode, tuple[str, ...]] = {
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
           "novembre", "décembre"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"),
}
# Opening words that are no name, written in lower case once the answer follows "As of …, ".
_COMMON_OPENINGS = frozenset({
    "according", "the", "a", "an", "it", "its", "this", "these", "there", "le", "la", "les", "l", "un", "une",
    "des", "il", "elle", "ils", "elles", "ce", "cet", "cette", "ces", "selon", "d'après", "d’après",
    "oui", "non", "yes", "no",
})
# A day as answers and articles write it ("6 novembre 2025", "1er novembre 2025", "6 November 2025"): a date, no figure.
SPOKEN_DAY = re.compile(
    r"\b\d{1,2}(?:er)?\s+(?:" + "|".join(name for names in _MONTH_NAMES.values() for name in names) + r")\s+\d{4}\b",
    re.IGNORECASE,
)
_FIRST_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")


def as_of(text: str, day: str, language: LanguageCode) -> str:
    """`text` opened with the day its sources speak of: "As of 5 November 2025, …", "Au 5 novembre 2025, …"."""
    lead = f"As of {spoken_day(day, language)}" if language == "en" else f"Au {spoken_day(day, language)}"
    if (word := _FIRST_WORD.match(text)) is not None:
        folded = word.group().casefold()
        if folded in _COMMON_OPENINGS or re.split("['’]", folded)[0] in _COMMON_OPENINGS:
            text = text[0].lower() + text[1:]  # "The contract…" -> "As of …, the contract…"; "OpenAI" stays
    return f"{lead}, {text}"


def spoken_day(day: str, language: LanguageCode) -> str:
    """An ISO day the way the answer's language says it: "5 November 2025", "1er novembre 2025"."""
    when = date.fromisoformat(day)
    month = _MONTH_NAMES[language][when.month - 1]
    number = "1er" if language == "fr" and when.day == 1 else str(when.day)
    return f"{number} {month} {when.year}"


def spoken_month(year: int, month: int, language: LanguageCode) -> str:
    """A month the way the answer's language says it: "janvier 2025", "January 2025"."""
    return f"{_MONTH_NAMES[language][month - 1]} {year}"


def month_names(language: LanguageCode) -> tuple[str, ...]:
    """The twelve month names of `language`, January first, as `spoken_day` writes them."""
    return _MONTH_NAMES[language]
