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

# Reciprocal-rank-fusion constant and lexical weights, chosen by measurement (bench/retrieval.py).
# BM25 only helps when question and passage share a language: an English question over French text
# matches names and figures but not words, so its lexical ranking is mostly noise and would drown
# the dense ranking (plain RRF fell from R@5 0.84 to 0.58 on English PIAF questions).
RRF_K = 60
LEXICAL_WEIGHT_SAME_LANGUAGE = 1.0
LEXICAL_WEIGHT_CROSS_LANGUAGE = 0.2
_CANDIDATES = 50


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
        pool = max(_CANDIDATES, 4 * k)
        dense = search_dense(index.dense, vector, pool) if mode != "lexical" else []
        lexical = index.lexical.search(query, language, pool) if mode != "dense" else []
        fused = self._fuse(index, dense, lexical, language)
        lexical_scores = dict(lexical)
        best = sorted(fused.items(), key=lambda item: -item[1])[:k]
        return [self._hit(index, row, score, vector, lexical_scores.get(row)) for row, score in best]

    @staticmethod
    def _fuse(
        index: CorpusIndex, dense: list[tuple[int, float]], lexical: list[tuple[int, float]], language: LanguageCode
    ) -> dict[int, float]:
        fused: dict[int, float] = {}
        for rank, (row, _) in enumerate(dense):
            fused[row] = fused.get(row, 0.0) + 1.0 / (RRF_K + rank + 1)
        for rank, (row, _) in enumerate(lexical):
            same = index.chunks[row].language == language
            weight = LEXICAL_WEIGHT_SAME_LANGUAGE if same else LEXICAL_WEIGHT_CROSS_LANGUAGE
            fused[row] = fused.get(row, 0.0) + weight / (RRF_K + rank + 1)
        return fused

    @staticmethod
    def _hit(index: CorpusIndex, row: int, score: float, query: np.ndarray, lexical: float | None) -> Hit:
        chunk = index.chunks[row].chunk
        title = index.documents[chunk.doc_id].document.title
        cosine = float(index.embeddings[row] @ query)
        return Hit(chunk.chunk_id, chunk.doc_id, title, chunk.text, chunk.start, chunk.end, score, cosine, lexical)
