"""Which documents a search may draw on: a predicate over their stored metadata (date, outlet) and id.

Retrieval masks the rows of documents the filter refuses before ranking, so the k best allowed
passages come back however few the allowed documents are (`python bench/filters.py` measures it
against keeping the allowed hits of a larger candidate pool).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from rag.documents import Document
from rag.errors import InvalidInputError
from rag.metadata import field_text

_PERIOD = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


@dataclass(frozen=True)
class DocumentFilter:
    """Documents published from `since` to `until` (ISO days, both included) by one of `sources`,
    other than the `excluded` ids.

    A bound or a source list excludes the documents whose date or source is unknown. `excluded` is
    internal (no HTTP or CLI field): evaluation hides a question's own article from retrieval with it.
    """

    since: str | None = None
    until: str | None = None
    sources: frozenset[str] | None = None  # outlet names, case-folded
    excluded: frozenset[str] = frozenset()  # document ids

    @classmethod
    def of(
        cls, since: str | None = None, until: str | None = None, sources: Iterable[str] | None = None
    ) -> DocumentFilter:
        """Read `since`/`until` as `YYYY`, `YYYY-MM` or `YYYY-MM-DD` (a year or month from its first day
        for `since`, to its last for `until`) and `sources` as outlet names; InvalidInputError otherwise."""
        start = _bound(since, "since", first=True)
        end = _bound(until, "until", first=False)
        if start and end and start > end:
            raise InvalidInputError(f"since ({since}) is after until ({until}): nothing could match")
        names = None
        if sources is not None:
            names = frozenset(_outlet(name) for name in sources if field_text(name))
            if not names:
                raise InvalidInputError("sources is empty: name at least one outlet, or leave it out")
        return cls(start, end, names)

    @property
    def active(self) -> bool:
        """False when it lets every document through."""
        return bool(self.since or self.until or self.sources or self.excluded)

    def allows(self, document: Document) -> bool:
        """Whether retrieval may use `document`."""
        if document.doc_id in self.excluded:
            return False
        if (self.since or self.until) and document.date is None:
            return False
        if self.since and document.date is not None and document.date < self.since:
            return False
        if self.until and document.date is not None and document.date > self.until:
            return False
        return not self.sources or (document.source is not None and _outlet(document.source) in self.sources)


def _bound(value: str | None, name: str, *, first: bool) -> str | None:
    text = field_text(value)
    if text is None:
        return None
    match = _PERIOD.fullmatch(text)
    try:
        if match is None:
            raise ValueError
        year, month, day = int(match.group(1)), int(match.group(2) or (1 if first else 12)), match.group(3)
        last = calendar.monthrange(year, month)[1]
        return date(year, month, int(day) if day else 1 if first else last).isoformat()
    except ValueError:
        raise InvalidInputError(f"{name} {text[:40]!r} is not a date: use YYYY-MM-DD, YYYY-MM or YYYY") from None


def _outlet(name: str) -> str:
    return " ".join(name.split()).casefold()
