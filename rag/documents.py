"""Article loading and cleaning: raw files become `Document`s whose `text` is the offset reference."""

from __future__ import annotations

import hashlib
import importlib
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePath

from rag.errors import InvalidInputError
from rag.metadata import field_text, iso_date, language_tag, web_url
from rag.sentences import split_sentences

TITLE_MAX_CHARS = 100
_HEADLINE_MAX_CHARS = 150
_SHARE_LINE_MAX_CHARS = 80
_DOC_ID = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_DATE_PREFIX = re.compile(r"date\s*:?\s*(\d{4}-\d{2}-\d{2})(?=\s|$)", re.IGNORECASE)
_SOURCE_LINE = re.compile(r"sources?\s*:\s*(\S.{0,99})", re.IGNORECASE)
_MARKDOWN_HEADING = re.compile(r"#{1,6}\s+(.+?)(?:\s+#+)?")
# Share bars scraped with the page: a line made only of these words, with one of _SHARE_KEYWORD.
_SHARE_LINE = re.compile(
    r"(?:(?:partager|partagez|share|imprimer|print|tweeter|tweet|facebook|twitter|linkedin|whatsapp"
    r"|pinterest|e-?mail|envoyer|copier le lien|copy link|cet article|this article|l['’]article"
    r"|sur|on|par|via|x)[\s,;:|/·•–-]*)+",
    re.IGNORECASE,
)
_SHARE_KEYWORD = re.compile(
    r"partag|share|imprim|print|tweet|facebook|twitter|linkedin|whatsapp|pinterest|mail|copi|copy",
    re.IGNORECASE,
)
_SENTENCE_END = ".!?…:;,"
_CLOSERS = "»”\"'’)] "
# Invisible characters that only get in the way of matching: C0/C1 controls (except whitespace,
# which the line handling normalises), the byte-order mark and zero-width spaces.
_INVISIBLE = {code: None for code in [*range(0x20), *range(0x7F, 0xA0), 0xFEFF, 0x200B] if not chr(code).isspace()}


@dataclass(frozen=True)
class Document:
    """A cleaned article. Every chunk and citation is `text[start:end]` of this exact string."""

    doc_id: str
    title: str
    text: str
    date: str | None = None  # ISO 8601 publication day, YYYY-MM-DD
    source: str | None = None  # the site or outlet
    url: str | None = None  # absolute http(s) URL of the article
    author: str | None = None
    language: str | None = None  # BCP 47 tag the publisher declared (`fr`, `en-GB`)


METADATA_FIELDS = ("title", "date", "source", "url", "author", "language")
_STRICT: dict[str, tuple[Callable[[str | None], str | None], str]] = {
    "date": (iso_date, "an ISO 8601 date such as 2025-11-05"),
    "url": (web_url, "an absolute http(s) URL"),
    "language": (language_tag, "a language tag such as fr or en-GB"),
}


def validate_doc_id(doc_id: str) -> str:
    """Return `doc_id` if it is safe in a URL path segment: 1-128 of letters, digits, `_-.`."""
    if not _DOC_ID.fullmatch(doc_id) or set(doc_id) == {"."}:
        raise InvalidInputError(f"invalid document id {doc_id!r}: use 1-128 ASCII letters, digits, '_', '-' or '.'")
    return doc_id


def text_doc_id(text: str) -> str:
    """A stable id for a text that came without one: the same text gets the same id."""
    return "doc-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def entry_doc_id(key: str) -> str:
    """A stable id for a feed entry or an exported record, from its link (or its feed id): the same
    article seen again, in the same feed, another feed or an export, gets the same id."""
    return "entry-" + hashlib.sha256(key.strip().encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class SkippedFile:
    """A file, or one entry or line of a file, that did not load; `reason` is the whole message, naming it.

    `doc_ids` are the documents it may have given before, kept as indexed; None when they cannot be
    known (a feed that does not parse, a line that is not JSON): then no file document is dropped.
    """

    path: Path
    reason: str
    doc_ids: tuple[str, ...] | None = None


@dataclass(frozen=True)
class FileContents:
    """What one file gave: its documents, the entries left out, and notes on what stayed unknown."""

    documents: list[Document]
    read: int  # entries read, duplicates included
    skipped: list[SkippedFile] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FormatCount:
    """Per format, for `rag index` to print: entries read, left out, and documents indexed."""

    format: str
    read: int
    skipped: int
    indexed: int


@dataclass(frozen=True)
class DocumentBatch:
    """What a set of paths gave: one bad file among many is reported, not fatal."""

    documents: list[Document]
    skipped: list[SkippedFile]
    notes: list[str] = field(default_factory=list)
    formats: tuple[FormatCount, ...] = ()


@dataclass(frozen=True)
class Format:
    """A kind of file and its reader, imported on first use (HTML and feed parsing load lxml)."""

    name: str
    suffixes: tuple[str, ...]
    entries: bool  # a file holds many documents, and an entry seen again updates the one read before
    reader: str  # "module:function", called as function(path, data) -> FileContents

    def read(self, path: Path, data: bytes) -> FileContents:
        """Read one file of this format from its bytes (`path` names it in messages)."""
        module, function = self.reader.split(":")
        read: Callable[[Path, bytes], FileContents] = getattr(importlib.import_module(module), function)
        return read(path, data)


FORMATS = (
    Format("text", (".txt", ".md"), False, "rag.documents:read_text"),
    Format("html", (".html", ".htm"), False, "rag.ingest.html:read_html"),
    Format("feed", (".xml", ".rss", ".atom"), True, "rag.ingest.feeds:read_feed"),
    Format("jsonl", (".jsonl",), True, "rag.ingest.jsonl:read_jsonl"),
)
ACCEPTED_SUFFIXES = tuple(suffix for kind in FORMATS for suffix in kind.suffixes)


def format_of(path: Path | PurePath) -> Format:
    """The format a file name's suffix says, or InvalidInputError naming the accepted ones."""
    suffix = path.suffix.lower()
    for kind in FORMATS:
        if suffix in kind.suffixes:
            return kind
    raise InvalidInputError(
        f"{path}: unsupported file type {path.suffix or '(none)'!r}; accepted types are {', '.join(ACCEPTED_SUFFIXES)}"
    )


def read_file(path: Path | PurePath, data: bytes) -> FileContents:
    """One file's documents from its bytes, read by the format its suffix names (uploads use this too)."""
    return format_of(path).read(Path(path), data)


def read_documents(paths: Sequence[Path]) -> DocumentBatch:
    """Load files and folders; a file that fails, or a document id two files give, is skipped and reported.

    Files are read in name order; an entry of a feed or export seen again (same id) replaces the one
    read before, so a later saved copy of a feed updates it. A missing path or a folder without any
    accepted file is a usage mistake and fails the call.
    """
    documents: dict[str, tuple[Path, Format, Document]] = {}
    skipped: list[SkippedFile] = []
    notes: list[str] = []
    read: Counter[str] = Counter()
    left_out: Counter[str] = Counter()
    for file in _files(paths):
        try:
            kind = format_of(file)
        except InvalidInputError as error:
            skipped.append(SkippedFile(file, str(error), ()))
            continue
        try:
            contents = kind.read(file, _read_bytes(file))
        except InvalidInputError as error:
            skipped.append(SkippedFile(file, str(error), None if kind.entries else (file.stem,)))
            left_out[kind.name] += 1
            continue
        read[kind.name] += contents.read
        left_out[kind.name] += len(contents.skipped)
        skipped.extend(contents.skipped)
        notes.extend(contents.notes)
        for document in contents.documents:
            seen = documents.get(document.doc_id)
            if seen is not None and not (seen[1].entries and kind.entries):
                reason = f"{file} and {seen[0]} both give document id {document.doc_id!r}; rename one of them"
                skipped.append(SkippedFile(file, reason, ()))
                left_out[kind.name] += 1
            else:
                documents[document.doc_id] = (file, kind, document)
    indexed = Counter(kind.name for _, kind, _ in documents.values())
    formats = tuple(
        FormatCount(kind.name, read[kind.name], left_out[kind.name], indexed[kind.name])
        for kind in FORMATS
        if read[kind.name] or left_out[kind.name]
    )
    return DocumentBatch([document for _, _, document in documents.values()], skipped, notes, formats)


def load_documents(paths: Sequence[Path]) -> list[Document]:
    """`read_documents` for callers that need every file: the first skipped file fails the call."""
    batch = read_documents(paths)
    if batch.skipped:
        raise InvalidInputError(batch.skipped[0].reason)
    return batch.documents


def _files(paths: Sequence[Path]) -> list[Path]:
    """The files named, and each folder's accepted files sorted by name (hidden ones left out)."""
    files: list[Path] = []
    for path in paths:
        _require_exists(path)
        if path.is_dir():
            found = sorted(
                child
                for child in path.iterdir()
                if child.is_file() and child.suffix.lower() in ACCEPTED_SUFFIXES and not child.name.startswith(".")
            )
            if not found:
                raise InvalidInputError(f"{path}: no {', '.join(ACCEPTED_SUFFIXES)} files in this folder")
            files.extend(found)
        else:
            files.append(path)
    return files


def _require_exists(path: Path) -> None:
    if not path.exists():
        raise InvalidInputError(f"{path}: no such file or folder")


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise InvalidInputError(f"{path}: cannot be read ({error.strerror})") from error


def load_document(path: Path) -> Document:
    """Read one UTF-8 `.txt`/`.md` article; its doc id is the file name without the suffix."""
    _require_exists(path)
    if format_of(path).name != "text":
        raise InvalidInputError(f"{path}: not a .txt or .md file")
    (document,) = read_text(path, _read_bytes(path)).documents
    return document


def read_text(path: Path, data: bytes) -> FileContents:
    """A UTF-8 `.txt`/`.md` article; its doc id is the file name without the suffix."""
    try:
        raw = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidInputError(
            f"{path}: not UTF-8 text (invalid byte at offset {error.start}); save it as UTF-8"
        ) from error
    doc_id = file_doc_id(path)
    try:
        return FileContents([parse_document(raw, doc_id)], read=1)
    except InvalidInputError as error:
        raise InvalidInputError(f"{path}: {error}") from error


def file_doc_id(path: Path) -> str:
    """The doc id of a one-article file: its name without the suffix, or an error saying to rename it."""
    try:
        return validate_doc_id(path.stem)
    except InvalidInputError as error:
        raise InvalidInputError(f"{path}: {error}; rename the file") from error


def override(document: Document, fields: Mapping[str, str]) -> Document:
    """`document` with the metadata (and doc id) given explicitly in place of what was read."""
    doc_id = validate_doc_id(fields.get("doc_id", document.doc_id))
    given = {name: value for name, value in checked_metadata(fields).items() if value is not None}
    return replace(document, doc_id=doc_id, **given)


def lenient_metadata(fields: Mapping[str, str | None], label: str, notes: list[str]) -> dict[str, str | None]:
    """The metadata among `fields` as file readers keep it: a date, URL or language that is not one
    stays unknown, and a note naming `label` says so (nothing is guessed)."""
    kept: dict[str, str | None] = {}
    for name in METADATA_FIELDS:
        value = field_text(fields.get(name))
        if value is not None and name in _STRICT:
            normalise, expected = _STRICT[name]
            if normalise(value) is None:
                notes.append(f"{label}: {name} {_shown(value)} is not {expected}; kept unknown")
            value = normalise(value)
        kept[name] = value
    return kept


def checked_metadata(fields: Mapping[str, str | None]) -> dict[str, str | None]:
    """The metadata among `fields`, normalised (None when absent or blank); a date, URL or language
    that is given but is not one is an InvalidInputError: an explicit value is never dropped quietly."""
    checked: dict[str, str | None] = {}
    for name in METADATA_FIELDS:
        value = field_text(fields.get(name))
        if value is not None and name in _STRICT:
            normalise, expected = _STRICT[name]
            if (value := normalise(value)) is None:
                raise InvalidInputError(f"{name} {_shown(fields[name])} is not {expected}")
        checked[name] = value
    return checked


def _shown(value: str | None) -> str:
    """A value quoted for a message, cut when long (never echo a huge field back)."""
    text = str(value)
    return repr(text if len(text) <= 60 else f"{text[:57]}...")


def parse_document(
    raw: str,
    doc_id: str,
    *,
    title: str | None = None,
    date: str | None = None,
    source: str | None = None,
    url: str | None = None,
    author: str | None = None,
    language: str | None = None,
) -> Document:
    """Clean scraped article text into a `Document`; explicit metadata wins over detection.

    An explicit date, URL or language that is not one (see `rag.metadata`) is an error: callers
    reading files leniently normalise them first and pass None for what they could not read.

    One line is one paragraph (a lower-case line right below one continues it: hard wrapping);
    paragraphs are joined with exactly "\\n\\n". Share-bar lines at either end are dropped, and a
    leading `date YYYY-MM-DD`, a leading headline or `# ` heading and a trailing `Source : X`
    line move out of the text into their fields. Wording (apostrophes included) is kept as is.
    """
    validate_doc_id(doc_id)
    given = checked_metadata(
        {"title": title, "date": date, "source": source, "url": url, "author": author, "language": language}
    )
    paragraphs = _paragraphs(raw)
    while paragraphs and _is_share_line(paragraphs[0]):
        paragraphs.pop(0)
    while paragraphs and _is_share_line(paragraphs[-1]):
        paragraphs.pop()
    detected_date = detected_source = detected_title = None
    if paragraphs and (match := _DATE_PREFIX.match(paragraphs[0])):
        detected_date = iso_date(match.group(1))
        paragraphs[0] = paragraphs[0][match.end() :].lstrip()
        if not paragraphs[0]:
            paragraphs.pop(0)
    if paragraphs and (match := _SOURCE_LINE.fullmatch(paragraphs[-1])):
        detected_source = match.group(1)
        paragraphs.pop()
    if paragraphs and (match := _MARKDOWN_HEADING.fullmatch(paragraphs[0])):
        detected_title = match.group(1)
        paragraphs.pop(0)
    elif len(paragraphs) > 1 and _is_headline(paragraphs[0], given["title"]):
        detected_title = paragraphs.pop(0)
    text = "\n\n".join(paragraphs)
    if not text:
        raise InvalidInputError(f"document {doc_id!r} has no text left after cleaning")
    if not any(char.isalnum() for char in text):
        raise InvalidInputError(f"document {doc_id!r} has no letters or digits: nothing in it can be searched")
    return Document(
        doc_id=doc_id,
        title=given["title"] or detected_title or _title_from(text),
        text=text,
        date=given["date"] or detected_date,
        source=given["source"] or detected_source,
        url=given["url"],
        author=given["author"],
        language=given["language"],
    )


def _paragraphs(raw: str) -> list[str]:
    """Non-empty lines, NFC, stripped, inner whitespace runs collapsed, wrapped lines re-joined.

    Only the line right below may continue a paragraph: a blank line always ends one, so a heading
    is never merged with a body that starts in lower case.
    """
    text = unicodedata.normalize("NFC", raw.translate(_INVISIBLE))
    paragraphs: list[str] = []
    previous = ""
    for line in text.splitlines():
        line = " ".join(line.split())
        if line and previous and line[0].islower() and paragraphs[-1][-1] not in ".!?…":
            paragraphs[-1] += " " + line
        elif line:
            paragraphs.append(line)
        previous = line
    return paragraphs


def _is_share_line(line: str) -> bool:
    return len(line) <= _SHARE_LINE_MAX_CHARS and bool(_SHARE_KEYWORD.search(line) and _SHARE_LINE.fullmatch(line))


def _is_headline(line: str, title: str | None) -> bool:
    """The given title repeated; with none given, a short line without sentence-final punctuation
    (closing quotes aside). With a title given, a short first line is a subheading: it stays."""
    if title is not None:
        return line == title
    return len(line) <= _HEADLINE_MAX_CHARS and line.rstrip(_CLOSERS)[-1:] not in ("", *_SENTENCE_END)


def _title_from(text: str) -> str:
    """The first sentence, cut on a word boundary to at most TITLE_MAX_CHARS with "…"."""
    start, end = split_sentences(text)[0]
    sentence = text[start:end]
    if len(sentence) <= TITLE_MAX_CHARS:
        return sentence
    head = sentence[: TITLE_MAX_CHARS - 1]
    if not sentence[TITLE_MAX_CHARS - 1].isspace() and " " in head:
        head = head[: head.rindex(" ")]
    return head.rstrip(" ,;:") + "…"
