"""Request and response bodies of the HTTP API, kept apart from the library's domain dataclasses."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from rag.answer_types import AbstainReason, AgreementCheck, Answer, FigureCheck, SlotCheck, Sources, Turn
from rag.answerer import MAX_QUESTION_CHARS, MAX_TOP_K
from rag.filters import DocumentFilter
from rag.followup import MAX_HISTORY_CHARS, MAX_TURNS
from rag.indexing import IndexReport
from rag.language import LanguageChoice, LanguageCode
from rag.metadata import MAX_URL_CHARS
from rag.retrieval import Hit
from rag.store import CorpusIndex, StoredDocument

MAX_SEARCH_K = 50

# Exactly what the schema says (1-2,000 code points): a blank question matches it, and the answerer refuses it (400).
Question = Annotated[str, StringConstraints(min_length=1, max_length=MAX_QUESTION_CHARS)]
# Letters, digits, `_-.`, not only dots: `validate_doc_id`'s rule, written without look-ahead for generators.
DOC_ID_PATTERN = r"^[A-Za-z0-9_.-]*[A-Za-z0-9_-][A-Za-z0-9_.-]*$"


def _whole_number(value: object) -> object:
    """JSON has one number type, and JSON Schema counts 5.0 as the integer 5; `"5"` and `true` stay refused."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


Count = Annotated[int, BeforeValidator(_whole_number)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Filtered(_Request):
    """Optional filters on the documents searched, over their stored metadata."""

    since: str | None = Field(
        None, max_length=40, description="Published on or after this day: YYYY-MM-DD, YYYY-MM (its first day) or YYYY."
    )
    until: str | None = Field(
        None, max_length=40, description="Published on or before this day: YYYY-MM-DD, YYYY-MM (its last day) or YYYY."
    )
    sources: list[Annotated[str, StringConstraints(max_length=1000)]] | None = Field(
        None, max_length=100, description="Outlets to keep (the documents' `source`, case-insensitive)."
    )

    def document_filter(self) -> DocumentFilter:
        """The filter these fields say; a date that is not one is an InvalidInputError (400)."""
        return DocumentFilter.of(self.since, self.until, self.sources)


class TurnIn(_Request):
    """One earlier exchange of the conversation."""

    question: str = Field(description="What the user asked.")
    answer: str = Field("", description="What rag answered (its `answer` text).")


class AskRequest(_Filtered):
    """A question for `POST /ask` and `POST /ask/stream`, possibly a follow-up of earlier turns."""

    question: Question = Field(description="The question, 1-2,000 characters, with a letter or digit.")
    language: LanguageChoice = Field("auto", description="Answer language; auto follows the question.")
    top_k: Count = Field(5, ge=1, le=MAX_TOP_K, strict=True, description="Passages retrieved before picking evidence.")
    history: list[TurnIn] = Field(
        default_factory=list,
        description=f"Earlier turns, oldest first; the last {MAX_TURNS} are read. Over {MAX_HISTORY_CHARS:,} "
        "characters in all is a 400.",
    )

    def turns(self) -> list[Turn]:
        return [Turn(turn.question, turn.answer) for turn in self.history]


class SearchRequest(_Filtered):
    """A query for `POST /search`."""

    query: Question = Field(description="Free text, 1-2,000 characters, with a letter or digit.")
    k: Count = Field(5, ge=1, le=MAX_SEARCH_K, strict=True, description="Number of passages returned.")


class DocumentFields(_Request):
    """What may come with a document's text (JSON fields or upload form fields); absent ones are detected."""

    doc_id: str | None = Field(
        None, max_length=128, pattern=DOC_ID_PATTERN,
        description="1-128 of letters, digits, `_-.` (not only dots); default: a hash of the text, or the "
        "uploaded file's name without its suffix.",
    )
    title: str | None = Field(None, max_length=1000)
    date: str | None = Field(None, max_length=100, description="ISO 8601 publication date, e.g. 2025-11-05.")
    source: str | None = Field(None, max_length=1000, description="The site or outlet.")
    url: str | None = Field(None, max_length=MAX_URL_CHARS, description="Absolute http(s) URL of the article.")
    author: str | None = Field(None, max_length=1000)
    language: str | None = Field(None, max_length=35, description="Language tag the article declares, e.g. fr.")


class DocumentIn(DocumentFields):
    """A document posted as JSON (see `parse_document` for what is detected from the text)."""

    text: str = Field(description="The article, plain text or Markdown (at most 2 MB in UTF-8).")


MAX_BATCH_DOCUMENTS = 1000


class DocumentBatchIn(_Request):
    """Many documents posted as JSON in one request: embedded in batches, committed once."""

    documents: list[DocumentIn] = Field(
        min_length=1, max_length=MAX_BATCH_DOCUMENTS,
        description=f"1-{MAX_BATCH_DOCUMENTS:,} documents (the whole body at most 2 MB); a document id given twice "
        "keeps the later one.",
    )


class _Cited(BaseModel):
    """The cited article's metadata, null when unknown."""

    date: str | None = Field(None, description="Publication date, ISO 8601 (YYYY-MM-DD).")
    source: str | None = Field(None, description="The site or outlet.")
    url: str | None = Field(None, description="The article's web address.")
    author: str | None = None


class ReportOut(BaseModel):
    """Another article carrying the cited sentence: `snippet == GET /documents/{doc_id} .text[start:end]`."""

    doc_id: str
    title: str
    snippet: str
    start: int
    end: int
    date: str | None = None
    source: str | None = None
    url: str | None = None


class CitationOut(_Cited):
    """A verbatim snippet: `snippet == GET /documents/{doc_id} .text[start:end]`; `id` is its [n] marker."""

    id: int
    doc_id: str
    title: str
    snippet: str
    start: int
    end: int
    score: float
    also_reported_by: list[ReportOut] = Field(
        default_factory=list, description="Other articles carrying the same sentence (wire copy, rewrites)."
    )


class ChecksOut(BaseModel):
    """What was checked on one claim."""

    figures: FigureCheck = Field(description="Its figures are in its cited snippets; `none`: it states no figure.")
    entity: SlotCheck = Field(description="A cited snippet names the company or product the question asks about.")
    period: SlotCheck = Field(description="The cited snippets speak of the question's year and quarter.")
    agreement: AgreementCheck = Field(
        "n/a",
        description="`consistent`: other outlets give its figures too (or values a qualifier or rounding explains); "
        "`conflict`: another article gives another value for the same quantity; `n/a`: one outlet states it.",
    )
    agreement_reason: str | None = Field(
        None, description="Why differing values agree (qualifier, rounding), or the two values in conflict."
    )


class ClaimOut(BaseModel):
    """One sentence of the answer, the citation ids it rests on, and its checks."""

    text: str
    citations: list[int]
    checks: ChecksOut
    sources: int = Field(1, description="Distinct outlets (articles, when the outlet is unknown) it is cited from.")


class AnswerOut(BaseModel):
    """The library's `Answer`, field for field."""

    answer: str
    language: LanguageCode
    abstained: bool
    abstain_reason: AbstainReason | None
    citations: list[CitationOut]
    related: list[CitationOut]
    model: str
    standalone_question: str = Field(
        description="What was searched and answered: the question, or a follow-up rewritten to stand alone."
    )
    timings_ms: dict[str, float]
    claims: list[ClaimOut] = Field(description="The answer claim by claim; empty for a refusal.")

    @classmethod
    def of(cls, answer: Answer) -> AnswerOut:
        return cls.model_validate(asdict(answer))


class SourcesOut(BaseModel):
    """The `sources` event of `POST /ask/stream`: the evidence the model reads, before any token."""

    language: LanguageCode = Field(description="The language the answer will be written in.")
    passages: list[CitationOut] = Field(description="Numbered as the model sees them; the answer cites some.")
    retrieve_ms: float

    @classmethod
    def of(cls, sources: Sources) -> SourcesOut:
        return cls.model_validate(asdict(sources))


class TokenOut(BaseModel):
    """A `token` event of `POST /ask/stream`: the next piece of the answer as the model writes it."""

    text: str


class HitOut(_Cited):
    """One retrieved passage: `text == GET /documents/{doc_id} .text[start:end]`."""

    doc_id: str
    title: str
    text: str
    start: int
    end: int
    score: float


class SearchResponse(BaseModel):
    hits: list[HitOut]

    @classmethod
    def of(cls, hits: list[Hit]) -> SearchResponse:
        return cls(hits=[HitOut(**{name: getattr(hit, name) for name in HitOut.model_fields}) for hit in hits])


class DocumentSummary(BaseModel):
    """A stored document without its text."""

    doc_id: str
    title: str
    date: str | None = Field(description="Publication date, ISO 8601 (YYYY-MM-DD); null when unknown.")
    source: str | None = Field(description="The site or outlet.")
    url: str | None
    author: str | None
    language: str | None = Field(description="The language tag the article declares (not detected).")
    characters: int = Field(description="Length of the cleaned text, the reference for every offset.")
    chunks: int = Field(description="Passages it was split into for retrieval.")
    story: str = Field(description="The story it reports: copies and rewrites of one article share this id.")

    @classmethod
    def of(cls, stored: StoredDocument, chunks: int) -> DocumentSummary:
        document = stored.document
        return cls(
            doc_id=document.doc_id,
            title=document.title,
            date=document.date,
            source=document.source,
            url=document.url,
            author=document.author,
            language=document.language,
            characters=len(document.text),
            chunks=chunks,
            story=stored.story,
        )

    @classmethod
    def listing(cls, index: CorpusIndex) -> list[DocumentSummary]:
        """Every document of one snapshot, sorted by id."""
        return [cls.of(stored, index.chunks_of(doc_id)) for doc_id, stored in sorted(index.documents.items())]


class DocumentDetail(DocumentSummary):
    """A stored document with its cleaned text."""

    text: str

    @classmethod
    def of(cls, stored: StoredDocument, chunks: int) -> DocumentDetail:
        return cls(**DocumentSummary.of(stored, chunks).model_dump(), text=stored.document.text)


class IndexingOut(BaseModel):
    """What a write changed in the index."""

    added: list[str]
    updated: list[str]
    removed: list[str]
    documents: int = Field(description="Documents in the index afterwards.")
    chunks: int = Field(description="Chunks in the index afterwards.")
    embedded_texts: int = Field(description="Passages and sentences that needed new embeddings.")
    seconds: float

    @classmethod
    def of(cls, report: IndexReport) -> IndexingOut:
        return cls(
            added=list(report.added),
            updated=list(report.updated),
            removed=list(report.removed),
            documents=report.documents,
            chunks=report.chunks,
            embedded_texts=report.embedded_texts,
            seconds=round(report.seconds, 3),
        )


class DocumentWritten(BaseModel):
    """Answer to `POST /documents`: the stored documents (searchable already) and the index change."""

    document: DocumentSummary = Field(description="The first (for an article, the only) document written.")
    documents: list[DocumentSummary] = Field(description="Every document written: a feed or an export gives many.")
    skipped: list[str] = Field(description="Entries or lines of a feed or export that were left out, and why.")
    notes: list[str] = Field(description="What was read but kept unknown, such as a date that is not one.")
    indexed: IndexingOut


class DocumentDeleted(BaseModel):
    """Answer to `DELETE /documents/{doc_id}`."""

    deleted: str
    indexed: IndexingOut


class Health(BaseModel):
    status: Literal["ok"]
    documents: int
    chunks: int
    embedding_model: str
    generator: str


class ErrorOut(BaseModel):
    """The one error shape of every endpoint."""

    detail: str
