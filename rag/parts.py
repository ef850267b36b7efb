"""The parts a question asks for, and which of them an answer leaves out.

A question listing companies or products ("Alphabet (Google), Microsoft et Meta", "Microsoft Azure and
Google Cloud") or naming several periods ("au quatrième trimestre 2024, puis au deuxième trimestre
2025") asks for each of them. Searched as a whole, its evidence often holds one part only, and the 1.5B
model answers the first one and stops. So each part is also searched alone, the question with the other
parts taken out, and its best sentence joins the evidence (rag/answerer.py); the model is then made to
go on from each part it left out, so each part is written, cited and verified like the rest of the
answer. Names that are not listed together ("OpenAI paie AWS") are one fact, not parts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from rag.language import LanguageCode
from rag.retrieval import Evidence
from rag.slots import mentions, names_in, period_check, read_slots
from rag.textnorm import fold

# What may stand between two listed names: commas, brackets and one conjunction.
_COORDINATION = re.compile(r"^[\s,()]*(?:et|and|ou|or|&)?[\s,()]*$", re.IGNORECASE)
# A quarter with or without its year ("Q4 2024", "deuxième trimestre 2025", "second quarter of 2025"),
# or a year alone, as written in the question.
_ORDINALS = (
    r"premier|1er|first|1st|deuxi[eè]me|2e|2[eè]me|second|2nd|troisi[eè]me|3e|3[eè]me|third|3rd"
    r"|quatri[eè]me|4e|4[eè]me|fourth|4th"
)
_PERIOD = re.compile(
    rf"(?:\b(?:{_ORDINALS})[\s-]+(?:trimestre|quarter)|\b[QT][1-4]\b|\b(?:trimestre|quarter)\s+[1-4]\b)"
    r"(?:\s+(?:de\s+|of\s+)?(?:19|20)\d{2}\b)?|\b(?:19|20)\d{2}\b",
    re.IGNORECASE,
)
MAX_PARTS = 4  # a part costs one search (tens of milliseconds) and at most one sentence of prompt


@dataclass(frozen=True)
class Part:
    """One of the things a question asks for: a listed name or a period, and the question asked for it alone."""

    label: str  # as the question writes it
    kind: Literal["name", "period"]
    query: str  # the question with the other parts taken out

    def given_by(self, item: Evidence) -> bool:
        """Whether the evidence sentence speaks of this part (a period may be named before it, in its article)."""
        if self.kind == "name":
            return mentions(fold(self.label), item.text)
        return period_check(read_slots(self.label), [item.dated_text]) == "matches"

    def said_in(self, answer: str) -> bool:
        """Whether the answer names this part."""
        if self.kind == "name":
            return mentions(fold(self.label), answer)
        asked, said = read_slots(self.label), read_slots(answer)
        return asked.quarters <= said.quarters and asked.years <= said.years

    def opening(self, language: LanguageCode) -> str:
        """How the answer goes on with this part: the name itself, or the period as a phrase opening a sentence."""
        if self.kind == "name":
            return self.label
        preposition = "In" if language == "en" else "Au" if read_slots(self.label).quarters else "En"
        return f"{preposition} {self.label},"


def question_parts(question: str) -> list[Part]:
    """The names the question lists and the periods it names, when there are two or more of a kind."""
    names = listed_names(question)
    periods = list({fold(match.group()): match.group() for match in _PERIOD.finditer(question)}.values())
    parts = [Part(name, "name", _without(question, names, name)) for name in names]
    if len(periods) >= 2:
        parts += [Part(period, "period", _without(question, periods, period)) for period in periods]
    return parts[:MAX_PARTS]


def _without(question: str, labels: list[str], kept: str) -> str:
    """The question with every label but `kept` taken out."""
    for label in labels:
        if label != kept:
            question = re.sub(rf"(?<!\w){re.escape(label)}(?!\w)", " ", question)
    return re.sub(r"\s+", " ", question).strip()


def listed_names(question: str) -> list[str]:
    """The names the question lists together, in order (empty when it lists none)."""
    names = names_in(question)
    spans: list[tuple[str, int, int]] = []
    cursor = 0
    for name in names:
        found = question.find(name, cursor)
        if found < 0:
            continue
        spans.append((name, found, found + len(name)))
        cursor = found + len(name)
    listed: dict[str, None] = {}
    for (first, _, end), (second, start, _) in zip(spans, spans[1:]):
        if _COORDINATION.match(question[end:start]):
            listed[first] = listed[second] = None
    return list(listed)


def missing_parts(question: str, answer: str, excerpts: Iterable[Evidence]) -> list[Part]:
    """The parts of the question (listed names, periods) that some excerpt gives but the answer does not."""
    given = list(excerpts)
    return [
        part
        for part in question_parts(question)
        if not part.said_in(answer) and any(part.given_by(item) for item in given)
    ]
