"""Several outlets, one fact: which snippets repeat each other, which corroborate a claim, which disagree.

News repeats itself (wire copy, rewrites) and sometimes contradicts itself. These checks are
deterministic. A figure is read as a value with its unit and what qualifies it: "plus de 100 milliards
de dollars" is more than 100, in milliard dollars. Two snippets of different articles state the same
quantity when their figures share a unit and most of their other words; they disagree when those
values differ beyond what a qualifier ("plus de 100" and 105,2) or rounding (3,8 and 3,84) explains.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import lru_cache
from typing import Literal, Protocol

from rag.answer_types import CITATION_MARKER, Claim, marker_numbers
from rag.language import LanguageCode
from rag.lexical import STOPWORDS
from rag.rendering import spoken_day
from rag.retrieval import Evidence
from rag.sentences import split_sentences
from rag.slots import names_in, read_slots
from rag.textnorm import fold, number_spans

Qualifier = Literal["at_least", "at_most", "about"]
_QUALIFIER_WORDS: tuple[tuple[Qualifier, str], ...] = (
    ("at_least", r"plus de|plus d['’]|au moins|au-delà de|more than|over|at least|above|in excess of"),
    ("at_most", r"moins de|moins d['’]|jusqu['’]à|au plus|less than|under|up to|at most"),
    ("about", r"environ|près de|près d['’]|quelque|presque|approximativement|about|around|nearly|almost"),
)
_QUALIFIERS = tuple(
    (name, re.compile(rf"(?:^|\W)(?P<words>{words})\s*$", re.IGNORECASE)) for name, words in _QUALIFIER_WORDS
)
_ENGLISH_QUALIFIERS = {
    "plus de": "more than", "plus d'": "more than", "au moins": "at least", "moins de": "less than",
    "jusqu'à": "up to", "environ": "about", "près de": "nearly", "presque": "almost",
}
_SCALES = {"milliard", "billion", "million", "mille", "thousand", "trillion", "md", "mds", "mrd"}
_LINKS = {"de", "d", "of"}
_UNIT_WORD = re.compile(r"\s*(%|\$|€|£|[^\W\d_]+)(['’]?)")
_WORD = re.compile(r"[^\W\d_]+")
_YEAR = re.compile(r"^(?:19|20)\d{2}$")
_RANGE_LINK = re.compile(r"\s*(?:-|–|à|a|to|et|and)\s*", re.IGNORECASE)
# Two snippets are copies of one another (collapsed into one source) when they hold the same figures
# and at least this share of the same words; wire copy and light rewrites repeat whole sentences.
COPY_OVERLAP = 0.8
# Two snippets state the same quantity when, besides their figures, this share of the shorter one's
# content words are the other's too: a rewrite changing one figure shares nearly all of them, two
# sentences about different deals of the same company (38 and 300 milliards) share few.
SAME_QUANTITY_OVERLAP = 0.6
# A snippet of another article corroborates a claim when it holds every one of its figures and shares
# this share of the cited snippet's content words ("100 milliards de dollars" in 2025, said two ways).
CORROBORATION_OVERLAP = 0.25
_ABOUT_TOLERANCE = Decimal("0.1")
_MAX_DIVERGENCES = 2


@dataclass(frozen=True)
class Figure:
    """A number as a snippet writes it: its possible values, its unit, its qualifier and its words."""

    values: frozenset[Decimal]
    unit: str  # folded scale and measure: "milliard dollar", "%", "gigawatt"; "" when bare
    qualifier: Qualifier | None
    phrase: str  # the verbatim words, qualifier to unit: "plus de 100 milliards de dollars"


@dataclass(frozen=True)
class Conflict:
    """Two articles giving different values for one quantity: `first` is what the answer stated."""

    first: Evidence
    first_figure: Figure
    second: Evidence
    second_figure: Figure


@dataclass(frozen=True)
class CrossChecked:
    """An answer with its corroborating citations and any divergence said, over the extended evidence."""

    text: str
    evidence: list[Evidence]  # the prompt's evidence, then the snippets the cross-check added
    conflicts: list[Conflict]


@lru_cache(maxsize=4096)
def figures_of(text: str) -> tuple[Figure, ...]:
    """The figures of `text`, years left out (they are periods, not quantities). A range ("80-90 %",
    "entre 30 et 40 fois") is one figure, about either end. Cached: the cross-check reads each
    snippet once per pair it is in."""
    figures: list[Figure] = []
    previous_end, phrase_start = -1, 0
    for start, end, values in number_spans(text, words=True):
        if len(values) == 1 and _YEAR.match(text[start:end]):
            continue
        unit_words, unit_end = _unit_after(text, end)
        if figures and _RANGE_LINK.fullmatch(text[previous_end:start]):
            low = figures.pop()
            figures.append(Figure(low.values | values, " ".join(unit_words) or low.unit, "about",
                                  text[phrase_start:unit_end].strip()))
        else:
            qualifier, phrase_start = _qualifier_before(text, start)
            figures.append(Figure(frozenset(values), " ".join(unit_words), qualifier,
                                  text[phrase_start:unit_end].strip()))
        previous_end = end
    return tuple(figures)


class Passage(Protocol):
    """A span of one article: an evidence sentence or a retrieved chunk."""

    @property
    def doc_id(self) -> str: ...

    @property
    def text(self) -> str: ...


def is_copy(a: Passage, b: Passage) -> bool:
    """Whether two spans of different articles are the same text (wire copy, a light rewrite)."""
    if a.doc_id == b.doc_id or sorted(map(sorted, _values(a.text))) != sorted(map(sorted, _values(b.text))):
        return False
    words_a, words_b = set(_WORD.findall(fold(a.text))), set(_WORD.findall(fold(b.text)))
    union = words_a | words_b
    return bool(union) and len(words_a & words_b) / len(union) >= COPY_OVERLAP


def outlets(items: Iterable[Evidence]) -> set[str]:
    """The distinct outlets of the snippets and their collapsed copies (the article when the outlet is unknown)."""
    return {item.source or item.doc_id for each in items for item in (each, *each.also)}


def cross_check(
    text: str, evidence: Sequence[Evidence], pool: Sequence[Evidence], language: LanguageCode
) -> CrossChecked:
    """`text` with each claim also citing the other articles that give its figures, opened by a sentence
    saying where articles disagree about one (the newer value first), citing both.

    `pool` is every scored sentence of the retrieved passages: an article stating the same fact, or
    another value for it, is often one the prompt left out.
    """
    extended = list(evidence)
    conflicts: list[Conflict] = []
    pieces, cursor = [], 0
    for start, end in split_sentences(text):
        sentence = text[start:end]
        cited = [extended[n - 1] for n in _markers(sentence) if 1 <= n <= len(extended)]
        stated = [set(figure.values) for figure in figures_of(CITATION_MARKER.sub(" ", sentence))]
        if cited and stated:
            added = []
            for item in _corroborating(cited, stated, pool):
                copied = next((n for n, known in enumerate(extended) if is_copy(known, item)), None)
                if copied is None:
                    added.append(_number_of(item, extended))
                else:
                    extended[copied] = replace(extended[copied], also=(*extended[copied].also, item))
            sentence = _with_markers(sentence, added)
            for found in _conflicts(cited, stated, pool):
                if _is_new(found, conflicts):
                    conflicts.append(found)
        pieces.append(text[cursor:start] + sentence)
        cursor = end
    said = _said(conflicts, extended, language)
    return CrossChecked(" ".join([*said, "".join(pieces) + text[cursor:]]), extended, conflicts[:_MAX_DIVERGENCES])


def divergences(quotes: Sequence[Evidence], pool: Sequence[Evidence], language: LanguageCode) -> CrossChecked:
    """The sentences saying where other articles give another value for a figure of `quotes` (the
    extractive answer quotes snippets, it states nothing else), over the quotes and what they cite."""
    extended = list(quotes)
    conflicts: list[Conflict] = []
    for item in quotes:
        for found in _conflicts([item], [set(figure.values) for figure in figures_of(item.text)], pool):
            if _is_new(found, conflicts):
                conflicts.append(found)
    return CrossChecked(" ".join(_said(conflicts, extended, language)), extended, conflicts[:_MAX_DIVERGENCES])


def _said(conflicts: Sequence[Conflict], extended: list[Evidence], language: LanguageCode) -> list[str]:
    """One divergence sentence per conflict (the first few), its snippets numbered in `extended`."""
    return [
        _divergence(conflict, _number_of(conflict.first, extended), _number_of(conflict.second, extended), language)
        for conflict in conflicts[:_MAX_DIVERGENCES]
    ]


def annotate(claims: Sequence[Claim], evidence: Sequence[Evidence], conflicts: Sequence[Conflict]) -> list[Claim]:
    """Each claim with how many outlets its citations come from and whether they agree on its figures."""
    annotated = []
    for claim in claims:
        items = [evidence[n - 1] for n in claim.citations if 1 <= n <= len(evidence)]
        stated = [set(figure.values) for figure in figures_of(claim.text)]
        clash = next((c for c in conflicts if _touches(c, items, stated)), None)
        checks = claim.checks
        if clash is not None:
            reason = f"{clash.first_figure.phrase} / {clash.second_figure.phrase}"
            checks = replace(checks, agreement="conflict", agreement_reason=reason)
        elif stated and len(outlets(items)) > 1:
            checks = replace(checks, agreement="consistent", agreement_reason=_consistency_note(items, stated))
        annotated.append(replace(claim, checks=checks, sources=max(1, len(outlets(items)))))
    return annotated


def consistent(a: Figure, b: Figure) -> tuple[bool, str | None]:
    """Whether two values of one quantity agree, and why when they differ: a qualifier or rounding."""
    if a.values & b.values:
        return True, None
    for one, other in ((a, b), (b, a)):
        low, high = min(one.values), max(one.values)
        if one.qualifier == "at_least" and all(value >= low for value in other.values):
            return True, f"qualifier: {other.phrase} fits « {one.phrase} »"
        if one.qualifier == "at_most" and all(value <= high for value in other.values):
            return True, f"qualifier: {other.phrase} fits « {one.phrase} »"
        within = any(low <= value <= high for value in other.values)  # a range's ends ("80-90 %") hold it
        if one.qualifier == "about" and (within or any(_close(x, y) for x in one.values for y in other.values)):
            return True, f"qualifier: {other.phrase} fits « {one.phrase} »"
        if any(_rounds_to(x, y) for x in other.values for y in one.values):
            return True, f"rounding: {one.phrase} is {other.phrase} rounded"
    return False, None


def _corroborating(
    cited: Sequence[Evidence], stated: Sequence[set[Decimal]], pool: Sequence[Evidence]
) -> list[Evidence]:
    """Snippets of other outlets giving every figure of the claim with a cited snippet's unit and words:
    copies of a cited snippet are kept on it as "also reported by", the others cited beside it."""
    known = outlets(cited)
    found = []
    for candidate in pool:
        if (candidate.source or candidate.doc_id) in known:
            continue
        for item in cited:
            if _same_figures(item, candidate, stated) and _overlap(item.text, candidate.text) >= CORROBORATION_OVERLAP:
                found.append(candidate)
                known |= outlets([candidate])
                break
    return found


def _conflicts(cited: Sequence[Evidence], stated: Sequence[set[Decimal]], pool: Sequence[Evidence]) -> list[Conflict]:
    """Pairs (cited snippet, other article's snippet) giving inconsistent values for a stated figure.

    Only a figure that is the one of its unit in both snippets can conflict: a sentence listing several
    ("Azure 39 %, Google Cloud 32 %, AWS 17,5 %") does not say which of them is the other's.
    """
    found = []
    for item in cited:
        figures = figures_of(item.text)
        own = [figure for figure in figures if any(figure.values & values for values in stated)]
        for candidate in pool:
            if candidate.doc_id == item.doc_id or not _same_subject(item, candidate):
                continue
            theirs = figures_of(candidate.text)
            for figure in own:
                same_unit = [other for other in theirs if other.unit == figure.unit]
                alone = len(same_unit) == 1 and sum(mine.unit == figure.unit for mine in figures) == 1
                if figure.unit and alone and not consistent(figure, same_unit[0])[0]:
                    found.append(Conflict(item, figure, candidate, same_unit[0]))
    return found


def _same_subject(a: Evidence, b: Evidence) -> bool:
    """Whether two snippets speak of the same thing: shared names, no other period, most words shared."""
    names_a, names_b = {fold(name) for name in names_in(a.text)}, {fold(name) for name in names_in(b.text)}
    if names_a and names_b and not names_a & names_b:
        return False
    period_a, period_b = read_slots(a.dated_text), read_slots(b.dated_text)
    for mine, theirs in ((period_a.years, period_b.years), (period_a.quarters, period_b.quarters)):
        if mine and theirs and not set(mine) & set(theirs):
            return False
    return _overlap(a.text, b.text) >= SAME_QUANTITY_OVERLAP


def _same_figures(item: Evidence, candidate: Evidence, stated: Sequence[set[Decimal]]) -> bool:
    """Whether `candidate` gives every stated figure that `item` gives, with the same unit."""
    theirs = figures_of(candidate.text)
    ours = [figure for figure in figures_of(item.text) if any(figure.values & values for values in stated)]
    return bool(ours) and all(
        any(other.unit == figure.unit and other.values & figure.values for other in theirs) for figure in ours
    )


def _touches(conflict: Conflict, items: Sequence[Evidence], stated: Sequence[set[Decimal]]) -> bool:
    """Whether a claim rests on either side of `conflict` and states its figure."""
    sides = ((conflict.first, conflict.first_figure), (conflict.second, conflict.second_figure))
    return any(
        _is_among(side, items) and any(figure.values & values for values in stated) for side, figure in sides
    )


def _consistency_note(items: Sequence[Evidence], stated: Sequence[set[Decimal]]) -> str | None:
    """Why the outlets' differing values for the claim's figures agree, when they differ at all."""
    for a_index, a in enumerate(items):
        for b in items[a_index + 1 :]:
            for first in figures_of(a.text):
                for second in figures_of(b.text):
                    if first.unit == second.unit and any(first.values & values for values in stated):
                        agrees, reason = consistent(first, second)
                        if agrees and reason:
                            return reason
    return None


def _divergence(conflict: Conflict, first: int, second: int, language: LanguageCode) -> str:
    """The sentence saying two articles disagree: the newer one first, and the older named so, when dated."""
    stated = (_phrase(conflict.first_figure, language), first, conflict.first.date)
    other = (_phrase(conflict.second_figure, language), second, conflict.second.date)
    if not (stated[2] and other[2] and stated[2] != other[2]):
        if language == "fr":
            return f"Les articles divergent : l'un donne {stated[0]} [{stated[1]}], l'autre {other[0]} [{other[1]}]."
        return f"The articles disagree: one gives {stated[0]} [{stated[1]}], the other {other[0]} [{other[1]}]."
    newer, older = sorted((stated, other), key=lambda side: str(side[2]), reverse=True)
    new_day, old_day = spoken_day(str(newer[2]), language), spoken_day(str(older[2]), language)
    if language == "fr":
        return (
            f"Les articles divergent : le plus récent, du {new_day}, donne {newer[0]} [{newer[1]}] ; "
            f"un article plus ancien, du {old_day}, donnait {older[0]} [{older[1]}]."
        )
    return (
        f"The articles disagree: the most recent, of {new_day}, gives {newer[0]} [{newer[1]}]; "
        f"an older one, of {old_day}, gave {older[0]} [{older[1]}]."
    )


def _phrase(figure: Figure, language: LanguageCode) -> str:
    if language != "en":
        return figure.phrase
    for french, english in _ENGLISH_QUALIFIERS.items():
        if figure.phrase.casefold().startswith(french):
            return english + figure.phrase[len(french) :]
    return figure.phrase


def _unit_after(text: str, end: int) -> tuple[list[str], int]:
    """The scale and measure words after a number ("milliards de dollars" -> milliard dollar) and where they end."""
    words: list[str] = []
    cursor = end
    while len(words) < 2 and (match := _UNIT_WORD.match(text, cursor)):
        word = fold(match.group(1)).rstrip("s") or match.group(1)
        if word in _LINKS and words:
            cursor = match.end()
            continue
        if word in STOPWORDS or word in _LINKS or (words and word in _SCALES):
            break
        words.append(word)
        cursor = match.end()
        if word not in _SCALES:
            break
    return words, cursor if words else end


def _qualifier_before(text: str, start: int) -> tuple[Qualifier | None, int]:
    """The qualifier just before a number ("plus de", "environ") and where its words start."""
    window = max(0, start - 30)
    for name, pattern in _QUALIFIERS:
        if (match := pattern.search(text, window, start)) is not None:
            return name, match.start("words")
    return None, start


def _overlap(a: str, b: str) -> float:
    """The share of the shorter text's content words (first five letters) the other has too."""
    words_a, words_b = _content(a), _content(b)
    shorter = min(len(words_a), len(words_b))
    return len(words_a & words_b) / shorter if shorter else 0.0


def _content(text: str) -> set[str]:
    return {word[:5] for word in _WORD.findall(fold(text)) if len(word) > 2 and word not in STOPWORDS}


def _values(text: str) -> list[set[Decimal]]:
    return [values for _, _, values in number_spans(text)]


def _close(x: Decimal, y: Decimal) -> bool:
    return abs(x - y) <= _ABOUT_TOLERANCE * max(abs(x), abs(y))


def _rounds_to(precise: Decimal, rounded: Decimal) -> bool:
    """Whether `rounded`, written with fewer decimals, is `precise` rounded: 3,8 for 3,84; 105 for 105,2."""
    places = max(0, -int(rounded.as_tuple().exponent))
    precise_places = max(0, -int(precise.as_tuple().exponent))
    return precise_places > places and precise.quantize(Decimal(1).scaleb(-places)) == rounded


def _markers(sentence: str) -> list[int]:
    return [n for match in CITATION_MARKER.finditer(sentence) for n in marker_numbers(match)]


def _with_markers(sentence: str, numbers: Sequence[int]) -> str:
    """The sentence with markers [n] added after its last marker (before its closing punctuation)."""
    if not numbers:
        return sentence
    body = sentence.rstrip(".!?… ")
    return body + "".join(f"[{n}]" for n in numbers) + sentence[len(body) :]


def _number_of(item: Evidence, extended: list[Evidence]) -> int:
    """`item`'s excerpt number in `extended`, appending it when it is not there yet."""
    for number, known in enumerate(extended, 1):
        if (known.doc_id, known.start) == (item.doc_id, item.start):
            return number
    extended.append(item)
    return len(extended)


def _is_among(item: Evidence, items: Iterable[Evidence]) -> bool:
    return any((known.doc_id, known.start) == (item.doc_id, item.start) for known in items)


def _is_new(conflict: Conflict, found: Sequence[Conflict]) -> bool:
    """Whether no conflict already found opposes the same two values of the same unit (in either order)."""
    def key(c: Conflict) -> tuple[str, frozenset[frozenset[Decimal]]]:
        return c.first_figure.unit, frozenset({c.first_figure.values, c.second_figure.values})

    return all(key(conflict) != key(known) for known in found)
