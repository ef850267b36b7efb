"""The answer object of `rag ask` and `POST /ask`, and the events `Answerer.stream` yields (plain data)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal, get_args

from rag.language import LanguageCode

AbstainReason = Literal["no_relevant_passage", "not_in_passages", "unsupported_after_check"]
ABSTAIN_REASONS: tuple[AbstainReason, ...] = get_args(AbstainReason)
# A citation marker as answers write it: [1], or [1, 2] as small models sometimes do.
CITATION_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


def marker_numbers(match: re.Match[str]) -> list[int]:
    """The excerpt numbers of one `CITATION_MARKER` match: "[2]" -> [2], "[1, 3]" -> [1, 3]."""
    return [int(number) for number in re.split(r"\s*,\s*", match.group(1))]


@dataclass(frozen=True)
class Report:
    """Another article's verbatim copy of a cited snippet (wire copy, a rewrite): `snippet == text[start:end]`."""

    doc_id: str
    title: str
    snippet: str
    start: int
    end: int
    date: str | None = None
    source: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Citation:
    """A verbatim snippet: `snippet == documents[doc_id].text[start:end]`; `id` is its [n] marker.

    `also_reported_by` lists other articles that carry the same sentence, collapsed into this one.
    """

    id: int
    doc_id: str
    title: str
    snippet: str
    start: int
    end: int
    score: float
    date: str | None = None  # the cited article's publication day, outlet, link and author, when known
    source: str | None = None
    url: str | None = None
    author: str | None = None
    also_reported_by: list[Report] = field(default_factory=list)


FigureCheck = Literal["supported", "unsupported", "none"]
SlotCheck = Literal["matches", "mismatch", "n/a"]
# Whether other outlets' snippets give the claim's figures too ("consistent"), other values for the
# same quantity ("conflict"), or no other outlet states it ("n/a").
AgreementCheck = Literal["consistent", "conflict", "n/a"]


@dataclass(frozen=True)
class ClaimChecks:
    """What was checked on one claim: its figures against its citations, and the question's slots."""

    figures: FigureCheck  # every figure is in a cited snippet (or the question); "none": it has no figure
    entity: SlotCheck  # a cited snippet names the company or product the question asks about
    period: SlotCheck  # the cited snippets speak of the question's year and quarter, not another
    agreement: AgreementCheck = "n/a"  # between the outlets stating the claim's figures
    # Why differing values still agree ("105,2 is more than 100"), or which values conflict.
    agreement_reason: str | None = None


@dataclass(frozen=True)
class Claim:
    """One sentence of the answer, the citation ids it rests on and what was checked."""

    text: str
    citations: list[int]
    checks: ClaimChecks
    sources: int = 1  # distinct outlets (or articles, when the outlet is unknown) its citations come from


@dataclass(frozen=True)
class Turn:
    """One earlier exchange of a conversation: what the user asked and what rag answered."""

    question: str
    answer: str


@dataclass(frozen=True)
class Answer:
    """An answer in `language` whose [n] markers each point at one of `citations` (and vice versa).

    `standalone_question` is what was answered: the question itself, or, for a follow-up that leans
    on the conversation, its rewrite that stands alone (searched with the thread's anchor question).
    """

    answer: str
    language: LanguageCode
    abstained: bool
    abstain_reason: AbstainReason | None
    citations: list[Citation]
    related: list[Citation]
    model: str
    standalone_question: str
    timings_ms: dict[str, float] = field(default_factory=dict)
    claims: list[Claim] = field(default_factory=list)


@dataclass(frozen=True)
class Sources:
    """The evidence the model is about to read, sent before any token so a page can show it at once."""

    language: LanguageCode
    passages: list[Citation]
    retrieve_ms: float


@dataclass(frozen=True)
class Token:
    """A piece of the first draft as the model writes it: a preview, the final text may differ."""

    text: str


@dataclass(frozen=True)
class Final:
    """The verified answer (or refusal); always the last event of a stream that was not cancelled."""

    answer: Answer


AnswerEvent = Sources | Token | Final
