"""Evidence selection: the sentences of the retrieved chunks that best match the question."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rag.retrieval import Hit
from rag.store import CorpusIndex

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


def select_evidence(index: CorpusIndex, hits: list[Hit], query: np.ndarray, limit: int) -> list[Evidence]:
    """The `limit` best sentences inside the retrieved chunks, best first, without duplicates.

    Sentence vectors are precomputed at indexing time, so this costs one matrix product.
    """
    rows = _sentence_rows(index, hits)
    if not rows:
        return []
    scores = index.sentence_embeddings[rows] @ query
    chosen: list[Evidence] = []
    seen: set[tuple[str, int]] = set()
    for position in np.argsort(-scores, kind="stable"):
        row = rows[int(position)]
        sentence = index.sentences[row]
        if (sentence.doc_id, sentence.start) in seen:
            continue
        seen.add((sentence.doc_id, sentence.start))
        chosen.append(_snippet(index, row, float(scores[int(position)])))
        if len(chosen) == limit:
            break
    return chosen


def best_sentence(index: CorpusIndex, hit: Hit, query: np.ndarray) -> Evidence:
    """The single best snippet of one hit (for listing related passages on a refusal)."""
    found = select_evidence(index, [hit], query, 1)
    if found:
        return found[0]
    return Evidence(hit.doc_id, hit.title, hit.text, hit.start, hit.end, hit.dense_score)


def _sentence_rows(index: CorpusIndex, hits: list[Hit]) -> list[int]:
    spans: dict[str, list[tuple[int, int]]] = {}
    for hit in hits:
        spans.setdefault(hit.doc_id, []).append((hit.start, hit.end))
    return [
        row
        for row, sentence in enumerate(index.sentences)
        if any(start <= sentence.start and sentence.end <= end for start, end in spans.get(sentence.doc_id, ()))
    ]


def _snippet(index: CorpusIndex, row: int, score: float) -> Evidence:
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
    return Evidence(
        sentence.doc_id, document.title, document.text[sentence.start : end], sentence.start, end, score
    )
