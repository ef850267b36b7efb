"""One client's write is bounded: beyond `RAG_MAX_WRITE_TEXTS` it is a 413, and a client that leaves
cancels its write before it is committed, so no request holds the write lock for minutes."""

from __future__ import annotations

import fcntl
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from servers import ThreadServer

from rag.config import Settings
from rag.corpus import Corpus
from rag.documents import Document
from rag.service import open_service

KEPT = Document("kept", "Le cloud", "Le cloud progresse vite. AWS investit dans le cloud.")
SLICE_SECONDS = 0.2


class SlowEmbedder:
    """The keyword embedder taking SLICE_SECONDS per call, whatever the machine: a long write, seen from outside."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.calls = 0

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def embed_passages(self, texts, *, show_progress: bool = False, batch_size: int = 32) -> np.ndarray:
        self.calls += 1
        time.sleep(SLICE_SECONDS)
        return self.inner.embed_passages(texts, show_progress=show_progress, batch_size=batch_size)


def long_article(sentences: int) -> str:
    return " ".join(f"Phrase numéro {number} sur le cloud et les puces." for number in range(sentences))


@pytest.fixture
def server(tmp_path: Path, keyword_embedder) -> Iterator[tuple[ThreadServer, SlowEmbedder, Path]]:
    index_dir = tmp_path / "index"
    Corpus.open(index_dir, keyword_embedder, missing_ok=True).upsert([KEPT])
    embedder = SlowEmbedder(keyword_embedder)
    settings = Settings(index_dir=index_dir, generator="extractive", api_key=None, max_write_texts=4000)
    with ThreadServer(open_service(settings, embedder=embedder)) as running:
        yield running, embedder, index_dir


def lock_is_held(index_dir: Path) -> bool:
    """Whether a write holds the index's write lock now (the lock the server takes for each write)."""
    with open(index_dir / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def wait_for(condition, what: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.02)


def test_a_write_larger_than_one_request_may_embed_is_a_413_and_changes_nothing(server) -> None:
    running, embedder, _ = server
    with httpx.Client(base_url=running.url, timeout=120) as http:
        response = http.post("/documents", json={"doc_id": "huge", "text": long_article(5000)})
        assert response.status_code == 413
        assert "one request may embed 4,000" in response.json()["detail"]
        assert "rag index" in response.json()["detail"]
        assert [item["doc_id"] for item in http.get("/documents").json()] == ["kept"]
        assert http.post("/documents", json={"doc_id": "small", "text": "OpenAI signe avec AWS."}).status_code == 201


def test_a_client_that_leaves_cancels_its_write_before_it_is_committed(server) -> None:
    running, embedder, index_dir = server
    body = httpx.Request("POST", f"{running.url}/documents", json={"doc_id": "long", "text": long_article(3000)})
    host, port = running.url.removeprefix("http://").split(":")
    head = f"POST /documents HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
    with socket.create_connection((host, int(port))) as client:
        client.sendall(f"{head}Content-Length: {len(body.content)}\r\n\r\n".encode() + body.content)
        wait_for(lambda: embedder.calls >= 1, "the write is embedding")
    # The client is gone: the write must stop at its next slice, long before its ~50 slices are done.
    wait_for(lambda: not lock_is_held(index_dir), "the cancelled write releases the lock")
    assert embedder.calls < 40
    with httpx.Client(base_url=running.url, timeout=120) as http:
        assert [item["doc_id"] for item in http.get("/documents").json()] == ["kept"]
        assert http.post("/documents", json={"doc_id": "small", "text": "OpenAI signe avec AWS."}).status_code == 201
