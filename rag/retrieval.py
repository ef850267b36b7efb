"""Hybrid retrieval: dense (e5 + FAISS) and lexical (BM25) rankings fused, aware of languages.

A pure function of (snapshot, query): it scores every sentence once, and each hit carries its own
sentences as scored evidence, so evidence selection reads them instead of scoring again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from rag.dense import search_dense
from rag.errors import InvalidInputError
from rag.language import LanguageCode, detect_language
from rag.store import CorpusIndex
from rag.textnorm import unreadable

# Three rankings are fused by a weighted sum of normalised scores: chunk cosine (min-max over the
# candidates), best-sentence cosine within the chunk (min-max; a question usually matches one sentence
# far better than a whole chunk) and BM25 over title + chunk (divided by the best score). Weights were
# chosen by measurement on PIAF (`python bench/retrieval.py`, 3,835 questions, document level):
#   plain RRF (k=60) of chunk cosine and BM25            R@1 0.704  R@5 0.889  MRR@20 0.785
#   weighted sum, chunk cosine 0.4 + BM25 with title 0.6  R@1 0.746  R@5 0.909  MRR@20 0.819
#   + best-sentence cosine: 0.2 / 0.3 / 0.5 (shipped)     R@1 0.766  R@5 0.922  MRR@20 0.834 (R@20 0.957)
# Neighbouring weights (0.25/0.25/0.5, 0.15/0.35/0.5) score within 0.005, so this is no knife edge.
DENSE_WEIGHT = 0.2
SENTENCE_WEIGHT = 0.3
LEXICAL_WEIGHT = 0.5
# BM25 only helps when question and passage share a language: an English question over French text
# matches names and figures but not words, so its lexical ranking is mostly noise and would drown the
# dense ones (plain RRF fell from R@5 0.84 to 0.58 on English PIAF questions). Its weight shrinks then:
# on 100 PIAF questions machine-translated into English (`bench/retrieval.py --english 100`), R@1/R@5
# 0.69/0.90 shipped against 0.64/0.82 language-blind (dense alone 0.59/0.84, BM25 alone 0.34/0.57).
CROSS_LANGUAGE_LEXICAL_FACTOR = 0.2
_CANDIDATES = 100


Mode = Literal["hybrid", "dense", "lexical"]
MODES: tuple[Mode, ...] = get_args(Mode)
# A sentence shorter than this reads badly alone ("Mais pas seulement."): it is shown with the next one.
_MIN_SNIPPET_CHARS = 60
_MAX_SNIPPET_CHARS = 420


@dataclass(frozen=True)
class Evidence:
    """A short verbatim span of one document, scored by cosine similarity to the question."""

    doc_id: str
    title: str
    text: str
    start: int
    end: int
    score: float


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk: `text == documents[doc_id].text[start:end]`.

    `sentences` are the chunk's sentences as evidence, best first (each `text[start:end]` too).
    """

    chunk_id: str
    doc_id: str
    title: str
    text: str
    start: int
    end: int
    score: float
    dense_score: float
    lexical_score: float | None
    sentences: tuple[Evidence, ...]


def retrieve(
    index: CorpusIndex,
    query: str,
    embed: Callable[[str], np.ndarray],
    k: int = 5,
    *,
    language: LanguageCode | None = None,
    mode: Mode = "hybrid",
) -> list[Hit]:
    """The k best chunks of `index` for `query`; modes other than hybrid are for benchmarks.

    `embed` turns the query into its vector, called only once the query is valid and the index not
    empty (benchmarks that embed questions in batches pass the vector they already have).
    """
    query = query.strip()
    if not query:
        raise InvalidInputError("the query is empty")
    if (problem := unreadable(query, "query")) is not None:
        raise InvalidInputError(problem)
    if k < 1:
        raise InvalidInputError(f"k must be at least 1, got {k}")
    if mode not in MODES:
        raise InvalidInputError(f"unknown retrieval mode {mode!r}: use hybrid, dense or lexical")
    if not index.chunks:
        return []
    language = language or detect_language(query)
    vector = embed(query)
    pool = max(_CANDIDATES, k)
    sentence_scores = index.sentence_embeddings @ vector  # every sentence, once
    rankings: list[tuple[float, dict[int, float]]] = []
    if mode != "lexical":
        rankings.append((DENSE_WEIGHT, _min_max(dict(search_dense(index.dense, vector, pool)))))
    if mode == "hybrid":
        rankings.append((SENTENCE_WEIGHT, _min_max(_best_sentences(index, sentence_scores, pool))))
    lexical = dict(index.lexical.search(query, language, pool)) if mode != "dense" else {}
    if lexical:
        top = max(lexical.values())
        factor = {row: 1.0 if index.chunks[row].language == language else CROSS_LANGUAGE_LEXICAL_FACTOR
                  for row in lexical}
        rankings.append((LEXICAL_WEIGHT, {row: factor[row] * score / top for row, score in lexical.items()}))
    fused: dict[int, float] = {}
    for weight, scores in rankings:
        for row, score in scores.items():
            fused[row] = fused.get(row, 0.0) + weight * score
    best = sorted(fused.items(), key=lambda item: -item[1])[:k]
    return [_hit(index, row, score, vector, lexical.get(row), sentence_scores) for row, score in best]


def _hit(
    index: CorpusIndex, row: int, score: float, query: np.ndarray, lexical: float | None, sentence_scores: np.ndarray
) -> Hit:
    chunk = index.chunks[row].chunk
    title = index.documents[chunk.doc_id].document.title
    cosine = float(index.embeddings[row] @ query)
    members = sorted(index.chunk_sentences.members(row), key=lambda member: -sentence_scores[member])
    sentences = tuple(_evidence(index, member, float(sentence_scores[member])) for member in members)
    return Hit(
        chunk.chunk_id, chunk.doc_id, title, chunk.text, chunk.start, chunk.end, score, cosine, lexical, sentences
    )


def _evidence(index: CorpusIndex, row: int, score: float) -> Evidence:
    """Sentence `row` as a snippet, followed by the next ones while it is too short to read alone."""
    sentence = index.sentences[row]
    document = index.documents[sentence.doc_id].document
    end = sentence.end
    following = row + 1
    while (
        end - sentence.start < _MIN_SNIPPET_CHARS
        and following < len(index.sentences)
        and index.sentences[following].doc_id == sentence.doc_id
        and index.sentences[following].end - sentence.start <= _MAX_SNIPPET_CHARS
    ):
        end = index.sentences[following].end
        following += 1
    return Evidence(sentence.doc_id, document.title, document.text[sentence.start : end], sentence.start, end, score)


def _best_sentences(index: CorpusIndex, sentence_scores: np.ndarray, pool: int) -> dict[int, float]:
    """Per chunk, the cosine of its best-matching sentence; the `pool` best chunks.

    Exact over all sentence vectors (one matrix product): fine for tens of thousands of sentences; a
    corpus far larger would give sentences a FAISS index of their own.
    """
    if not index.sentences:
        return {}
    best = index.chunk_sentences.best_per_chunk(sentence_scores)
    rows = np.argsort(-best, kind="stable")[:pool]
    return {int(row): float(best[row]) for row in rows}


def _min_max(scores: dict[int, float]) -> dict[int, float]:
    """Scores rescaled to [0, 1] over the candidates, so rankings of different scales can be summed."""
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    return {row: (score - low) / (high - low) if high > low else 1.0 for row, score in scores.items()}
