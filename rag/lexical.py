"""The lexical (BM25) side of the index: language-aware analysis and per-segment postings.

Each segment keeps its own immutable postings (term -> chunk rows and term frequencies); BM25 is
scored at query time with statistics over the live chunks of every segment, so adding a segment or
deleting a document never rebuilds the others and every score is the one a single index over the
whole live corpus would give (bm25s, "lucene" variant, is the oracle in the tests).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN, STOPWORDS_FRENCH

from rag.language import LanguageCode
from rag.textnorm import fold

K1 = 1.2
B = 0.75
_STEMMERS: dict[LanguageCode, str] = {"fr": "french", "en": "english"}
# Both lists apply to every text: an English question over French articles must not match on "the"
# any more than on "le", and elided French articles ("l'", "d'") become single letters we drop.
STOPWORDS = frozenset(STOPWORDS_EN) | frozenset(STOPWORDS_FRENCH)
_WORD = re.compile(r"\w+")
_EMPTY = "\u2205"  # stands for a chunk with no indexable word, so it still counts as a BM25 document


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


@dataclass(frozen=True)
class Postings:
    """One segment's inverted index: term i occurs in `rows[starts[i]:starts[i + 1]]` `counts` times."""

    terms: dict[str, int]
    starts: np.ndarray
    rows: np.ndarray
    counts: np.ndarray
    lengths: np.ndarray  # tokens per chunk

    @classmethod
    def build(cls, texts: Sequence[str], languages: Sequence[LanguageCode]) -> Postings:
        """Postings over `texts`; chunk row i is texts[i]."""
        by_term: dict[str, list[tuple[int, int]]] = {}
        lengths = []
        for row, (text, language) in enumerate(zip(texts, languages)):
            tokens = analyze(text, language) or [_EMPTY]
            lengths.append(len(tokens))
            for term, count in Counter(tokens).items():
                by_term.setdefault(term, []).append((row, count))
        terms = {term: number for number, term in enumerate(by_term)}
        pairs = [pair for postings in by_term.values() for pair in postings]
        starts = np.cumsum([0, *(len(postings) for postings in by_term.values())], dtype=np.int64)
        rows = np.array([row for row, _ in pairs], dtype=np.int32)
        counts = np.array([count for _, count in pairs], dtype=np.float32)
        return cls(terms, starts, rows, counts, np.array(lengths, dtype=np.float32))

    def occurrences(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """The chunk rows holding `term` and how often it occurs in each."""
        number = self.terms.get(term)
        if number is None:
            return _NO_ROWS, _NO_COUNTS
        span = slice(self.starts[number], self.starts[number + 1])
        return self.rows[span], self.counts[span]

    def save(self, folder: Path) -> list[Path]:
        """Write `lexical.npz` and `lexical_terms.json`; returns the paths written."""
        arrays, terms = folder / "lexical.npz", folder / "lexical_terms.json"
        with open(arrays, "wb") as handle:
            np.savez(handle, starts=self.starts, rows=self.rows, counts=self.counts, lengths=self.lengths)
        terms.write_text(json.dumps(list(self.terms), ensure_ascii=False), encoding="utf-8")
        return [arrays, terms]

    @classmethod
    def load(cls, folder: Path) -> Postings:
        """Read what `save` wrote."""
        with np.load(folder / "lexical.npz") as arrays:
            parts = {name: arrays[name] for name in ("starts", "rows", "counts", "lengths")}
        names = json.loads((folder / "lexical_terms.json").read_text("utf-8"))
        return cls({term: number for number, term in enumerate(names)}, **parts)


_NO_ROWS = np.zeros(0, dtype=np.int32)
_NO_COUNTS = np.zeros(0, dtype=np.float32)


def bm25_scores(
    segments: Sequence[tuple[Postings, np.ndarray]], query: str, language: LanguageCode
) -> list[np.ndarray]:
    """Per (postings, live chunk mask) segment, each chunk's BM25 score for `query` (0 when dead or no match).

    Corpus statistics (chunk count, mean length, document frequencies) cover live chunks only.
    A query term counts once per occurrence, as in bm25s.
    """
    scores = [np.zeros(len(live), dtype=np.float32) for _, live in segments]
    live_chunks = sum(int(live.sum()) for _, live in segments)
    if live_chunks == 0:
        return scores
    mean_length = sum(float(postings.lengths[live].sum()) for postings, live in segments) / live_chunks
    for term in analyze(query, language):
        found = []
        for postings, live in segments:
            rows, counts = postings.occurrences(term)
            keep = live[rows]
            found.append((rows[keep], counts[keep]))
        frequency = sum(len(rows) for rows, _ in found)
        if frequency == 0:
            continue
        idf = math.log(1 + (live_chunks - frequency + 0.5) / (frequency + 0.5))
        for (postings, _), total, (rows, counts) in zip(segments, scores, found):
            norm = K1 * ((1 - B) + B * postings.lengths[rows] / mean_length)
            total[rows] += idf * counts / (norm + counts)
    return scores
