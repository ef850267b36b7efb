"""Article loading and cleaning: raw files become `Document`s whose `text` is the offset reference."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.errors import InvalidInputError
from rag.sentences import split_sentences

ACCEPTED_SUFFIXES = (".txt", ".md")
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
    date: str | None = None
    source: str | None = None


def validate_doc_id(doc_id: str) -> str:
    """Return `doc_id` if it is safe in a URL path segment: 1-128 of letters, digits, `_-.`."""
    if not _DOC_ID.fullmatch(doc_id) or set(doc_id) == {"."}:
        raise InvalidInputError(f"invalid document id {doc_id!r}: use 1-128 ASCII letters, digits, '_', '-' or '.'")
    return doc_id


@dataclass(frozen=True)
class SkippedFile:
    """A file that did not load; `reason` is the whole message, naming the file like every error here."""

    path: Path
    reason: str


@dataclass(frozen=True)
class DocumentBatch:
    """What a set of paths gave: one bad file among many is reported, not fatal."""

    documents: list[Document]
    skipped: list[SkippedFile]


def read_documents(paths: Sequence[Path]) -> DocumentBatch:
    """Load files and folders, skipping each file that fails or repeats an earlier doc id.

    A missing path or a folder with no `.txt`/`.md` file is a usage mistake and fails the call.
    """
    documents: dict[str, tuple[Path, Document]] = {}
    skipped: list[SkippedFile] = []
    for file in _files(paths):
        try:
            document = load_document(file)
        except InvalidInputError as error:
            skipped.append(SkippedFile(file, str(error)))
            continue
        if document.doc_id in documents:
            first = documents[document.doc_id][0]
            reason = f"{file} and {first} both give document id {document.doc_id!r}; rename one of them"
            skipped.append(SkippedFile(file, reason))
        else:
            documents[document.doc_id] = (file, document)
    return DocumentBatch([document for _, document in documents.values()], skipped)


def load_documents(paths: Sequence[Path]) -> list[Document]:
    """`read_documents` for callers that need every file: the first skipped file fails the call."""
    batch = read_documents(paths)
    if batch.skipped:
        raise InvalidInputError(batch.skipped[0].reason)
    return batch.documents


def _files(paths: Sequence[Path]) -> list[Path]:
    """The files named, and each folder's `.txt`/`.md` files sorted by name (hidden ones left out)."""
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
                raise InvalidInputError(f"{path}: no {' or '.join(ACCEPTED_SUFFIXES)} files in this folder")
            files.extend(found)
        else:
            files.append(path)
    return files


def _require_exists(path: Path) -> None:
    if not path.exists():
        raise InvalidInputError(f"{path}: no such file or folder")


def load_document(path: Path) -> Document:
    """Read one UTF-8 `.txt`/`.md` article; its doc id is the file name without the suffix."""
    _require_exists(path)
    if path.suffix.lower() not in ACCEPTED_SUFFIXES:
        raise InvalidInputError(
            f"{path}: unsupported file type {path.suffix or '(none)'!r}; "
            f"accepted types are {', '.join(ACCEPTED_SUFFIXES)}"
        )
    try:
        raw = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidInputError(
            f"{path}: not UTF-8 text (invalid byte at offset {error.start}); save it as UTF-8"
        ) from error
    except OSError as error:
        raise InvalidInputError(f"{path}: cannot be read ({error.strerror})") from error
    try:
        doc_id = validate_doc_id(path.stem)
    except InvalidInputError as error:
        raise InvalidInputError(f"{path}: {error}; rename the file") from error
    try:
        return parse_document(raw, doc_id)
    except InvalidInputError as error:
        raise InvalidInputError(f"{path}: {error}") from error


def parse_document(
    raw: str,
    doc_id: str,
    *,
    title: str | None = None,
    date: str | None = None,
    source: str | None = None,
) -> Document:
    """Clean scraped article text into a `Document`; explicit title/date/source win over detection.

    One line is one paragraph (a lower-case line right below one continues it: hard wrapping);
    paragraphs are joined with exactly "\\n\\n". Share-bar lines at either end are dropped, and a
    leading `date YYYY-MM-DD`, a leading headline or `# ` heading and a trailing `Source : X`
    line move out of the text into their fields. Wording (apostrophes included) is kept as is.
    """
    validate_doc_id(doc_id)
    paragraphs = _paragraphs(raw)
    while paragraphs and _is_share_line(paragraphs[0]):
        paragraphs.pop(0)
    while paragraphs and _is_share_line(paragraphs[-1]):
        paragraphs.pop()
    detected_date = detected_source = detected_title = None
    if paragraphs and (match := _DATE_PREFIX.match(paragraphs[0])):
        detected_date = match.group(1)
        paragraphs[0] = paragraphs[0][match.end() :].lstrip()
        if not paragraphs[0]:
            paragraphs.pop(0)
    if paragraphs and (match := _SOURCE_LINE.fullmatch(paragraphs[-1])):
        detected_source = match.group(1)
        paragraphs.pop()
    if paragraphs and (match := _MARKDOWN_HEADING.fullmatch(paragraphs[0])):
        detected_title = match.group(1)
        paragraphs.pop(0)
    elif len(paragraphs) > 1 and _is_headline(paragraphs[0]):
        detected_title = paragraphs.pop(0)
    text = "\n\n".join(paragraphs)
    if not text:
        raise InvalidInputError(f"document {doc_id!r} has no text left after cleaning")
    if not any(char.isalnum() for char in text):
        raise InvalidInputError(f"document {doc_id!r} has no letters or digits: nothing in it can be searched")
    return Document(
        doc_id=doc_id,
        title=_explicit(title) or detected_title or _title_from(text),
        text=text,
        date=_explicit(date) or detected_date,
        source=_explicit(source) or detected_source,
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


def _is_headline(line: str) -> bool:
    """A short first line without sentence-final punctuation (closing quotes aside)."""
    return len(line) <= _HEADLINE_MAX_CHARS and line.rstrip(_CLOSERS)[-1:] not in ("", *_SENTENCE_END)


def _explicit(value: str | None) -> str | None:
    cleaned = " ".join(unicodedata.normalize("NFC", value).split()) if value is not None else ""
    return cleaned or None


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
