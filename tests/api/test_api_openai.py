"""`/v1/chat/completions` and `/v1/models` with the official `openai` client against a real server.

Most answers come from the scripted generator (exact text, so the wire format can be checked to the
character); one from the extractive answerer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import openai
import pytest
from doubles import ENDLESS
from openai import OpenAI

from rag.prompting import NOT_FOUND

FRENCH = "Combien Amazon prévoit-il d'investir en 2025 ?"
SCRIPTED = "Amazon prévoit d'investir plus de 100 milliards de dollars en 2025 [1]."
# What the answer says: the scripted text, also citing the other seed that gives the same figure.
ANSWERED = SCRIPTED.replace("[1].", "[1][2].")
ENGLISH = "How much is OpenAI paying AWS, and for how long?"
ERROR_FIELDS = {"message", "type", "param", "code"}


def client_of(url: str, key: str = "no-key") -> OpenAI:
    return OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=120)


@pytest.fixture
def scripted(scripted_server) -> Iterator[tuple[OpenAI, object]]:
    """An OpenAI client of the scripted server, and its generator; every scripted reply is consumed."""
    generator = scripted_server.service.answerer.generator
    with client_of(scripted_server.url) as client:
        yield client, generator
    assert generator.pending == 0


def check_citations(citations: list[dict], url: str) -> None:
    """Each citation is verbatim at its offsets in the stored article."""
    assert citations
    with httpx.Client(base_url=url, timeout=60) as http:
        for citation in citations:
            text = http.get(f"/documents/{citation['doc_id']}").json()["text"]
            assert text[citation["start"] : citation["end"]] == citation["snippet"]


def check_sources(content: str, citations: list[dict]) -> None:
    """The text ends with one source line per citation: its number, title and quoted snippet."""
    answer, heading, listed = content.partition("\n\nSources:\n")
    assert heading and "[1]" in answer
    lines = listed.split("\n")
    assert len(lines) == len(citations)
    for line, citation in zip(lines, citations):
        assert line.startswith(f"[{citation['id']}] {citation['title']}")
        assert citation["snippet"][:60] in line


def test_models_lists_the_one_model(scripted) -> None:
    client, _ = scripted
    assert [model.id for model in client.models.list()] == ["rag"]


def test_a_completion_is_the_verified_answer_with_sources_and_citations(scripted, scripted_server) -> None:
    client, generator = scripted
    generator.enqueue(SCRIPTED)
    completion = client.chat.completions.create(
        model="rag", messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": FRENCH}]
    )
    assert completion.object == "chat.completion" and completion.id.startswith("chatcmpl-")
    assert completion.model == "rag"
    choice = completion.choices[0]
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    content = choice.message.content
    assert content.startswith(ANSWERED + "\n\nSources:\n[1] ")
    citations = completion.model_extra["citations"]
    assert [citation["id"] for citation in citations] == [1, 2]
    check_citations(citations, scripted_server.url)
    check_sources(content, citations)
    assert FRENCH in generator.requests[-1][-1]["content"], "the last user message is the question"


def test_a_stream_sends_the_role_then_the_text_then_the_citations(scripted, scripted_server) -> None:
    client, generator = scripted
    generator.enqueue(["Amazon prévoit ", "d'investir plus de 100 milliards ", "de dollars en 2025 [1]."])
    chunks = list(client.chat.completions.create(
        model="rag", messages=[{"role": "user", "content": FRENCH}], stream=True
    ))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert {chunk.id for chunk in chunks} == {chunks[0].id}
    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert text.startswith(ANSWERED + "\n\nSources:\n")
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert [chunk.choices[0].finish_reason for chunk in chunks[:-1]] == [None] * (len(chunks) - 1)
    citations = last.model_extra["citations"]
    check_citations(citations, scripted_server.url)
    check_sources(text, citations)


def test_the_stream_is_openai_server_sent_events_ending_with_done(scripted_server) -> None:
    generator = scripted_server.service.answerer.generator
    generator.enqueue(SCRIPTED)
    body = {"model": "rag", "messages": [{"role": "user", "content": FRENCH}], "stream": True}
    with (
        httpx.Client(base_url=scripted_server.url, timeout=60) as http,
        http.stream("POST", "/v1/chat/completions", json=body) as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line and not line.startswith(":")]
    assert all(line.startswith("data: ") for line in lines), lines  # no `event:` lines: OpenAI sends none
    assert lines[-1] == "data: [DONE]"
    assert json.loads(lines[-2][len("data: "):])["citations"]


def test_the_extractive_answerer_answers_in_the_question_language(client, api_server) -> None:
    with client_of(api_server.url) as openai_client:
        completion = openai_client.chat.completions.create(
            model="rag", messages=[{"role": "user", "content": ENGLISH}]
        )
    content = completion.choices[0].message.content
    assert content.startswith("As of 5 November 2025, according to the articles: ")  # the cited article is dated
    assert "38" in content.split("\n\nSources:")[0]
    citations = completion.model_extra["citations"]
    check_citations(citations, api_server.url)
    check_sources(content, citations)


def test_a_refusal_lists_the_closest_passages_and_no_citation(client, api_server) -> None:
    with client_of(api_server.url) as openai_client:
        completion = openai_client.chat.completions.create(
            model="rag", messages=[{"role": "user", "content": "What is the capital of Australia?"}]
        )
    content = completion.choices[0].message.content
    assert content.startswith("I could not find the answer in the indexed articles.\n\nClosest passages:\n[1] ")
    assert completion.model_extra["citations"] == []


def test_leaving_the_stream_stops_the_generation(scripted_server) -> None:
    generator = scripted_server.service.answerer.generator
    generator.cancelled.clear()
    generator.enqueue(ENDLESS)
    with client_of(scripted_server.url) as client:
        stream = client.chat.completions.create(model="rag", messages=[{"role": "user", "content": FRENCH}],
                                                stream=True)
        assert next(iter(stream)).choices[0].delta.role == "assistant"
        stream.close()
    assert generator.cancelled.wait(timeout=60), "the model kept writing for a client that left"


def openai_error(response: httpx.Response, status: int) -> dict:
    """OpenAI's error shape, with the status OpenAI gives."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == ERROR_FIELDS
    assert body["error"]["message"] and "Traceback" not in response.text
    return body["error"]


BAD_REQUESTS = [
    ({"model": "gpt-4o", "messages": [{"role": "user", "content": FRENCH}]}, 404, "model_not_found", "gpt-4o"),
    ({"model": "rag", "messages": []}, 400, "invalid_request", "messages"),
    ({"model": "rag"}, 400, "invalid_request", "messages"),
    ({"messages": [{"role": "user", "content": FRENCH}]}, 400, "invalid_request", "model"),
    ({"model": "rag", "messages": [{"role": "oracle", "content": FRENCH}]}, 400, "invalid_request", "role"),
    ({"model": "rag", "messages": [{"role": "user", "content": FRENCH}, {"role": "assistant", "content": "Oui."}]},
     400, "invalid_request", "last message"),
    ({"model": "rag", "messages": [{"role": "user", "content": "   "}]}, 400, "invalid_request", "empty"),
    ({"model": "rag", "messages": [{"role": "user", "content": "é" * 2500}]}, 400, "invalid_request", "2000"),
    ({"model": "rag", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"}, {"type": "image_url", "image_url": {"url": "data:,"}}]}]},
     400, "invalid_request", "image_url"),
]


@pytest.mark.parametrize(("body", "status", "code", "words"), BAD_REQUESTS)
def test_bad_requests_get_openai_errors(client, body: dict, status: int, code: str, words: str) -> None:
    error = openai_error(client.post("/v1/chat/completions", json=body), status)
    assert error["code"] == code and words in error["message"]
    assert error["type"] == "invalid_request_error"
    assert "é" * 100 not in error["message"]


def test_malformed_json_and_huge_bodies_get_openai_errors(client) -> None:
    malformed = client.post("/v1/chat/completions", content=b'{"model": "rag", "mess',
                            headers={"Content-Type": "application/json"})
    assert "malformed JSON" in openai_error(malformed, 400)["message"]
    huge = client.post("/v1/chat/completions", content=b"[" * 2_000_000, headers={"Content-Type": "application/json"})
    assert openai_error(huge, 413)["code"] == "request_too_large"
    assert openai_error(client.get("/v1/nowhere"), 404)["code"] == "not_found"


def test_the_sdk_raises_its_own_exceptions(api_server) -> None:
    with client_of(api_server.url) as openai_client:
        with pytest.raises(openai.NotFoundError) as missing:
            openai_client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": FRENCH}])
        assert missing.value.code == "model_not_found"
        with pytest.raises(openai.BadRequestError) as bad:
            openai_client.chat.completions.create(model="rag", messages=[{"role": "assistant", "content": "Oui."}])
        assert bad.value.type == "invalid_request_error"


def test_the_api_key_for_questions_guards_the_openai_routes(locked_server, api_key: str) -> None:
    with client_of(locked_server.url, key="wrong") as wrong:
        with pytest.raises(openai.AuthenticationError) as refused:
            wrong.models.list()
        assert refused.value.code == "invalid_api_key"
        with pytest.raises(openai.AuthenticationError):
            wrong.chat.completions.create(model="rag", messages=[{"role": "user", "content": FRENCH}])
    with httpx.Client(base_url=locked_server.url, timeout=60) as http:
        response = http.get("/v1/models")
        assert openai_error(response, 401)["type"] == "authentication_error"
        assert response.headers["www-authenticate"] == "Bearer"
    with client_of(locked_server.url, key=api_key) as allowed:
        assert [model.id for model in allowed.models.list()] == ["rag"]
        completion = allowed.chat.completions.create(model="rag", messages=[{"role": "user", "content": FRENCH}])
        assert "100" in completion.choices[0].message.content


def test_earlier_messages_are_the_history_of_the_last_one(scripted) -> None:
    client, generator = scripted
    generator.enqueue(SCRIPTED)
    first = client.chat.completions.create(model="rag", messages=[{"role": "user", "content": FRENCH}])
    earlier = first.choices[0].message.content
    rewrite = "Combien Meta prévoit-il d'investir en 2025 ?"
    generator.enqueue(rewrite, NOT_FOUND)
    completion = client.chat.completions.create(model="rag", messages=[
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": FRENCH},
        {"role": "assistant", "content": earlier},
        {"role": "user", "content": "Et Meta ?"},
    ])
    rewrite_prompt, answer_prompt = generator.requests[-2][-1]["content"], generator.requests[-1][-1]["content"]
    assert FRENCH in rewrite_prompt and "Et Meta ?" in rewrite_prompt
    assert SCRIPTED.removesuffix(" [1].") in rewrite_prompt and "Sources:" not in rewrite_prompt, "the answer only"
    assert rewrite in answer_prompt, "the rewrite is what is searched and answered"
    assert completion.choices[0].message.content.startswith("Je ne trouve pas la réponse")
