"""Health, metrics, the page, auth, CORS, and the one error shape of every endpoint."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from api.errors import STATUS_OF, describe_validation, status_of
from api.security import PAGE_POLICY
from rag.config import Settings
from rag.errors import (
    DocumentNotFoundError,
    GenerationError,
    IndexIncompatibleError,
    IndexMissingError,
    InvalidInputError,
    ModelUnavailableError,
    RagError,
    SearchBackendError,
    WriteTooLargeError,
)

LONG = "é" * 5000


def sample(http: httpx.Client, name: str, **labels: str) -> float:
    """One sample of /metrics (0 when the series does not exist yet)."""
    for family in text_string_to_metric_families(http.get("/metrics").text):
        for item in family.samples:
            if item.name == name and all(item.labels.get(key) == value for key, value in labels.items()):
                return item.value
    return 0.0


def check_error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"detail"} and isinstance(body["detail"], str) and body["detail"]
    assert "Traceback" not in response.text
    assert len(response.text) < 2000, "no echo of the input"
    return body["detail"]


def test_health_reports_the_corpus_and_models(client: httpx.Client) -> None:
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["documents"] >= 5 and body["chunks"] >= body["documents"]
    assert body["embedding_model"] == "intfloat/multilingual-e5-small"
    assert body["generator"] == "extractive"


def test_metrics_count_requests_answers_and_refusals(client: httpx.Client) -> None:
    search = {"endpoint": "/search", "method": "POST", "status": "200"}
    searches = sample(client, "rag_http_requests_total", **search)
    invalid = sample(client, "rag_http_requests_total", endpoint="/search", method="POST", status="422")
    english = sample(client, "rag_answers_total", language="en")
    refused = sample(client, "rag_refusals_total", abstain_reason="no_relevant_passage")
    for _ in range(3):
        client.post("/search", json={"query": "Amazon"})
    client.post("/search", json={"query": ""})
    client.post("/ask", json={"question": "What is the capital of Australia?"})

    assert sample(client, "rag_http_requests_total", **search) == searches + 3
    assert sample(client, "rag_http_requests_total", endpoint="/search", method="POST", status="422") == invalid + 1
    assert sample(client, "rag_http_request_duration_seconds_count", **search) >= searches + 3
    assert sample(client, "rag_answers_total", language="en") == english + 1
    assert sample(client, "rag_refusals_total", abstain_reason="no_relevant_passage") == refused + 1
    client.get("/no/such/page/12345")
    text = client.get("/metrics").text
    assert "/no/such/page" not in text and 'endpoint="<unmatched>"' in text


def test_openapi_documents_every_endpoint(client: httpx.Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/ask", "/ask/stream", "/search", "/documents", "/documents/{doc_id}", "/health", "/metrics"} <= set(paths)
    assert set(paths["/documents"]["post"]["requestBody"]["content"]) == {"application/json", "multipart/form-data"}


@pytest.mark.parametrize(
    ("path", "assets"),
    [
        ("/", {"/static/app.js": "javascript", "/static/app.css": "text/css"}),
        ("/docs", {"/static/docs.js": "javascript", "/swagger/swagger-ui-bundle.js": "javascript",
                   "/swagger/swagger-ui.css": "text/css"}),
    ],
)
def test_pages_are_served_with_their_own_assets_only_under_a_strict_policy(
    client: httpx.Client, path: str, assets: dict[str, str]
) -> None:
    page = client.get(path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == PAGE_POLICY
    assert "script-src 'self';" in PAGE_POLICY and "unsafe-inline" not in PAGE_POLICY
    assert "http://" not in page.text and "https://" not in page.text and "<script>" not in page.text
    for asset, kind in assets.items():
        assert f'"{asset}"' in page.text
        response = client.get(asset)
        assert response.status_code == 200 and kind in response.headers["content-type"]
        if asset.startswith("/static/"):
            assert "innerHTML" not in response.text
    assert client.head(path).status_code == 200
    assert client.get("/redoc").status_code == 404  # FastAPI's ReDoc page loads from a CDN: not served


def test_api_key_guards_document_changes_but_not_questions(
    client: httpx.Client, writer: httpx.Client, api_key: str
) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {api_key}"}):
        response = client.post("/documents", json={"doc_id": "nope", "text": "Texte."}, headers=headers)
        assert "API key" in check_error(response, 401)
        assert response.headers["www-authenticate"] == "Bearer"
        check_error(client.delete("/documents/003_d80e80294214e752", headers=headers), 401)
    assert client.get("/documents/003_d80e80294214e752").status_code == 200
    assert client.post("/search", json={"query": "Amazon"}).status_code == 200
    assert client.post("/ask", json={"question": "Combien Amazon investit-il ?"}).status_code == 200
    assert writer.delete("/documents/never-there").status_code == 404  # the key is accepted


def test_api_key_for_ask_guards_questions_too(locked_server, api_key: str) -> None:
    with httpx.Client(base_url=locked_server.url, timeout=120) as http:
        for path, body in (("/ask", {"question": "Amazon ?"}), ("/ask/stream", {"question": "Amazon ?"}),
                           ("/search", {"query": "Amazon"})):
            response = http.post(path, json=body)
            check_error(response, 401)
            assert response.headers["www-authenticate"] == "Bearer"
            assert http.post(path, json=body, headers={"Authorization": f"Bearer {api_key}"}).status_code == 200
        for path in ("/documents", "/documents/003_d80e80294214e752"):
            check_error(http.get(path), 401)  # full texts are as guarded as the answers quoting them
            assert http.get(path, headers={"Authorization": f"Bearer {api_key}"}).status_code == 200
        assert http.get("/health").status_code == 200


def test_an_unknown_huge_id_is_not_echoed_back(client: httpx.Client) -> None:
    detail = check_error(client.get("/documents/" + "x" * 5000), 404)
    assert len(detail) < 200 and "xxxx" in detail


def test_without_a_key_anyone_may_write_and_cors_allows_the_configured_origin(open_server) -> None:
    with httpx.Client(base_url=open_server.url, timeout=120) as http:
        response = http.post("/documents", json={"doc_id": "open-note", "text": "Une note publique sur Brest."})
        assert response.status_code == 201
        assert http.delete("/documents/open-note").status_code == 200
        preflight = {"Origin": "http://allowed.example", "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "content-type"}
        allowed = http.options("/ask", headers=preflight)
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "http://allowed.example"
        denied = http.options("/ask", headers={**preflight, "Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in denied.headers
        plain = http.get("/health", headers={"Origin": "http://allowed.example"})
        assert plain.headers["access-control-allow-origin"] == "http://allowed.example"


BAD_REQUESTS = [
    ("post", "/ask", {"json": {"question": ""}}, 422, "question"),
    ("post", "/ask", {"json": {"question": "   \n  "}}, 400, "question is empty"),
    ("post", "/ask", {"json": {"question": LONG}}, 422, "2000"),
    ("post", "/ask", {"json": {"question": 12}}, 422, "question"),
    ("post", "/ask", {"json": {"question": "Amazon ?", "language": "de"}}, 422, "language"),
    ("post", "/ask", {"json": {"question": "Amazon ?", "top_k": 0}}, 422, "top_k"),
    ("post", "/ask", {"json": {"question": "Amazon ?", "top_k": "many"}}, 422, "top_k"),
    ("post", "/ask", {"json": {"question": "Amazon ?", "temperature": 2}}, 422, "unknown field"),
    ("post", "/ask", {"json": ["Amazon ?"]}, 422, "object"),
    ("post", "/ask", {"content": b'{"question": "Amazon', "headers": {"Content-Type": "application/json"}}, 422,
     "malformed JSON"),
    ("post", "/ask", {}, 422, "body"),
    ("post", "/ask", {"json": {"question": "a" * 300_000}}, 413, "larger than"),
    ("post", "/search", {"content": b"[" * 200_000, "headers": {"Content-Type": "application/json"}}, 413, "larger"),
    ("post", "/ask/stream", {"json": {"question": LONG}}, 422, "2000"),
    ("post", "/ask/stream", {"json": {"question": "Amazon ?", "language": "es"}}, 422, "language"),
    ("post", "/search", {"json": {"query": ""}}, 422, "query"),
    ("post", "/search", {"json": {"query": "Amazon", "k": 51}}, 422, "k"),
    ("post", "/search", {"json": {"k": 3}}, 422, "query"),
    ("post", "/search", {"json": {"query": "Amazon", "k": "5"}}, 422, "k"),
    ("post", "/search", {"json": {"query": "Amazon", "k": True}}, 422, "k"),
    ("post", "/ask", {"json": {"question": "Amazon ?", "top_k": True}}, 422, "top_k"),
    ("post", "/ask", {"json": {"question": "\u0000\ud7ff\u202e\ufeff"}}, 400, "no letters or digits"),
    ("post", "/ask/stream", {"json": {"question": "?!?! ...;;;"}}, 400, "no letters or digits"),
    ("get", "/documents/unknown-article", {}, 404, "unknown-article"),
    ("get", "/documents/bad%20id", {}, 404, "bad id"),
    ("delete", "/documents/unknown-article", {"auth": True}, 404, "unknown-article"),
    ("get", "/nowhere", {}, 404, "Not Found"),
    ("put", "/ask", {}, 405, "Method Not Allowed"),
]


@pytest.mark.parametrize(("method", "path", "request_args", "status", "words"), BAD_REQUESTS)
def test_bad_requests_get_a_readable_json_error(
    client: httpx.Client, writer: httpx.Client, method: str, path: str, request_args: dict, status: int, words: str
) -> None:
    http = writer if request_args.pop("auth", False) else client
    detail = check_error(http.request(method.upper(), path, **request_args), status)
    assert words in detail
    assert "é" * 100 not in detail


def test_every_domain_error_has_one_status() -> None:
    assert status_of(InvalidInputError("x")) == 400
    assert status_of(DocumentNotFoundError("x")) == 404
    for error in (
        IndexMissingError, IndexIncompatibleError, ModelUnavailableError, GenerationError, SearchBackendError
    ):
        assert status_of(error("x")) == 503
    assert status_of(RagError("x")) == 400
    assert status_of(WriteTooLargeError("x")) == 413  # an InvalidInputError, more specific
    assert {kind for kind, _ in STATUS_OF} == {
        WriteTooLargeError, InvalidInputError, DocumentNotFoundError, IndexMissingError, IndexIncompatibleError,
        ModelUnavailableError, GenerationError, SearchBackendError, RagError,
    }


def test_validation_messages_name_fields_without_echoing_input() -> None:
    errors = [
        {"type": "string_too_long", "loc": ("body", "question"), "msg": "String should have at most 2000 characters",
         "input": LONG},
        {"type": "json_invalid", "loc": ("body", 12), "msg": "JSON decode error", "ctx": {"error": "Expecting value"}},
    ]
    assert describe_validation(errors) == (
        "question: String should have at most 2000 characters; malformed JSON body (Expecting value)"
    )


def test_unexpected_and_domain_errors_become_json_without_a_traceback(tmp_path) -> None:
    """Routes added here raise inside the real app (its lifespan is not started: no models needed)."""
    app: FastAPI = create_app(Settings(index_dir=tmp_path, generator="extractive"))

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals /etc/passwd")

    @app.get("/stale-index")
    def stale() -> None:
        raise IndexIncompatibleError("index was built with model X; run `rag index --rebuild`")

    # No `with`: the lifespan (models) is not needed. A loopback Host: the app refuses TestClient's "testserver".
    http = TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False)
    response = http.get("/boom")
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error"}
    assert "secret" not in response.text and "Traceback" not in response.text
    stale_response = http.get("/stale-index")
    assert stale_response.status_code == 503
    assert stale_response.json() == {"detail": "index was built with model X; run `rag index --rebuild`"}


def test_the_schema_documents_each_stream_event_and_only_the_keys_the_settings_require() -> None:
    def secured(settings: Settings) -> set[str]:
        paths = create_app(settings).openapi()["paths"]
        return {f"{method.upper()} {path}" for path, ops in paths.items() for method, op in ops.items()
                if op.get("security")}

    schema = create_app(Settings()).openapi()
    stream = schema["paths"]["/ask/stream"]["post"]["responses"]["200"]["content"]["text/event-stream"]["schema"]
    events = {event["properties"]["event"]["const"]: event["properties"]["data"] for event in stream["oneOf"]}
    assert list(events) == ["sources", "token", "answer", "done", "error"]
    assert events["answer"]["contentSchema"] == {"$ref": "#/components/schemas/AnswerOut"}
    assert {"SourcesOut", "TokenOut", "CitationOut"} <= set(schema["components"]["schemas"])
    assert secured(Settings(api_key=None)) == set()
    writes = {"POST /documents", "DELETE /documents/{doc_id}"}
    assert secured(Settings(api_key="k")) == writes
    reads = {"POST /ask", "POST /ask/stream", "POST /search", "GET /documents", "GET /documents/{doc_id}",
             "POST /v1/chat/completions", "GET /v1/models"}
    assert secured(Settings(api_key="k", api_key_for_ask=True)) == writes | reads
    assert "401" not in schema["paths"]["/documents"]["post"]["responses"]


def test_a_405_allows_every_method_of_the_path(client: httpx.Client) -> None:
    response = client.request("PUT", "/documents/003_d80e80294214e752")
    check_error(response, 405)
    assert response.headers["allow"] == "DELETE, GET"
    assert client.options("/documents").headers["allow"] == "GET, POST"
