"""JSON Lines exports of news APIs and CMSs: one article a line, a bad line reported and skipped.

Each line is `{"id"?, "title"?, "text", "date"?, "source"?, "url"?, "author"?, "language"?}`; other
keys are ignored. Without an id, a record is known by its URL (the id a feed entry with that link
gets), else by a hash of its text. A line seen again with the same id replaces the earlier one.
"""

from __future__ import annotations

import codecs
import json
from pathlib import Path

from rag.documents import (
    METADATA_FIELDS,
    Document,
    FileContents,
    SkippedFile,
    entry_doc_id,
    lenient_metadata,
    parse_document,
    text_doc_id,
    validate_doc_id,
)
from rag.errors import InvalidInputError
from rag.metadata import web_url

_STRING_FIELDS = ("id", "text", *METADATA_FIELDS)


def read_jsonl(path: Path, data: bytes) -> FileContents:
    """The records of one export; a file with no record at all is an InvalidInputError naming it."""
    data = data.removeprefix(codecs.BOM_UTF8)
    documents: dict[str, Document] = {}
    skipped: list[SkippedFile] = []
    notes: list[str] = []
    records = 0
    for number, raw in enumerate(data.split(b"\n"), 1):
        if not raw.strip():
            continue
        records += 1
        label = f"{path}: line {number}"
        try:
            document = _record(raw, label, notes)
        except _BadLine as bad:
            skipped.append(SkippedFile(path, f"{label}: {bad.reason}; line left out", bad.doc_ids))
            continue
        documents[document.doc_id] = document
    if not records:
        raise InvalidInputError(f"{path}: no records (JSON Lines: one JSON object a line)")
    return FileContents(list(documents.values()), read=records, skipped=skipped, notes=notes)


class _BadLine(Exception):
    def __init__(self, reason: str, doc_ids: tuple[str, ...] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.doc_ids = doc_ids


def _record(raw: bytes, label: str, notes: list[str]) -> Document:
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _BadLine(f"not UTF-8 (invalid byte at column {error.start + 1})") from None
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise _BadLine(f"not JSON ({error.msg}, column {error.colno})") from None
    if not isinstance(record, dict):
        raise _BadLine(f"a JSON {type(record).__name__}, not an object")
    wrong = [key for key in _STRING_FIELDS if record.get(key) is not None and not isinstance(record[key], str)]
    if wrong:
        raise _BadLine(f"{wrong[0]!r} must be a string")
    try:
        given = validate_doc_id(record["id"]) if record.get("id") else None
    except InvalidInputError as error:
        raise _BadLine(str(error)) from None
    text = record.get("text")
    if not text or not text.strip():
        raise _BadLine('no "text"', (given,) if given else None)
    url = web_url(record.get("url"))
    doc_id = given or (entry_doc_id(url) if url else text_doc_id(text))
    try:
        return parse_document(text, doc_id, **lenient_metadata(record, label, notes))
    except InvalidInputError as error:
        raise _BadLine(str(error), (doc_id,)) from None
