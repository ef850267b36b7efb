"""Answering a question from the corpus: retrieve, pick evidence, generate, verify, or refuse."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Literal

from rag.answer import AbstainReason, Answer, Citation
from rag.config import Settings
from rag.corpus import Corpus
from rag.errors import GenerationError, InvalidInputError
from rag.evidence import Evidence, best_sentence, select_evidence
from rag.generation.base import Generator
from rag.language import LanguageCode, detect_language
from rag.prompting import build_messages
from rag.verification import verify

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000
MAX_TOP_K = 20
EVIDENCE_SENTENCES = 5  # prompt size drives latency on 2 cores: ~5 sentences keeps it near 350 tokens
RELATED_PASSAGES = 3
EXTRACTIVE_MODEL = "extractive"
# e5 cosine between the question and its best evidence sentence, calibrated on the gold set
# (bench/refusal.py): below RELEVANCE_THRESHOLD nothing relevant was retrieved; at or above
# STRONG_EVIDENCE_THRESHOLD an extractive quote is trusted when the generated answer failed its checks.
RELEVANCE_THRESHOLD = 0.80
STRONG_EVIDENCE_THRESHOLD = 0.86

REFUSALS: dict[LanguageCode, str] = {
    "fr": "Je ne trouve pas la réponse dans les articles indexés.",
    "en": "I could not find the answer in the indexed articles.",
}
_EXTRACTIVE_LEAD: dict[LanguageCode, tuple[str, str, str]] = {
    "fr": ("D'après les articles : ", "« ", " »"),
    "en": ("According to the articles: ", "“", "”"),
}

Event = tuple[Literal["token", "answer"], object]


class Answerer:
    """Answers questions in their language with verified citations; one instance per process."""

    def __init__(self, corpus: Corpus, generator: Generator | None, settings: Settings) -> None:
        self.corpus = corpus
        self.generator = generator
        self.max_tokens = settings.max_answer_tokens

    @property
    def model_name(self) -> str:
        """Which generator writes the answers."""
        return self.generator.name if self.generator is not None else EXTRACTIVE_MODEL

    def ask(self, question: str, *, language: str = "auto", top_k: int = 5) -> Answer:
        """The verified answer (or refusal) to `question`."""
        for kind, payload in self.stream(question, language=language, top_k=top_k):
            if kind == "answer" and isinstance(payload, Answer):
                return payload
        raise GenerationError("the answer was cancelled")

    def stream(
        self, question: str, *, language: str = "auto", top_k: int = 5, cancel: threading.Event | None = None
    ) -> Iterator[Event]:
        """Yield ("token", text) while the model writes its first attempt, then one ("answer", Answer).

        Tokens are a preview: the answer event carries the verified text, which may differ.
        """
        started = time.perf_counter()
        question, top_k = _validate(question, language, top_k)
        answer_language: LanguageCode = detect_language(question) if language == "auto" else language  # type: ignore[assignment]
        index = self.corpus.index
        vector = self.corpus.retriever.embedder.embed_queries([question])[0]
        hits = self.corpus.retriever.search(question, top_k, language=answer_language, vector=vector, index=index)
        evidence = select_evidence(index, hits, vector, EVIDENCE_SENTENCES)
        closest = {(item.doc_id, item.start): item for item in (best_sentence(index, hit, vector) for hit in hits)}
        related = list(closest.values())[:RELATED_PASSAGES]  # two overlapping chunks can share a best sentence
        timings = {"retrieve": _ms(started)}
        compose = _Composer(answer_language, related, timings, started)

        if not evidence or evidence[0].score < RELEVANCE_THRESHOLD:
            yield "answer", compose.refusal("no_relevant_passage", self.model_name)
            return
        if self.generator is None:
            yield "answer", compose.extractive(evidence)
            return

        generating = time.perf_counter()
        firmer: str | None = None
        for attempt in range(2):
            try:
                pieces = []
                for piece in self.generator.stream(
                    build_messages(question, evidence, answer_language, firmer),
                    max_tokens=self.max_tokens,
                    cancel=cancel,
                ):
                    pieces.append(piece)
                    if attempt == 0:
                        yield "token", piece
            except GenerationError as error:
                log.warning("generator failed (%s); answering extractively", error)
                timings["generate"] = _ms(generating)
                yield "answer", compose.extractive(evidence)
                return
            if cancel is not None and cancel.is_set():
                return
            verdict = verify("".join(pieces), evidence, answer_language, question)
            timings["generate"] = _ms(generating)
            if verdict.declined:
                yield "answer", compose.refusal("not_in_passages", self.generator.name)
                return
            if verdict.problem is None:
                yield "answer", compose.generated(verdict.text, verdict.cited, evidence, self.generator.name)
                return
            log.info("answer failed verification (%s), attempt %d", verdict.problem, attempt + 1)
            firmer = verdict.problem
        if firmer == "language" or evidence[0].score >= STRONG_EVIDENCE_THRESHOLD:
            yield "answer", compose.extractive(evidence)
        else:
            yield "answer", compose.refusal("unsupported_after_check", self.generator.name)


class _Composer:
    """Builds the final Answer objects for one question (shared language, related passages, timings)."""

    def __init__(
        self, language: LanguageCode, related: list[Evidence], timings: dict[str, float], started: float
    ) -> None:
        self.language = language
        self.related = related
        self.timings = timings
        self.started = started

    def refusal(self, reason: AbstainReason, model: str) -> Answer:
        related = [_citation(number, item) for number, item in enumerate(self.related, 1)]
        return self._answer(REFUSALS[self.language], True, reason, [], related, model)

    def extractive(self, evidence: Sequence[Evidence]) -> Answer:
        """The best evidence sentence quoted (two when the runner-up is as good), cited."""
        chosen = [item for item in evidence[:2] if item.score >= evidence[0].score - 0.02]
        lead, open_quote, close_quote = _EXTRACTIVE_LEAD[self.language]
        quotes = " ".join(f"{open_quote}{item.text}{close_quote} [{n}]" for n, item in enumerate(chosen, 1))
        citations = [_citation(n, item) for n, item in enumerate(chosen, 1)]
        return self._answer(lead + quotes, False, None, citations, [], EXTRACTIVE_MODEL)

    def generated(self, text: str, cited: Sequence[int], evidence: Sequence[Evidence], model: str) -> Answer:
        """Renumber markers 1..n in order of first citation so markers and citations match one to one."""
        renumber = {old: new for new, old in enumerate(cited, 1)}
        text = re.sub(r"\[(\d+)\]", lambda match: f"[{renumber[int(match.group(1))]}]", text)
        citations = [_citation(renumber[old], evidence[old - 1]) for old in cited]
        return self._answer(text, False, None, citations, [], model)

    def _answer(
        self,
        text: str,
        abstained: bool,
        reason: AbstainReason | None,
        citations: list[Citation],
        related: list[Citation],
        model: str,
    ) -> Answer:
        timings = {"retrieve": 0.0, "generate": 0.0, **self.timings, "total": _ms(self.started)}
        return Answer(text, self.language, abstained, reason, citations, related, model, timings)


def _citation(number: int, item: Evidence) -> Citation:
    return Citation(number, item.doc_id, item.title, item.text, item.start, item.end, round(item.score, 4))


def _validate(question: str, language: str, top_k: int) -> tuple[str, int]:
    question = question.strip()
    if not question:
        raise InvalidInputError("the question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise InvalidInputError(f"the question is {len(question)} characters long; the limit is {MAX_QUESTION_CHARS}")
    if language not in ("auto", "fr", "en"):
        raise InvalidInputError(f"unknown language {language!r}: use auto, fr or en")
    if not 1 <= top_k <= MAX_TOP_K:
        raise InvalidInputError(f"top_k must be between 1 and {MAX_TOP_K}, got {top_k}")
    return question, top_k


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)

