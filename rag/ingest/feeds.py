"""RSS 2.0 and Atom feeds (feedparser): each entry becomes a document, identified by its link.

An entry's text is its full content (`content:encoded`, Atom `content`) when the feed carries it,
else its summary; HTML inside is turned into text by `fragment_text`, then cleaned by
`parse_document` like every format. The same article seen twice in a feed (same id or same link) is
kept once, in its latest version (by `updated`, else `published`).
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any

import feedparser

from rag.documents import FileContents, SkippedFile, entry_doc_id, lenient_metadata, parse_document
from rag.errors import InvalidInputError
from rag.ingest.markup import fragment_text
from rag.metadata import field_text, iso_date, web_url

_HTML_TYPES = ("text/html", "application/xhtml+xml")
_SHOWN_CHARS = 60


def read_feed(path: Path, data: bytes) -> FileContents:
    """The entries of one feed file; a file that is not a feed is an InvalidInputError naming it."""
    # Bytes, never a string: feedparser would fetch a string that looks like a URL.
    parsed = feedparser.parse(data, sanitize_html=True, resolve_relative_uris=True)
    if not parsed.get("version"):
        problem = parsed.get("bozo_exception")
        why = f" ({_short(str(problem))})" if problem else ""
        raise InvalidInputError(f"{path}: not an RSS or Atom feed{why}")
    if not parsed.entries:
        raise InvalidInputError(f"{path}: the feed has no entries")
    notes: list[str] = []
    if parsed.get("bozo") and not isinstance(parsed.get("bozo_exception"), feedparser.CharacterEncodingOverride):
        notes.append(f"{path}: not well-formed XML ({_short(str(parsed.bozo_exception))}); entries read leniently")
    feed = parsed.feed
    chosen: dict[str, tuple[tuple[int, ...], Any]] = {}  # doc id -> (version stamp, document)
    by_entry_id: dict[str, str] = {}
    skipped: list[SkippedFile] = []
    for number, entry in enumerate(parsed.entries, 1):
        title = _text(entry.get("title_detail")) or field_text(entry.get("title"))
        label = f"{path}: entry {number}" + (f" ({_short(title)!r})" if title else "")
        link = web_url(entry.get("link"))
        entry_id = field_text(entry.get("id"))
        if link is None and entry_id is None:
            skipped.append(SkippedFile(path, f"{label}: has no link and no id to know it by; left out", None))
            continue
        doc_id = by_entry_id.get(entry_id or "") or entry_doc_id(link or entry_id or "")
        if entry_id is not None:
            by_entry_id.setdefault(entry_id, doc_id)
        fields = {
            "title": title,
            "date": _day(entry),
            "source": field_text((entry.get("source") or {}).get("title")) or field_text(feed.get("title")),
            "url": link or entry.get("link"),
            "author": field_text((entry.get("author_detail") or {}).get("name")) or field_text(entry.get("author")),
            "language": _language(entry) or feed.get("language"),
        }
        try:
            document = parse_document(_body(entry), doc_id, **lenient_metadata(fields, label, notes))
        except InvalidInputError as error:
            skipped.append(SkippedFile(path, f"{label}: {error}; left out", (doc_id,)))
            continue
        stamp = _stamp(entry)
        if doc_id not in chosen or stamp >= chosen[doc_id][0]:
            chosen[doc_id] = (stamp, document)
    return FileContents(
        [document for _, document in chosen.values()], read=len(parsed.entries), skipped=skipped, notes=notes
    )


def _body(entry: Any) -> str:
    """The entry's full content when there is one, else its summary, as text."""
    contents = [item for item in entry.get("content") or [] if item.get("value")]
    if contents:
        return _text(max(contents, key=lambda item: len(item["value"]))) or ""
    return _text(entry.get("summary_detail")) or field_text(entry.get("summary")) or ""


def _text(detail: Any) -> str | None:
    """A feedparser text construct as plain text (HTML ones through `fragment_text`)."""
    if not detail or not detail.get("value"):
        return None
    value = str(detail["value"])
    return fragment_text(value) if detail.get("type") in _HTML_TYPES else value


def _language(entry: Any) -> str | None:
    for key in ("content", "summary_detail", "title_detail"):
        details = entry.get(key)
        for detail in details if isinstance(details, list) else [details]:
            if detail and detail.get("language"):
                return str(detail["language"])
    return None


def _day(entry: Any) -> str | None:
    """The publication day (`published`, else `updated` when the feed gives no other): as written,
    else as feedparser read a format of its own (in UTC), else the raw value, which is then noted
    as unknown; never the other date in place of an unreadable one."""
    key = "published" if entry.get("published") else "updated"
    raw, parsed = entry.get(key), entry.get(f"{key}_parsed")
    return iso_date(raw) or (date(*parsed[:3]).isoformat() if parsed else raw)


def _stamp(entry: Any) -> tuple[int, ...]:
    """When this version of the entry was written, for keeping the latest; () when unknown."""
    parsed: time.struct_time | None = entry.get("updated_parsed") or entry.get("published_parsed")
    return tuple(parsed[:6]) if parsed else ()


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _SHOWN_CHARS else f"{text[: _SHOWN_CHARS - 1]}…"
