"""Slot checks: does a cited sentence carry the entity and period the question asks about?

A 1.5B model readily answers "what did AWS earn in Q2 2025?" with the Q4 2024 figure sitting in the
next excerpt, or NVIDIA's profit with Amazon's spending. These checks read the question's named
entities (companies, products: capitalised words and acronyms) and periods (years, quarters in French
and English) and compare them with what each claim cites, deterministically.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from rag.answer_types import SlotCheck
from rag.lexical import STOPWORDS
from rag.textnorm import fold

_YEAR = re.compile(r"\b(?:19|20)\d{2}\b")
_QUARTERS = {
    1: r"premier|1er|first|1st|q1|t1",
    2: r"deuxieme|2e|2eme|second|2nd|q2|t2",
    3: r"troisieme|3e|3eme|third|3rd|q3|t3",
    4: r"quatrieme|4e|4eme|fourth|4th|q4|t4",
}
_QUARTER = [
    (
        number,
        re.compile(rf"\b(?:(?:{words})[\s-]+(?:trimestre|quarter)|[qt]{number}|(?:trimestre|quarter)\s+{number})\b"),
    )
    for number, words in _QUARTERS.items()
]
# A capitalised word or acronym, possibly several in a row ("Google Cloud", "Amazon Web Services").
_NAME = re.compile(r"\b[A-Z][\w&'’.-]*[\w](?:\s+[A-Z][\w&'’.-]*[\w])*|\b[A-Z]{2,}\b")
# Capitalised words that name no entity: question words, articles and prepositions opening a
# question or a sentence, quarter codes, IA/AI (which every article is about) and nationalities.
_NOT_NAMES = frozenset(
    fold(word)
    for line in (
        "Quel Quelle Quels Quelles Combien Comment Pourquoi Qui Que Quoi Quand Où Est Sont Le La Les Un Une",
        "Des Selon En Au Aux Du De Et Dans Sur Pour Par Avec Comparez",
        "What Which Who Whom Whose How Why When Where Is Are Was Were Do Does Did The A An In On Of For By With",
        "And Compare According Q1 Q2 Q3 Q4 T1 T2 T3 T4 IA AI PDG CEO",
        "Chinese American European French Japanese German British Indian Chinois Américain Européen",
        "Ce Cet Cette Ces Son Sa Ses Leur Leurs This That These Those Its Their",
    )
    for word in line.split(" ")
)


# A sentence opening on a capitalised word followed by one of these verbs opens on its named subject
# ("Meta a également annoncé", "Google prévoit", "Nvidia is"). Only auxiliaries, modals and reporting
# verbs: "Malgré les rumeurs", "Selon Andy Jassy", "Revenues grew" open on no subject of their own.
_SUBJECT_VERBS = frozenset(
    word
    for line in (
        "a avait aura aurait est etait sera serait va allait vient doit devrait peut pourrait compte prevoit",
        "annonce investit depense emploie detient possede affiche realise veut entend mise signe lance",
        "has had is was will would plans said says announced expects reported invests spent",
    )
    for word in line.split(" ")
)
_OPENING = re.compile(r"^\W*(?P<name>[A-Z][\w&'’.-]*\w(?:\s+[A-Z][\w&'’.-]*\w)*)\s*(?P<next>[^\W\d_]+)?")


# What a figure measures, in both languages, as word beginnings of folded text: a question about a head
# count is not answered by job cuts, nor operating income by revenue. Only measures business news gives
# as figures; a text naming none of them is not judged.
_MEASURES = {
    "revenue": ("chiffre d'affaires", "chiffres d'affaires", "revenu", "revenue", "ventes", "sales"),
    "operating income": (
        "benefice d'exploitation", "resultat d'exploitation", "benefice operationnel", "resultat operationnel",
        "operating income", "operating profit",
    ),
    "net income": ("benefice net", "resultat net", "net income", "net profit"),
    "spending": ("invest", "depense", "spend", "capex", "capital expenditure"),
    "market value": ("capitalisation", "valorisation", "valeur boursiere", "market value", "market cap", "valued"),
    "head count": ("employes", "salaries", "effectifs", "employees", "staff", "headcount"),
    "job cuts": ("suppression", "supprim", "licenci", "job cuts", "layoff"),
    "losses": ("perte", "perdu", "lost", "loss"),
}
# Questions whose answer is a figure (folded text): a sentence that writes none cannot answer them.
_ASKS_FOR_FIGURE = re.compile(
    r"\b(?:combien|how (?:much|many|long|big|large|old)|what (?:share|percentage|proportion|amount|sum|price)"
    r"|quel(?:le)?s? (?:est |etait |sont )?(?:le |la |les )?(?:montant|part|pourcentage|somme|proportion|nombre"
    r"|taux|chiffre|prix|cout|age)|en quelle annee|in (?:what|which) year|what year|a quel prix)\b"
)
_SECOND_ASK = re.compile(
    r"(?:,|\bet\b|\band\b)\s+(?:\w+\s+)?(?:quel|quelle|quels|quelles|combien|comment|qui|ou|quand|what|which|how|who"
    r"|where|when|pourquoi|why)\b"
)
_MEASURE = {
    name: re.compile(r"\b(?:" + "|".join(re.escape(word) for word in words) + ")")
    for name, words in _MEASURES.items()
}


@dataclass(frozen=True)
class Slots:
    """What a question pins down: the entities it names, the years and quarters and the measures it asks about."""

    entities: frozenset[str]
    years: frozenset[str]
    quarters: frozenset[int]
    measures: frozenset[str] = frozenset()


def read_slots(question: str) -> Slots:
    """The question's entities (folded), years and quarters."""
    folded = fold(question)
    entities = frozenset(fold(name) for name in names_in(question))
    return Slots(entities, frozenset(_YEAR.findall(folded)), frozenset(_quarters(folded)), measures_in(question))


def measures_in(text: str) -> frozenset[str]:
    """The measures `text` names ("revenue", "head count", ...)."""
    folded = fold(text)
    return frozenset(name for name, pattern in _MEASURE.items() if pattern.search(folded))


def asks_for_figure(question: str) -> bool:
    """Whether the question asks for an amount, a count, a share or a year ("combien", "how many"), and
    for nothing else: "Quelle puce d'AMD gagne du terrain, et quelle part de marché…" asks for a name too."""
    folded = fold(question)
    return bool(_ASKS_FOR_FIGURE.search(folded)) and not _SECOND_ASK.search(folded)


def about_another_measure(slots: Slots, cited: Iterable[str]) -> bool:
    """Whether every cited text names what it measures, and none of what the question asks ("Amazon
    supprime 14 000 emplois" for a head count). A text naming no measure is not judged."""
    named = [measures_in(text) for text in cited]
    return bool(slots.measures and named) and all(found and not found & slots.measures for found in named)


def entity_check(slots: Slots, cited: Iterable[str]) -> SlotCheck:
    """"matches" when a cited text names one of the question's entities, "mismatch" when none does."""
    if not slots.entities:
        return "n/a"
    texts = list(cited)
    if not texts:
        return "mismatch"
    return "matches" if any(mentions(entity, text) for entity in slots.entities for text in texts) else "mismatch"


def period_check(slots: Slots, cited: Iterable[str]) -> SlotCheck:
    """"mismatch" when the cited texts speak of other quarters or years only; "n/a" when they say nothing."""
    folded = [fold(text) for text in cited]
    found_quarters = {quarter for text in folded for quarter in _quarters(text)}
    found_years = {year for text in folded for year in _YEAR.findall(text)}
    verdicts = []
    if slots.quarters and found_quarters:
        verdicts.append(bool(slots.quarters & found_quarters))
    if slots.years and found_years:
        verdicts.append(bool(slots.years & found_years))
    if not verdicts:
        return "n/a"
    return "matches" if all(verdicts) else "mismatch"


def subject_of(sentence: str) -> str | None:
    """The named subject a sentence opens on, folded ("meta" for "Meta a également annoncé …"), if any.

    A brand (OpenAI, DeepSeek) or a capitalised word followed by a verb such as "a", "prévoit", "has"
    is a subject; an opening preposition or adverb ("Malgré les", "Selon Andy Jassy") is not.
    """
    match = _OPENING.match(sentence)
    if match is None:
        return None
    words = match.group("name").split()
    verb = match.group("next") or ""
    if not (_is_brand(words[0]) or verb != "à" and fold(verb) in _SUBJECT_VERBS):  # "Suite à", "Face à"
        return None
    if fold(words[0]) in STOPWORDS or fold(words[0]) in _NOT_NAMES or re.match(r"\w['’]", words[0]):
        return None  # "Il a", "Elle est", "Le", "L'Union sportive", "L'entreprise"
    return fold(" ".join(word for word in words if fold(word) not in _NOT_NAMES))


def about_another_subject(slots: Slots, cited: Iterable[str]) -> bool:
    """Whether every cited text opens on a named subject that is not the question's, and none names it.

    "Meta a également annoncé … 60 milliards" cited for Amazon is Meta's figure, even in an article
    whose title names Amazon. A snippet that says "the company" opens on no name and is not judged.
    """
    texts = list(cited)
    if not slots.entities or not texts:
        return False
    for text in texts:
        subject = subject_of(text)
        if subject is None or " " in subject:  # "Andy Jassy a déclaré": a person often speaks for the company
            return False
        if any(mentions(entity, text) or subject in entity.split() for entity in slots.entities):
            return False  # "Brodeur a réalisé 31 arrêts" is about Martin Brodeur
    return True


def names_period(text: str) -> bool:
    """Whether `text` names a year or a quarter of its own."""
    folded = fold(text)
    return bool(_YEAR.search(folded) or _quarters(folded))


def _quarters(folded: str) -> set[int]:
    return {number for number, pattern in _QUARTER if pattern.search(folded)}


def names_in(text: str) -> list[str]:
    """The entities `text` names (companies, products), as written, in order, each once."""
    names: dict[str, None] = {}
    for match in _NAME.finditer(text):
        words = match.group().split()
        if match.start() == 0 and not _is_brand(words[0]):
            words = words[1:]  # capitalised only because it opens the question ("D'ici", "Combien")
        words = [word for word in words if fold(word) not in _NOT_NAMES]
        if words:
            names[re.sub(r"['’]s\b", "", " ".join(words))] = None
    return list(names)


def _is_brand(word: str) -> bool:
    """A word whose capitals are not the sentence's: an acronym, OpenAI, DeepSeek, Trainium3."""
    return any(char.isupper() for char in word[1:]) or any(char.isdigit() for char in word)


def mentions(entity: str, text: str) -> bool:
    """Whether `text` names the folded `entity`: every word of it, or its acronym ("aws" for Amazon Web Services)."""
    folded = fold(text)
    if all(re.search(rf"\b{re.escape(word)}\b", folded) for word in entity.split()):
        return True
    initials = {
        "".join(word[0] for word in run.split()).casefold()
        for run in re.findall(r"\b[A-Z]\w+(?:\s+[A-Z]\w+)+", text)
    }
    return entity in initials
