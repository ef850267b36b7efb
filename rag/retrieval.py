"""Hybrid retrieval: dense (e5 + FAISS) and lexical (BM25) rankings fused, aware of languages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from rag.dense import search_dense
from rag.errors import InvalidInputError
from rag.language import LanguageCode, detect_language
from rag.store import CorpusIndex

if TYPE_CHECKING:
    from rag.embedding import Embedder

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


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk: `text == documents[doc_id].text[start:end]`."""

    chunk_id: str
    doc_id: str
    title: str
    text: str
    start: int
    end: int
    score: float
    dense_score: float
    lexical_score: float | None


class Retriever:
    """Answers search queries over one `CorpusIndex` snapshot; `index` may be swapped by a writer."""

    def __init__(self, index: CorpusIndex, embedder: Embedder) -> None:
        self.index = index
        self.embedder = embedder

    def search(
        self,
        query: str,
        k: int = 5,
        *,
        language: LanguageCode | None = None,
        mode: str = "hybrid",
        vector: np.ndarray | None = None,
        index: CorpusIndex | None = None,
    ) -> list[Hit]:
        """The k best chunks for `query`; `mode` is "hybrid", "dense" or "lexical" (for benchmarks).

        `vector` is the query's embedding when the caller already has it (answers reuse it); `index`
        pins the snapshot to search when the caller must read the same one afterwards.
        """
        query = query.strip()
        if not query:
            raise InvalidInputError("the query is empty")
        if k < 1:
            raise InvalidInputError(f"k must be at least 1, got {k}")
        if mode not in ("hybrid", "dense", "lexical"):
            raise InvalidInputError(f"unknown retrieval mode {mode!r}: use hybrid, dense or lexical")
        # One snapshot for the whole query, even if a writer swaps in a new one meanwhile.
        index = self.index if index is None else index
        if not index.chunks:
            return []
        language = language or detect_language(query)
        if vector is None:
            vector = self.embedder.embed_queries([query])[0]
        pool = max(_CANDIDATES, k)
        rankings: list[tuple[float, dict[int, float]]] = []
        if mode != "lexical":
            rankings.append((DENSE_WEIGHT, _min_max(dict(search_dense(index.dense, vector, pool)))))
        if mode == "hybrid":
            rankings.append((SENTENCE_WEIGHT, _min_max(_best_sentences(index, vector, pool))))
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
        return [self._hit(index, row, score, vector, lexical.get(row)) for row, score in best]

    @staticmethod
    def _hit(index: CorpusIndex, row: int, score: float, query: np.ndarray, lexical: float | None) -> Hit:
        chunk = index.chunks[row].chunk
        title = index.documents[chunk.doc_id].document.title
        cosine = float(index.embeddings[row] @ query)
        return Hit(chunk.chunk_id, chunk.doc_id, title, chunk.text, chunk.start, chunk.end, score, cosine, lexical)


def _best_sentences(index: CorpusIndex, query: np.ndarray, pool: int) -> dict[int, float]:
    """Per chunk, the cosine of its best-matching sentence; the `pool` best chunks.

    Exact over all sentence vectors (one matrix product): fine for tens of thousands of sentences; a
    corpus far larger would give sentences a FAISS index of their own.
    """
    if not index.sentences:
        return {}
    best = index.chunk_sentences.best_per_chunk(index.sentence_embeddings @ query)
    rows = np.argsort(-best, kind="stable")[:pool]
    return {int(row): float(best[row]) for row in rows}


def _min_max(scores: dict[int, float]) -> dict[int, float]:
    """Scores rescaled to [0, 1] over the candidates, so rankings of different scales can be summed."""
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    return {row: (score - low) / (high - low) if high > low else 1.0 for row, score in scores.items()}
