"""Checks on a generated answer before anyone sees it: citations, figures, language, refusals."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.answer_types import CITATION_MARKER, marker_numbers
from rag.language import LanguageCode, is_other_language
from rag.prompting import NOT_FOUND
from rag.retrieval import Evidence
from rag.sentences import split_sentences
from rag.textnorm import fold, number_values, numbers_in

# What a small model writes instead of the sentinel when it declines.
_DECLINES = (
    NOT_FOUND.casefold(),
    "not found",
    "do not contain",
    "does not contain",
    "don't contain",
    "no information",
    "not mentioned",
    "ne contiennent pas",
    "ne contient pas",
    "ne mentionnent pas",
    "ne mentionne pas",
    "aucune information",
    "pas d'information",
    "je ne sais pas",
    "i don't know",
)


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking one generated answer."""

    text: str  # the answer with markers that point nowhere removed
    cited: tuple[int, ...]  # 1-based evidence numbers, in order of first citation
    declined: bool  # the model said the excerpts do not answer
    problem: str | None  # None when the answer may ship; else "language" or "unsupported"


def verify(answer: str, evidence: Sequence[Evidence], language: LanguageCode, question: str = "") -> Verdict:
    """Keep valid markers, make each sentence cite the excerpt holding its figures, check the language.

    A figure is supported when a snippet cited by its sentence holds the same value (3,8 = 3.8;
    14 000 = 14,000) or the question itself states it. A sentence whose figures are in an excerpt it
    does not cite (or that cites nothing) gets that excerpt's marker: small models often cite the
    neighbouring excerpt or none at all. A figure found in no excerpt makes the answer unsupported.
    """
    text = answer.strip()
    if _is_decline(text):
        return Verdict(text, (), True, None)
    text, _ = _keep_valid_markers(text, len(evidence))
    if CITATION_MARKER.sub("", text).rstrip().endswith("?"):
        return Verdict(text, (), False, "unsupported")  # the question echoed back is no answer
    given = number_values(question)
    pieces, cursor, supported = [], 0, True
    for start, end in split_sentences(text):
        sentence, ok = _support_sentence(text[start:end], evidence, given)
        pieces.append(text[cursor:start] + sentence)
        cursor, supported = end, supported and ok
    text, cited = _keep_valid_markers("".join(pieces) + text[cursor:], len(evidence))
    if not cited or not supported:
        return Verdict(text, cited, False, "unsupported")
    if is_other_language(CITATION_MARKER.sub(" ", text), language):
        return Verdict(text, cited, False, "language")
    return Verdict(text, cited, False, None)


def _support_sentence(sentence: str, evidence: Sequence[Evidence], given: set) -> tuple[str, bool]:
    """The sentence with a marker added where needed, and whether all its figures are supported."""
    cited = [number for match in CITATION_MARKER.finditer(sentence) for number in marker_numbers(match)]
    prose = CITATION_MARKER.sub(" ", sentence)
    figures = [readings for readings in numbers_in(prose) if not readings & given]
    support = set().union(*(number_values(evidence[n - 1].text) for n in cited)) if cited else set()
    missing = [readings for readings in figures if not readings & support]
    if cited and not missing:
        return sentence, True
    number = _supporting_excerpt(prose, missing, evidence)
    if number is None:
        return sentence, not missing
    body = sentence.rstrip(".!?… ")
    return f"{body} [{number}]{sentence[len(body):].strip()}", True


def _supporting_excerpt(prose: str, figures: list[set], evidence: Sequence[Evidence]) -> int | None:
    """The excerpt holding every one of `figures` that shares the most words with `prose`, if any.

    Without figures to match, an excerpt must share at least two content words to count.
    """
    words = _content_words(prose)
    best: tuple[int, int] | None = None
    for number, item in enumerate(evidence, 1):
        available = number_values(item.text)
        if any(not (readings & available) for readings in figures):
            continue
        shared = len(words & _content_words(item.text)) + 2 * len(figures)
        if shared >= 2 and (best is None or shared > best[0]):
            best = (shared, number)
    return None if best is None else best[1]


def _content_words(text: str) -> set[str]:
    """Words that carry meaning: long ones and acronyms such as AWS, folded for comparison."""
    return {fold(word) for word in re.findall(r"\w+", text) if len(word) > 3 or (len(word) > 1 and word.isupper())}


def _keep_valid_markers(text: str, count: int) -> tuple[str, tuple[int, ...]]:
    """Drop marker numbers outside 1..count, normalise "[1, 2]" to "[1][2]", list what is cited."""
    cited: list[int] = []

    def replace(match: re.Match[str]) -> str:
        numbers = [n for n in marker_numbers(match) if 1 <= n <= count]
        cited.extend(n for n in numbers if n not in cited)
        return "".join(f"[{n}]" for n in numbers)

    text = CITATION_MARKER.sub(replace, text)
    text = re.sub(r"[ \t]{2,}", " ", text)
    return re.sub(r" +([.,])", r"\1", text).strip(), tuple(dict.fromkeys(cited))


def _is_decline(text: str) -> bool:
    folded = fold(text)
    return not folded or any(phrase in folded for phrase in _DECLINES) and not CITATION_MARKER.search(text)
