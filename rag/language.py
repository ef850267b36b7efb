"""Question and passage language detection, restricted to the two languages rag answers in."""

from __future__ import annotations

from functools import cache
from typing import Literal

from lingua import Language, LanguageDetector, LanguageDetectorBuilder

LanguageCode = Literal["fr", "en"]
LANGUAGES: tuple[LanguageCode, ...] = ("fr", "en")
_CODES: dict[Language, LanguageCode] = {Language.FRENCH: "fr", Language.ENGLISH: "en"}


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
    """Confidence that `text` is French, in [0, 1] (used to check a generated answer's language)."""
    for value in _detector().compute_language_confidence_values(text):
        if value.language is Language.FRENCH:
            return float(value.value)
    return 0.0
