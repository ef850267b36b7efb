"""The dense index type: exact below rag.dense.ANN_MIN_ROWS vectors per segment, 8-bit HNSW re-scored
exactly at or above it (older HNSW segments still searched), saved and loaded as such, and searched only
among the rows a mask allows."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import pytest

from rag import dense
from rag.corpus import Corpus
from rag.dense import build_dense_index, load_dense_index, save_dense_index, search_dense
from rag.evaluation.gold import load_gold

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"


def unit_vectors(count: int, seed: int = 3) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(count, 64)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_the_index_type_follows_the_segment_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dense, "ANN_MIN_ROWS", 500)
    assert isinstance(build_dense_index(unit_vectors(499)), faiss.IndexFlatIP)
    assert isinstance(build_dense_index(unit_vectors(500)), faiss.IndexHNSWSQ)


def test_an_hnsw_index_survives_a_save_and_finds_what_exact_search_finds(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(dense, "ANN_MIN_ROWS", 1)
    vectors = unit_vectors(2000)
    save_dense_index(build_dense_index(vectors), tmp_path / "dense.faiss")
    loaded = load_dense_index(tmp_path / "dense.faiss")
    assert isinstance(loaded, faiss.IndexHNSWSQ) and loaded.ntotal == 2000
    exact = faiss.IndexFlatIP(64)
    exact.add(vectors)
    queries = unit_vectors(50, seed=4)
    found = [search_dense(loaded, vectors, query, 10) for query in queries]
    truth = [search_dense(exact, vectors, query, 10) for query in queries]
    recall = np.mean([len({row for row, _ in mine} & {row for row, _ in theirs}) / 10
                      for mine, theirs in zip(found, truth)])
    assert recall >= 0.95
    for mine, query in zip(found, queries):  # re-scored: the exact cosines, best first
        assert [score for _, score in mine] == sorted((score for _, score in mine), reverse=True)
        assert np.allclose([score for _, score in mine], [float(vectors[row] @ query) for row, _ in mine], atol=1e-5)


def test_a_segment_written_with_a_float_hnsw_graph_is_still_searched(tmp_path: Path) -> None:
    vectors = unit_vectors(1000)
    graph = faiss.IndexHNSWFlat(64, dense.HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
    graph.add(vectors)
    save_dense_index(graph, tmp_path / "dense.faiss")
    query = unit_vectors(1, seed=6)[0]
    best = int(np.argmax(vectors @ query))
    assert search_dense(load_dense_index(tmp_path / "dense.faiss"), vectors, query, 5)[0][0] == best


@pytest.mark.parametrize("minimum", [1, 10**9], ids=["hnsw", "exact"])
def test_a_mask_keeps_every_other_row_out_and_still_fills_k(monkeypatch: pytest.MonkeyPatch, minimum: int) -> None:
    monkeypatch.setattr(dense, "ANN_MIN_ROWS", minimum)
    vectors = unit_vectors(1000)
    allowed = np.zeros(1000, dtype=bool)
    allowed[::7] = True
    for query in unit_vectors(20, seed=5):
        hits = search_dense(build_dense_index(vectors), vectors, query, 10, allowed)
        assert len(hits) == 10 and all(allowed[row] for row, _ in hits)
        best = max(range(1000), key=lambda row: float(vectors[row] @ query) if allowed[row] else -2.0)
        assert hits[0][0] == best


def test_a_corpus_on_hnsw_segments_retrieves_as_the_exact_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, seed_corpus: Corpus, embedder
) -> None:
    """The seeds indexed with every segment on HNSW, reopened from disk, then one article deleted."""
    monkeypatch.setattr(dense, "ANN_MIN_ROWS", 1)
    Corpus.open(tmp_path / "index", embedder, missing_ok=True).sync_paths([SEEDS])
    reopened = Corpus.open(tmp_path / "index", embedder)
    assert all(isinstance(view.segment.dense, faiss.IndexHNSWSQ) for view in reopened.snapshot.segments)
    questions = [item.question for item in load_gold(ROOT / "eval" / "gold.jsonl")]
    for question in questions[:30]:
        ours = [hit.chunk_id for hit in reopened.search(question, 5)]
        assert ours == [hit.chunk_id for hit in seed_corpus.search(question, 5)], question
    gone = reopened.search(questions[0], 1)[0].doc_id
    reopened.delete(gone)
    assert all(hit.doc_id != gone for question in questions[:30] for hit in reopened.search(question, 5))
