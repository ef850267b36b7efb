"""The lexical (BM25) side of the index: language-aware analysis plus a bm25s index."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN, STOPWORDS_FRENCH

from rag.language import LanguageCode
from rag.textnorm import fold

_STEMMERS: dict[LanguageCode, str] = {"fr": "french", "en": "english"}
# Both lists apply to every text: an English question over French articles must not match on "the"
# any more than on "le", and elided French articles ("l'", "d'") become single letters we drop.
STOPWORDS = frozenset(STOPWORDS_EN) | frozenset(STOPWORDS_FRENCH)
_WORD = re.compile(r"\w+")


@cache
def _stemmer(language: LanguageCode) -> Stemmer.Stemmer:
    return Stemmer.Stemmer(_STEMMERS[language])


def analyze(text: str, language: LanguageCode) -> list[str]:
    """Tokens for BM25: folded words, stop words and one-letter elisions dropped, stemmed."""
    words = [
        word
        for word in _WORD.findall(text.casefold())
        if word not in STOPWORDS and (len(word) > 1 or word.isdigit())
    ]
    return [fold(stem) for stem in _stemmer(language).stemWords(words)]


class LexicalIndex:
    """BM25 over chunk texts, each analysed in its own language."""

    def __init__(self, model: bm25s.BM25, size: int) -> None:
        self._model = model
        self.size = size

    @classmethod
    def build(cls, texts: Sequence[str], languages: Sequence[LanguageCode]) -> LexicalIndex:
        """Index `texts`; row i of the result is texts[i]."""
        model = bm25s.BM25(k1=1.2, b=0.75)
        # An empty token list would be dropped silently by some BM25 code paths; keep rows aligned.
        tokens = [analyze(text, lang) or ["\u2205"] for text, lang in zip(texts, languages)]
        if tokens:
            model.index(tokens, show_progress=False)
        return cls(model, len(tokens))

    def search(self, query: str, language: LanguageCode, k: int) -> list[tuple[int, float]]:
        """Up to k (row, score) pairs with a positive score, best first."""
        if self.size == 0:
            return []
        known = self._model.vocab_dict
        tokens = [token for token in analyze(query, language) if token in known]
        if not tokens:
            return []
        scores = self._model.get_scores(tokens)
        order = np.argsort(-scores, kind="stable")[: min(k, self.size)]
        return [(int(row), float(scores[row])) for row in order if scores[row] > 0]

    def save(self, directory: Path) -> None:
        """Write the bm25s files into `directory`; nothing when empty (bm25s cannot save an unindexed model)."""
        if self.size:
            self._model.save(str(directory))

    @classmethod
    def load(cls, directory: Path, size: int) -> LexicalIndex:
        """Read what `save` wrote; `size` comes from the manifest, and 0 means there is nothing to read."""
        if size == 0:
            return cls.build([], [])
        return cls(bm25s.BM25.load(str(directory)), size)
