"""The parts a question asks for, and which of them an answer leaves out.

A question listing companies or products ("Alphabet (Google), Microsoft et Meta", "Microsoft Azure and
Google Cloud") asks for each of them; the 1.5B model often answers the first one and stops. The
answerer then makes it go on from the missing name (rag/answerer.py), so each part is written, cited
and verified like the rest of the answer. Names that are not listed together ("OpenAI paie AWS") are
one fact, not parts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from rag.slots import mentions, names_in
from rag.textnorm import fold

# What may stand between two listed names: commas, brackets and one conjunction.
_COORDINATION = re.compile(r"^[\s,()]*(?:et|and|ou|or|&)?[\s,()]*$", re.IGNORECASE)


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


def missing_parts(question: str, answer: str, excerpts: Iterable[str]) -> list[str]:
    """The listed names of the question that some excerpt gives but the answer does not."""
    given = list(excerpts)
    return [
        name
        for name in listed_names(question)
        if not mentions(fold(name), answer) and any(mentions(fold(name), text) for text in given)
    ]
