"""Query embedding latency and passage throughput: ONNX Runtime (what serves) against torch.

    .venv/bin/python bench/embedding.py [--questions N] [--passages N] [--batch-size N] [--threads 1,2]

Both engines run the prepared e5-small folder (or RAG_EMBEDDING_MODEL): torch through
sentence-transformers, as the embedder did before, ONNX Runtime through `rag.embedding.Embedder`.
Queries are embedded one at a time, the gold questions first, then PIAF questions up to N; passages
are PIAF paragraphs in batches. It also prints the largest |cosine - 1| between the two engines'
vectors, and each engine's peak RSS in a fresh process that loads it and embeds one query.
Run it on an idle machine: timings are the point.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rag.config import Settings  # noqa: E402
from rag.embedding import Embedder, configured_model  # noqa: E402
from rag.evaluation.gold import load_gold  # noqa: E402
from rag.evaluation.piaf import DEFAULT_DATASET, load_piaf, sample  # noqa: E402

Embed = Callable[[Sequence[str]], np.ndarray]
_WARMUP = 10

# Run in a child process: peak RSS of one engine loaded and used once, and whether torch got imported.
_RSS_CHILD = r"""
import json, re, sys
engine, model = sys.argv[1], sys.argv[2]
if engine == "onnx":
    from rag.embedding import Embedder
    Embedder(model).embed_queries(["Quel est le taux directeur de la BCE ?"])
else:
    from sentence_transformers import SentenceTransformer
    SentenceTransformer(model, device="cpu").encode(["query: Quel est le taux directeur de la BCE ?"])
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across exec.
peak_mb = int(re.search(r"VmHWM:\s+(\d+)", open("/proc/self/status").read()).group(1)) / 1024
print(json.dumps({"rss_mb": peak_mb, "torch_imported": "torch" in sys.modules}))
"""


def questions(count: int, dataset: Path) -> list[str]:
    """The gold questions (French and English), then PIAF questions until there are `count`."""
    texts = [item.question for item in load_gold(ROOT / "eval" / "gold.jsonl")][:count]
    piaf = sample(load_piaf(dataset).questions, count - len(texts)) if len(texts) < count else []
    return texts + [q.question for q in piaf]


def per_query_ms(embed: Embed, texts: list[str]) -> tuple[float, float]:
    """p50 and p95 of embedding one query, after a few warm-up calls."""
    for text in texts[:_WARMUP]:
        embed([text])
    timings = []
    for text in texts:
        started = time.perf_counter()
        embed([text])
        timings.append((time.perf_counter() - started) * 1000)
    return float(np.percentile(timings, 50)), float(np.percentile(timings, 95))


def texts_per_second(embed: Embed, texts: list[str]) -> float:
    embed(texts[:8])  # warm-up
    started = time.perf_counter()
    embed(texts)
    return len(texts) / (time.perf_counter() - started)


def peak_rss(engine: str, model: str) -> dict[str, float | bool]:
    result = subprocess.run(
        [sys.executable, "-c", _RSS_CHILD, engine, model], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=200, help="queries timed one at a time (default 200)")
    parser.add_argument("--passages", type=int, default=256, help="PIAF paragraphs embedded (default 256)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", default="1,2", help="ONNX Runtime intra-op threads to try (default 1,2)")
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    args = parser.parse_args()

    import torch
    from sentence_transformers import SentenceTransformer

    model = configured_model(Settings())
    queries = questions(args.questions, args.dataset)
    passages = [document.text for document in sample(load_piaf(args.dataset).documents, args.passages)]
    st = SentenceTransformer(model, device="cpu", local_files_only=True)

    def torch_embed(prompt: str) -> Embed:
        return lambda texts: st.encode(
            list(texts), prompt_name=prompt, batch_size=args.batch_size, normalize_embeddings=True
        )

    rows: list[tuple[str, float, float, float]] = []
    q50, q95 = per_query_ms(torch_embed("query"), queries)
    rows.append((f"torch ({torch.get_num_threads()} threads)", q50, q95,
                 texts_per_second(torch_embed("passage"), passages)))  # fmt: skip
    reference = {"query": torch_embed("query")(queries), "passage": torch_embed("passage")(passages)}
    worst = 0.0
    for threads in (int(t) for t in args.threads.split(",")):
        embedder = Embedder(model, threads=threads)
        q50, q95 = per_query_ms(embedder.embed_queries, queries)
        rate = texts_per_second(partial(embedder.embed_passages, batch_size=args.batch_size), passages)
        rows.append((f"onnxruntime ({threads} thread{'s' if threads > 1 else ''})", q50, q95, rate))
        for prompt, texts, embed in (("query", queries, embedder.embed_queries),
                                     ("passage", passages, embedder.embed_passages)):  # fmt: skip
            cosines = np.sum(embed(texts) * reference[prompt], axis=1)
            worst = max(worst, float(np.max(np.abs(cosines - 1.0))))

    print(f"\n{len(queries)} queries one at a time, {len(passages)} PIAF paragraphs in batches of {args.batch_size}")
    print(f"{'engine':>24} {'query p50 ms':>13} {'query p95 ms':>13} {'passages/s':>11}")
    for label, p50, p95, rate in rows:
        print(f"{label:>24} {p50:>13.1f} {p95:>13.1f} {rate:>11.1f}")
    print(f"\nmax |cos - 1| between torch and ONNX Runtime vectors: {worst:.2e}")
    for engine in ("torch", "onnx"):
        rss = peak_rss(engine, model)
        imported = rss["torch_imported"]
        print(f"peak RSS, {engine:>5} loaded + one query: {rss['rss_mb']:.0f} MB (torch imported: {imported})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
