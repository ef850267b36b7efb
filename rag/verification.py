"""Checks on a generated answer before anyone sees it: citations, figures, language, refusals."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from rag.answer_types import CITATION_MARKER, Claim, ClaimChecks, FigureCheck, marker_numbers
from rag.language import LanguageCode, is_other_language
from rag.prompting import NOT_FOUND
from rag.relative_days import without_resolved_dates
from rag.rendering import SPOKEN_DAY
from rag.retrieval import Evidence
from rag.sentences import split_sentences
from rag.slots import Slots, about_another_measure, about_another_subject, entity_check, period_check, read_slots
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


# A marker standing where the figure belongs ("OpenAI a perdu [3] milliards de dollars"): the model
# cited instead of writing the number, and the sentence states an amount it never gives.
_MARKER_AS_FIGURE = re.compile(
    r"(?:" + CITATION_MARKER.pattern + r")\s*"
    r"(?:%|\$|€|(?:milliards?|millions?|billions?|trillions?|dollars?|euros?)\b)",
    re.IGNORECASE,
)
# Where a claim's clauses part ("In Q4 2024, capex was 26.3 billion, and in Q2 2025 31.4 billion"): a
# figure is said of the period its clause names, or else of the last period an earlier clause named.
_CLAUSE_BREAK = re.compile(
    r"[,;]|\b(?:et|and|puis|then|while|whereas|tandis que|alors que|compared|par rapport|versus|vs)\b", re.IGNORECASE
)
# Markers written after the full stop ("… sept ans. [3]") belong to the sentence before it, not to one of their own.
_MARKERS_AFTER_END = re.compile(r"([.!?…])\s*((?:" + CITATION_MARKER.pattern + r")+)")


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking one generated answer."""

    text: str  # the answer with markers that point nowhere removed
    cited: tuple[int, ...]  # 1-based evidence numbers, in order of first citation
    declined: bool  # the model said the excerpts do not answer
    # None when the answer may ship; else "language", "unsupported", "entity", "measure" or "restated"
    problem: str | None
    claims: tuple[Claim, ...] = ()  # one per sentence, citations numbered as the excerpts


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
    text, _ = _keep_valid_markers(_MARKERS_AFTER_END.sub(r" \2\1", text), len(evidence))
    if CITATION_MARKER.sub("", text).rstrip().endswith("?"):
        return Verdict(text, (), False, "unsupported")  # the question echoed back is no answer
    if _MARKER_AS_FIGURE.search(text):
        return Verdict(text, (), False, "unsupported")
    given = number_values(question)
    pieces, cursor, supported = [], 0, True
    for start, end in split_sentences(text):
        sentence, ok = _support_sentence(text[start:end], evidence, given)
        pieces.append(text[cursor:start] + sentence)
        cursor, supported = end, supported and ok
    text, cited = _keep_valid_markers("".join(pieces) + text[cursor:], len(evidence))
    slots = read_slots(question)
    checked = _checked_claims(text, evidence, slots, question)
    claims = tuple(claim for claim, _ in checked)
    if not cited or not supported:
        return Verdict(text, cited, False, "unsupported", claims)
    if (elsewhere := _figures_from_elsewhere(checked, slots)) is not None:
        return Verdict(text, cited, False, elsewhere, claims)
    if question and restates(text, question):
        return Verdict(text, cited, False, "restated", claims)
    if is_other_language(CITATION_MARKER.sub(" ", text), language):
        return Verdict(text, cited, False, "language", claims)
    return Verdict(text, cited, False, None, claims)


def recheck(text: str, evidence: Sequence[Evidence], question: str) -> Verdict:
    """The verdict on an answer the system itself extended (more citations, a sentence on divergence)."""
    text, cited = _keep_valid_markers(text, len(evidence))
    return Verdict(text, cited, False, None, check_claims(text, evidence, question))


def check_claims(text: str, evidence: Sequence[Evidence], question: str) -> tuple[Claim, ...]:
    """Each cited sentence of `text` as a claim, checked for figures, entity and period.

    A sentence that cites nothing (a connective, "Yes.") is no claim of its own.
    """
    return tuple(claim for claim, _ in _checked_claims(text, evidence, read_slots(question), question))


def _checked_claims(
    text: str, evidence: Sequence[Evidence], slots: Slots, question: str
) -> list[tuple[Claim, list[Evidence]]]:
    """Each claim of `text` with the snippets holding its figures (empty when it states none)."""
    claims = []
    for start, end in split_sentences(text):
        sentence = text[start:end]
        numbers = [n for match in CITATION_MARKER.finditer(sentence) for n in marker_numbers(match)]
        cited = list(dict.fromkeys(n for n in numbers if 1 <= n <= len(evidence)))
        if cited:
            items = [evidence[n - 1] for n in cited]
            prose = re.sub(r"\s+([.,;:!?…])", r"\1", CITATION_MARKER.sub("", sentence)).strip()
            claims.append(_claim(prose, cited, items, slots, question))
    return claims


def check_quotes(quotes: Sequence[Evidence], question: str) -> tuple[Claim, ...]:
    """Quoted excerpts as claims (quote n cites [n]): their figures are theirs, their slots are checked."""
    slots = read_slots(question)
    return tuple(_claim(item.text, [n], [item], slots, question)[0] for n, item in enumerate(quotes, 1))


def has_mismatch(claims: Sequence[Claim]) -> bool:
    """Whether a claim cites a snippet about another entity or period than the question's."""
    return any(claim.checks.entity == "mismatch" or claim.checks.period == "mismatch" for claim in claims)


def figures_of_another_period(claims: Sequence[Claim]) -> bool:
    """Whether the answer's figures all come from snippets about another period than the question's.

    "AWS's operating income in Q2 2025?" answered with the Q4 2024 figure is a near miss: the
    articles give the figure, not for the asked quarter. Only periods are enforced: an entity
    mismatch is often a snippet saying "the company", and enforcing it refused answerable questions.
    """
    stated = [claim for claim in claims if claim.checks.figures == "supported"]
    return bool(stated) and all(claim.checks.period == "mismatch" for claim in stated)


def on_the_question(evidence: Sequence[Evidence], question: str) -> list[Evidence]:
    """The evidence without the sentences about another named subject ("Meta a annoncé" for a question
    on Amazon) or another measure (job cuts for a head count) than the question's: what a retry reads
    after an answer took one of their figures."""
    slots = read_slots(question)
    return [
        item for item in evidence
        if not about_another_subject(slots, [item.text]) and not about_another_measure(slots, [item.text])
    ]


def _figures_from_elsewhere(claims: Sequence[tuple[Claim, list[Evidence]]], slots: Slots) -> str | None:
    """"entity" or "measure" when every figure the answer states comes from sentences about another
    named subject, or another measure, than the question's; else None.

    "Meta a également annoncé … 60 milliards" answers no question about Amazon, even in an article
    whose title names Amazon, and "30,9 milliards de dollars de chiffre d'affaires" no question about
    operating income. Unlike the looser entity check (snippets often say "the company"), these are
    enforced: the sentence itself says whose figure it is and what it measures.
    """
    holding = [[item.text for item in items] for claim, items in claims if claim.checks.figures == "supported"]
    holding = [texts for texts in holding if texts]
    if not holding:
        return None
    if all(about_another_subject(slots, texts) for texts in holding):
        return "entity"
    if all(about_another_measure(slots, texts) for texts in holding):
        return "measure"
    return None


def _claim(
    text: str, cited: list[int], items: Sequence[Evidence], slots: Slots, question: str
) -> tuple[Claim, list[Evidence]]:
    """A claim's checks, and the snippets holding its figures. Slots are read on those snippets (citing
    a snippet about NVIDIA beside the one holding Amazon's figure does not make the figure NVIDIA's), or
    on all of them when it states none. The entity may be named by a snippet or its article's title
    (snippets often say "the company" or "he"), unless the snippets open on another named subject
    ("Meta a annoncé"); the period must be the snippets' own."""
    given = number_values(question)
    dateless = SPOKEN_DAY.sub(" ", without_resolved_dates(text))  # "jeudi (6 février 2025)", "l'an dernier (2024)"
    figures = [readings for readings in numbers_in(dateless) if not readings & given]
    values = [number_values(item.text) for item in items]
    available = set().union(*values)
    figure_check: FigureCheck = (
        "none" if not figures else "supported" if all(readings & available for readings in figures) else "unsupported"
    )
    holding = [item for item, found in zip(items, values) if any(readings & found for readings in figures)]
    basis = holding or list(items)
    entity = entity_check(slots, [*(item.text for item in basis), *(item.title for item in basis)])
    if about_another_subject(slots, [item.text for item in basis]):
        entity = "mismatch"
    period = period_check(slots, [item.dated_text for item in basis])
    if _said_of_another_period(dateless, items, given):
        period = "mismatch"
    return Claim(text, cited, ClaimChecks(figure_check, entity, period)), holding


def _said_of_another_period(claim: str, items: Sequence[Evidence], given: set) -> bool:
    """Whether the claim says a figure of one period while every cited sentence holding it speaks of another.

    The question's periods cannot tell "In Q4 2024, capex was 31.4 billion" from the right answer when
    it asks for Q4 2024 and Q2 2025 both: the claim's own clause names the period the figure is said of,
    and the sentence it comes from ("31,4 milliards de dollars au T2") another.
    """
    said_of: Slots | None = None
    for clause in _CLAUSE_BREAK.split(claim):
        slots = read_slots(clause)
        if slots.quarters or slots.years:
            said_of = slots
        if said_of is None:
            continue
        years = {Decimal(year) for year in slots.years}
        for readings in numbers_in(clause):
            if readings & years or readings & given:
                continue  # the year naming the period, or a figure of the question itself
            holding = [item for item in items if readings & number_values(item.text)]
            if holding and all(period_check(said_of, [item.dated_text]) == "mismatch" for item in holding):
                return True
    return False


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


_UNIT_SYMBOLS = re.compile(r"[%$€£]")


def restates(answer: str, question: str) -> bool:
    """Whether the answer adds no word or figure to the question's: "Amazon keeps pouring billions into
    [the company] even though it is OpenAI's rival [1]" repeats the question and names nobody.

    Words compare by their first four letters, so "keeps" repeats "keep"; unit symbols count, so
    "30 à 40 %" answers "30 à 40 fois ?".
    """
    def stems(text: str) -> set[str]:
        prose = CITATION_MARKER.sub(" ", text)
        figures = {str(value) for readings in numbers_in(prose) for value in readings}
        return {word[:4] for word in _content_words(prose)} | figures | set(_UNIT_SYMBOLS.findall(prose))

    return not stems(answer) - stems(question)


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
