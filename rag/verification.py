"""Checks on a generated answer before anyone sees it: citations, figures, language, refusals."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.chunking import split_sentences
from rag.evidence import Evidence
from rag.language import LanguageCode, detect_language
from rag.prompting import NOT_FOUND
from rag.textnorm import fold, number_values, numbers_in

_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
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


def verify(answer: str, evidence: Sequence[Evidence], language: LanguageCode) -> Verdict:
    """Keep valid markers, then demand a citation, cited support for every figure, and the right language."""
    text = answer.strip()
    if _is_decline(text):
        return Verdict(text, (), True, None)
    text = _attribute_uncited_sentences(text, evidence)
    text, cited = _keep_valid_markers(text, len(evidence))
    if not cited:
        return Verdict(text, (), False, "unsupported")
    support = set().union(*(number_values(evidence[n - 1].text) for n in cited))
    prose = _MARKER.sub(" ", text)
    if any(not (readings & support) for readings in numbers_in(prose)):
        return Verdict(text, cited, False, "unsupported")
    if detect_language(prose, default=language) != language:
        return Verdict(text, cited, False, "language")
    return Verdict(text, cited, False, None)


def _attribute_uncited_sentences(text: str, evidence: Sequence[Evidence]) -> str:
    """Cite, for each sentence the model left uncited, the excerpt that plainly supports it.

    Small models often answer correctly but forget the [n]. An excerpt qualifies when it holds every
    figure of the sentence and shares at least two words or names with it; the best-overlapping one wins.
    """
    pieces = []
    cursor = 0
    for start, end in split_sentences(text):
        sentence = text[start:end]
        pieces.append(text[cursor:start])
        cursor = end
        if _MARKER.search(sentence):
            pieces.append(sentence)
            continue
        number = _supporting_excerpt(sentence, evidence)
        if number is None:
            pieces.append(sentence)
            continue
        body = sentence.rstrip(".!?… ")
        pieces.append(f"{body} [{number}]{sentence[len(body):].strip()}")
    pieces.append(text[cursor:])
    return "".join(pieces)


def _supporting_excerpt(sentence: str, evidence: Sequence[Evidence]) -> int | None:
    figures = numbers_in(sentence)
    words = _content_words(sentence)
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
        numbers = [int(n) for n in re.split(r"\s*,\s*", match.group(1)) if 1 <= int(n) <= count]
        cited.extend(n for n in numbers if n not in cited)
        return "".join(f"[{n}]" for n in numbers)

    text = _MARKER.sub(replace, text)
    text = re.sub(r"[ \t]{2,}", " ", text)
    return re.sub(r" +([.,])", r"\1", text).strip(), tuple(dict.fromkeys(cited))


def _is_decline(text: str) -> bool:
    folded = fold(text)
    return not folded or any(phrase in folded for phrase in _DECLINES) and not _MARKER.search(text)
