"""Sentence-aware, token-budgeted chunking with exact character offsets into `Document.text`."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rag.errors import InvalidInputError
from rag.sentences import Span, split_sentences

if TYPE_CHECKING:
    from rag.documents import Document

_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Chunk:
    """A passage of one document: `text == document.text[start:end]`; `chunk_id` is `doc_id#n`."""

    chunk_id: str
    doc_id: str
    text: str
    start: int
    end: int


class Chunker:
    """Packs whole sentences into chunks of at most `chunk_tokens` tokens.

    Consecutive chunks share whole sentences, about `overlap_tokens` of them (the tail nearest that
    size), so a fact that straddles a boundary is retrievable from either side. Token counts come
    from `count_tokens` (the embedding model's tokenizer) measured on the exact chunk text, never
    estimated by summing per-sentence counts.
    """

    def __init__(
        self, count_tokens: Callable[[str], int], *, chunk_tokens: int = 200, overlap_tokens: int = 40
    ) -> None:
        if chunk_tokens < 1:
            raise InvalidInputError(f"chunk_tokens must be positive, got {chunk_tokens}")
        if not 0 <= overlap_tokens < chunk_tokens:
            raise InvalidInputError(
                f"overlap_tokens must be >= 0 and below chunk_tokens ({chunk_tokens}), got {overlap_tokens}"
            )
        self.count_tokens = count_tokens
        self.chunk_tokens = chunk_tokens
        self.overlap_tokens = overlap_tokens

    def split(self, document: Document) -> list[Chunk]:
        """Chunks of `document.text`, with ids `doc_id#0`, `doc_id#1`, …"""
        return self.split_text(document.text, document.doc_id)

    def split_text(self, text: str, doc_id: str) -> list[Chunk]:
        """Chunks of `text` whose offsets satisfy `text[start:end] == chunk.text`."""
        units: list[Span] = []
        for start, end in split_sentences(text):
            units.extend([(start, end)] if self._fits(text, start, end) else self._words(text, start, end))
        return [
            Chunk(f"{doc_id}#{n}", doc_id, text[start:end], start, end)
            for n, (start, end) in enumerate(self._pack(text, units))
        ]

    def _fits(self, text: str, start: int, end: int) -> bool:
        return self.count_tokens(text[start:end]) <= self.chunk_tokens

    def _words(self, text: str, start: int, end: int) -> list[Span]:
        """An over-long sentence as word units; a word that alone exceeds the budget is cut."""
        units: list[Span] = []
        for word in _WORD.finditer(text, start, end):
            if self._fits(text, *word.span()):
                units.append(word.span())
            else:
                units.extend(self._cut(text, *word.span()))
        return units

    def _cut(self, text: str, start: int, end: int) -> list[Span]:
        """Longest prefixes within the budget, at least one character each. The search gallops
        (1, 2, 4, … characters) before bisecting, so a huge word is only ever measured piecewise."""
        pieces: list[Span] = []
        while start < end:
            fit, limit, probe = 1, end - start, 2  # `fit` fits (or is the one-character minimum)
            while fit < limit:
                if not self._fits(text, start, start + min(probe, limit)):
                    limit = min(probe, limit) - 1
                    break
                fit, probe = min(probe, limit), probe * 2
            while fit < limit:
                middle = (fit + limit + 1) // 2
                fit, limit = (middle, limit) if self._fits(text, start, start + middle) else (fit, middle - 1)
            pieces.append((start, start + fit))
            start += fit
        return pieces

    def _pack(self, text: str, units: list[Span]) -> list[Span]:
        """Greedy packing of consecutive units; each chunk begins a unit later than the previous."""
        chunks: list[Span] = []
        first = 0
        while first < len(units):
            last = first
            while last + 1 < len(units) and self._fits(text, units[first][0], units[last + 1][1]):
                last += 1
            chunks.append((units[first][0], units[last][1]))
            if last + 1 == len(units):
                break
            first = self._overlap_start(text, units, first, last)
        return chunks

    def _overlap_start(self, text: str, units: list[Span], first: int, last: int) -> int:
        """First unit of the next chunk: the tail of whole units of this one whose size is nearest
        `overlap_tokens` (no overlap on a tie), among those that leave room for the next unit."""
        best, best_distance = last + 1, self.overlap_tokens
        following_end = units[last + 1][1]
        for candidate in range(last, first, -1):
            tail_start = units[candidate][0]
            distance = self.count_tokens(text[tail_start : units[last][1]]) - self.overlap_tokens
            if distance >= best_distance or not self._fits(text, tail_start, following_end):
                break
            if abs(distance) < best_distance:
                best, best_distance = candidate, abs(distance)
        return best
