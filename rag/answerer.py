"""Answering a question from the corpus, one way through: retrieve, pick evidence, generate, verify, answer."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from rag.agreement import annotate, cross_check, divergences
from rag.answer_types import (
    CITATION_MARKER,
    AbstainReason,
    Answer,
    AnswerEvent,
    Citation,
    Claim,
    Final,
    Report,
    Sources,
    Token,
    Turn,
    marker_numbers,
)
from rag.choice import Choice, choose_excerpt
from rag.corpus import Corpus
from rag.errors import GenerationError, InvalidInputError
from rag.evidence import (
    article_texts,
    closest_passages,
    distinct_hits,
    names_the_subject,
    select_evidence,
    shares_a_word,
    with_parts,
)
from rag.filters import DocumentFilter
from rag.followup import recent_turns, standalone_question, thread_query
from rag.generation.base import Generator, Message
from rag.language import LANGUAGE_CHOICES, LanguageChoice, LanguageCode, answer_language
from rag.parts import Part, missing_parts, question_parts
from rag.prompting import build_messages, continuing
from rag.relative_days import resolve_relative_days
from rag.rendering import as_of, render_figures
from rag.retrieval import Evidence, Hit
from rag.textnorm import unreadable
from rag.verification import (
    Verdict,
    check_claims,
    check_quotes,
    figures_of_another_period,
    has_mismatch,
    on_the_question,
    recheck,
    verify,
)

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000
MAX_TOP_K = 20
EVIDENCE_SENTENCES = 4  # prompt size drives latency on 2 cores; see rag/evidence.py and bench/evidence.py
RELATED_PASSAGES = 3
# Other outlets' copies of a story crowd the top passages: this many are retrieved, copies are dropped
# before the `top_k` the answer reads, and claims are cross-checked (rag/agreement.py) against the
# sentences of all of them: an article giving the same figure, or another one, is often lower.
CROSS_CHECK_PASSAGES = 10
EXTRACTIVE_MODEL = "extractive"
# e5 cosine between the question and its best evidence sentence, calibrated on the gold set
# (bench/refusal.py): below RELEVANCE_THRESHOLD nothing relevant was retrieved; at or above
# STRONG_EVIDENCE_THRESHOLD an extractive quote is trusted when the generated answer failed its checks.
RELEVANCE_THRESHOLD = 0.80
STRONG_EVIDENCE_THRESHOLD = 0.86
# When the model writes NOT_FOUND but gave the excerpt it would cite at least this probability (after "["),
# it is made to answer from that excerpt, and that answer is verified like any other. Chosen with
# `python bench/choice.py` on the gold set: see the table there.
CHOICE_THRESHOLD = 0.8
MAX_MISSING_PARTS = 2  # parts (listed names, periods) the model left out, each written by one more continuation
PART_SENTENCES = 12  # of each part's own search, among which its best sentence speaking of it is looked for

REFUSALS: dict[LanguageCode, str] = {
    "fr": "Je ne trouve pas la réponse dans les articles indexés.",
    "en": "I could not find the answer in the indexed articles.",
}
_EXTRACTIVE_LEAD: dict[LanguageCode, tuple[str, str, str]] = {
    "fr": ("D'après les articles : ", "« ", " »"),
    "en": ("According to the articles: ", "“", "”"),
}


class Answerer:
    """Answers questions in their language with verified citations; one instance per process."""

    def __init__(self, corpus: Corpus, generator: Generator | None, *, max_tokens: int) -> None:
        self.corpus = corpus
        self.generator = generator
        self.max_tokens = max_tokens

    @property
    def model_name(self) -> str:
        """Which generator writes the answers."""
        return self.generator.name if self.generator is not None else EXTRACTIVE_MODEL

    def ask(
        self,
        question: str,
        *,
        history: Sequence[Turn] = (),
        language: LanguageChoice = "auto",
        top_k: int = 5,
        where: DocumentFilter | None = None,
    ) -> Answer:
        """The verified answer (or refusal) to `question`, a follow-up of `history` when there is one,
        from the documents `where` allows."""
        for event in self.stream(question, history=history, language=language, top_k=top_k, where=where):
            if isinstance(event, Final):
                return event.answer
        raise GenerationError("the answer was cancelled")

    def stream(
        self,
        question: str,
        *,
        history: Sequence[Turn] = (),
        language: LanguageChoice = "auto",
        top_k: int = 5,
        cancel: threading.Event | None = None,
        where: DocumentFilter | None = None,
    ) -> Iterator[AnswerEvent]:
        """Yield `Sources` once retrieval is done, `Token`s while the model writes its first draft, then `Final`.

        A follow-up of `history` is first rewritten to stand alone (rag/followup.py); the answer's
        language is still the latest question's. Tokens are a preview: `Final` carries the verified
        text, which may differ. Nothing follows a cancel. A filter (`where`) that leaves no passage
        gives the `no_relevant_passage` refusal.
        """
        started = time.perf_counter()
        question = _validate(question, language, top_k)
        turns = recent_turns(history)
        language_code = answer_language(question, language, turns[-1].question if turns else None)
        asked = standalone_question(question, turns, language_code, self.generator, cancel=cancel)
        if cancel is not None and cancel.is_set():
            return
        rewrite_ms = _ms(started) if turns else None
        searching = time.perf_counter()
        searched = thread_query(asked, question, turns)
        retrieved = self.corpus.search(searched, max(top_k, CROSS_CHECK_PASSAGES), language=language_code, where=where)
        hits = distinct_hits(retrieved, top_k)
        evidence = select_evidence(hits, EVIDENCE_SENTENCES, copies=_others(retrieved, hits), question=asked)
        parts = search_parts(self.corpus, asked, top_k, language_code, where)
        evidence = with_parts(evidence, [(part, sentences) for part, (_, sentences) in parts.items()])
        part_hits = [hit for more, _ in parts.values() for hit in more]
        related = closest_passages(hits, RELATED_PASSAGES)
        pool = [sentence for hit in [*retrieved, *part_hits] for sentence in hit.sentences]
        compose = _Composer(asked, language_code, related, pool, started, _ms(searching), rewrite_ms)
        yield Sources(language_code, [_citation(n, item) for n, item in enumerate(evidence, 1)], compose.retrieve_ms)

        if (
            not evidence
            or _best_cosine(evidence) < RELEVANCE_THRESHOLD
            or not shares_a_word(asked, hits)
            or not names_the_subject(asked, article_texts(hits, self.corpus.snapshot.documents))
        ):
            yield Final(compose.refusal("no_relevant_passage", self.model_name))
            return
        if self.generator is None:
            yield Final(compose.extractive(evidence))
            return

        generating = time.perf_counter()
        messages = build_messages(asked, evidence, language_code)
        choice: Choice | None = None
        firmer: str | None = None
        for attempt in range(2):
            pieces: list[str] = []
            asking = build_messages(asked, evidence, language_code, firmer)
            try:
                for piece in self.generator.stream(asking, max_tokens=self.max_tokens, cancel=cancel):
                    pieces.append(piece)
                    if attempt == 0:
                        yield Token(piece)
                written = "".join(pieces)
                verdict = verify(written, evidence, language_code, asked)
                if verdict.declined:  # the firmer retry declines more often than the first attempt
                    choice = choice or choose_excerpt(self.generator, messages, len(evidence), cancel)
                    if choice is not None and choice.probability >= CHOICE_THRESHOLD:
                        asking = continuing(messages, f"[{choice.number}]")
                        written = _answer_from(self.generator, asking, choice.number, self.max_tokens, cancel)
                        verdict = verify(written, evidence, language_code, asked)
                if verdict.problem is None and not verdict.declined:
                    verdict = _with_missing_parts(
                        self.generator, verdict, asking, written, evidence, language_code, asked,
                        self.max_tokens, cancel,
                    )
            except GenerationError as error:
                log.warning("generator failed (%s); answering extractively", error)
                yield Final(compose.extractive(_chosen_first(evidence, choice), _ms(generating)))
                return
            if cancel is not None and cancel.is_set():
                return
            if verdict.declined:
                yield Final(compose.refusal("not_in_passages", self.generator.name, _ms(generating)))
                return
            if verdict.problem is None and figures_of_another_period(verdict.claims):
                yield Final(compose.refusal("unsupported_after_check", self.generator.name, _ms(generating)))
                return
            if verdict.problem is None:
                checked = cross_check(verdict.text, evidence, pool, language_code)
                verdict = recheck(checked.text, checked.evidence, asked)
                claims = annotate(verdict.claims, checked.evidence, checked.conflicts)
                verdict = replace(verdict, claims=tuple(claims))
                yield Final(compose.generated(verdict, checked.evidence, self.generator.name, _ms(generating)))
                return
            log.info("answer failed verification (%s), attempt %d", verdict.problem, attempt + 1)
            firmer = verdict.problem
            if firmer in ("entity", "measure"):  # the retry reads none of those sentences, and no scolding
                evidence, firmer = on_the_question(evidence, asked), None
                if not evidence:
                    yield Final(compose.refusal("unsupported_after_check", self.generator.name, _ms(generating)))
                    return
                messages, choice = build_messages(asked, evidence, language_code), None
        if firmer == "language" or _best_cosine(evidence) >= STRONG_EVIDENCE_THRESHOLD:
            try:
                choice = choice or choose_excerpt(self.generator, messages, len(evidence), cancel)
            except GenerationError as error:
                log.warning("generator failed choosing an excerpt (%s)", error)
            yield Final(compose.extractive(_chosen_first(evidence, choice), _ms(generating)))
        else:
            yield Final(compose.refusal("unsupported_after_check", self.generator.name, _ms(generating)))


@dataclass(frozen=True)
class _Composer:
    """Builds the final Answer objects of one question (its language, related passages and clock)."""

    question: str  # the standalone question: what was checked and answered
    language: LanguageCode
    related: list[Evidence]
    pool: list[Evidence]  # every sentence of the retrieved passages, for cross-checking quotes
    started: float
    retrieve_ms: float
    rewrite_ms: float | None  # None when there was no history to read the question against

    def refusal(self, reason: AbstainReason, model: str, generate_ms: float = 0.0) -> Answer:
        related = [_citation(number, item) for number, item in enumerate(self.related, 1)]
        return self._answer(REFUSALS[self.language], reason, [], related, model, generate_ms)

    def extractive(self, evidence: Sequence[Evidence], generate_ms: float = 0.0) -> Answer:
        """The best evidence sentence quoted (two when the runner-up is as good), cited.

        When every quote is about another entity or period than the question's, that is a refusal;
        otherwise each quote's checks are shown with it.
        """
        chosen = [item for item in evidence[:2] if item.score >= evidence[0].score - 0.02]
        quoted = check_quotes(chosen, self.question)
        if all(has_mismatch([claim]) for claim in quoted):
            return self.refusal("unsupported_after_check", EXTRACTIVE_MODEL, generate_ms)
        lead, open_quote, close_quote = _EXTRACTIVE_LEAD[self.language]
        quotes = " ".join(f"{open_quote}{item.text}{close_quote} [{n}]" for n, item in enumerate(chosen, 1))
        divergence = divergences(chosen, self.pool, self.language)  # other articles giving other values
        said = check_claims(divergence.text, divergence.evidence, self.question)
        claims = annotate([*said, *quoted], divergence.evidence, divergence.conflicts)
        citations = [_citation(n, item) for n, item in enumerate(divergence.evidence, 1)]
        text = f"{divergence.text} {lead}{quotes}" if divergence.text else lead + quotes
        return self._answer(text, None, citations, [], EXTRACTIVE_MODEL, generate_ms, claims)

    def generated(self, verdict: Verdict, evidence: Sequence[Evidence], model: str, generate_ms: float) -> Answer:
        """Renumber markers 1..n in order of first citation so markers and citations match one to one,
        write French figures the English way in an English answer, and date the cited articles'
        relative days ("jeudi (6 février 2025)")."""
        renumber = {old: new for new, old in enumerate(verdict.cited, 1)}
        sources = [item.text for item in evidence]
        cited = [evidence[old - 1] for old in verdict.cited]  # cited[n - 1] is the new [n]
        text = CITATION_MARKER.sub(
            lambda match: "".join(f"[{renumber[n]}]" for n in marker_numbers(match)), verdict.text
        )
        text = resolve_relative_days(render_figures(text, self.language, sources), self.language, cited)
        citations = [_citation(number, item) for number, item in enumerate(cited, 1)]
        claims = []
        for claim in verdict.claims:
            numbers = [renumber[n] for n in claim.citations]
            said = render_figures(claim.text, self.language, sources)
            said = resolve_relative_days(said, self.language, [cited[n - 1] for n in numbers])
            claims.append(replace(claim, text=said, citations=numbers))
        return self._answer(text, None, citations, [], model, generate_ms, claims)

    def _answer(
        self,
        text: str,
        reason: AbstainReason | None,
        citations: list[Citation],
        related: list[Citation],
        model: str,
        generate_ms: float,
        claims: list[Claim] | None = None,
    ) -> Answer:
        days = [citation.date for citation in citations if citation.date]
        dated_divergence = any(claim.checks.agreement == "conflict" for claim in claims or [])
        if reason is None and days and not dated_divergence:
            text = as_of(text, max(days), self.language)  # the cited articles speak as of their newest day
        timings = {"retrieve": self.retrieve_ms, "generate": generate_ms, "total": _ms(self.started)}
        if self.rewrite_ms is not None:
            timings["rewrite"] = self.rewrite_ms
        return Answer(
            text, self.language, reason is not None, reason, citations, related, model, self.question, timings,
            claims or [],
        )


def search_parts(
    corpus: Corpus, question: str, top_k: int, language: LanguageCode | None = None, where: DocumentFilter | None = None
) -> dict[Part, tuple[list[Hit], list[Evidence]]]:
    """Each part of the question (rag/parts.py) searched alone: its passages, and their sentences by their
    own cosine (the whole question's passage scores would rank the other parts' sentences first)."""
    found = {}
    for part in question_parts(question):
        hits = distinct_hits(corpus.search(part.query, top_k, language=language, where=where), top_k)
        found[part] = (hits, select_evidence(hits, PART_SENTENCES, chunk_weight=0.0, question=part.query))
    return found


def _citation(number: int, item: Evidence) -> Citation:
    copies = [Report(c.doc_id, c.title, c.text, c.start, c.end, c.date, c.source, c.url) for c in item.also]
    return Citation(
        number, item.doc_id, item.title, item.text, item.start, item.end, round(item.score, 4),
        item.date, item.source, item.url, item.author, copies,
    )


def _validate(question: str, language: str, top_k: int) -> str:
    question = question.strip()
    if not question:
        raise InvalidInputError("the question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise InvalidInputError(f"the question is {len(question)} characters long; the limit is {MAX_QUESTION_CHARS}")
    if (problem := unreadable(question, "question")) is not None:
        raise InvalidInputError(problem)
    if language not in LANGUAGE_CHOICES:
        raise InvalidInputError(f"unknown language {language!r}: use auto, fr or en")
    if not 1 <= top_k <= MAX_TOP_K:
        raise InvalidInputError(f"top_k must be between 1 and {MAX_TOP_K}, got {top_k}")
    return question


def _answer_from(
    generator: Generator, asking: list[Message], number: int, max_tokens: int, cancel: threading.Event | None
) -> str:
    """The answer the model writes once made to start from excerpt `number` (`asking` ends with "[number]"),
    cited by it."""
    written = "".join(generator.stream(asking, max_tokens=max_tokens, cancel=cancel)).strip()
    return written if CITATION_MARKER.search(written) else f"{written} [{number}]"


def _with_missing_parts(
    generator: Generator,
    verdict: Verdict,
    asking: list[Message],
    written: str,
    evidence: list[Evidence],
    language: LanguageCode,
    question: str,
    max_tokens: int,
    cancel: threading.Event | None,
) -> Verdict:
    """The answer with each part it left out written too (a listed name, a period): the model goes on from it.

    A continuation that fails verification is dropped, and the answer stays as it was.
    """
    for part in missing_parts(question, verdict.text, evidence)[:MAX_MISSING_PARTS]:
        begun = f"{written.rstrip()} {part.opening(language)}"
        more = "".join(generator.stream(continuing(asking, begun), max_tokens=max_tokens, cancel=cancel))
        extended = verify(begun + more, evidence, language, question)
        if extended.problem is None and not extended.declined:
            verdict, written = extended, begun + more
    return verdict


def _chosen_first(evidence: list[Evidence], choice: Choice | None) -> list[Evidence]:
    """The evidence with the model's chosen excerpt first: what an extractive answer quotes."""
    if choice is None:
        return evidence
    chosen = evidence[choice.number - 1]
    return [chosen, *(item for item in evidence if item is not chosen)]


def _best_cosine(evidence: Sequence[Evidence]) -> float:
    """The question's cosine with its closest evidence sentence, however `select_evidence` ranked them."""
    return max(item.score for item in evidence)


def _others(retrieved: list[Hit], kept: list[Hit]) -> list[Hit]:
    """The retrieved passages not kept as hits: where copies of the evidence are looked for."""
    kept_ids = {hit.chunk_id for hit in kept}
    return [hit for hit in retrieved if hit.chunk_id not in kept_ids]


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)
