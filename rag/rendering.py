"""French figures written the English way in English answers, deterministically, not left to the model.

The articles are French: "3,67 billions de dollars" is 3.67 trillion, "33,1 milliards" is 33.1 billion,
"14 000" is 14,000. A 1.5B model copies them as "3,67 billion" or "14 000"; this rewrites the answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

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
