"""Relative dates of the cited articles made absolute in the answer: "a indiqué jeudi (6 février 2025)".

An article says "jeudi", "hier" or "l'an dernier" of its own publication day; an answer that repeats it
weeks later leaves the reader guessing which Thursday. This resolves such an expression of the answer
against the date of the cited article that says it, deterministically (never the model): only when a
snippet the sentence cites carries the same expression (in either language: "on Thursday" is the
French snippet's "jeudi"), each such snippet is dated (itself or a copy of it in another article) and
they all give the same date. Otherwise the text is left as written: no date is ever invented.

News convention: a bare weekday is the latest such day before the publication day, or that day itself;
"jeudi dernier" / "last Thursday" is strictly before it. "Jeudi prochain", "next Thursday" and "this
Thursday" speak of the future and are left alone, as are "every Thursday", "avant-hier" and the
figurative "de demain" ("l'IA de demain").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from rag.answer_types import CITATION_MARKER, marker_numbers
from rag.language import LANGUAGES, LanguageCode
from rag.rendering import month_names, spoken_day, spoken_month
from rag.retrieval import Evidence
from rag.sentences import split_sentences

Unit = Literal["day", "week", "month", "year"]


@dataclass(frozen=True)
class When:
    """What an expression speaks of: a day, the week starting on a Monday, a month (its 1st) or a year (1 January)."""

    unit: Unit
    start: date


@dataclass(frozen=True)
class Mention:
    """One relative expression in a text: its kind ("weekday:3", "yesterday", …) and where it is."""

    kind: str
    start: int
    end: int
    strictly_before: bool  # "jeudi dernier": a weekday of an earlier week when the article is of that weekday


_WEEKDAYS = {
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    "en": ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"),
}
_A = "['’]"  # both apostrophes, as articles and models write them
_FR_TIME = r"(?:\s+(?:matin|midi|après-midi|soir))?"
_EN_TIME = r"(?:\s+(?:morning|afternoon|evening|night))?"
_POSSESSIVE = rf"(?:{_A}s\b)?"
# Each kind and its forms in both languages. Look-behinds leave out what speaks of another day
# ("avant-hier", "the day before yesterday"), of the future ("next Thursday"), of every week
# ("chaque jeudi") or of a span rather than a date ("over the last year").
_FORMS: dict[str, str] = {
    "yesterday": rf"(?<!avant-)(?<!avant )\bhier\b{_FR_TIME}|(?<!before )\byesterday\b{_EN_TIME}{_POSSESSIVE}",
    "today": rf"\baujourd{_A}\s?hui\b|\bce\s+matin\b|\btoday\b{_POSSESSIVE}|\bthis\s+morning\b",
    "tomorrow": rf"(?<!après-)(?<!après )(?<!\bde )(?<!\bd{_A})\bdemain\b{_FR_TIME}|(?<!after )\btomorrow\b{_EN_TIME}",
    "last_year": rf"\bl{_A}an\s+(?:dernier|passé)\b|\bl{_A}année\s+(?:dernière|passée)\b"
                 rf"|(?<!the )(?<!past )\blast\s+year\b{_POSSESSIVE}",
    "this_year": rf"\bcette\s+année\b|(?<!all )\bthis\s+year\b{_POSSESSIVE}",
    "last_month": rf"\bmois\s+(?:dernier|passé)\b|(?<!the )(?<!past )\blast\s+month\b{_POSSESSIVE}",
    "last_week": rf"\bsemaine\s+(?:dernière|passée)\b|(?<!the )(?<!past )\blast\s+week\b{_POSSESSIVE}",
}
_EXPRESSIONS = [(kind, re.compile(pattern, re.IGNORECASE)) for kind, pattern in _FORMS.items()]
_PATTERNS = [pattern for _, pattern in _EXPRESSIONS]
_WEEKDAY = re.compile(
    rf"(?<!chaque )(?<!every )(?<!next )(?<!this )(?<!coming )\b(?P<last>last\s+)?(?P<en>{'|'.join(_WEEKDAYS['en'])})\b"
    rf"{_EN_TIME}{_POSSESSIVE}"
    rf"|(?<!chaque )\b(?P<fr>{'|'.join(_WEEKDAYS['fr'])})\b(?!{_FR_TIME}\s+prochain)(?P<dernier>\s+dernier)?{_FR_TIME}",
    re.IGNORECASE,
)
_MONTHS = "|".join(name for language in LANGUAGES for name in month_names(language))
# Right after an expression, a date of its own ("jeudi 6 février", "Thursday, February 6", "jeudi (…)"):
# the expression is already absolute there.
_DATE_FOLLOWS = re.compile(
    rf"\s*\(|,?\s*(?:le\s+|the\s+)?\d{{1,2}}(?:er|st|nd|rd|th)?\s+(?:{_MONTHS})\b|,?\s*(?:{_MONTHS})\s+\d",
    re.IGNORECASE,
)
_WEEK_LEAD: dict[LanguageCode, str] = {"fr": "semaine du", "en": "week of"}
# A date as `resolve_relative_days` writes it after an expression: " (6 février 2025)", " (2024)".
_ADDED_DATE = re.compile(
    rf" \((?:(?:semaine du |week of )?\d{{1,2}}(?:er)? (?:{_MONTHS}) \d{{4}}|(?:{_MONTHS}) \d{{4}}|\d{{4}})\)",
    re.IGNORECASE,
)


def mentions(text: str) -> list[Mention]:
    """The relative expressions of `text`, in order, leaving out those a date of their own follows."""
    found = []
    for match in _WEEKDAY.finditer(text):
        name = (match.group("en") or match.group("fr")).casefold()
        weekday = _WEEKDAYS["en" if match.group("en") else "fr"].index(name)
        last = bool(match.group("last") or match.group("dernier"))
        found.append(Mention(f"weekday:{weekday}", match.start(), match.end(), last))
    for kind, pattern in _EXPRESSIONS:
        found += [Mention(kind, match.start(), match.end(), False) for match in pattern.finditer(text)]
    return sorted((m for m in found if not _DATE_FOLLOWS.match(text, m.end)), key=lambda m: m.start)


def resolve(mention: Mention, published: date) -> When:
    """What `mention` speaks of in an article published on `published`."""
    if mention.kind.startswith("weekday:"):
        gap = (published.weekday() - int(mention.kind.partition(":")[2])) % 7
        if gap == 0 and mention.strictly_before:
            gap = 7
        return When("day", published - timedelta(days=gap))
    shifts: dict[str, Callable[[date], When]] = {
        "yesterday": lambda d: When("day", d - timedelta(days=1)),
        "today": lambda d: When("day", d),
        "tomorrow": lambda d: When("day", d + timedelta(days=1)),
        "last_year": lambda d: When("year", date(d.year - 1, 1, 1)),
        "this_year": lambda d: When("year", date(d.year, 1, 1)),
        "last_month": lambda d: When("month", (d.replace(day=1) - timedelta(days=1)).replace(day=1)),
        "last_week": lambda d: When("week", d - timedelta(days=d.weekday() + 7)),
    }
    return shifts[mention.kind](published)


def spoken(when: When, language: LanguageCode) -> str:
    """`when` the way the answer's language says it: "6 février 2025", "week of 27 January 2025", "2024"."""
    if when.unit == "year":
        return str(when.start.year)
    if when.unit == "month":
        return spoken_month(when.start.year, when.start.month, language)
    day = spoken_day(when.start.isoformat(), language)
    return f"{_WEEK_LEAD[language]} {day}" if when.unit == "week" else day


def resolve_relative_days(text: str, language: LanguageCode, sources: Sequence[Evidence]) -> str:
    """`text` with each relative expression followed by its absolute date in parentheses, in `language`.

    A sentence citing [n] reads `sources[n - 1]`; one citing nothing reads them all (a claim's text,
    given its own citations, is such a sentence). Markers and everything else stay where they were.
    """
    pieces, cursor = [], 0
    for start, end in split_sentences(text):
        sentence = text[start:end]
        numbers = [n for match in CITATION_MARKER.finditer(sentence) for n in marker_numbers(match)]
        cited = [sources[n - 1] for n in dict.fromkeys(numbers) if 1 <= n <= len(sources)] if numbers else sources
        pieces.append(text[cursor:start] + _resolve_sentence(sentence, language, cited))
        cursor = end
    return "".join(pieces) + text[cursor:]


def without_resolved_dates(text: str) -> str:
    """`text` without the dates `resolve_relative_days` adds ("l'an dernier (2024)" -> "l'an dernier"):
    they are dates, not figures a claim must find in its snippets."""
    ends = sorted({match.end() for pattern in (_WEEKDAY, *_PATTERNS) for match in pattern.finditer(text)})
    for end in reversed(ends):
        if (added := _ADDED_DATE.match(text, end)) is not None:
            text = text[:end] + text[added.end() :]
    return text


def _resolve_sentence(sentence: str, language: LanguageCode, cited: Sequence[Evidence]) -> str:
    for mention in reversed(mentions(sentence)):
        when = _agreed(mention.kind, cited)
        if when is not None and not _already_said(sentence, when):
            sentence = f"{sentence[: mention.end]} ({spoken(when, language)}){sentence[mention.end :]}"
    return sentence


def _agreed(kind: str, cited: Sequence[Evidence]) -> When | None:
    """The one date the cited snippets saying `kind` give it, or None: none says it, they differ, or one
    says it with no date known. A snippet's copies in other articles (`also`) date it too: an undated
    copy of a dated sentence is the same sentence, a copy published another day may mean another day."""
    resolved: set[When] = set()
    for snippet in cited:
        said = [
            resolve(mention, published)
            for version in (snippet, *snippet.also)
            if (published := _day(version.date)) is not None
            for mention in mentions(version.text)
            if mention.kind == kind
        ]
        if not said and any(mention.kind == kind for mention in mentions(snippet.text)):
            return None  # the snippet says it, no dated version of it does
        resolved.update(said)
    return next(iter(resolved)) if len(resolved) == 1 else None


def _already_said(sentence: str, when: When) -> bool:
    """Whether the sentence already states the date (the answer wrote "jeudi 6 février" or "en 2024")."""
    year = str(when.start.year)
    if when.unit == "year":
        return re.search(rf"(?<!\d){year}(?!\d)", sentence) is not None
    names = [month_names(language)[when.start.month - 1] for language in LANGUAGES]
    if when.unit == "month":
        return any(re.search(rf"\b{name}\b", sentence, re.IGNORECASE) for name in names)
    day = when.start.day
    months = "|".join(names)
    written = rf"\b{day}(?:er|st|nd|rd|th)?\s+(?:{months})\b|\b(?:{months})\s+{day}\b|{when.start.isoformat()}"
    return re.search(written, sentence, re.IGNORECASE) is not None


def _day(day: str | None) -> date | None:
    if not day:
        return None
    try:
        return date.fromisoformat(day)
    except ValueError:
        return None
