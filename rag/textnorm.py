"""Text normalisation shared by answer verification and evaluation (folding, number values), and the
checks a question must pass to be worth reading (a letter or digit, no control character)."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'", "«": '"', "»": '"', "“": '"', "”": '"'})
_GUILLEMET_SPACE = re.compile(r"«[\s\u00a0\u202f]+|[\s\u00a0\u202f]+»")
_SPACES = re.compile(r"[\s\u00a0\u202f]+")
# A number as people write it in French or English: 38, 3,8, 3.67, 14 000, 14,000, 1 117 320 768,
# and "14, 000" as small models sometimes write it. Digits glued to letters before them name a thing, not
# a quantity: "H100", "Trainium2", "T2" hold no figure (an answer's "100 milliards" is not in "H100").
_NUMBER = re.compile(
    r"(?<![\w.,])\d{1,3}(?:,? [\u00a0\u202f]?\d{3}|[\u00a0\u202f]\d{3})+(?![\d])|(?<!\w)\d+(?:[.,]\d+)*"
)
# Numbers articles write in words ("deux ans après", "trois campus") and answers in digits. One is
# left out: "un", "une" and "one" are articles and pronouns far more often than figures.
_NUMBER_WORDS = {
    word: Decimal(value)
    for words, value in (
        ("deux two", 2), ("trois three", 3), ("quatre four", 4), ("cinq five", 5), ("six", 6), ("sept seven", 7),
        ("huit eight", 8), ("neuf nine", 9), ("dix ten", 10), ("onze eleven", 11), ("douze twelve", 12),
        ("vingt twenty", 20), ("trente thirty", 30), ("quarante forty", 40), ("cinquante fifty", 50),
        ("cent hundred", 100), ("mille thousand", 1000),
    )
    for word in words.split()
}
_NUMBER_WORD = re.compile(r"\b(?:" + "|".join(_NUMBER_WORDS) + r")\b")
_NUMBER_WORD_CASELESS = re.compile(_NUMBER_WORD.pattern, re.IGNORECASE)


def unreadable(text: str, what: str) -> str | None:
    """Why `text` (a question, a query) cannot be read, or None: no letter or digit, or a control character.

    Tabs and line breaks are text; NUL and the other C0/C1 controls never are in what a person types.
    """
    if not any(char.isalnum() for char in text):
        return f"the {what} has no letters or digits"
    control = next((char for char in text if unicodedata.category(char) == "Cc" and char not in "\t\n\r"), None)
    if control is not None:
        return f"the {what} contains the control character U+{ord(control):04X}"
    return None


def fold(text: str) -> str:
    """Case-, accent-, apostrophe- and space-insensitive form, for comparing wordings."""
    text = _GUILLEMET_SPACE.sub(lambda match: match.group(0).strip(), text)
    text = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES).casefold())
    text = "".join(char for char in text if not unicodedata.combining(char))
    return _SPACES.sub(" ", text).strip()


def number_values(text: str) -> set[Decimal]:
    """Every value each number in `text` could mean, in either language's conventions.

    "3,8" is 3.8 (French decimal comma); "14,000" is 14000 (English) or 14.0 (French); "14 000" is
    14000. Both readings are kept: verification asks whether two texts *can* agree, not which is right.
    Numbers written in words count too ("deux ans" is 2).
    """
    values = {_NUMBER_WORDS[match.group()] for match in _NUMBER_WORD.finditer(fold(text))}
    for match in _NUMBER.finditer(text):
        values |= _readings(match.group())
    return values


def numbers_in(text: str) -> list[set[Decimal]]:
    """One set of readings per number written in `text`, in order."""
    return [readings for _, _, readings in number_spans(text)]


def number_spans(text: str, *, words: bool = False) -> list[tuple[int, int, set[Decimal]]]:
    """Where each number written in `text` is (start, end) and what it can mean, in order; with
    `words`, numbers written in words too ("sept ans")."""
    spans = [(match.start(), match.end(), _readings(match.group())) for match in _NUMBER.finditer(text)]
    if words:
        spans += [
            (match.start(), match.end(), {_NUMBER_WORDS[match.group().casefold()]})
            for match in _NUMBER_WORD_CASELESS.finditer(text)
        ]
    return sorted(spans, key=lambda span: span[0])


def _readings(token: str) -> set[Decimal]:
    compact = re.sub(r",?[ \u00a0\u202f]", "", token)
    readings = set()
    for decimal_mark, group_mark in ((",", "."), (".", ",")):
        parts = compact.split(decimal_mark)
        if len(parts) > 2:
            continue
        groups = parts[0].split(group_mark)
        if any(len(group) != 3 for group in groups[1:]):
            continue  # "3,8" has no thousands separator: its comma can only be a decimal mark
        whole = "".join(groups)
        candidate = whole if len(parts) == 1 else f"{whole}.{parts[1]}"
        try:
            readings.add(Decimal(candidate).normalize())
        except InvalidOperation:
            continue
    return readings
