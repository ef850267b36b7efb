"""The `rag` console script as a user runs it: index, re-index, search, and clear errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from seed_ids import OPENAI

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def rag(*args: str, index_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RAG_INDEX_DIR": str(index_dir), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "api.cli", *args], capture_output=True, text=True, env=env,
                          timeout=600, check=False)


@pytest.fixture(scope="module")
def indexed(tmp_path_factory) -> tuple[Path, Path]:
    """A copy of the seeds indexed by `rag index`, and the first run's output checked."""
    root = tmp_path_factory.mktemp("cli")
    articles = root / "articles"
    shutil.copytree(SEEDS, articles)
    result = rag("index", str(articles), index_dir=root / "index")
    assert result.returncode == 0, result.stderr
    assert "Indexed 5 documents (5 added)" in result.stdout
    return articles, root / "index"


def test_reindexing_an_unchanged_corpus_does_nothing(indexed):
    articles, index_dir = indexed
    result = rag("index", str(articles), "--json", index_dir=index_dir)
    report = json.loads(result.stdout)
    assert result.returncode == 0 and report["embedded_texts"] == 0 and report["documents"] == 5


def test_search_prints_json_hits_from_the_right_article(indexed):
    _, index_dir = indexed
    result = rag("search", "How much is OpenAI paying AWS?", "-k", "3", "--json", index_dir=index_dir)
    hits = json.loads(result.stdout)["hits"]
    assert result.returncode == 0 and len(hits) == 3 and hits[0]["doc_id"] == OPENAI
    assert {"doc_id", "title", "score", "start", "end", "text"} <= set(hits[0])


def test_unsupported_file_is_a_one_line_error(indexed, tmp_path):
    _, index_dir = indexed
    bad = tmp_path / "article.pdf"
    bad.write_bytes(b"%PDF-1.4")
    result = rag("index", str(bad), index_dir=index_dir)
    assert result.returncode == 1
    assert "rag: error:" in result.stderr and ".txt" in result.stderr and "Traceback" not in result.stderr


def test_search_without_an_index_says_to_build_one(tmp_path):
    result = rag("search", "cloud", index_dir=tmp_path / "none")
    assert result.returncode == 1 and "rag index" in result.stderr and "Traceback" not in result.stderr
