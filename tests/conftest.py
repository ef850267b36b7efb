"""Shared fixtures: a readable fake embedder for exact-ranking unit tests, and the real models once."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
STORIES = ROOT / "tests" / "fixtures" / "stories"
DATED = ("news", "feeds", "exports")  # the fixture folders whose articles carry dates


class KeywordEmbedder:
    """One dimension per keyword (plus a constant one), so expected rankings can be read by eye."""

    def __init__(self, keywords: Sequence[str], model_id: str = "test/keywords") -> None:
        self.keywords = [keyword.lower() for keyword in keywords]
        self.model_id = model_id
        self.dimension = len(self.keywords) + 1
        self.max_seq_length = 512
        self.embedded: list[str] = []  # every text embedded, to check incremental work

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        rows = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            words = re.findall(r"\w+", text.lower())
            rows[row, :-1] = [words.count(keyword) for keyword in self.keywords]
            rows[row, -1] = 0.1
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    def embed_passages(self, texts: Sequence[str], *, show_progress: bool = False, batch_size: int = 32) -> np.ndarray:
        self.embedded.extend(texts)
        return self._embed(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)


@pytest.fixture
def keyword_embedder() -> KeywordEmbedder:
    return KeywordEmbedder(["cloud", "puces", "openai", "investissement", "emplois", "nvidia"])


@pytest.fixture(scope="session")
def settings():
    from rag.config import Settings

    return Settings()


@pytest.fixture(scope="session")
def embedder(settings):
    """The real e5 model, loaded once for the whole session (`make test` prepares it first)."""
    from rag.embedding import Embedder

    return Embedder.from_settings(settings)


@pytest.fixture(scope="session")
def seed_documents():
    """The seed articles as cleaned documents."""
    from rag.documents import read_documents

    return read_documents([SEEDS]).documents


@pytest.fixture(scope="session")
def seed_index_dir(tmp_path_factory, embedder) -> Path:
    """A real index over the seeds, built once; tests that write copy it first."""
    from rag.corpus import Corpus

    index_dir = tmp_path_factory.mktemp("seed-index")
    Corpus.open(index_dir, embedder, missing_ok=True).sync_paths([SEEDS])
    return index_dir


@pytest.fixture(scope="session")
def seed_corpus(seed_index_dir, embedder):
    from rag.corpus import Corpus

    return Corpus.open(seed_index_dir, embedder)


@pytest.fixture(scope="session")
def stories_index_dir(tmp_path_factory, embedder) -> Path:
    """A real index over the stories corpus (tests/fixtures/stories: one story told by several outlets,
    rewrites, and variants with a figure changed), built once; tests that write copy it first."""
    from rag.corpus import Corpus

    index_dir = tmp_path_factory.mktemp("stories-index")
    Corpus.open(index_dir, embedder, missing_ok=True).sync_paths([STORIES])
    return index_dir


@pytest.fixture(scope="session")
def dated_index_dir(tmp_path_factory, embedder) -> Path:
    """A real index over every dated fixture article (tests/fixtures/news, feeds and exports) and
    nothing else, built once; tests that write copy it first."""
    from rag.corpus import Corpus

    index_dir = tmp_path_factory.mktemp("dated-index")
    Corpus.open(index_dir, embedder, missing_ok=True).sync_paths([ROOT / "tests" / "fixtures" / name for name in DATED])
    return index_dir
