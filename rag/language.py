"""Question and passage language detection, restricted to the two languages rag answers in."""

from __future__ import annotations

from functools import cache
from typing import Literal, get_args

from lingua import Language, LanguageDetector, LanguageDetectorBuilder

LanguageCode = Literal["fr", "en"]
LANGUAGES: tuple[LanguageCode, ...] = get_args(LanguageCode)
# What a caller may ask for: one of the languages, or "auto" to answer in the question's language.
LanguageChoice = Literal["auto", "fr", "en"]
LANGUAGE_CHOICES: tuple[LanguageChoice, ...] = get_args(LanguageChoice)
_CODES: dict[Language, LanguageCode] = {Language.FRENCH: "fr", Language.ENGLISH: "en"}
_FOLLOW_UP_CONFIDENCE = 0.75  # below this either way, a follow-up's language is the thread's


@cache
def _detector() -> LanguageDetector:
    # Read-only once built, so sharing it between index instances and threads is safe.
    return LanguageDetectorBuilder.from_languages(*_CODES).with_preloaded_language_models().build()


def detect_language(text: str, default: LanguageCode = "fr") -> LanguageCode:
    """Return "fr" or "en"; lingua copes with short questions ("Qui est Andy Jassy ?").

    Text with no linguistic signal (digits, names only) gets `default`.
    """
    detected = _detector().detect_language_of(text)
    return _CODES[detected] if detected is not None else default


def french_share(text: str) -> float:
    """Confidence that `text` is French, in [0, 1]."""
    for value in _detector().compute_language_confidence_values(text):
        if value.language == Language.FRENCH:
            return float(value.value)
    return 0.0


def is_other_language(text: str, language: LanguageCode, confidence: float = 0.75) -> bool:
    """True when `text` is confidently not in `language`.

    A short answer made of names and figures ("In 2025, OpenAI pays 38 billion.") reads as French
    about half the time, so only a clear verdict counts as a mismatch.
    """
    share = french_share(text)
    return (1.0 - share if language == "fr" else share) >= confidence


def answer_language(question: str, choice: LanguageChoice, previous: str | None = None) -> LanguageCode:
    """The language to answer in: the caller's choice, or the question's own for "auto".

    A follow-up too short to tell ("Et Meta ?" reads as English as often as not) keeps the language
    of the `previous` question; one that clearly switches language is answered in its own.
    """
    if choice != "auto":
        return choice
    if previous is not None and 1 - _FOLLOW_UP_CONFIDENCE < french_share(question) < _FOLLOW_UP_CONFIDENCE:
        return detect_language(previous)
    return detect_language(question)
