"""Asking the gold questions, in this process or over HTTP, and scoring each answer as it arrives."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import httpx

from rag.answer_types import Answer, Citation, Claim, ClaimChecks, Report, Turn
from rag.answerer import Answerer
from rag.corpus import Corpus
from rag.errors import IndexMissingError, RagError
from rag.evaluation.gold import GoldItem
from rag.evaluation.metrics import ANSWER_TOP_K, SEARCH_K, ItemResult, score_item
from rag.followup import thread_query


@dataclass(frozen=True)
class Passage:
    """A retrieved span, all that retrieval metrics need from a search hit (local or over HTTP)."""

    doc_id: str
    start: int
    end: int


class Backend(Protocol):
    """What the evaluation asks of a running rag: answers, searches and stored texts."""

    def ask(self, question: str, top_k: int, history: Sequence[Turn] = ()) -> Answer:
        """The answer to `question` (a follow-up of `history`), as `POST /ask` would return it."""
        ...

    def search(self, question: str, k: int) -> list[Passage]:
        """The k best passages for `question`, best first."""
        ...

    def document_text(self, doc_id: str) -> str | None:
        """The stored text of a document (offsets point into it), None when it is not indexed."""
        ...


class LocalBackend:
    """The library itself: one corpus and one answerer loaded in this process."""

    def __init__(self, corpus: Corpus, answerer: Answerer) -> None:
        self.corpus = corpus
        self.answerer = answerer

    def ask(self, question: str, top_k: int, history: Sequence[Turn] = ()) -> Answer:
        """Answer in process."""
        return self.answerer.ask(question, history=history, top_k=top_k)

    def search(self, question: str, k: int) -> list[Passage]:
        """Hybrid search, as the answerer runs it."""
        return [Passage(hit.doc_id, hit.start, hit.end) for hit in self.corpus.search(question, k)]

    def document_text(self, doc_id: str) -> str | None:
        """Read from the loaded index snapshot."""
        stored = self.corpus.snapshot.documents.get(doc_id)
        return stored.document.text if stored is not None else None


class HttpBackend:
    """A `rag serve` instance: POST /ask, POST /search, GET /documents/{id}; adds a client-side `roundtrip`."""

    def __init__(self, url: str, *, api_key: str | None = None, timeout_s: float = 300.0) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.url = url.rstrip("/")
        self.client = httpx.Client(base_url=self.url, headers=headers, timeout=timeout_s)
        self._texts: dict[str, str | None] = {}

    def ask(self, question: str, top_k: int, history: Sequence[Turn] = ()) -> Answer:
        """POST /ask; the answer JSON becomes the library's `Answer` again."""
        started = time.perf_counter()
        turns = [{"question": turn.question, "answer": turn.answer} for turn in history]
        request = {"question": question, "language": "auto", "top_k": top_k, "history": turns}
        body = self._call("POST", "/ask", json=request)
        answer = _answer(body)
        roundtrip = round((time.perf_counter() - started) * 1000, 2)
        return replace(answer, timings_ms={**answer.timings_ms, "roundtrip": roundtrip})

    def search(self, question: str, k: int) -> list[Passage]:
        """POST /search."""
        body = self._call("POST", "/search", json={"query": question, "k": k})
        return [Passage(hit["doc_id"], int(hit["start"]), int(hit["end"])) for hit in body["hits"]]

    def document_text(self, doc_id: str) -> str | None:
        """GET /documents/{id}, cached: the texts do not change during a run."""
        if doc_id not in self._texts:
            body = self._call("GET", f"/documents/{doc_id}", missing_ok=True)
            self._texts[doc_id] = None if body is None else str(body["text"])
        return self._texts[doc_id]

    def _call(self, method: str, path: str, *, missing_ok: bool = False, **kwargs: Any) -> Any:
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise RagError(f"cannot reach {self.url}{path} ({error}); is `rag serve` running there?") from error
        if response.status_code == 404 and missing_ok:
            return None
        if response.is_error:
            raise RagError(f"{method} {self.url}{path} answered {response.status_code}: {response.text[:300]}")
        return response.json()


def open_local(index_dir: Path, answerer: Answerer, items: Sequence[GoldItem]) -> LocalBackend:
    """The in-process backend, refusing an index that lacks the articles the gold set is about."""
    backend = LocalBackend(answerer.corpus, answerer)
    missing = missing_documents(backend, items)
    if missing:
        raise IndexMissingError(
            f"the index in {index_dir} lacks {len(missing)} article(s) of the gold set ({', '.join(missing)}); "
            "run `rag index` to index seeds/ (or set RAG_INDEX_DIR to an index that holds them)"
        )
    return backend


def missing_documents(backend: Backend, items: Iterable[GoldItem]) -> list[str]:
    """The gold items' source documents that the backend does not hold."""
    wanted = sorted({doc_id for item in items for doc_id in item.doc_ids})
    return [doc_id for doc_id in wanted if backend.document_text(doc_id) is None]


def run_gold(
    items: Sequence[GoldItem],
    backend: Backend,
    *,
    top_k: int = ANSWER_TOP_K,
    on_result: Callable[[int, ItemResult], None] | None = None,
) -> list[ItemResult]:
    """Answer every item, search what the answer searched (a follow-up's standalone question with the
    thread's anchor), score it, and report each result through `on_result` as it comes."""
    results: list[ItemResult] = []
    for number, item in enumerate(items, 1):
        answer = backend.ask(item.question, top_k, item.history)
        searched = thread_query(answer.standalone_question, item.question, item.history)
        passages = backend.search(searched, max(SEARCH_K, top_k))
        result = score_item(item, answer, passages, backend.document_text)
        results.append(result)
        if on_result is not None:
            on_result(number, result)
    return results


def _answer(body: dict[str, Any]) -> Answer:
    try:
        return Answer(
            answer=body["answer"],
            language=body["language"],
            abstained=bool(body["abstained"]),
            abstain_reason=body.get("abstain_reason"),
            citations=[_citation(citation) for citation in body["citations"]],
            related=[_citation(citation) for citation in body.get("related", [])],
            model=body["model"],
            standalone_question=body["standalone_question"],
            timings_ms={key: float(value) for key, value in body.get("timings_ms", {}).items()},
            claims=[
                Claim(claim["text"], list(claim["citations"]), ClaimChecks(**claim["checks"]), claim.get("sources", 1))
                for claim in body.get("claims", [])
            ],
        )
    except (KeyError, TypeError) as error:
        raise RagError(f"POST /ask returned something that is not an answer object ({error})") from error


def _citation(body: dict[str, Any]) -> Citation:
    copies = [Report(**copy) for copy in body.get("also_reported_by", [])]
    return Citation(**{**body, "also_reported_by": copies})
