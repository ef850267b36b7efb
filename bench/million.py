"""The index at a million chunks: load time, resident memory, hybrid search latency, dense recall, writes.

Run: .venv/bin/python bench/million.py [--chunks 1000000] [--segment-chunks 250000] [--queries 200]

Chunking and embedding a million chunks would take hours on 2 cores, and cost the same per article at
any size (`bench/scale.py` measures writes through the real pipeline up to 50,000 articles). So the
corpus is replicated from the PIAF index (`python bench/retrieval.py` builds it): every copy keeps
the paragraphs' real text, offsets, sentences and BM25 postings, and gets the e5 vectors of its
chunks and sentences with Gaussian noise (cosine about 0.9 to the original, as in `bench/ann.py`), so
vectors cluster as near-duplicate news does. Copies are grouped into segments of `--segment-chunks`,
each with its own FAISS index as `rag/dense.py` picks it (HNSW at this size), written as real
segments with a generation, as `rag index --optimize` would leave a bulk-loaded corpus.

A fresh process then opens the index the way the server does and prints: load seconds, resident
memory (anonymous, and file-backed pages of the memory-mapped vectors), hybrid search p50/p95 over
real PIAF questions (query embedding excluded: the vectors are computed first), the dense side's
recall@10 against exact search over every vector, and one-article writes (add, replace, delete) on
that corpus, embedding excluded (hashed vectors, as in `bench/scale.py`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.ann import K, derived  # noqa: E402
from bench.scale import HashedVectors, percentiles, perturbed, timed  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.corpus import Corpus  # noqa: E402
from rag.dense import search_dense  # noqa: E402
from rag.embedding import Embedder  # noqa: E402
from rag.evaluation.piaf import DEFAULT_DATASET, default_index_dir, load_piaf, sample  # noqa: E402
from rag.indexing import merge_segments  # noqa: E402
from rag.retrieval import retrieve  # noqa: E402
from rag.segment import IndexedChunk, Segment, StoredDocument, read_segment, write_segment  # noqa: E402
from rag.store import CorpusIndex, SegmentView, building_fields, load_index, new_name, save_index  # noqa: E402
from rag.stories import PERMUTATIONS  # noqa: E402

SEED = 11
WRITES = 10


def base_segment(index_dir: Path) -> tuple[Segment, dict]:
    """The PIAF index merged into one segment in memory, and how it was built."""
    index = load_index(index_dir)
    if not index.segments:
        raise SystemExit(f"no PIAF index in {index_dir}: run `python bench/retrieval.py` first")
    return merge_segments(index.segments), building_fields(index.manifest)


def copy_of(base: Segment, number: int, rng: np.random.Generator) -> dict:
    """The parts of copy `number` of `base`: ids suffixed, vectors with noise."""
    suffix = f"~{number}"
    documents = {
        doc_id + suffix: StoredDocument(replace(stored.document, doc_id=doc_id + suffix), stored.origin,
                                        stored.fingerprint, stored.story + suffix)
        for doc_id, stored in base.documents.items()
    }
    chunks = [
        IndexedChunk(replace(item.chunk, chunk_id=item.chunk.chunk_id + suffix, doc_id=item.chunk.doc_id + suffix),
                     item.language, item.fingerprint)
        for item in base.chunks
    ]
    sentences = [replace(item, doc_id=item.doc_id + suffix) for item in base.sentences]
    return {
        "documents": documents, "chunks": chunks, "sentences": sentences,
        "embeddings": derived(np.asarray(base.embeddings, dtype=np.float32), len(base.chunks), rng),
        "sentence_embeddings": derived(np.asarray(base.sentence_embeddings, dtype=np.float32),
                                       len(base.sentences), rng).astype(np.float16),
        "signatures": np.asarray(base.signatures, dtype=np.uint32),
    }


def build(index_dir: Path, chunks: int, segment_chunks: int) -> None:
    """Write a replicated corpus of about `chunks` chunks into `index_dir`, segment by segment."""
    base, fields = base_segment(default_index_dir(Settings()))
    copies = -(-chunks // len(base.chunks))
    per_segment = max(1, segment_chunks // len(base.chunks))
    rng = np.random.default_rng(SEED)
    folders = []
    started = time.perf_counter()
    for first in range(0, copies, per_segment):
        parts = [copy_of(base, number, rng) for number in range(first, min(first + per_segment, copies))]
        segment = Segment.assemble(
            new_name(),
            {doc_id: stored for part in parts for doc_id, stored in part["documents"].items()},
            [item for part in parts for item in part["chunks"]],
            np.concatenate([part["embeddings"] for part in parts]),
            [item for part in parts for item in part["sentences"]],
            np.concatenate([part["sentence_embeddings"] for part in parts]),
            np.concatenate([part["signatures"] for part in parts]).reshape(-1, PERMUTATIONS),
        )
        folder = index_dir / "segments" / segment.segment_id
        write_segment(segment, folder)
        folders.append(folder)
        print(f"  segment {len(folders)}: {len(segment.chunks):,} chunks, "
              f"{time.perf_counter() - started:.0f} s so far", flush=True)
        del segment, parts
    index = load_index_of(index_dir, fields, [folder.name for folder in folders])
    save_index(index, index_dir)
    print(f"built {index.chunk_count:,} chunks, {len(index.documents):,} documents in "
          f"{time.perf_counter() - started:.0f} s", flush=True)


def load_index_of(index_dir: Path, fields: dict, segment_ids: list[str]) -> CorpusIndex:
    """The written segments as one snapshot, for `save_index` to name in a generation."""
    views = tuple(SegmentView(read_segment(index_dir / "segments" / name, fields["dimension"])) for name in segment_ids)
    return CorpusIndex.of(fields, views)


def memory_mb() -> dict[str, float]:
    """Resident memory of this process, split as /proc reports it (MB)."""
    found = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
            found[key] = int(value.split()[0]) / 1024
    return found


def probe(index_dir: Path, queries: int) -> dict:
    """Open the index as the server does and measure it (run in a fresh process)."""
    settings = Settings()
    embedder = Embedder.from_settings(settings)
    questions = [item.question for item in sample(load_piaf(ROOT / DEFAULT_DATASET).questions, queries)]
    vectors = embedder.embed_queries(questions).astype(np.float32)
    before = memory_mb()
    started = time.perf_counter()
    index = load_index(index_dir, embedder.model_id)
    loaded = time.perf_counter() - started
    after_load = memory_mb()
    searched = [timed(retrieve, index, question, lambda _, v=vector: v, 5) for question, vector in
                zip(questions, vectors)]
    after_search = memory_mb()
    recalls = [dense_recall(index, vector) for vector in vectors[:50]]
    corpus = Corpus.over(index_dir, HashedVectors(embedder), index)  # type: ignore[arg-type]
    del index
    paragraphs = load_piaf(ROOT / DEFAULT_DATASET).documents
    extra = [replace(article, doc_id=f"new-{number}") for number, article in enumerate(perturbed(paragraphs, WRITES))]
    added = [timed(corpus.upsert, [article]) for article in extra]
    replaced_ = [timed(corpus.upsert, [replace(article, text=article.text + " Mise à jour.")]) for article in extra]
    deleted = [timed(corpus.delete, article.doc_id) for article in extra]
    return {
        "chunks": corpus.snapshot.chunk_count, "documents": len(corpus.snapshot.documents),
        "segments": len(corpus.snapshot.segments), "load_s": loaded,
        "memory": {"before": before, "loaded": after_load, "searched": after_search},
        "search_ms": percentiles(searched, 1000), "recall": float(np.mean(recalls)),
        "add_s": percentiles(added), "replace_s": percentiles(replaced_), "delete_s": percentiles(deleted),
    }


def dense_recall(index: CorpusIndex, vector: np.ndarray) -> float:
    """Share of exact search's top K over every chunk vector that the segments' own indexes return."""
    exact: list[tuple[float, int]] = []
    approximate: list[tuple[float, int]] = []
    for offset, view in zip(index.offsets, index.segments):
        scores = np.asarray(view.segment.embeddings, dtype=np.float32) @ vector
        top = np.argpartition(-scores, K - 1)[:K]
        exact += [(float(scores[row]), int(offset) + int(row)) for row in top]
        hits = search_dense(view.segment.dense, view.segment.embeddings, vector, K)
        approximate += [(score, int(offset) + row) for row, score in hits]
    truth = {row for _, row in sorted(exact, reverse=True)[:K]}
    found = {row for _, row in sorted(approximate, reverse=True)[:K]}
    return len(truth & found) / K


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=1_000_000)
    parser.add_argument("--segment-chunks", type=int, default=250_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--index-dir", type=Path, help="keep the replicated index here (default: a temporary folder)")
    parser.add_argument("--probe", type=Path, help=argparse.SUPPRESS)  # the measuring child process
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(probe(args.probe, args.queries)))
        return
    with tempfile.TemporaryDirectory() as scratch:
        index_dir = args.index_dir or Path(scratch) / "index"
        if not (index_dir / "current").exists():
            build(index_dir, args.chunks, args.segment_chunks)
        child = subprocess.run(
            [sys.executable, __file__, "--probe", str(index_dir), "--queries", str(args.queries)],
            check=True, capture_output=True, text=True,
        )
    figures = json.loads(child.stdout.strip().splitlines()[-1])
    memory = figures["memory"]
    print(f"\n{figures['chunks']:,} chunks, {figures['documents']:,} documents, {figures['segments']} segments")
    print(f"  open the index          {figures['load_s']:8.1f} s")
    print(f"  {'resident memory (MB)':24} {'total':>8} {'anon':>8} {'mapped':>8}")
    for stage in ("before", "loaded", "searched"):
        row = memory[stage]
        print(f"  {stage:24} {row['VmRSS']:8.0f} {row['RssAnon']:8.0f} {row['RssFile']:8.0f}")
    print(f"  peak resident           {memory['searched']['VmHWM']:8.0f} MB")
    print(f"  {'':24} {'p50':>8} {'p95':>8}")
    print(f"  hybrid search (ms)      {figures['search_ms']}")
    print(f"  add one (s)             {figures['add_s']}")
    print(f"  replace one (s)         {figures['replace_s']}")
    print(f"  delete one (s)          {figures['delete_s']}")
    print(f"  dense recall@{K} vs exact  {figures['recall']:.3f}")


if __name__ == "__main__":
    main()
