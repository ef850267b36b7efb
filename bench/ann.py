"""Exact against HNSW dense search on PIAF-derived vectors: recall@10 of exact, latency, build time, size.

The HNSW graphs are the float one (HNSW32 over float32 vectors, at several efSearch) and the one
segments get (rag/dense.py: 8-bit vectors in the graph, twice the rows asked re-scored exactly from the
chunk vectors).

    .venv/bin/python bench/ann.py [--sizes 50000 100000] [--ef 64 128 256] [--queries 200]

The vectors are the e5 chunk vectors of the PIAF index (`rag eval --dataset piaf` builds it), each
copied with Gaussian noise to the size asked (cosine about 0.9 to its original: the near-duplicates a
news corpus is full of), so they cluster as real passages do; the queries are e5 vectors of PIAF
questions. Recall@10 is the share of exact search's top 10 that HNSW returns, one query at a time, as
retrieval asks. rag/dense.py picks HNSW for segments of ANN_MIN_ROWS vectors or more.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import faiss
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rag import dense  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.dense import HNSW_EF_CONSTRUCTION, HNSW_NEIGHBOURS, build_dense_index, search_dense  # noqa: E402
from rag.embedding import Embedder  # noqa: E402
from rag.evaluation.piaf import DEFAULT_DATASET, default_index_dir, load_piaf, sample  # noqa: E402

NOISE = 0.48  # norm of the noise added to a unit vector: cosine 1 / sqrt(1 + 0.48^2) = 0.90
SEED = 7
K = 10


def derived(base: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """`size` unit vectors, each a noisy copy of a row of `base`."""
    rows = base[np.arange(size) % len(base)]
    noisy = rows + rng.normal(0.0, NOISE / np.sqrt(base.shape[1]), rows.shape).astype(np.float32)
    return (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)


def top_rows(
    index: faiss.Index, vectors: np.ndarray, queries: np.ndarray, ef: int | None
) -> tuple[list[set[int]], list[float]]:
    """Each query's top-K rows and the milliseconds it took, one query at a time (ef None: as rag searches)."""
    found, times = [], []
    for query in queries:
        started = time.perf_counter()
        if ef is None:
            hits = search_dense(index, vectors, query, K)
        else:
            params = faiss.SearchParametersHNSW(efSearch=ef)  # type: ignore[attr-defined]
            _, rows = index.search(query.reshape(1, -1), K, params=params)
            hits = [(int(row), 0.0) for row in rows[0]]
        times.append((time.perf_counter() - started) * 1000)
        found.append({row for row, _ in hits})
    return found, times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50_000, 100_000])
    parser.add_argument("--ef", type=int, nargs="+", default=[64, 128, 256], help="efSearch values to try")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--ef-construction", type=int, default=HNSW_EF_CONSTRUCTION)
    args = parser.parse_args()
    settings = Settings()
    segments = sorted((default_index_dir(settings) / "segments").glob("*/embeddings.npy"))
    if not segments:
        raise SystemExit("no PIAF index: run `rag eval --dataset piaf --retrieval-only` first")
    base = np.concatenate([np.load(path) for path in segments]).astype(np.float32)
    questions = [question.question for question in sample(load_piaf(ROOT / DEFAULT_DATASET).questions, args.queries)]
    queries = Embedder.from_settings(settings).embed_queries(questions).astype(np.float32)
    rng = np.random.default_rng(SEED)
    print(f"{len(base)} PIAF chunk vectors, {len(queries)} PIAF questions, top {K}, one query at a time\n")
    print("| vectors | index | build s | size MB | recall@10 | p50 ms | p95 ms |")
    print("|---|---|---|---|---|---|---|")
    for size in args.sizes:
        vectors = derived(base, size, rng)
        exact = faiss.IndexFlatIP(vectors.shape[1])
        exact.add(vectors)
        truth, times = top_rows(exact, vectors, queries, None)
        print(f"| {size:,} | exact | 0 | {vectors.nbytes / 2**20:.0f} | 1.000 | {np.percentile(times, 50):.2f} "
              f"| {np.percentile(times, 95):.2f} |", flush=True)
        hnsw = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = args.ef_construction
        started = time.perf_counter()
        hnsw.add(vectors)
        built = time.perf_counter() - started
        megabytes = len(faiss.serialize_index(hnsw)) / 2**20
        for ef in args.ef:
            found, times = top_rows(hnsw, vectors, queries, ef)
            name = f"HNSW{HNSW_NEIGHBOURS}, efConstruction {args.ef_construction}, efSearch {ef}"
            row(size, name, built, megabytes, found, truth, times)
        dense.HNSW_EF_CONSTRUCTION = args.ef_construction
        started = time.perf_counter()
        shipped = build_dense_index(vectors)
        built = time.perf_counter() - started
        found, times = top_rows(shipped, vectors, queries, None)
        name = (f"HNSW{HNSW_NEIGHBOURS} 8-bit, efConstruction {args.ef_construction}, efSearch "
                f"{dense.HNSW_EF_SEARCH}, {dense.RESCORED_SHARE * K} re-scored (rag)")
        row(size, name, built, len(faiss.serialize_index(shipped)) / 2**20, found, truth, times)


def row(
    size: int, name: str, built: float, megabytes: float, found: list[set[int]], truth: list[set[int]],
    times: list[float],
) -> None:
    """One line of the table."""
    recall = np.mean([len(mine & theirs) / K for mine, theirs in zip(found, truth)])
    print(f"| {size:,} | {name} | {built:.0f} | {megabytes:.0f} | {recall:.3f} "
          f"| {np.percentile(times, 50):.2f} | {np.percentile(times, 95):.2f} |", flush=True)


if __name__ == "__main__":
    main()
