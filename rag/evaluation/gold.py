"""The gold question set as frozen dataclasses, checked on load so a typo fails loudly, not as a score."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.answer_types import Turn
from rag.errors import InvalidInputError

LANGUAGES = ("fr", "en")
FOLLOW_UP = "follow_up"  # a question asked after earlier turns (`history`), answerable only with them
ANSWERABLE_CATEGORIES = ("fact", "list", "multi_doc", "paraphrase", "trap", "date", "stories", FOLLOW_UP)
UNANSWERABLE_CATEGORIES = ("near_miss", "off_topic")
CATEGORIES = ANSWERABLE_CATEGORIES + UNANSWERABLE_CATEGORIES


@dataclass(frozen=True)
class GoldSpan:
    """A sentence or clause stating a fact: `text == document(doc_id).text[start:end]`."""

    doc_id: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class GoldItem:
    """One question; each inner tuple of `facts` holds the acceptable forms of one required fact.

    A follow-up carries the turns it is asked after, and the entities its standalone rewrite must name.
    """

    id: str
    language: str
    question: str
    answerable: bool
    category: str
    facts: tuple[tuple[str, ...], ...]
    doc_ids: tuple[str, ...]
    evidence: tuple[GoldSpan, ...]
    notes: str | None = None
    history: tuple[Turn, ...] = ()
    standalone_entities: tuple[str, ...] = ()
    conflict: bool = False  # the right answer says the articles disagree (two values, both cited)
    min_sources: int | None = None  # the right answer's claim is reported by at least this many outlets


def load_gold(path: Path) -> list[GoldItem]:
    """Read and validate `gold.jsonl`; every problem found is listed in one InvalidInputError."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise InvalidInputError(f"cannot read the gold set {path}: {error.strerror}") from error
    items: list[GoldItem] = []
    problems: list[str] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            items.append(_item(json.loads(line)))
        except KeyError as error:
            problems.append(f"line {number}: missing field {error}")
        except (ValueError, TypeError, AttributeError) as error:
            problems.append(f"line {number}: {error}")
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            problems.append(f"duplicate id {item.id!r}")
        seen.add(item.id)
    if problems:
        raise InvalidInputError(f"invalid gold set {path}: " + "; ".join(problems))
    if not items:
        raise InvalidInputError(f"the gold set {path} holds no items")
    return items


def select_items(
    items: Sequence[GoldItem], ids: Sequence[str] = (), limit: int | None = None, categories: Sequence[str] = ()
) -> list[GoldItem]:
    """The items named in `ids` (in file order), or all of them, of `categories` if given; then the first `limit`."""
    chosen = [item for item in items if item.category in categories] if categories else list(items)
    if ids:
        known = {item.id for item in items}
        unknown = [item_id for item_id in ids if item_id not in known]
        if unknown:
            raise InvalidInputError(f"unknown gold ids: {', '.join(unknown)}")
        wanted = set(ids)
        chosen = [item for item in chosen if item.id in wanted]
    if limit is not None:
        if limit < 1:
            raise InvalidInputError(f"--limit must be at least 1, got {limit}")
        chosen = chosen[:limit]
    return chosen


def _item(raw: dict[str, Any]) -> GoldItem:
    item_id = _text(raw, "id")
    language = _text(raw, "language")
    if language not in LANGUAGES:
        raise ValueError(f"{item_id}: language must be fr or en, got {language!r}")
    category = _text(raw, "category")
    answerable = raw["answerable"]
    if not isinstance(answerable, bool):
        raise ValueError(f"{item_id}: answerable must be true or false")
    expected = ANSWERABLE_CATEGORIES if answerable else UNANSWERABLE_CATEGORIES
    if category not in expected:
        raise ValueError(f"{item_id}: category {category!r} is not one of {', '.join(expected)}")
    facts = tuple(tuple(str(form) for form in forms) for forms in raw["facts"])
    evidence = tuple(
        GoldSpan(str(span["doc_id"]), int(span["start"]), int(span["end"]), str(span["text"]))
        for span in raw["evidence"]
    )
    if answerable and not (facts and all(facts) and evidence):
        raise ValueError(f"{item_id}: an answerable item needs facts, each with a form, and evidence")
    if not answerable and (facts or evidence):
        raise ValueError(f"{item_id}: an unanswerable item has no facts and no evidence")
    for span in evidence:
        if not 0 <= span.start < span.end or span.end - span.start != len(span.text):
            raise ValueError(f"{item_id}: evidence offsets [{span.start}:{span.end}] do not fit its text")
    history = tuple(Turn(str(turn["question"]), str(turn["answer"])) for turn in raw.get("history", ()))
    entities = tuple(str(entity) for entity in raw.get("standalone_entities", ()))
    if (category == FOLLOW_UP) != bool(history and entities):
        raise ValueError(f"{item_id}: a {FOLLOW_UP} item, and only one, has a history and standalone_entities")
    notes = raw.get("notes")
    conflict, min_sources = raw.get("conflict", False), raw.get("min_sources")
    if not isinstance(conflict, bool):
        raise ValueError(f"{item_id}: conflict must be true or false")
    if min_sources is not None and (type(min_sources) is not int or min_sources < 2):
        raise ValueError(f"{item_id}: min_sources must be a whole number of at least 2")
    return GoldItem(
        id=item_id,
        language=language,
        question=_text(raw, "question"),
        answerable=answerable,
        category=category,
        facts=facts,
        doc_ids=tuple(str(doc_id) for doc_id in raw["doc_ids"]),
        evidence=evidence,
        notes=str(notes) if notes is not None else None,
        history=history,
        standalone_entities=entities,
        conflict=conflict,
        min_sources=min_sources,
    )


def _text(raw: dict[str, Any], key: str) -> str:
    value = raw[key]
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{key} must be a non-empty string, got {value!r}")
    return value
