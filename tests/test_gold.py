"""The gold question set stays true: its offsets still point at its evidence in the cleaned seeds.

A change to parsing that moves or rewrites article text fails here instead of silently skewing
every evaluation; fix it by re-running `python eval/build_gold.py` (quotes are re-resolved).
"""

from __future__ import annotations

import json
import subprocess
import sys
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from rag.documents import Document, load_documents
from rag.language import detect_language

ROOT = Path(__file__).resolve().parent.parent
GOLD = ROOT / "eval" / "gold.jsonl"
SOURCE = ROOT / "eval" / "gold_source.jsonl"
SEEDS = ROOT / "seeds"
ANSWERABLE_CATEGORIES = {"fact", "list", "multi_doc", "paraphrase", "trap", "follow_up"}
UNANSWERABLE_CATEGORIES = {"near_miss", "off_topic"}


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


ITEMS = _read_jsonl(GOLD)
ANSWERABLE = [item for item in ITEMS if item["answerable"]]


def _normalize(text: str) -> str:
    """Case- and accent-insensitive, ’ read as ', non-breaking spaces read as spaces."""
    text = text.replace("\u2019", "'").replace("\u00a0", " ").replace("\u202f", " ").lower()
    return "".join(char for char in unicodedata.normalize("NFKD", text) if not unicodedata.combining(char))


@pytest.fixture(scope="module")
def documents() -> dict[str, Document]:
    return {document.doc_id: document for document in load_documents([SEEDS])}


def test_size_and_unique_ids() -> None:
    assert len(ITEMS) >= 60
    ids = [item["id"] for item in ITEMS]
    assert [item_id for item_id, count in Counter(ids).items() if count > 1] == []
    assert all(item["id"].startswith(f"{item['language']}-") for item in ITEMS)


def test_both_languages_are_well_represented() -> None:
    languages = Counter(item["language"] for item in ITEMS)
    assert set(languages) == {"fr", "en"}
    for language in ("fr", "en"):
        assert languages[language] >= 0.4 * len(ITEMS), languages


def test_every_seed_is_covered_by_answerable_items(documents: dict[str, Document]) -> None:
    cited = Counter(doc_id for item in ANSWERABLE for doc_id in {entry["doc_id"] for entry in item["evidence"]})
    assert {doc_id: cited[doc_id] for doc_id in documents if cited[doc_id] < 8} == {}


def test_follow_ups_cover_both_languages_and_a_language_switch() -> None:
    follow_ups = [item for item in ITEMS if item["category"] == "follow_up"]
    assert len(follow_ups) >= 10
    assert {item["language"] for item in follow_ups} == {"fr", "en"}
    switched = [item for item in follow_ups if any(
        detect_language(turn["question"]) != item["language"] for turn in item["history"])]
    assert switched, "a thread switches language"
    for item in follow_ups:
        assert item["history"] and all(turn["question"].strip() and turn["answer"].strip() for turn in item["history"])
        assert item["standalone_entities"]
    assert all("history" not in item for item in ITEMS if item["category"] != "follow_up")


def test_enough_unanswerable_items_including_near_misses() -> None:
    unanswerable = [item for item in ITEMS if not item["answerable"]]
    assert len(unanswerable) >= 10
    assert sum(item["category"] == "near_miss" for item in unanswerable) >= 6


@pytest.mark.parametrize("item", ITEMS, ids=[item["id"] for item in ITEMS])
def test_item_shape(item: dict[str, Any], documents: dict[str, Document]) -> None:
    assert item["language"] in {"fr", "en"}
    assert item["question"].strip()
    if item["answerable"]:
        assert item["category"] in ANSWERABLE_CATEGORIES
        assert item["facts"] and all(forms and all(form.strip() for form in forms) for forms in item["facts"])
        assert item["evidence"]
        assert {entry["doc_id"] for entry in item["evidence"]} <= set(item["doc_ids"])
        assert set(item["doc_ids"]) <= set(documents)
    else:
        assert item["category"] in UNANSWERABLE_CATEGORIES
        assert item["facts"] == [] and item["evidence"] == []


@pytest.mark.parametrize("item", ANSWERABLE, ids=[item["id"] for item in ANSWERABLE])
def test_evidence_offsets_point_at_the_text(item: dict[str, Any], documents: dict[str, Document]) -> None:
    for entry in item["evidence"]:
        text = documents[entry["doc_id"]].text
        assert 0 <= entry["start"] < entry["end"] <= len(text)
        assert text[entry["start"] : entry["end"]] == entry["text"]


@pytest.mark.parametrize("item", ANSWERABLE, ids=[item["id"] for item in ANSWERABLE])
def test_every_fact_is_stated_in_the_evidence(item: dict[str, Any]) -> None:
    supporting = _normalize(" ".join(entry["text"] for entry in item["evidence"]))
    missing = [forms for forms in item["facts"] if not any(_normalize(form) in supporting for form in forms)]
    assert missing == []


def test_gold_is_built_from_the_current_source() -> None:
    """gold.jsonl is gold_source.jsonl with each quote resolved: edit the source, then rebuild."""
    source = _read_jsonl(SOURCE)
    assert [item["id"] for item in source] == [item["id"] for item in ITEMS]
    for authored, built in zip(source, ITEMS, strict=True):
        quotes = [(entry["doc_id"], entry["quote"]) for entry in authored["evidence"]]
        assert quotes == [(entry["doc_id"], entry["text"]) for entry in built["evidence"]], built["id"]
        assert {k: v for k, v in authored.items() if k != "evidence"} == {
            k: v for k, v in built.items() if k != "evidence"
        }, built["id"]


@pytest.mark.parametrize(
    "command",
    [["eval/build_stories.py", "--check"], ["eval/build_gold.py", "--stories", "--check"]],
    ids=["stories corpus", "stories gold"],
)
def test_the_stories_corpus_and_its_gold_are_built_from_their_sources(command: list[str]) -> None:
    """The stories corpus is the seeds as eval/build_stories.py edits them; its gold resolves against it."""
    built = subprocess.run([sys.executable, *command], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
