"""`POST /ask` and `POST /ask/stream` over HTTP: the Answer shape, languages, refusals, SSE order."""

from __future__ import annotations

import dataclasses
import json
import time

import httpx
import pytest
from doubles import ENDLESS

from rag.answer_types import Answer, Citation

FRENCH = "Combien Amazon prévoit-il d'investir en 2025 ?"
ENGLISH = "How much is OpenAI paying AWS, and for how long?"
OUT_OF_CORPUS = "What is the capital of Australia?"
ANSWER_FIELDS = {field.name for field in dataclasses.fields(Answer)}
CITATION_FIELDS = {field.name for field in dataclasses.fields(Citation)}


def read_sse(response: httpx.Response) -> list[tuple[str, str]]:
    """(event, data) pairs of a text/event-stream body, keep-alive comments skipped."""
    events: list[tuple[str, str]] = []
    event, data = "message", list[str]()
    for line in response.iter_lines():
        if not line:
            if data:
                events.append((event, "\n".join(data)))
            event, data = "message", []
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            event = line[len("event:") :].strip()
        elif line.startswith("data:"):
            data.append(line[len("data:") :].removeprefix(" "))
    if data:
        events.append((event, "\n".join(data)))
    return events


def check_answer(body: dict, http: httpx.Client) -> None:
    """The exact `Answer` shape, and every snippet verbatim at its offsets in the stored document."""
    assert set(body) == ANSWER_FIELDS
    assert body["language"] in ("fr", "en")
    for citation in body["citations"] + body["related"]:
        assert set(citation) == CITATION_FIELDS
        text = http.get(f"/documents/{citation['doc_id']}").json()["text"]
        assert text[citation["start"] : citation["end"]] == citation["snippet"]
    if body["abstained"]:
        assert body["abstain_reason"] and body["citations"] == [] and body["claims"] == []
    else:
        assert body["abstain_reason"] is None and body["citations"]
        for citation in body["citations"]:
            assert f"[{citation['id']}]" in body["answer"]
        assert body["claims"], "an answer is a list of checked claims"
        ids = {citation["id"] for citation in body["citations"]}
        for claim in body["claims"]:
            assert claim["text"] and set(claim["citations"]) <= ids and claim["citations"]
            assert claim["checks"]["figures"] in ("supported", "unsupported", "none")
            assert {claim["checks"]["entity"], claim["checks"]["period"]} <= {"matches", "mismatch", "n/a"}


def test_ask_answers_french_with_verbatim_citations(client: httpx.Client) -> None:
    response = client.post("/ask", json={"question": FRENCH})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    check_answer(body, client)
    assert body["language"] == "fr" and not body["abstained"]
    assert "100" in body["answer"]
    assert body["model"] == "extractive"


def test_ask_follows_the_question_language_or_the_requested_one(client: httpx.Client) -> None:
    english = client.post("/ask", json={"question": ENGLISH, "top_k": 8}).json()
    check_answer(english, client)
    assert english["language"] == "en"
    assert any("38" in citation["snippet"] for citation in english["citations"])

    forced = client.post("/ask", json={"question": FRENCH, "language": "en"}).json()
    assert forced["language"] == "en"
    assert forced["answer"].startswith("According to")  # the articles cited carry no date: no "As of"
    assert not any(citation["date"] for citation in forced["citations"])


def test_ask_refuses_a_question_the_articles_do_not_answer(client: httpx.Client) -> None:
    body = client.post("/ask", json={"question": OUT_OF_CORPUS}).json()
    check_answer(body, client)
    assert body["abstained"] is True
    assert body["abstain_reason"] == "no_relevant_passage"
    assert body["language"] == "en"
    assert body["related"], "a refusal lists the closest passages"


def test_stream_sends_answer_then_done_and_the_answer_is_the_ask_object(client: httpx.Client) -> None:
    with client.stream("POST", "/ask/stream", json={"question": FRENCH}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = read_sse(response)
    names = [name for name, _ in events]
    assert names[0] == "sources" and names[-2:] == ["answer", "done"]
    assert set(names[1:-2]) <= {"token"}, names
    streamed = json.loads(events[-2][1])
    shown = {(p["doc_id"], p["start"], p["end"]) for p in json.loads(events[0][1])["passages"]}
    assert {(c["doc_id"], c["start"], c["end"]) for c in streamed["citations"]} <= shown
    check_answer(streamed, client)
    asked = client.post("/ask", json={"question": FRENCH}).json()
    streamed.pop("timings_ms"), asked.pop("timings_ms")
    assert streamed == asked


def test_stream_refusal_is_an_answer_event(client: httpx.Client) -> None:
    with client.stream("POST", "/ask/stream", json={"question": OUT_OF_CORPUS, "language": "fr"}) as response:
        events = read_sse(response)
    assert [name for name, _ in events] == ["sources", "answer", "done"]
    assert json.loads(events[0][1])["language"] == "fr"
    answer = json.loads(events[1][1])
    assert answer["abstained"] and answer["language"] == "fr"


def test_stream_rejects_bad_input_with_a_status_not_a_stream(client: httpx.Client) -> None:
    response = client.post("/ask/stream", json={"question": "   "})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert "question is empty" in response.json()["detail"]


@pytest.mark.llm
def test_local_generator_streams_tokens_before_the_verified_answer(llm_server) -> None:
    with httpx.Client(base_url=llm_server.url, timeout=300) as http:
        started = time.perf_counter()
        with http.stream("POST", "/ask/stream", json={"question": FRENCH}) as response:
            assert response.status_code == 200
            events = read_sse(response)
        seconds = time.perf_counter() - started
        names = [name for name, _ in events]
        assert names[:2] == ["sources", "token"], names
        assert names[-2:] == ["answer", "done"] and set(names[1:-2]) == {"token"}
        pieces = "".join(json.loads(data)["text"] for name, data in events if name == "token")
        assert pieces.strip()
        answer = json.loads(events[-2][1])
        check_answer(answer, http)
        assert answer["language"] == "fr"
        assert answer["model"].startswith(("local:", "extractive"))
        print(f"streamed answer in {seconds:.1f} s: {answer['answer']!r}")

        asked = http.post("/ask", json={"question": ENGLISH}).json()
        check_answer(asked, http)
        assert asked["language"] == "en"
        health = http.get("/health").json()
        assert health["generator"].startswith("local:")


def test_closing_the_stream_stops_the_generation(scripted_server) -> None:
    generator = scripted_server.service.answerer.generator
    generator.cancelled.clear()
    generator.enqueue(ENDLESS)  # a reply that only a cancel can end
    with httpx.Client(base_url=scripted_server.url, timeout=60) as http:
        with http.stream("POST", "/ask/stream", json={"question": FRENCH}) as response:
            for line in response.iter_lines():
                if line.startswith("event: token"):
                    break
        # Waits for the event itself: the model noticed the cancel and stopped writing.
        assert generator.cancelled.wait(timeout=60), "the model kept writing for a client that left"
        # The model is free again: the next question does not queue behind an abandoned answer.
        generator.enqueue("Amazon prévoit d'investir plus de 100 milliards de dollars en 2025 [1].")
        assert http.post("/ask", json={"question": FRENCH}).json()["model"] == generator.name


def test_filters_choose_the_articles_answers_are_drawn_from(client: httpx.Client) -> None:
    dated = client.post("/ask", json={"question": ENGLISH, "since": "2025-11", "until": "2025-11-30"}).json()
    check_answer(dated, client)
    assert not dated["abstained"] and {c["doc_id"] for c in dated["citations"]} == {"003_d80e80294214e752"}
    assert {c["date"] for c in dated["citations"]} == {"2025-11-05"}
    assert dated["answer"].startswith("As of 5 November 2025, according to the articles: ")  # it is dated
    outlet = client.post("/ask", json={"question": FRENCH, "sources": ["techcrunch"]}).json()
    assert {c["doc_id"] for c in outlet["citations"] + outlet["related"]} == {"000_127e0ac6955dbf7b"}


def test_a_filter_that_leaves_nothing_is_a_refusal_not_an_error(client: httpx.Client) -> None:
    response = client.post("/ask", json={"question": ENGLISH, "until": "2020"})
    assert response.status_code == 200
    body = response.json()
    check_answer(body, client)
    assert body["abstained"] and body["abstain_reason"] == "no_relevant_passage" and body["related"] == []
    with client.stream("POST", "/ask/stream", json={"question": ENGLISH, "sources": ["Le Monde"]}) as stream:
        events = read_sse(stream)
    assert [event for event, _ in events] == ["sources", "answer", "done"]
    assert json.loads(events[0][1])["passages"] == []
    assert json.loads(events[1][1])["abstain_reason"] == "no_relevant_passage"


@pytest.mark.parametrize("path", ["/ask", "/ask/stream", "/search"])
@pytest.mark.parametrize("body", [{"since": "hier"}, {"until": "2025-02-30"}, {"since": "2026", "until": "2025"}])
def test_an_invalid_filter_date_is_a_400(client: httpx.Client, path: str, body: dict) -> None:
    question = {"query": ENGLISH} if path == "/search" else {"question": ENGLISH}
    response = client.post(path, json={**question, **body})
    assert response.status_code == 400 and ("not a date" in response.json()["detail"]
                                            or "is after until" in response.json()["detail"])


PAID = {"question": "Combien OpenAI paie-t-il AWS ?", "answer": "OpenAI paie 38 milliards de dollars à AWS [1]."}


def test_a_follow_up_is_answered_from_its_thread(client: httpx.Client) -> None:
    body = client.post("/ask", json={"question": "Et sur combien d'années ?", "history": [PAID]}).json()
    check_answer(body, client)
    assert body["standalone_question"] == "Combien OpenAI paie-t-il AWS ? Et sur combien d'années ?"
    assert "sept ans" in body["answer"] and body["language"] == "fr"
    alone = client.post("/ask", json={"question": "Et sur combien d'années ?"}).json()
    assert alone["standalone_question"] == "Et sur combien d'années ?" and "sept ans" not in alone["answer"]


def test_a_streamed_follow_up_answers_the_latest_question_s_language(client: httpx.Client) -> None:
    request = {"question": "And what about Oracle?", "history": [PAID]}
    with client.stream("POST", "/ask/stream", json=request) as response:
        events = read_sse(response)
    assert json.loads(events[0][1])["language"] == "en"
    answer = json.loads(events[-2][1])
    assert answer["standalone_question"] == "Combien OpenAI paie-t-il AWS ? And what about Oracle?"
    assert answer["language"] == "en" and "300" in answer["answer"]


@pytest.mark.parametrize(
    ("history", "status", "words"),
    [
        ([{"question": "Combien ?", "answer": "x" * 25_000}], 400, "history is 25009 characters long"),
        ([{"question": "   ", "answer": "Oui."}], 400, "empty question"),
        ([{"question": "Combien ?", "answer": 3}], 422, "history.0.answer"),
        ([{"answer": "Oui."}], 422, "history.0.question"),
        ("Combien ?", 422, "history"),
    ],
)
def test_a_bad_history_is_refused(client: httpx.Client, history: object, status: int, words: str) -> None:
    for path in ("/ask", "/ask/stream"):
        response = client.post(path, json={"question": "Et Oracle ?", "history": history})
        assert response.status_code == status, response.text
        assert words in response.json()["detail"]


@pytest.mark.parametrize("question", ["asdkjh qwpoeiru zxmcnv", "a", "What is it?", "Qu'est-ce que c'est ?"])
def test_a_question_sharing_no_word_with_the_articles_is_refused(client: httpx.Client, question: str) -> None:
    """Nonsense embeds near some passage (cosine 0.85): that alone is no evidence."""
    body = client.post("/ask", json={"question": question}).json()
    check_answer(body, client)
    assert body["abstained"] and body["abstain_reason"] == "no_relevant_passage"
