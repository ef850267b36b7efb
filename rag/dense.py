"""The dense side of the index: FAISS over L2-normalised embeddings (inner product = cosine)."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np


def make_dense_index(dimension: int) -> faiss.Index:
    """The one place that picks the FAISS index type.

    Exact inner product is right for thousands of chunks (a few ms per query); a corpus in the
    millions would switch here to `IndexHNSWFlat(dimension, 32, faiss.METRIC_INNER_PRODUCT)`.
    """
    return faiss.IndexFlatIP(dimension)


def build_dense_index(vectors: np.ndarray) -> faiss.Index:
    """A FAISS index whose row i is vectors[i]."""
    index = make_dense_index(vectors.shape[1])
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def search_dense(index: faiss.Index, query: np.ndarray, k: int) -> list[tuple[int, float]]:
    """Up to k (row, cosine) pairs, best first, for one normalised query vector."""
    if index.ntotal == 0:
        return []
    scores, rows = index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), min(k, index.ntotal))
    return [(int(row), float(score)) for row, score in zip(rows[0], scores[0]) if row >= 0]


def save_dense_index(index: faiss.Index, path: Path) -> None:
    """Write the FAISS index to `path`."""
    faiss.write_index(index, str(path))


def load_dense_index(path: Path) -> faiss.Index:
    """Read an index written by `save_dense_index`."""
    return faiss.read_index(str(path))
