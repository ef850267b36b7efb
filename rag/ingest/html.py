"""Saved web pages: the article's text and metadata without the page around it (trafilatura, htmldate).

trafilatura finds the main text and leaves out navigation, banners, share bars, related-article
boxes and comments; its metadata (title, author, site name, canonical URL) comes from `og:`, JSON-LD
and `<meta>` tags, and the date from htmldate restricted to the page's markup (`extensive_search`
off: a date is read from metadata, `<time>` or the URL, never guessed from a copyright line or the
text). Quality measured on tests/fixtures/news by `python bench/extraction.py`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import trafilatura
from lxml.html import HtmlElement
from trafilatura.settings import Document as ExtractedPage

from rag.documents import FileContents, file_doc_id, lenient_metadata, parse_document
from rag.errors import InvalidInputError
from rag.ingest.markup import decode_page

# trafilatura's options, chosen on tests/fixtures/news (`python bench/extraction.py`): tables off,
# since a layout table of an older site leaked its menu into the text and news tables read badly as
# text; the date is the publication's (not the last change), from the page's markup only.
EXTRACTION: dict[str, Any] = {
    "include_comments": False,
    "include_tables": False,
    "deduplicate": False,
    "date_extraction_params": {"extensive_search": False, "original_date": True},
}
_OPENS = re.compile(r"<html[\s>]", re.IGNORECASE)
_CLOSES = re.compile(r"</html\s*>", re.IGNORECASE)
_PROSE_CHARS = 80  # an article has at least one paragraph this long that ends as a sentence does
_SENTENCE_END = tuple(".!?…")
_CLOSERS = "»”\"'’) "
_TITLE_SEARCH_LINES = 4  # a kicker or a breadcrumb may come before the headline repeated in the text


def read_html(path: Path, data: bytes, *, options: Mapping[str, Any] = EXTRACTION) -> FileContents:
    """One article from a saved page; its doc id is the file name without the suffix.

    A page cut short, binary data or a page without an article (a section front, a list of links)
    is an InvalidInputError naming the file.
    """
    page = decode_page(path, data)
    if _OPENS.search(page) and not _CLOSES.search(page):
        raise InvalidInputError(f"{path}: the page is cut short (its <html> element never closes); save it again")
    doc_id = file_doc_id(path)
    tree = trafilatura.load_html(page)
    if tree is None:
        raise InvalidInputError(f"{path}: not an HTML page")
    language = _declared_language(tree)
    result = trafilatura.bare_extraction(tree, with_metadata=True, **options)
    found: dict[str, Any] = (result.as_dict() if isinstance(result, ExtractedPage) else result) or {}
    lines = _after_title(str(found.get("text") or "").splitlines(), found.get("title"))
    if not any(_is_prose(line) for line in lines):
        raise InvalidInputError(
            f"{path}: no article found in this page (a section front, a list of links or an empty page?)"
        )
    notes: list[str] = []
    fields = {
        "title": found.get("title"), "date": found.get("date"), "source": found.get("sitename"),
        "url": found.get("url"), "author": found.get("author"), "language": language,
    }
    metadata = lenient_metadata(fields, str(path), notes)
    try:
        document = parse_document("\n".join(lines), doc_id, **metadata)
    except InvalidInputError as error:
        raise InvalidInputError(f"{path}: {error}") from error
    return FileContents([document], read=1, notes=notes)


def _declared_language(tree: HtmlElement) -> str | None:
    """The language the page declares: `<html lang>`, else `Content-Language`, else `og:locale`."""
    root = tree.getroottree().getroot()
    for value in (
        root.get("lang"),
        *root.xpath("//meta[translate(@http-equiv,'CONTENTLAGU','contentlagu')='content-language']/@content"),
        *root.xpath("//meta[@property='og:locale']/@content"),
    ):
        if value and value.strip():
            return str(value)
    return None


def _after_title(lines: list[str], title: str | None) -> list[str]:
    """The text from after the headline when the extractor kept it (with a kicker before it)."""
    if title:
        wanted = " ".join(title.split())
        for number, line in enumerate(lines[:_TITLE_SEARCH_LINES]):
            if " ".join(line.split()) == wanted:
                return lines[number + 1 :]
    return lines


def _is_prose(line: str) -> bool:
    text = line.strip()
    return len(text) >= _PROSE_CHARS and text.rstrip(_CLOSERS).endswith(_SENTENCE_END)
