"""Hybrid retrieval: dense (e5 + FAISS) and lexical (BM25) rankings fused, aware of languages.

A pure function of (snapshot, query): it scores the candidates' sentences once, and each hit carries its own
sentences as scored evidence, so evidence selection reads them instead of scoring again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from itertools import islice
from typing import Literal, get_args

import numpy as np

from rag.dense import search_dense
from rag.errors import InvalidInputError
from rag.filters import DocumentFilter
from rag.injection import quarantine
from rag.language import LanguageCode, detect_language
from rag.lexical import bm25_scores
from rag.search_backend import SearchBackend
from rag.segment import Segment
from rag.slots import names_period
from rag.store import CorpusIndex
from rag.textnorm import unreadable
from rag.timeframe import Timeframe, read_timeframe

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
# A question naming a period ("en février", "depuis octobre") or asking for the latest news leans
# towards the articles published then, by these bonuses on the fused score (at most 1.0). Measured by
# `python bench/timeframe.py` (the 15 questions of eval/gold_dates.jsonl over the 12 dated fixture
# articles; the 75 answerable gold questions over the seeds): date hit@1 0.867 without, 0.933 with 0.05
# to 0.2 each; gold hit@1 0.907, hit@5 1.000 and evidence recall 0.976 unchanged up to 0.15, evidence
# recall 0.962 at 0.2. 0.1 sits mid-plateau.
PERIOD_WEIGHT = 0.1
RECENCY_WEIGHT = 0.1


Mode = Literal["hybrid", "dense", "lexical"]
SentenceScores = dict[int, tuple[np.ndarray, np.ndarray]]  # candidate chunk row -> its sentence rows, their cosines
MODES: tuple[Mode, ...] = get_args(Mode)
# A sentence shorter than this reads badly alone ("Mais pas seulement."): it is shown with the next one.
_MIN_SNIPPET_CHARS = 60
_MAX_SNIPPET_CHARS = 420
_PERIOD_LOOKBACK = 12  # sentences: about two paragraphs of a news article


@dataclass(frozen=True)
class Evidence:
    """A short verbatim span of one document, scored by cosine similarity to the question."""

    doc_id: str
    title: str
    text: str
    start: int
    end: int
    score: float
    date: str | None = None  # the document's metadata, for citing it
    source: str | None = None
    url: str | None = None
    author: str | None = None
    # When the span names no year or quarter: the nearest earlier sentence of its article that does.
    # "AWS ont cru de 19 %" speaks of the quarter an earlier sentence named; slot checks read it there.
    period_context: str = ""
    # The same sentence in other articles (wire copy, rewrites), collapsed into this one by evidence selection.
    also: tuple[Evidence, ...] = ()

    @property
    def dated_text(self) -> str:
        """The span with the sentence its period is read from, for period checks."""
        return f"{self.period_context} {self.text}" if self.period_context else self.text


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
    date: str | None = None
    source: str | None = None
    url: str | None = None
    author: str | None = None


class LocalBackend:
    """The candidate searches over the snapshot's own segments: FAISS and our BM25 postings."""

    external = False  # it reads the snapshot itself: nothing to sync

    def dense(self, index: CorpusIndex, masks: list[np.ndarray], vector: np.ndarray, pool: int) -> dict[int, float]:
        """See `_dense`."""
        return _dense(index, masks, vector, pool)

    def lexical(
        self, index: CorpusIndex, masks: list[np.ndarray], query: str, language: LanguageCode, pool: int
    ) -> dict[int, float]:
        """See `_lexical`."""
        return _lexical(index, masks, query, language, pool)

    def sync(self, index: CorpusIndex) -> None:
        """Nothing to do: the snapshot is what it searches."""

    def close(self) -> None:
        """Nothing to release."""


LOCAL_BACKEND = LocalBackend()


def retrieve(
    index: CorpusIndex,
    query: str,
    embed: Callable[[str], np.ndarray],
    k: int = 5,
    *,
    language: LanguageCode | None = None,
    mode: Mode = "hybrid",
    where: DocumentFilter | None = None,
    backend: SearchBackend = LOCAL_BACKEND,
) -> list[Hit]:
    """The k best chunks of `index` for `query`; modes other than hybrid are for benchmarks.

    `embed` turns the query into its vector, called only once the query is valid and the index not
    empty (benchmarks that embed questions in batches pass the vector they already have). With
    `where`, only chunks of the documents it allows are ranked (none allowed: no hit). `backend` finds
    the dense and lexical candidates (default: the snapshot's own segments).
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
    masks = searchable_rows(index, where)
    if not any(mask.any() for mask in masks):
        return []
    language = language or detect_language(query)
    vector = embed(query)
    pool = max(_CANDIDATES, k)
    dense = backend.dense(index, masks, vector, pool) if mode != "lexical" else {}
    lexical = backend.lexical(index, masks, query, language, pool) if mode != "dense" else {}
    sentence_scores = _sentence_scores(index, vector, dense.keys() | lexical.keys())
    rankings: list[tuple[float, dict[int, float]]] = []
    if dense:
        rankings.append((DENSE_WEIGHT, _min_max(dense)))
    if mode == "hybrid":
        rankings.append((SENTENCE_WEIGHT, _min_max(_best_sentences(sentence_scores, pool))))
    if lexical:
        top = max(lexical.values())
        factor = {row: 1.0 if index.chunk(row).language == language else CROSS_LANGUAGE_LEXICAL_FACTOR
                  for row in lexical}
        rankings.append((LEXICAL_WEIGHT, {row: factor[row] * score / top for row, score in lexical.items()}))
    fused: dict[int, float] = {}
    for weight, scores in rankings:
        for row, score in scores.items():
            fused[row] = fused.get(row, 0.0) + weight * score
    if (timeframe := read_timeframe(query, corpus_today(index))) is not None:
        fused = _weigh_by_date(index, fused, timeframe)
    ranked = sorted(fused.items(), key=lambda item: (-item[1], item[0]))
    hits = (_hit(index, row, score, vector, lexical.get(row), sentence_scores) for row, score in ranked)
    return list(islice(quarantine(hits), k))  # instructions inside documents are data: rag/injection.py


def _hit(
    index: CorpusIndex,
    row: int,
    score: float,
    query: np.ndarray,
    lexical: float | None,
    sentence_scores: SentenceScores,
) -> Hit:
    position, local = index.locate(row)
    segment = index.segments[position].segment
    chunk = segment.chunks[local].chunk
    document = segment.documents[chunk.doc_id].document
    cosine = float(segment.embeddings[local] @ query)
    members, scores = sentence_scores[row]
    ranked = sorted(zip(members.tolist(), scores.tolist()), key=lambda pair: -pair[1])
    sentences = tuple(_evidence(segment, member, score) for member, score in ranked)
    return Hit(
        chunk.chunk_id, chunk.doc_id, document.title, chunk.text, chunk.start, chunk.end, score, cosine, lexical,
        sentences, document.date, document.source, document.url, document.author,
    )


def _evidence(segment: Segment, row: int, score: float) -> Evidence:
    """Sentence `row` as a snippet, followed by the next ones while it is too short to read alone."""
    sentence = segment.sentences[row]
    document = segment.documents[sentence.doc_id].document
    end = sentence.end
    following = row + 1
    while (
        end - sentence.start < _MIN_SNIPPET_CHARS
        and following < len(segment.sentences)
        and segment.sentences[following].doc_id == sentence.doc_id
        and segment.sentences[following].end - sentence.start <= _MAX_SNIPPET_CHARS
    ):
        end = segment.sentences[following].end
        following += 1
    text = document.text[sentence.start : end]
    return Evidence(
        sentence.doc_id, document.title, text, sentence.start, end, score,
        document.date, document.source, document.url, document.author,
        "" if names_period(text) else _period_context(segment, row, document.text),
    )


def _period_context(segment: Segment, row: int, text: str) -> str:
    """The nearest of the `_PERIOD_LOOKBACK` sentences before `row` in its article that names a period."""
    doc_id = segment.sentences[row].doc_id
    for earlier in range(row - 1, max(row - 1 - _PERIOD_LOOKBACK, -1), -1):
        sentence = segment.sentences[earlier]
        if sentence.doc_id != doc_id:
            break
        if names_period(candidate := text[sentence.start : sentence.end]):
            return candidate
    return ""


def searchable_rows(index: CorpusIndex, where: DocumentFilter | None) -> list[np.ndarray]:
    """Per segment, a boolean per chunk row: live, and of a document `where` allows (when given)."""
    if where is None or not where.active:
        return [view.live for view in index.segments]
    allowed = {doc_id for doc_id, stored in index.documents.items() if where.allows(stored.document)}
    return [view.live & view.segment.document_mask(allowed) for view in index.segments]


def corpus_today(index: CorpusIndex) -> date:
    """The corpus's now, against which "en février" or "depuis octobre" are read: its newest article's
    date (today when no article is dated)."""
    span = index.publication_span
    return date.fromisoformat(span[1]) if span else date.today()


def _weigh_by_date(index: CorpusIndex, fused: dict[int, float], timeframe: Timeframe) -> dict[int, float]:
    """Candidates published in the question's period gain PERIOD_WEIGHT; for "latest", the newer an
    article the more of RECENCY_WEIGHT it gains. Undated articles gain nothing and lose nothing."""
    dated = index.publication_span
    oldest, newest = (date.fromisoformat(dated[0]), date.fromisoformat(dated[1])) if dated else (None, None)
    span = (newest - oldest).days if newest and oldest else 0
    weighed = {}
    for row, score in fused.items():
        day = index.documents[index.chunk(row).chunk.doc_id].document.date
        if timeframe.covers(day):
            score += PERIOD_WEIGHT
        if timeframe.latest and day is not None and oldest is not None:
            score += RECENCY_WEIGHT * ((date.fromisoformat(day) - oldest).days / span if span else 1.0)
        weighed[row] = score
    return weighed


def _dense(index: CorpusIndex, masks: list[np.ndarray], vector: np.ndarray, pool: int) -> dict[int, float]:
    """The `pool` chunks of highest cosine over every segment (FAISS per segment, searching only the
    rows its mask allows: deleted and filtered-out chunks never take a place)."""
    found: dict[int, float] = {}
    for view, mask, offset in zip(index.segments, masks, index.offsets):
        if not mask.any():
            continue
        allowed = None if mask.all() else mask
        for row, score in search_dense(view.segment.dense, view.segment.embeddings, vector, pool, allowed):
            found[int(offset) + row] = score
    return _best_of(found, pool)


def _sentence_scores(index: CorpusIndex, vector: np.ndarray, candidates: Iterable[int]) -> SentenceScores:
    """Each candidate chunk's sentence rows and their cosine to the query. Only the candidates' sentence
    vectors are read (float16, memory-mapped), so a query's cost does not grow with the corpus; scoring
    every sentence ranked no better on PIAF (see the README's retrieval table)."""
    scored: SentenceScores = {}
    for row in candidates:
        position, local = index.locate(row)
        segment = index.segments[position].segment
        members = segment.chunk_sentences.members(local)
        scored[row] = (members, segment.sentence_embeddings[members].astype(np.float32) @ vector)
    return scored


def _best_sentences(scored: SentenceScores, pool: int) -> dict[int, float]:
    """Per candidate chunk, the cosine of its best-matching sentence; the `pool` best."""
    return _best_of({row: float(scores.max()) for row, (_, scores) in scored.items()}, pool)


def _lexical(
    index: CorpusIndex, masks: list[np.ndarray], query: str, language: LanguageCode, pool: int
) -> dict[int, float]:
    """The `pool` chunks of highest positive BM25 score among the masked-in rows; corpus statistics
    cover every live chunk, so a filter narrows the candidates without changing their scores."""
    parts = [(view.segment.postings, view.live) for view in index.segments]
    found: dict[int, float] = {}
    for offset, mask, scores in zip(index.offsets, masks, bm25_scores(parts, query, language)):
        for row in _top_rows(np.where(mask, scores, 0.0), pool):
            if mask[row] and scores[row] > 0:
                found[int(offset) + int(row)] = float(scores[row])
    return _best_of(found, pool)


def _top_rows(values: np.ndarray, count: int) -> np.ndarray:
    """Indices of the `count` largest values (ties by lower index), without sorting everything."""
    fits = len(values) <= count
    candidates = np.arange(len(values)) if fits else np.argpartition(-values, count - 1)[:count]
    return candidates[np.lexsort((candidates, -values[candidates]))]


def _best_of(scores: dict[int, float], count: int) -> dict[int, float]:
    return dict(sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:count])


def _min_max(scores: dict[int, float]) -> dict[int, float]:
    """Scores rescaled to [0, 1] over the candidates, so rankings of different scales can be summed."""
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    return {row: (score - low) / (high - low) if high > low else 1.0 for row, score in scores.items()}
