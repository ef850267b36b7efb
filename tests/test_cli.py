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
    assert "text: 5 read, 0 skipped, 5 indexed" in result.stdout
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


def test_a_bad_file_is_reported_and_skipped_and_the_rest_is_indexed(tmp_path):
    articles = tmp_path / "articles"
    shutil.copytree(SEEDS, articles)
    (articles / "broken.txt").write_bytes(b"Un article \xff\xfe illisible.")
    result = rag("index", str(articles), "--json", index_dir=tmp_path / "index")
    assert result.returncode == 3, result.stderr
    assert "rag: skipped" in result.stderr and "broken.txt" in result.stderr and "UTF-8" in result.stderr
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    assert report["documents"] == 5 and [item["path"] for item in report["skipped"]] == [str(articles / "broken.txt")]


def test_an_indexed_file_that_turns_bad_keeps_its_indexed_version(indexed, tmp_path):
    _, index_dir = indexed
    articles = tmp_path / "articles"
    shutil.copytree(SEEDS, articles)
    index_copy = tmp_path / "index"
    shutil.copytree(index_dir, index_copy, symlinks=True)
    (articles / f"{OPENAI}.txt").write_bytes(b"\xff corrupted on disk")
    result = rag("index", str(articles), "--json", index_dir=index_copy)
    assert result.returncode == 3 and OPENAI in result.stderr
    report = json.loads(result.stdout)
    assert report["documents"] == 5 and report["removed"] == [] and report["updated"] == []
    search = rag("search", "How much is OpenAI paying AWS?", "-k", "1", "--json", index_dir=index_copy)
    assert json.loads(search.stdout)["hits"][0]["doc_id"] == OPENAI


def test_optimize_merges_the_segments_a_later_write_added(indexed, tmp_path):
    articles, index_dir = indexed
    folder, index_copy = tmp_path / "articles", tmp_path / "index"
    shutil.copytree(articles, folder)
    shutil.copytree(index_dir, index_copy, symlinks=True)
    (folder / "breve.txt").write_text("Brève : AWS ouvre une région cloud au Maroc.", encoding="utf-8")
    assert rag("index", str(folder), index_dir=index_copy).returncode == 0
    result = rag("index", str(folder), "--optimize", index_dir=index_copy)
    assert result.returncode == 0, result.stderr
    assert "(none changed)" in result.stdout and "2 segments merged into one" in result.stdout
    manifest = json.loads((index_copy / "current" / "manifest.json").read_text())
    assert len(manifest["segments"]) == 1 and manifest["documents"] == 6
    search = rag("search", "région cloud Maroc", "-k", "1", "--json", index_dir=index_copy)
    assert json.loads(search.stdout)["hits"][0]["doc_id"] == "breve"


def test_pages_and_feeds_are_indexed_with_counts_per_format(indexed, tmp_path):
    _, index_dir = indexed
    index_copy = tmp_path / "index"
    shutil.copytree(index_dir, index_copy, symlinks=True)
    fixtures = Path(__file__).resolve().parent / "fixtures"
    result = rag("index", str(fixtures / "news"), str(fixtures / "exports"), index_dir=index_copy)
    assert result.returncode == 3, result.stderr
    lines = result.stdout.splitlines()
    assert "html: 4 read, 1 skipped, 4 indexed" in lines and "feed: 3 read, 1 skipped, 1 indexed" in lines
    assert "jsonl: 5 read, 2 skipped, 3 indexed" in lines
    assert "rubrique-cloud.html: no article found" in result.stderr and "line 3: not JSON" in result.stderr
    assert "rag: note:" in result.stderr and "le 3 novembre" in result.stderr and "Traceback" not in result.stderr
    search = rag("search", "Trainium NVIDIA puces", "-k", "1", "--json", index_dir=index_copy)
    hit = json.loads(search.stdout)["hits"][0]
    assert (hit["source"], hit["date"]) == ("Le Fil Tech", "2025-11-04")


def test_search_and_ask_take_date_and_outlet_filters(indexed):
    _, index_dir = indexed
    search = rag("search", "Amazon cloud", "--source", "techcrunch", "--json", index_dir=index_dir)
    assert search.returncode == 0 and {hit["doc_id"] for hit in json.loads(search.stdout)["hits"]} == {
        "000_127e0ac6955dbf7b"
    }
    ask = rag("ask", "How much is OpenAI paying AWS?", "--until", "2024", "--generator", "extractive", "--json",
              index_dir=index_dir)
    assert ask.returncode == 0 and json.loads(ask.stdout)["abstain_reason"] == "no_relevant_passage"
    plain = rag("search", "Amazon cloud", "-k", "1", "--source", "Techcrunch", index_dir=index_dir)
    assert "[000_127e0ac6955dbf7b]" in plain.stdout and "(Techcrunch)" in plain.stdout
    bad = rag("search", "cloud", "--since", "hier", index_dir=index_dir)
    assert bad.returncode == 1 and "since 'hier' is not a date" in bad.stderr and "Traceback" not in bad.stderr


def test_chat_answers_a_follow_up_from_the_thread(indexed, tmp_path):
    _, index_dir = indexed
    env = {**os.environ, "RAG_INDEX_DIR": str(index_dir), "RAG_CACHE_DIR": os.environ.get("RAG_CACHE_DIR", ""),
           "HF_HUB_OFFLINE": "1", "HOME": os.environ.get("HOME", str(tmp_path))}
    env = {name: value for name, value in env.items() if value}
    questions = "Combien OpenAI paie-t-il AWS ?\nEt sur combien d'années ?\n/new\nEt sur combien d'années ?\n?!\n"
    result = subprocess.run([sys.executable, "-m", "api.cli", "chat", "--generator", "extractive"], input=questions,
                            capture_output=True, text=True, env=env, timeout=600, check=False)
    assert result.returncode == 0, result.stderr
    answers = result.stdout.split("> ")[1:]  # one prompt per line read, and one that reads the end
    assert [bool(answer.strip()) for answer in answers] == [True, True, False, True, False, False], result.stdout
    assert OPENAI in answers[0] and "understood as" not in answers[0]
    assert "(understood as: Combien OpenAI paie-t-il AWS ? Et sur combien d'années ?)" in answers[1]
    assert "sept ans" in answers[1] and OPENAI in answers[1]
    assert "understood as" not in answers[3], "/new started a new thread"
    assert "rag: error: the question has no letters or digits" in result.stderr, "a bad question, not the end"


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip(path: Path, offset: int = 40, count: int = 8) -> None:
    raw = bytearray(path.read_bytes())
    raw[offset : offset + count] = bytes(byte ^ 0xFF for byte in raw[offset : offset + count])
    path.write_bytes(bytes(raw))


def _segment(live: Path) -> Path:
    """The live generation's (only) segment."""
    (name,) = json.loads((live / "manifest.json").read_text())["segments"]
    return live.parent.parent / "segments" / name


# Each damage is done to the live generation (or its segment) of a copy of the seed index.
DAMAGES = {
    "truncated vector file": lambda live: _truncate(_segment(live) / "embeddings.npy"),
    "garbage manifest": lambda live: (live / "manifest.json").write_bytes(b"\x00\xff{garbage"),
    "missing FAISS file": lambda live: (_segment(live) / "dense.faiss").unlink(),
    "flipped bytes in the BM25 vocabulary": lambda live: _flip(_segment(live) / "lexical_terms.json"),
    "flipped bytes in a BM25 array header": lambda live: _flip(_segment(live) / "lexical.npz", 20),
    "current names a deleted generation": lambda live: shutil.rmtree(live),
}
COMMANDS = {"search": ["search", "OpenAI AWS"], "serve": ["serve", "--host", "127.0.0.1", "--port", "0"]}


@pytest.fixture(scope="module")
def damaged_runs(seed_index_dir: Path, tmp_path_factory) -> dict[tuple[str, str], subprocess.CompletedProcess[str]]:
    """`rag search` and `rag serve` on each damaged index, all started at once (each loads the models)."""
    started = {}
    for damage, harm in DAMAGES.items():
        index_dir = tmp_path_factory.mktemp("damaged") / "index"
        shutil.copytree(seed_index_dir, index_dir, symlinks=True)
        harm((index_dir / "current").resolve())
        env = {**os.environ, "RAG_INDEX_DIR": str(index_dir), "RAG_GENERATOR": "extractive", "HF_HUB_OFFLINE": "1"}
        for command, args in COMMANDS.items():
            started[damage, command] = subprocess.Popen(
                [sys.executable, "-m", "api.cli", *args], env=env, text=True,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )
    runs = {}
    for key, process in started.items():
        try:
            stdout, stderr = process.communicate(timeout=600)
        except subprocess.TimeoutExpired:  # a server that started on a damaged index: the failure shows below
            process.kill()
            stdout, stderr = process.communicate()
        runs[key] = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    return runs


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_index_stops_the_command_with_the_rebuild_line(damaged_runs, damage: str, command: str) -> None:
    result = damaged_runs[damage, command]
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr  # one line: nothing else on stderr
    assert result.stderr.startswith("rag: error: ") and "rag index --rebuild" in result.stderr


def test_models_prepare_reports_the_ready_model_and_refuses_a_model_that_is_no_folder(tmp_path):
    ready = rag("models", "prepare", "--embedder-only", index_dir=tmp_path / "index")
    assert ready.returncode == 0, ready.stderr
    assert "Embedding model ready" in ready.stdout
    env = {**os.environ, "RAG_EMBEDDING_MODEL": "intfloat/multilingual-e5-small", "HF_HUB_OFFLINE": "1"}
    named = subprocess.run([sys.executable, "-m", "api.cli", "models", "prepare", "--embedder-only"],
                           capture_output=True, text=True, env=env, timeout=600, check=False)
    assert named.returncode != 0 and "is not a folder" in named.stderr and "Traceback" not in named.stderr
