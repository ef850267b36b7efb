"""Questions that name a time, read against article dates: a period ("in 2025", "au quatrième
trimestre 2024", "en février", "depuis octobre") or recency ("latest", "dernières nouvelles").

A period often names what a question is about rather than when the articles about it came out (a
quarter's results are published after it), and undated articles must still be found: so a period
weighs retrieval towards the articles published in it and never filters (the explicit `since` /
`until` filters do that). A month or a "since" without a year is the latest such month on or before
`today`, the newest article's date (the corpus's now).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from rag.textnorm import fold

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            "janvier january", "fevrier february", "mars march", "avril april", "mai may", "juin june",
            "juillet july", "aout august", "septembre september sept", "octobre october", "novembre november",
            "decembre december",
        ),
        1,
    )
    for name in names.split()
}
_MONTH = "(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + ")"
_YEAR = r"((?:19|20)\d{2})"
_ORDINALS = {
    "premier": 1, "1er": 1, "first": 1, "1st": 1, "deuxieme": 2, "second": 2, "2e": 2, "2eme": 2, "2nd": 2,
    "troisieme": 3, "3e": 3, "3eme": 3, "third": 3, "3rd": 3, "quatrieme": 4, "4e": 4, "4eme": 4, "fourth": 4,
    "4th": 4,
}
_ORDINAL = "(" + "|".join(sorted(_ORDINALS, key=len, reverse=True)) + ")"
_START_OF = r"(?:(?:le\s+)?(?:mois|debut)\s+d'\s*|the\s+start\s+of\s+)?"
_SINCE_MONTH = re.compile(rf"\b(?:depuis|since)\s+{_START_OF}{_MONTH}(?:\s+{_YEAR})?\b")
_SINCE_YEAR = re.compile(rf"\b(?:depuis|since)\s+(?:(?:le\s+)?debut\s+|the\s+start\s+of\s+)?{_YEAR}\b")
_QUARTER = re.compile(rf"\b{_ORDINAL}\s+(?:trimestre|quarter)(?:\s+(?:de\s+|of\s+)?{_YEAR})?")
_QUARTER_CODE = re.compile(rf"\b[qt]([1-4])(?:\s+{_YEAR})?\b|\b{_YEAR}\s+[qt]([1-4])\b")
_IN = r"(?:en|in|during|pendant|durant|au\s+mois\s+d'|the\s+month\s+of)"
_MONTH_IN = re.compile(rf"\b{_IN}\s*{_MONTH}(?:\s+{_YEAR})?\b")
_MONTH_YEAR = re.compile(rf"\b{_MONTH}\s+{_YEAR}\b")
_YEAR_IN = re.compile(rf"\b(?:en|in|during|pendant|durant|for|pour|of|de)\s+{_YEAR}\b")
_LATEST = re.compile(
    r"\b(?:latest|most\s+recent(?:ly)?|recent(?:ly)?|lately|newest|what'?s\s+new|"
    r"dernier(?:e)?s?\s+(?:nouvelles|informations|infos|annonces|actualites|news)|recemment|dernierement|"
    r"quoi\s+de\s+neuf|les\s+plus\s+recent(?:e)?s?)\b"
)


@dataclass(frozen=True)
class Timeframe:
    """What a question says about time: publication days from `since` to `until` (ISO, included,
    either open), and whether it asks for the most recent news."""

    since: str | None = None
    until: str | None = None
    latest: bool = False

    def covers(self, day: str | None) -> bool:
        """Whether an article published on `day` (ISO) falls in the period; never for an undated one."""
        if day is None or (self.since is None and self.until is None):
            return False
        return (self.since is None or day >= self.since) and (self.until is None or day <= self.until)


def read_timeframe(question: str, today: date) -> Timeframe | None:
    """The period or recency `question` names (the most specific wording wins), None when it names none."""
    text = fold(question)
    latest = bool(_LATEST.search(text))
    period = _period(text, today)
    if period is None:
        return Timeframe(latest=True) if latest else None
    since, until = period
    return Timeframe(since.isoformat() if since else None, until.isoformat() if until else None, latest)


def _period(text: str, today: date) -> tuple[date | None, date | None] | None:
    if match := _SINCE_MONTH.search(text):
        month = _MONTHS[match.group(1)]
        year = int(match.group(2)) if match.group(2) else _latest_year(month, today)
        return date(year, month, 1), None
    if match := _SINCE_YEAR.search(text):
        return date(int(match.group(1)), 1, 1), None
    if (match := _QUARTER.search(text)) or (match := _QUARTER_CODE.search(text)):
        quarter, year_text = _quarter_of(match)
        first_month = 3 * quarter - 2
        year = int(year_text) if year_text else _latest_year(first_month, today)
        return _months(year, first_month, first_month + 2)
    if (match := _MONTH_IN.search(text)) or (match := _MONTH_YEAR.search(text)):
        month = _MONTHS[match.group(1)]
        year = int(match.group(2)) if match.group(2) else _latest_year(month, today)
        return _months(year, month, month)
    if match := _YEAR_IN.search(text):
        return date(int(match.group(1)), 1, 1), date(int(match.group(1)), 12, 31)
    return None


def _quarter_of(match: re.Match[str]) -> tuple[int, str | None]:
    if match.re is _QUARTER:
        return _ORDINALS[match.group(1)], match.group(2)
    if match.group(1):
        return int(match.group(1)), match.group(2)
    return int(match.group(4)), match.group(3)


def _latest_year(month: int, today: date) -> int:
    """The year of the latest `month` that started on or before `today`."""
    return today.year if month <= today.month else today.year - 1


def _months(year: int, first: int, last: int) -> tuple[date, date]:
    return date(year, first, 1), date(year, last, calendar.monthrange(year, last)[1])
