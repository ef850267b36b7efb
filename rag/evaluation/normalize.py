"""French-aware answer normalisation for scoring: a fact is found however the answer writes it.

Builds on `rag.textnorm` (case, accents, apostrophes, guillemets, spaces, number readings) and adds
what scoring needs on top: [n] markers and French elisions dropped ("l'IA" reads "ia"), punctuation
ignored, and numbers compared by value ("3,8" = "3.8", "14 000" = "14,000" = "14000"). Units and
scales in words ("38 milliards" vs "38 billion") are not translated: the gold set lists both forms.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from decimal import Decimal

from rag.answer_types import CITATION_MARKER
from rag.textnorm import fold, numbers_in

Token = str | frozenset[Decimal]

# After `fold`, every apostrophe is "'"; these French words elide their vowel before another word.
_ELISION = re.compile(r"\b(?:l|d|j|m|n|s|t|c|qu|jusqu|lorsqu|puisqu|quoiqu)'(?=\w)")
# A run of digits with the separators numbers use; `numbers_in` splits it into numbers ("2025 100").
_TOKEN = re.compile(r"(\d(?:[\d.,\u00a0\u202f ]*\d)?)|([^\W\d_]+)|([%$€£])")
# Function words that carry no answer content, left out of token F1 (as SQuAD drops articles).
_F1_STOPWORDS = frozenset(
    {"a", "an", "the", "of", "to", "in", "on", "and", "or", "is", "are", "was", "were", "by", "for"}
    | {"le", "la", "les", "un", "une", "des", "de", "du", "et", "ou", "au", "aux", "en", "est", "sont", "par", "pour"}
)


def strip_markers(text: str) -> str:
    """The answer without its [n] citation markers (their digits are not figures)."""
    return CITATION_MARKER.sub(" ", text)


def normalize(text: str) -> str:
    """Folded text without markers, elisions or punctuation, tokens joined by single spaces."""
    return " ".join(_display(token) for token in tokens(text))


def tokens(text: str) -> list[Token]:
    """Words (folded, elisions dropped), symbols (%, $, €, £) and numbers (as their possible values)."""
    folded = _ELISION.sub("", fold(strip_markers(text)))
    found: list[Token] = []
    for match in _TOKEN.finditer(folded):
        digits, word, symbol = match.groups()
        if digits is None:
            found.append(word or symbol)
            continue
        for readings in numbers_in(digits):
            found.append(frozenset(readings) if readings else re.sub(r"\D", "", digits))
    return found


def fact_present(forms: Iterable[str], text: str) -> bool:
    """True when any acceptable form of a fact occurs in `text`, word for word and number by value."""
    haystack = tokens(text)
    return any(_contains(haystack, tokens(form)) for form in forms)


def split_facts(facts: Sequence[Sequence[str]], text: str) -> tuple[list[str], list[str]]:
    """The facts found in and missing from `text`, each named by its first form."""
    found: list[str] = []
    missing: list[str] = []
    for forms in facts:
        (found if fact_present(forms, text) else missing).append(forms[0])
    return found, missing


def token_f1(prediction: str, reference: str) -> float:
    """Bag-of-tokens F1 after normalisation, function words left out (0.0 when either side is empty)."""
    predicted = Counter(_f1_tokens(prediction))
    expected = Counter(_f1_tokens(reference))
    overlap = sum((predicted & expected).values())
    if not overlap:
        return 0.0
    precision = overlap / sum(predicted.values())
    recall = overlap / sum(expected.values())
    return 2 * precision * recall / (precision + recall)


def best_forms(facts: Sequence[Sequence[str]], text: str) -> list[str]:
    """For each fact, the form closest to `text` (the reference an F1 against the facts should use)."""
    return [max(forms, key=lambda form: token_f1(text, form)) for forms in facts]


def _contains(haystack: Sequence[Token], needle: Sequence[Token]) -> bool:
    if not needle:
        return False
    width = len(needle)
    return any(
        all(_same(haystack[start + offset], token) for offset, token in enumerate(needle))
        for start in range(len(haystack) - width + 1)
    )


def _same(left: Token, right: Token) -> bool:
    if isinstance(left, frozenset) and isinstance(right, frozenset):
        return bool(left & right)
    return left == right


def _display(token: Token) -> str:
    """One spelling per number: the largest reading ("14,000" is 14000, "3,8" is 3.8)."""
    return format(max(token), "f") if isinstance(token, frozenset) else token


def _f1_tokens(text: str) -> list[str]:
    return [word for word in map(_display, tokens(text)) if word not in _F1_STOPWORDS]
