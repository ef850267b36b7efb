"""Sentence-aware, token-budgeted chunking with exact character offsets into `Document.text`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Chunk:
    """A passage of one document: `text == document.text[start:end]`; `chunk_id` is `doc_id#n`."""

    chunk_id: str
    doc_id: str
    text: str
    start: int
    end: int
