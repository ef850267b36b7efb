"""Build `eval/gold.jsonl` from the hand-written `eval/gold_source.jsonl` (or another set over other articles).

The source gives each piece of evidence as an exact quote of the cleaned article text
(`rag.documents.load_document(path).text`); this script resolves every quote to its character
offsets, checks the items, writes the gold set and prints its counts. Run from the repo root:

    .venv/bin/python eval/build_gold.py           # rebuild eval/gold.jsonl
    .venv/bin/python eval/build_gold.py --check   # fail if eval/gold.jsonl is out of date
    .venv/bin/python eval/build_gold.py --dates   # the date questions over the dated fixture articles
    .venv/bin/python eval/build_gold.py --stories # agreement between outlets, over the stories corpus

It exits non-zero, listing every problem, if a quote is missing or occurs more than once (lengthen
it), if an item is malformed, or if a required fact has no acceptable form in its evidence.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "eval" / "gold_source.jsonl"
OUTPUT = ROOT / "eval" / "gold.jsonl"
SEEDS = ROOT / "seeds"
# The date questions: over the seeds saved as dated pages and feeds, with briefs and an export.
DATES_SOURCE = ROOT / "eval" / "gold_dates_source.jsonl"
DATES_OUTPUT = ROOT / "eval" / "gold_dates.jsonl"
DATED_ARTICLES = [ROOT / "tests" / "fixtures" / name for name in ("news", "feeds", "exports")]
# Agreement between outlets: the seeds as several outlets published them (eval/build_stories.py).
STORIES_SOURCE = ROOT / "eval" / "gold_stories_source.jsonl"
STORIES_OUTPUT = ROOT / "eval" / "gold_stories.jsonl"
STORIES = [ROOT / "tests" / "fixtures" / "stories"]

sys.path.insert(0, str(ROOT))
from rag.documents import Document, read_documents  # noqa: E402
from rag.evaluation.gold import ANSWERABLE_CATEGORIES, CATEGORIES, FOLLOW_UP  # noqa: E402
from rag.language import LANGUAGES  # noqa: E402
from rag.rendering import as_of  # noqa: E402
from rag.textnorm import fold  # noqa: E402

REQUIRED_KEYS = ("id", "language", "question", "answerable", "category", "facts", "doc_ids", "evidence")
OPTIONAL_KEYS = ("notes", "history", "standalone_entities", "conflict", "min_sources")
_ID = re.compile(r"(fr|en)-\d{3}")


class GoldError(Exception):
    """A problem in the source file; the message names the item and says what to fix."""


def resolve_quote(document: Document, quote: str) -> tuple[int, int]:
    """(start, end) of the one occurrence of `quote` in the document text; error if 0 or several."""
    start = document.text.find(quote)
    if start < 0:
        raise GoldError(f"quote not found in {document.doc_id}: {quote!r}")
    if document.text.find(quote, start + 1) >= 0:
        raise GoldError(f"quote occurs more than once in {document.doc_id}, lengthen it: {quote!r}")
    return start, start + len(quote)


def build_item(raw: dict[str, Any], documents: dict[str, Document]) -> dict[str, Any]:
    """Check one source item and return it with its evidence quotes resolved to offsets."""
    unknown = set(raw) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS)
    missing = [key for key in REQUIRED_KEYS if key not in raw]
    if unknown or missing:
        raise GoldError(f"unknown keys {sorted(unknown)}, missing keys {missing}")
    item_id, language, category = raw["id"], raw["language"], raw["category"]
    if not isinstance(item_id, str) or not _ID.fullmatch(item_id) or not item_id.startswith(f"{language}-"):
        raise GoldError(f"id {item_id!r} must look like '{language}-001' (its language, then 3 digits)")
    if language not in LANGUAGES:
        raise GoldError(f"language {language!r} must be one of {LANGUAGES}")
    if not isinstance(raw["question"], str) or not raw["question"].strip():
        raise GoldError("empty question")
    if category not in CATEGORIES:
        raise GoldError(f"category {category!r} must be one of {CATEGORIES}")
    answerable = raw["answerable"]
    if answerable is not (category in ANSWERABLE_CATEGORIES):
        raise GoldError(f"answerable={answerable!r} does not fit category {category!r}")
    facts = raw["facts"]
    if not isinstance(facts, list) or not all(
        isinstance(forms, list) and forms and all(isinstance(form, str) and form.strip() for form in forms)
        for forms in facts
    ):
        raise GoldError("facts must be a list of non-empty lists of non-empty strings")
    doc_ids = raw["doc_ids"]
    if not isinstance(doc_ids, list) or len(set(doc_ids)) != len(doc_ids):
        raise GoldError(f"doc_ids must be a list without repeats, got {doc_ids!r}")
    if unknown_docs := [doc_id for doc_id in doc_ids if doc_id not in documents]:
        raise GoldError(f"unknown doc_ids {unknown_docs}; known: {sorted(documents)}")

    evidence: list[dict[str, Any]] = []
    texts: list[str] = []
    for entry in raw["evidence"]:
        if set(entry) != {"doc_id", "quote"}:
            raise GoldError(f"evidence entries need exactly 'doc_id' and 'quote', got {sorted(entry)}")
        if entry["doc_id"] not in doc_ids:
            raise GoldError(f"evidence doc_id {entry['doc_id']!r} is not in doc_ids {doc_ids}")
        document = documents[entry["doc_id"]]
        start, end = resolve_quote(document, entry["quote"])
        texts.append(document.text[start:end])
        evidence.append({"doc_id": document.doc_id, "start": start, "end": end, "text": texts[-1]})

    if answerable:
        if not facts or not evidence:
            raise GoldError("an answerable item needs at least one fact and one piece of evidence")
        if uncited := sorted(set(doc_ids) - {entry["doc_id"] for entry in evidence}):
            raise GoldError(f"doc_ids {uncited} have no evidence; quote them or drop them")
        # A date fact may come from an article's date, which an answer states as "As of <date>, …".
        days = {day for entry in evidence if (day := documents[entry["doc_id"]].date) is not None}
        supporting = fold(" ".join(texts + [as_of("", day, lang) for day in days for lang in LANGUAGES]))
        for forms in facts:
            if not any(fold(form) in supporting for form in forms):
                raise GoldError(f"no form of fact {forms} appears in the evidence; add the article's wording")
    elif facts or doc_ids or evidence:
        raise GoldError("an unanswerable item has empty facts, doc_ids and evidence")

    _check_follow_up(raw)
    item = {key: raw[key] for key in REQUIRED_KEYS if key != "evidence"}
    item["evidence"] = evidence
    for key in OPTIONAL_KEYS:
        if raw.get(key):
            item[key] = raw[key]
    return item


def _check_follow_up(raw: dict[str, Any]) -> None:
    """A follow-up, and only one, has the turns it follows and the entities its rewrite must name."""
    history, entities = raw.get("history"), raw.get("standalone_entities")
    if raw["category"] != FOLLOW_UP:
        if history or entities:
            raise GoldError(f"only a {FOLLOW_UP} item has history or standalone_entities")
        return
    if not isinstance(history, list) or not history or not all(
        isinstance(turn, dict) and set(turn) == {"question", "answer"} and all(
            isinstance(value, str) and value.strip() for value in turn.values()
        )
        for turn in history
    ):
        raise GoldError("history must be a non-empty list of {question, answer} with non-empty strings")
    if not isinstance(entities, list) or not entities or not all(isinstance(e, str) and e.strip() for e in entities):
        raise GoldError("standalone_entities must be a non-empty list of strings")


def build(source: Path, documents: dict[str, Document]) -> tuple[list[dict[str, Any]], list[str]]:
    """All items that check out, and one message per problem found in `source`."""
    items: list[dict[str, Any]] = []
    errors: list[str] = []
    seen: set[str] = set()
    for line_number, line in enumerate(source.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{source.name}:{line_number}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as error:
            errors.append(f"{where}: invalid JSON ({error})")
            continue
        where += f" ({raw.get('id')})"
        if raw.get("id") in seen:
            errors.append(f"{where}: duplicate id")
            continue
        seen.add(raw.get("id"))
        try:
            items.append(build_item(raw, documents))
        except GoldError as error:
            errors.append(f"{where}: {error}")
    return items, errors


def render(items: list[dict[str, Any]]) -> str:
    """The gold file: one JSON object per line, French kept readable."""
    return "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items)


def report(items: list[dict[str, Any]], documents: dict[str, Document]) -> str:
    """Counts per language, category and document, as printed after a build."""
    by_language = Counter(item["language"] for item in items)
    by_category = Counter((item["category"], item["language"]) for item in items)
    lines = [f"{len(items)} items: " + ", ".join(f"{lang} {by_language[lang]}" for lang in LANGUAGES)]
    lines.append(f"{'category':<12}{'fr':>5}{'en':>5}{'all':>5}")
    for category in CATEGORIES:
        counts = [by_category[(category, lang)] for lang in LANGUAGES]
        lines.append(f"{category:<12}" + "".join(f"{count:>5}" for count in counts) + f"{sum(counts):>5}")
    unanswerable = sum(not item["answerable"] for item in items)
    lines.append(f"answerable {len(items) - unanswerable}, unanswerable {unanswerable}")
    lines.append("answerable items citing each document (single-document / multi-document):")
    for doc_id in documents:
        citing = [item for item in items if doc_id in item["doc_ids"]]
        multi = sum(len(item["doc_ids"]) > 1 for item in citing)
        lines.append(f"  {doc_id}  {len(citing):>3} ({len(citing) - multi} / {multi})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Build (or with --check, verify) the gold set; 0 when all is well, 1 on any problem."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify the gold set is up to date; write nothing")
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument("--dates", action="store_true", help="build eval/gold_dates.jsonl over the dated fixtures")
    chosen.add_argument("--stories", action="store_true", help="build eval/gold_stories.jsonl over the stories corpus")
    args = parser.parse_args(argv)
    source, output, corpus = (
        (DATES_SOURCE, DATES_OUTPUT, DATED_ARTICLES) if args.dates
        else (STORIES_SOURCE, STORIES_OUTPUT, STORIES) if args.stories
        else (SOURCE, OUTPUT, [SEEDS])
    )
    # The fixtures hold deliberately bad files and entries too: what loads is the corpus.
    documents = {document.doc_id: document for document in read_documents(corpus).documents}
    items, errors = build(source, documents)
    if errors:
        sys.stderr.write(f"{len(errors)} problem(s) in {source.relative_to(ROOT)}:\n")
        sys.stderr.writelines(f"  {error}\n" for error in errors)
        return 1
    text = render(items)
    if args.check:
        current = output.read_text(encoding="utf-8") if output.exists() else ""
        if current != text:
            flag = " --dates" if args.dates else " --stories" if args.stories else ""
            sys.stderr.write(f"{output.relative_to(ROOT)} is out of date: run python eval/build_gold.py{flag}\n")
            return 1
    else:
        output.write_text(text, encoding="utf-8")
    sys.stdout.write(report(items, documents) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
