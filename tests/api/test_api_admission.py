"""The model's waiting line: one answer written at a time, a bounded line in arrival order, then 503.

A scripted model that holds its reply until the test releases it makes every state of the line
something the test waits for, never a moment it guesses.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from doubles import Held, ScriptedGenerator
from fastapi import HTTPException
from prometheus_client.parser import text_string_to_metric_families
from servers import ThreadServer

from api.admission import AnswerQueue
from rag.answerer import Answerer
from rag.config import Settings
from rag.embedding import Embedder
from rag.service import Service, open_corpus

QUESTION = "Combien Amazon prévoit-il d'investir en 2025 ?"
REPLY = "Amazon prévoit d'investir plus de 100 milliards de dollars en 2025 [1]."


@pytest.fixture(scope="module")
def queued_server(seed_copy: Callable[[str], Path], embedder: Embedder) -> Iterator[ThreadServer]:
    """A scripted model with room for one waiting answer (RAG_MAX_WAITING_ANSWERS=1)."""
    settings = Settings(index_dir=seed_copy("queued"), generator="extractive", api_key=None, max_waiting_answers=1)
    corpus = open_corpus(settings, embedder=embedder)
    answerer = Answerer(corpus, ScriptedGenerator(), max_tokens=settings.max_answer_tokens)
    with ThreadServer(Service(settings, corpus, answerer)) as server:
        yield server


def admitted(url: str) -> float:
    with httpx.Client(base_url=url, timeout=30) as http:
        for family in text_string_to_metric_families(http.get("/metrics").text):
            for sample in family.samples:
                if sample.name == "rag_answers_admitted":
                    return sample.value
    raise AssertionError("no rag_answers_admitted gauge")


def wait_until_admitted(url: str, count: int) -> None:
    """Waits for the line to hold `count` answers (the event itself), at most a minute."""
    deadline = time.monotonic() + 60
    while admitted(url) != count:
        assert time.monotonic() < deadline, f"the line never held {count} answers"
        time.sleep(0.02)


def ask(url: str, path: str = "/ask") -> httpx.Response:
    with httpx.Client(base_url=url, timeout=120) as http:
        return http.post(path, json={"question": QUESTION})


def test_a_full_line_is_a_503_with_retry_after_and_the_line_then_drains(queued_server: ThreadServer) -> None:
    generator = queued_server.service.answerer.generator
    assert isinstance(generator, ScriptedGenerator)
    first, second = Held(REPLY), Held(REPLY)
    generator.enqueue(first, second)
    url = queued_server.url
    with ThreadPoolExecutor(max_workers=2) as pool:
        writing = pool.submit(ask, url)
        assert first.started.wait(60), "the first answer reached the model"
        waiting = pool.submit(ask, url, "/ask/stream")
        wait_until_admitted(url, 2)
        for path in ("/ask", "/ask/stream"):
            refused = ask(url, path)
            assert refused.status_code == 503, refused.text
            assert refused.headers["content-type"] == "application/json"
            assert int(refused.headers["retry-after"]) >= 1
            assert "busy" in refused.json()["detail"] and "RAG_MAX_WAITING_ANSWERS" in refused.json()["detail"]
        assert not second.started.is_set(), "the waiting answer waits for the model"
        first.release.set()
        assert writing.result().status_code == 200
        assert second.started.wait(60), "the waiting answer is written next"
        second.release.set()
        streamed = waiting.result()
        assert streamed.status_code == 200 and "event: answer" in streamed.text
    wait_until_admitted(url, 0)
    generator.enqueue(REPLY)
    assert ask(url).status_code == 200
    assert generator.pending == 0


def test_the_line_is_first_come_first_served() -> None:
    line = AnswerQueue(waiting=2)
    first, second, third = line.admit(), line.admit(), line.admit()
    with pytest.raises(HTTPException) as refused:
        line.admit()
    assert refused.value.status_code == 503 and refused.value.headers["Retry-After"] == "30"  # 3 x 10 s guess
    order: list[str] = []

    def take(name: str, ticket) -> None:
        assert ticket.wait()
        order.append(name)

    later = [threading.Thread(target=take, args=args) for args in (("third", third), ("second", second))]
    for thread in later:  # the third starts waiting first: arrival in line counts, not in the wait call
        thread.start()
    assert first.wait()
    first.release()
    later[1].join(timeout=30)
    assert order == ["second"]
    second.release()
    later[0].join(timeout=30)
    assert order == ["second", "third"]
    third.release()
    assert len(line) == 0


def test_a_stream_that_leaves_while_waiting_gives_up_its_place() -> None:
    line = AnswerQueue(waiting=1)
    writing, waiting = line.admit(), line.admit()
    cancel = threading.Event()
    cancel.set()
    assert writing.wait()
    assert waiting.wait(cancel) is False
    assert len(line) == 1
    writing.release()
    assert len(line) == 0
