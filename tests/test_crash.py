"""SIGKILL at every point of a write: the previous index (or, once swapped, the new one) serves, and a
rerun completes with nothing lost or duplicated."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from rag.corpus import Corpus
from rag.store import load_index

BEFORE = {
    "cloud": "Le cloud progresse vite. AWS investit dans le cloud et les serveurs.",
    "puces": "Amazon conçoit ses propres puces. Les puces Trainium concurrencent NVIDIA.",
    "emplois": "Amazon supprime 14 000 emplois. Les emplois supprimés financent l'IA.",
}
AFTER = {
    "cloud": "Le cloud ralentit. AWS investit moins dans le cloud.",  # changed
    "emplois": BEFORE["emplois"],  # unchanged; "puces" removed
    "openai": "OpenAI signe avec AWS un contrat cloud de 38 milliards.",  # added
}
WRITER = Path(__file__).resolve().parent / "crash_writer.py"
KILL_POINTS = ["embedding", "segment-file-1", "segment-file-2", "segment-faiss", "segment-written", "manifest",
               "before-swap", "after-swap"]


def write_articles(folder: Path, articles: dict[str, str]) -> None:
    for path in folder.glob("*.txt"):
        path.unlink()
    for name, text in articles.items():
        (folder / f"{name}.txt").write_text(text, encoding="utf-8")


def indexed(index_dir: Path) -> dict[str, str]:
    snapshot = load_index(index_dir)
    chunk_ids = Counter(item.chunk.chunk_id for item in snapshot.live_chunks())
    assert all(count == 1 for count in chunk_ids.values()), "a chunk is served twice"
    return {doc_id: stored.document.text for doc_id, stored in snapshot.documents.items()}


@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_write_killed_at_any_point_loses_and_duplicates_nothing(tmp_path, keyword_embedder, point):
    corpus_dir, index_dir = tmp_path / "articles", tmp_path / "index"
    corpus_dir.mkdir()
    write_articles(corpus_dir, BEFORE)
    Corpus.open(index_dir, keyword_embedder, missing_ok=True).sync_paths([corpus_dir])
    write_articles(corpus_dir, AFTER)

    killed = subprocess.run([sys.executable, str(WRITER), str(index_dir), str(corpus_dir), point],
                            capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    assert indexed(index_dir) == (AFTER if point == "after-swap" else BEFORE)
    served = Corpus.open(index_dir, keyword_embedder)
    found = {hit.doc_id for hit in served.search("puces Trainium", 3, mode="lexical")}
    assert ("puces" in found) == (point != "after-swap")

    Corpus.open(index_dir, keyword_embedder).sync_paths([corpus_dir])  # the rerun
    assert indexed(index_dir) == AFTER
    generations = list((index_dir / "generations").iterdir())
    assert not [path for path in generations if path.name.startswith(".tmp-")]
    named = {name for generation in generations
             for name in json.loads((generation / "manifest.json").read_text())["segments"]}
    assert {path.name for path in (index_dir / "segments").iterdir()} == named  # crash leftovers removed
