"""SIGKILL at every point of a write, by `rag index` or by the server during `POST /documents`: the
previous index (or, once swapped, the new one) serves, and a rerun completes with nothing lost or duplicated."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from rag.corpus import Corpus
from rag.documents import Document
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
SERVER = Path(__file__).resolve().parent / "crash_server.py"
KILL_POINTS = ["embedding", "segment-file-1", "segment-file-2", "segment-faiss", "segment-written", "manifest",
               "before-swap", "after-swap"]


def write_articles(folder: Path, articles: dict[str, str]) -> None:
    for path in folder.glob("*.txt"):
        path.unlink()
    for name, text in articles.items():
        (folder / f"{name}.txt").write_text(text, encoding="utf-8")


def indexed_before(tmp_path: Path, embedder) -> tuple[Path, Path]:
    """A folder holding the BEFORE articles and an index of them."""
    corpus_dir, index_dir = tmp_path / "articles", tmp_path / "index"
    corpus_dir.mkdir()
    write_articles(corpus_dir, BEFORE)
    Corpus.open(index_dir, embedder, missing_ok=True).sync_paths([corpus_dir])
    return corpus_dir, index_dir


def indexed(index_dir: Path) -> dict[str, str]:
    snapshot = load_index(index_dir)
    chunk_ids = Counter(item.chunk.chunk_id for item in snapshot.live_chunks())
    assert all(count == 1 for count in chunk_ids.values()), "a chunk is served twice"
    return {doc_id: stored.document.text for doc_id, stored in snapshot.documents.items()}


@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_write_killed_at_any_point_loses_and_duplicates_nothing(tmp_path, keyword_embedder, point):
    corpus_dir, index_dir = indexed_before(tmp_path, keyword_embedder)
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
    check_no_leftovers(index_dir)


def check_no_leftovers(index_dir: Path) -> None:
    """No staging folder survives a completed write, and every segment on disk is named by a generation."""
    generations = list((index_dir / "generations").iterdir())
    assert not [path for path in generations if path.name.startswith(".tmp-")]
    named = {name for generation in generations
             for name in json.loads((generation / "manifest.json").read_text())["segments"]}
    assert {path.name for path in (index_dir / "segments").iterdir()} == named  # crash leftovers removed


def started(process: subprocess.Popen[bytes], url: str) -> None:
    """Wait until the server answers /health (or fail with its log if it exits)."""
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"the crash server did not start (exit {process.poll()})")


@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_server_killed_during_post_documents_serves_the_last_committed_index(tmp_path, keyword_embedder, point):
    corpus_dir, index_dir = indexed_before(tmp_path, keyword_embedder)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen([sys.executable, str(SERVER), str(index_dir), str(port), point],
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        started(process, url)
        with pytest.raises(httpx.TransportError):  # the server dies in the middle of the write
            httpx.post(f"{url}/documents", json={"doc_id": "openai", "text": AFTER["openai"]}, timeout=120)
        assert process.wait(timeout=60) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
        log.close()

    posted = {**BEFORE, "openai": AFTER["openai"]}
    assert indexed(index_dir) == (posted if point == "after-swap" else BEFORE)
    served = Corpus.open(index_dir, keyword_embedder)
    assert {hit.doc_id for hit in served.search("puces Trainium", 3, mode="lexical")} >= {"puces"}
    served.upsert([Document("openai", "OpenAI et AWS", AFTER["openai"])])  # the client posts again
    assert indexed(index_dir) == posted
    check_no_leftovers(index_dir)
