"""The answer object returned by `rag ask` and `POST /ask` (plain data, no behaviour)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

AbstainReason = Literal["no_relevant_passage", "not_in_passages", "unsupported_after_check"]


@dataclass(frozen=True)
class Citation:
    """A verbatim snippet: `snippet == documents[doc_id].text[start:end]`; `id` is its [n] marker."""

    id: int
    doc_id: str
    title: str
    snippet: str
    start: int
    end: int
    score: float


@dataclass(frozen=True)
class Answer:
    """An answer in `language` whose [n] markers each point at one of `citations` (and vice versa)."""

    answer: str
    language: Literal["fr", "en"]
    abstained: bool
    abstain_reason: AbstainReason | None
    citations: list[Citation]
    related: list[Citation]
    model: str
    timings_ms: dict[str, float] = field(default_factory=dict)
