"""The dense side of the index: FAISS over L2-normalised embeddings (inner product = cosine)."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from rag.rowfile import RowFile

# Per segment: exact inner product below ANN_MIN_ROWS vectors (a few ms, and exact), an HNSW graph at
# or above it. Only bulk loads and `rag index --optimize` make segments that large; one-article writes
# stay in small exact ones. `python bench/ann.py` measured these against exact search on PIAF-derived
# vectors (README "Measured").
ANN_MIN_ROWS = 50_000
HNSW_NEIGHBOURS = 32
HNSW_EF_CONSTRUCTION = 128
HNSW_EF_SEARCH = 256  # not stored in the FAISS file: given at each search
# The graph holds its vectors in 8 bits per dimension, a quarter of float32 (0.4 GB instead of 1.5 GB
# at a million chunks, all of it resident), and its candidates are re-scored exactly from the segment's
# chunk vectors, memory-mapped, of which only the rows read are touched. It returns this many times
# the rows asked, so that rows ranked just below by 8-bit scores still reach the exact re-scoring.
RESCORED_SHARE = 2


def make_dense_index(dimension: int, rows: int) -> faiss.Index:
    """The one place that picks the FAISS index type, from how many vectors it will hold."""
    if rows < ANN_MIN_ROWS:
        return faiss.IndexFlatIP(dimension)
    eight_bit = faiss.ScalarQuantizer.QT_8bit
    index = faiss.IndexHNSWSQ(dimension, eight_bit, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)  # type: ignore[arg-type]
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    return index


def build_dense_index(vectors: np.ndarray) -> faiss.Index:
    """A FAISS index whose row i is vectors[i] (the 8-bit one first learns each dimension's range)."""
    index = make_dense_index(vectors.shape[1], len(vectors))
    if len(vectors):
        rows = np.ascontiguousarray(vectors, dtype=np.float32)
        if not index.is_trained:
            index.train(rows)
        index.add(rows)
    return index


def search_dense(
    index: faiss.Index, vectors: np.ndarray | RowFile, query: np.ndarray, k: int, allowed: np.ndarray | None = None
) -> list[tuple[int, float]]:
    """Up to k (row, cosine) pairs, best first, for one normalised query vector; with `allowed` (a
    boolean per row), only among the rows it allows, searched as such rather than filtered afterwards.

    `vectors` are the rows the index was built from: an 8-bit index's candidates are re-scored from them.
    """
    if index.ntotal == 0:
        return []
    quantised = isinstance(index, faiss.IndexHNSWSQ)
    wanted = min(k * RESCORED_SHARE if quantised else k, index.ntotal)
    if isinstance(index, faiss.IndexHNSW):  # HNSWFlat in segments written before the 8-bit graphs
        params = faiss.SearchParametersHNSW(efSearch=max(HNSW_EF_SEARCH, wanted))  # type: ignore[attr-defined]
    else:
        params = faiss.SearchParameters()
    if allowed is not None:
        bits = np.packbits(allowed, bitorder="little")  # kept alive by this frame while FAISS reads it
        params.sel = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bits))
    vector = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
    scores, rows = index.search(vector, wanted, params=params)
    found = [(int(row), float(score)) for row, score in zip(rows[0], scores[0]) if row >= 0]
    if not quantised or not found:
        return found
    candidates = np.sort([row for row, _ in found])  # ascending: the memory map is read in file order
    exact = np.asarray(vectors[candidates], dtype=np.float32) @ vector[0]
    best = np.lexsort((candidates, -exact))[:k]
    return [(int(candidates[n]), float(exact[n])) for n in best]


def save_dense_index(index: faiss.Index, path: Path) -> None:
    """Write the FAISS index to `path`."""
    faiss.write_index(index, str(path))


def load_dense_index(path: Path) -> faiss.Index:
    """Read an index written by `save_dense_index` (exact, HNSW or 8-bit HNSW: the file says which)."""
    return faiss.read_index(str(path))
