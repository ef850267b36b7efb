"""HTML as bytes or fragments: decoding a saved page the way browsers do, and a fragment's text."""

from __future__ import annotations

import codecs
import re
from pathlib import Path

import lxml.html
from lxml import etree

from rag.errors import InvalidInputError

_SNIFF_BYTES = 8192
# A <meta charset=...> or <meta http-equiv="Content-Type" content="text/html; charset=...">.
_DECLARED = re.compile(rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9_:.-]+)""", re.IGNORECASE)
# Browsers read these labels as Windows-1252 (the WHATWG Encoding standard), and so do we.
_WINDOWS_1252 = {"iso8859-1", "ascii", "cp1252"}
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_CONTROL = frozenset(range(0x20)) - {0x09, 0x0A, 0x0C, 0x0D, 0x1B}
_DROPPED = ("script", "style", "noscript", "template", "iframe", "form", "button", "figure", "nav", "aside")
_BLOCKS = frozenset({
    "p", "div", "section", "article", "header", "footer", "main", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul",
    "ol", "dl", "dt", "dd", "blockquote", "pre", "table", "tr", "hr", "address", "details", "summary",
})
# The line WordPress and its French translation append to every feed entry.
_FEED_FOOTER = re.compile(r"(?:The post .+ appeared first on .+|L[’']article .+ est apparu en premier sur .+)\.?")


def looks_binary(data: bytes) -> bool:
    """NUL bytes or many control characters near the start: an image, a PDF, an archive, not text."""
    head = data[:_SNIFF_BYTES]
    if any(head.startswith(bom) for bom, _ in _BOMS):
        return False
    return b"\x00" in head or sum(byte in _CONTROL for byte in head) > len(head) // 100


def decode_page(path: Path, data: bytes) -> str:
    """A saved page's text: a byte-order mark, else the charset its `<meta>` declares, else UTF-8, else
    Windows-1252 (the fallback browsers use for French and English pages). Never decoded with losses."""
    if looks_binary(data):
        raise InvalidInputError(
            f"{path}: binary data, not an HTML page (an image, a PDF or an archive saved as .html?)"
        )
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return _decode(path, data, encoding, "its byte-order mark")
    if match := _DECLARED.search(data[:_SNIFF_BYTES]):
        label = match.group(1).decode("ascii")
        try:
            encoding = codecs.lookup(label).name
        except LookupError:
            raise InvalidInputError(f"{path}: declares the unknown charset {label!r}; save the page as UTF-8") from None
        return _decode(path, data, "cp1252" if encoding in _WINDOWS_1252 else encoding, f"its <meta> ({label})")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return _decode(path, data, "cp1252", "neither UTF-8 nor Windows-1252, and it declares no charset")


def _decode(path: Path, data: bytes, encoding: str, said: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        raise InvalidInputError(
            f"{path}: not {encoding} text as {said} says (invalid byte at offset {error.start}); save the page again"
        ) from None


def fragment_text(markup: str) -> str:
    """The text of an HTML fragment (a feed entry's content), one line per block, without scripts,
    forms, figures or the "The post … appeared first on …" footer feeds add."""
    if not markup.strip():
        return ""
    try:
        root = lxml.html.fragment_fromstring(markup, create_parent="div")
    except (etree.ParserError, ValueError):
        return ""
    for node in root.iter(*_DROPPED):
        node.drop_tree()
    lines = [""]
    _walk(root, lines)
    paragraphs = [" ".join(line.split()) for line in lines]
    paragraphs = [paragraph for paragraph in paragraphs if paragraph]
    if paragraphs and _FEED_FOOTER.fullmatch(paragraphs[-1]):
        paragraphs.pop()
    return "\n".join(paragraphs)


def _walk(node: lxml.html.HtmlElement, lines: list[str]) -> None:
    """Append `node`'s text to `lines`, starting a new line at each block and `<br>`."""
    tag = node.tag if isinstance(node.tag, str) else ""  # comments and processing instructions: no text
    block = tag in _BLOCKS
    if block or tag == "br":
        lines.append("")
    if tag:
        lines[-1] += node.text or ""
        for child in node:
            _walk(child, lines)
            lines[-1] += child.tail or ""
    if block:
        lines.append("")
