"""Run one `rag index`-style sync and SIGKILL this process at a chosen point of the write.

Usage: python tests/crash_writer.py INDEX_DIR CORPUS_DIR POINT  (POINT: see `arm`; tests/test_crash.py)
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from conftest import KeywordEmbedder  # noqa: E402

from rag import segment, store  # noqa: E402
from rag.corpus import Corpus  # noqa: E402

KEYWORDS = ["cloud", "puces", "openai", "investissement", "emplois", "nvidia"]


def die(*args: object, **kwargs: object) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def after(function, *args: object, **kwargs: object):
    def wrapped(*inner: object, **named: object):
        result = function(*inner, **named)
        die()
        return result

    return wrapped


def nth_call(function, count: int):
    calls = [0]

    def wrapped(*args: object, **kwargs: object):
        calls[0] += 1
        if calls[0] == count:
            die()
        return function(*args, **kwargs)

    return wrapped


def arm(point: str, embedder: KeywordEmbedder) -> None:
    if point == "embedding":
        embedder.embed_passages = die  # type: ignore[method-assign]
    elif point.startswith("segment-file-"):  # the n-th vector file written into the staging segment
        segment.np.save = nth_call(segment.np.save, int(point.rsplit("-", 1)[1]))
    elif point == "segment-faiss":
        segment.save_dense_index = die
    elif point == "segment-written":
        store.write_segment = after(store.write_segment)
    elif point == "manifest":
        store._fsync_folder = nth_call(store._fsync_folder, 1)
    elif point == "before-swap":
        store.os.replace = die
    elif point == "after-swap":
        store._prune = die
    else:
        raise SystemExit(f"unknown kill point {point!r}")


def main() -> None:
    index_dir, corpus_dir, point = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    embedder = KeywordEmbedder(KEYWORDS)
    arm(point, embedder)
    Corpus.open(index_dir, embedder, missing_ok=True).sync_paths([corpus_dir])  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
