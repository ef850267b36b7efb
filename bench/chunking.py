"""Chunk size and overlap, measured: retrieval quality on the seeds gold set for several settings.

Run: .venv/bin/python bench/chunking.py [--sizes 96,128,200,256,384] [--overlaps 0,40]
Prints, per (size, overlap): chunks, document hit@1 and hit@5, evidence recall@5 (a retrieved chunk
overlaps a gold evidence span; larger chunks win this one trivially) and prompt recall (a gold
evidence span overlaps one of the evidence sentences the answer prompt would get: what matters).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rag.answerer import EVIDENCE_SENTENCES  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.documents import load_documents  # noqa: E402
from rag.embedding import Embedder  # noqa: E402
from rag.evaluation.gold import load_gold  # noqa: E402
from rag.evaluation.metrics import evidence_recall  # noqa: E402
from rag.evidence import select_evidence  # noqa: E402
from rag.indexing import Indexer  # noqa: E402
from rag.retrieval import retrieve  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="96,128,200,256,384")
    parser.add_argument("--overlaps", default="0,40")
    args = parser.parse_args()
    items = [item for item in load_gold(ROOT / "eval" / "gold.jsonl") if item.answerable]
    documents = load_documents([ROOT / "seeds"])
    embedder = Embedder.from_settings(Settings())
    print(f"{len(items)} answerable gold questions over {len(documents)} seeds")
    print(f"{'size':>5} {'overlap':>7} {'chunks':>6} {'hit@1':>6} {'hit@5':>6} {'evid@5':>6} {'prompt':>6}")
    for size in map(int, args.sizes.split(",")):
        for overlap in map(int, args.overlaps.split(",")):
            if overlap >= size:
                continue
            indexer = Indexer(embedder, chunk_tokens=size, overlap_tokens=overlap)
            index, _ = indexer.sync(indexer.empty(), documents, "file")
            hit1 = hit5 = evidence5 = prompt = 0
            for item in items:
                hits = retrieve(index, item.question, lambda text: embedder.embed_queries([text])[0], 5)
                sentences = select_evidence(hits, EVIDENCE_SENTENCES, question=item.question)
                prompt += evidence_recall(sentences, item.evidence) > 0
                hit1 += hits[0].doc_id in item.doc_ids
                hit5 += any(hit.doc_id in item.doc_ids for hit in hits)
                evidence5 += evidence_recall(hits, item.evidence) > 0
            n = len(items)
            rates = " ".join(f"{count / n:>6.3f}" for count in (hit1, hit5, evidence5, prompt))
            print(f"{size:>5} {overlap:>7} {index.chunk_count:>6} {rates}")


if __name__ == "__main__":
    main()
