"""The dense side of the index: FAISS over L2-normalised embeddings (inner product = cosine)."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

# Per segment: exact inner product below ANN_MIN_ROWS vectors (a few ms, and exact), an HNSW graph at
# or above it. Only bulk loads and `rag index --optimize` make segments that large; one-article writes
# stay in small exact ones. `python bench/ann.py` measured these against exact search on PIAF-derived
# vectors (README "Measured").
ANN_MIN_ROWS = 50_000
HNSW_NEIGHBOURS = 32
HNSW_EF_CONSTRUCTION = 128
HNSW_EF_SEARCH = 256  # not stored in the FAISS file: given at each search


def make_dense_index(dimension: int, rows: int) -> faiss.Index:
    """The one place that picks the FAISS index type, from how many vectors it will hold."""
    if rows < ANN_MIN_ROWS:
        return faiss.IndexFlatIP(dimension)
    index = faiss.IndexHNSWFlat(dimension, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    return index


def build_dense_index(vectors: np.ndarray) -> faiss.Index:
    """A FAISS index whose row i is vectors[i]."""
    index = make_dense_index(vectors.shape[1], len(vectors))
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def search_dense(
    index: faiss.Index, query: np.ndarray, k: int, allowed: np.ndarray | None = None
) -> list[tuple[int, float]]:
    """Up to k (row, cosine) pairs, best first, for one normalised query vector; with `allowed` (a
    boolean per row), only among the rows it allows, searched as such rather than filtered afterwards."""
    if index.ntotal == 0:
        return []
    if isinstance(index, faiss.IndexHNSWFlat):
        params = faiss.SearchParametersHNSW(efSearch=max(HNSW_EF_SEARCH, k))  # type: ignore[attr-defined]
    else:
        params = faiss.SearchParameters()
    if allowed is not None:
        bits = np.packbits(allowed, bitorder="little")  # kept alive by this frame while FAISS reads it
        params.sel = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bits))
    vector = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
    scores, rows = index.search(vector, min(k, index.ntotal), params=params)
    return [(int(row), float(score)) for row, score in zip(rows[0], scores[0]) if row >= 0]


def save_dense_index(index: faiss.Index, path: Path) -> None:
    """Write the FAISS index to `path`."""
    faiss.write_index(index, str(path))


def load_dense_index(path: Path) -> faiss.Index:
    """Read an index written by `save_dense_index` (exact or HNSW: the file says which)."""
    return faiss.read_index(str(path))
