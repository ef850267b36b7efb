"""Sentence boundaries in French and English text, as exact character spans."""

from __future__ import annotations

import re
from collections.abc import Iterator

Span = tuple[int, int]

_NON_SPACE = re.compile(r"\S")
_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n|\u2029")
# A run of terminators (matched from its first character only, which keeps long runs linear), then
# closing quotes or brackets: straight quotes only when glued to it, » and ” also after a space
# (French typography: « C'est fini. »). A boundary needs whitespace or the end right after.
_TERMINATOR = re.compile(r"(?<![.!?…‽])[.!?…‽]++(?:[»”\"'’)\]]|\s+[»”])*+(?=\s|\Z)")
# Words that end with a dot without ending the sentence, mostly before a name (M. Dupont).
_ABBREVIATIONS = frozenset(
    {"M", "MM", "Mme", "Mmes", "Mlle", "Mlles", "Dr", "Dre", "Pr", "Me", "Mgr", "Mr", "Mrs", "Ms", "Prof", "St", "Ste"}
    | {"Jr", "Sr", "Inc", "Corp", "Ltd", "Co", "cf", "p", "pp", "ex", "env", "vol", "fig", "art", "av", "apr"}
)
_ACRONYM = re.compile(r"(?:[^\W\d_]\.-?)+[^\W\d_]")  # U.S, e.g, J.-C (the final dot excluded)
_OPENERS = "(«\"“‘'["


def split_sentences(text: str) -> list[Span]:
    """(start, end) of each sentence in `text`, in order, trimmed of whitespace.

    French- and English-aware: ends at . ! ? … (with closing quotes « » ” after them) followed by
    whitespace, but not after abbreviations (M., Mme, Dr., p. ex., U.S.) or initials, nor before a
    lower-case word (etc. et); decimals (3,8 / 3.8) and 14 000 never end one. A blank line always
    does. Every non-whitespace character lies in exactly one span.
    """
    spans: list[Span] = []
    for start, end in _paragraphs(text):
        for match in _TERMINATOR.finditer(text, start, end):
            if match.end() < end and _ends_sentence(text, match, start, end):
                spans.append((start, match.end()))
                start = _next_non_space(text, match.end(), end)
        spans.append((start, end))
    return spans


def _paragraphs(text: str) -> Iterator[Span]:
    """Trimmed, non-empty spans between blank lines."""
    bounds = [0, *(bound for brk in _PARAGRAPH_BREAK.finditer(text) for bound in brk.span()), len(text)]
    for start, stop in zip(bounds[::2], bounds[1::2]):
        first = _NON_SPACE.search(text, start, stop)
        if first:
            end = stop
            while text[end - 1].isspace():
                end -= 1
            yield first.start(), end


def _next_non_space(text: str, start: int, end: int) -> int:
    """Index of the first non-whitespace character in text[start:end] (callers know there is one)."""
    match = _NON_SPACE.search(text, start, end)
    return match.start() if match else end


def _ends_sentence(text: str, match: re.Match[str], start: int, end: int) -> bool:
    following = text[_next_non_space(text, match.end(), end)]
    if following.islower() or following in ",;:":
        return False
    if match.group() != ".":
        return True
    word_start = match.start()
    while word_start > start and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start : match.start()].lstrip(_OPENERS)
    initial = len(word) == 1 and word.isupper()
    return not (initial or word in _ABBREVIATIONS or _ACRONYM.fullmatch(word))
