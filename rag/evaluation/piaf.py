"""The PIAF benchmark: French Wikipedia questions that nobody on the team wrote, in their own index.

Each of the 761 paragraphs becomes a document (`piaf-<article>-<paragraph>`, titled by its
article) in a separate index; a question's gold document is its paragraph. We measure whether
retrieval finds it (recall@k, MRR@20 over documents, as the dataset's README measures BM25) and
whether the gold answer shows up in our answer or its cited snippets, for the French questions and
for English translations of some of them (`python bench/retrieval.py --english N` writes those).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

import numpy as np

from rag.answerer import Answerer
from rag.config import Settings
from rag.corpus import Corpus
from rag.documents import Document, parse_document
from rag.errors import InvalidInputError
from rag.evaluation.metrics import answer_language, hit_at, reciprocal_rank
from rag.evaluation.normalize import fact_present
from rag.indexing import IndexReport
from rag.retrieval import Mode, retrieve

DEFAULT_DATASET = Path("../shared/datasets/piaf/piaf-v1.0.json")
RECALL_KS = (1, 5, 10, 20)
MRR_CUTOFF = 20
SAMPLE_SEED = 0
# Plain BM25 over title+text on the 761 paragraphs, from the dataset's README: the bar to beat.
BM25_REFERENCE = {
    "recall_at_1": 0.678,
    "recall_at_5": 0.846,
    "recall_at_10": 0.880,
    "recall_at_20": 0.907,
    "mrr_at_20": 0.751,
}
SCORES = (*BM25_REFERENCE, "answer_containment", "answer_rate")
ENGLISH_SCORE = "answered_in_english"  # of English questions only: the share of answers written in English
_CHUNKS_PER_SEARCH = 4 * MRR_CUTOFF  # paragraphs split into a few chunks; this many yield 20 documents
_EMBED_BATCH = 64
_Item = TypeVar("_Item")


@dataclass(frozen=True)
class PiafQuestion:
    """One question; `doc_id` is the paragraph it was written about."""

    id: str
    question: str
    doc_id: str
    answers: tuple[str, ...]


@dataclass(frozen=True)
class PiafDataset:
    """The paragraphs as documents and every question about them."""

    documents: tuple[Document, ...]
    questions: tuple[PiafQuestion, ...]


@dataclass(frozen=True)
class PiafResult:
    """One question's outcome; answer fields stay empty in a retrieval-only run."""

    id: str
    question: str
    doc_id: str
    answers: tuple[str, ...]
    retrieved_doc_ids: tuple[str, ...]
    rank: int | None
    answer: str | None = None
    abstained: bool | None = None
    contained: bool | None = None
    answer_language: str | None = None  # detected in the answer's text, not the one it was meant to have
    timings_ms: dict[str, float] = field(default_factory=dict)


def default_index_dir(settings: Settings) -> Path:
    """Where the PIAF index lives unless told otherwise: beside the models, outside the repository."""
    return settings.cache_dir / "eval" / "piaf-index"


def load_piaf(path: Path) -> PiafDataset:
    """Read the SQuAD-format JSON file; paragraph texts are cleaned like any document."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InvalidInputError(
            f"cannot read the PIAF dataset {path} ({error.strerror}); pass its location with --dataset-path"
        ) from error
    except ValueError as error:
        raise InvalidInputError(f"{path} is not JSON: {error}") from error
    documents: list[Document] = []
    questions: list[PiafQuestion] = []
    try:
        for article_idx, article in enumerate(raw["data"]):
            for para_idx, paragraph in enumerate(article["paragraphs"]):
                doc_id = f"piaf-{article_idx}-{para_idx}"
                documents.append(parse_document(paragraph["context"], doc_id, title=article["title"]))
                questions.extend(
                    PiafQuestion(qa["id"], qa["question"], doc_id, tuple(answer["text"] for answer in qa["answers"]))
                    for qa in paragraph["qas"]
                )
    except (KeyError, TypeError) as error:
        raise InvalidInputError(f"{path} is not in SQuAD format (data[].paragraphs[].qas[]): {error!r}") from error
    return PiafDataset(tuple(documents), tuple(questions))


def english_cache(index_dir: Path) -> Path:
    """Where English translations of PIAF questions are cached (by question id): beside the index."""
    return index_dir.parent / "piaf-en.json"


def translations(cache: Path) -> dict[str, str]:
    """The cached English text of each translated question, by id ({} before any translation)."""
    if not cache.exists():
        return {}
    try:
        translated = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InvalidInputError(f"cannot read the English questions in {cache} ({error}); delete it and "
                                "run `python bench/retrieval.py --english 100` again") from error
    return {str(key): str(value) for key, value in translated.items()}


def in_english(questions: Sequence[PiafQuestion], cache: Path) -> list[PiafQuestion]:
    """The questions whose translation `cache` holds, asked in English; an error when it holds none."""
    translated = translations(cache)
    english = [replace(q, question=translated[q.id]) for q in questions if q.id in translated]
    if not english:
        raise InvalidInputError(f"no English PIAF questions in {cache}: run `python bench/retrieval.py --english 100` "
                                "first (it translates them with the local model)")
    return english


def article_paragraphs(dataset: PiafDataset, doc_id: str) -> tuple[str, ...]:
    """The ids of every paragraph of the article that paragraph `doc_id` belongs to, itself included."""
    article = doc_id.rsplit("-", 1)[0] + "-"
    return tuple(document.doc_id for document in dataset.documents if document.doc_id.startswith(article))


def sample(questions: Sequence[_Item], limit: int | None) -> list[_Item]:
    """`limit` questions (or set items) drawn with a fixed seed, kept in file order; all of them without a limit."""
    if limit is None or limit >= len(questions):
        return list(questions)
    if limit < 1:
        raise InvalidInputError(f"--limit must be at least 1, got {limit}")
    chosen = sorted(random.Random(SAMPLE_SEED).sample(range(len(questions)), limit))
    return [questions[position] for position in chosen]


def index_piaf(corpus: Corpus, dataset: PiafDataset) -> IndexReport:
    """Add the paragraphs to the PIAF index; unchanged paragraphs cost nothing on later runs."""
    return corpus.upsert(list(dataset.documents))


def rank_documents(
    corpus: Corpus,
    questions: Sequence[PiafQuestion],
    *,
    modes: Sequence[Mode] = ("hybrid",),
    on_batch: Callable[[int], None] | None = None,
) -> dict[str, list[list[str]]]:
    """Per retrieval mode, each question's top documents (distinct, best first, up to MRR_CUTOFF).

    Questions are embedded once, in batches, and every mode reuses the vectors.
    """
    rankings: dict[str, list[list[str]]] = {mode: [] for mode in modes}
    snapshot = corpus.snapshot
    for begin in range(0, len(questions), _EMBED_BATCH):
        batch = questions[begin : begin + _EMBED_BATCH]
        vectors = corpus.embed_queries([q.question for q in batch])
        for question, vector in zip(batch, vectors):
            embedded = _already(vector)
            for mode in modes:
                # The language is detected, as for any user: a misread short question is part of the score.
                hits = retrieve(
                    snapshot, question.question, embedded, _CHUNKS_PER_SEARCH, mode=mode, backend=corpus.backend
                )
                rankings[mode].append(list(dict.fromkeys(hit.doc_id for hit in hits))[:MRR_CUTOFF])
        if on_batch is not None:
            on_batch(len(batch))
    return rankings


def _already(vector: np.ndarray) -> Callable[[str], np.ndarray]:
    """An `embed` for `retrieve` that returns a vector computed in a batch beforehand."""
    return lambda _query: vector


def run_piaf(
    questions: Sequence[PiafQuestion],
    corpus: Corpus,
    answerer: Answerer | None,
    *,
    on_result: Callable[[int, PiafResult], None] | None = None,
) -> list[PiafResult]:
    """Rank documents for every question, then answer each one unless `answerer` is None."""
    results: list[PiafResult] = []
    rankings = rank_documents(corpus, questions)["hybrid"]
    for number, (question, ranking) in enumerate(zip(questions, rankings), 1):
        rank = ranking.index(question.doc_id) + 1 if question.doc_id in ranking else None
        result = PiafResult(question.id, question.question, question.doc_id, question.answers, tuple(ranking), rank)
        if answerer is not None:
            answer = answerer.ask(question.question)
            cited = " ".join(citation.snippet for citation in answer.citations)
            contained = not answer.abstained and fact_present(question.answers, f"{answer.answer}\n{cited}")
            result = replace(
                result,
                answer=answer.answer,
                abstained=answer.abstained,
                contained=contained,
                answer_language=answer_language(answer.answer),
                timings_ms=dict(answer.timings_ms),
            )
        results.append(result)
        if on_result is not None:
            on_result(number, result)
    return results


def summarize_piaf(results: Sequence[PiafResult]) -> dict[str, float | None]:
    """Document recall@k, MRR@20, and, when answers were asked for, containment and answer rate."""
    scores: dict[str, float | None] = {
        f"recall_at_{k}": _mean([hit_at(r.rank, k) for r in results]) for k in RECALL_KS
    }
    scores["mrr_at_20"] = _mean([reciprocal_rank(r.rank, MRR_CUTOFF) for r in results])
    answered = [r for r in results if r.abstained is not None]
    scores["answer_containment"] = _mean([float(bool(r.contained)) for r in answered])
    scores["answer_rate"] = _mean([float(not r.abstained) for r in answered])
    return scores


def english_share(results: Sequence[PiafResult]) -> float | None:
    """Share of the answers (refusals left out: their sentence is fixed) written in English."""
    return _mean([float(r.answer_language == "en") for r in results if r.abstained is False])


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None
