"""Hostile requests, one table: each gets a clear 4xx in time, and the index is as it was afterwards.

Bodies over a limit are sent only up to the point where the server must answer (a declared length,
or a stream cut just past the limit): a server that closes on an unread body would otherwise reset the
connection under the client before it reads the answer.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from seed_ids import OPENAI

from api.app import MAX_ASK_BODY_BYTES
from api.deps import MAX_DOCUMENT_BODY_BYTES

KNOWN_QUERY = {"query": "OpenAI Amazon Web Services 38 milliards sept ans", "k": 5}
MB = 1024 * 1024
NESTED = "[" * 30_000 + "]" * 30_000  # under 64 KiB, far deeper than any parser recurses


@dataclass(frozen=True)
class Hostile:
    """One hostile request: an httpx call (`send`) or raw bytes on a socket (`raw`), and what must come back."""

    name: str
    status: int
    words: str
    method: str = "POST"
    path: str = "/documents"
    send: dict[str, Any] = field(default_factory=dict)
    raw: bytes | None = None


def typed(content: bytes, media_type: str = "application/json") -> dict[str, Any]:
    return {"content": content, "headers": {"Content-Type": media_type}}


def json_bytes(payload: str) -> dict[str, Any]:
    return typed(payload.encode("utf-8", "surrogatepass"))


def head(path: str, *lines: str, method: str = "POST") -> bytes:
    return "\r\n".join([f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *lines, "", ""]).encode()


def cut_stream(path: str, content_type: str, size: int) -> bytes:
    """A chunked body announced as 16 MB of which `size` bytes come: the server must answer at `size`.

    Ending mid-chunk, at the limit + 1, leaves nothing unread behind the answer (so no reset).
    """
    return head(path, f"Content-Type: {content_type}", "Transfer-Encoding: chunked") + b"1000000\r\n" + b"a" * size


def upload(name: str, content: bytes, **fields: str) -> dict[str, Any]:
    return {"files": {"file": (name, content, "application/octet-stream")}, "data": fields}


def many_fields(count: int) -> dict[str, Any]:
    return {"files": {"file": ("a.txt", b"Un texte.")}, "data": {f"field{n}": "x" for n in range(count)}}


HOSTILE = [
    # Sizes: 256 KiB for a question and its history, 2 MB of document text.
    Hostile("1 MB question, declared", 413, "larger than", raw=head("/ask", "Content-Type: application/json",
                                                                     f"Content-Length: {MB}")),
    Hostile("1 MB question, streamed", 413, "larger than",
            raw=cut_stream("/ask", "application/json", MAX_ASK_BODY_BYTES + 1)),  # a question and its history
    Hostile("10 MB document, declared", 413, "2 MB", raw=head("/documents", "Content-Type: application/json",
                                                               f"Content-Length: {10 * MB}")),
    Hostile("10 MB upload, streamed", 413, "2 MB",
            raw=cut_stream("/documents", "multipart/form-data; boundary=x", MAX_DOCUMENT_BODY_BYTES + 1)),
    Hostile("2 MB + 1 of text", 413, "2 MB", send={"json": {"text": "x" * (2 * MB + 1)}}),
    Hostile("2 MB + 1 upload", 413, "2 MB", send=upload("huge.txt", b"a" * (2 * MB + 1))),
    # Structure and encoding.
    Hostile("deeply nested question", 422, "nested too deeply", path="/ask",
            send=json_bytes(f'{{"question": {NESTED}}}')),
    Hostile("deeply nested document", 422, "malformed JSON", send=json_bytes(f'{{"text": {NESTED}}}')),
    Hostile("invalid UTF-8 in a question", 422, "not UTF-8", path="/ask",
            send=typed(b'{"question": "Amaz\xff\xfeon ?"}')),
    Hostile("invalid UTF-8 in a document", 422, "malformed JSON",
            send=typed(b'{"text": "Un texte \xc3\x28 cass\xe9."}')),
    Hostile("invalid UTF-8 upload", 400, "not UTF-8", send=upload("latin1.txt", "Le café coûte 2 €.".encode("cp1252"))),
    Hostile("lone surrogate in a question", 422, "question", path="/ask",
            send=json_bytes('{"question": "\\ud800 Amazon ?"}')),
    Hostile("lone surrogate in a document", 422, "malformed JSON", send=json_bytes('{"text": "Un texte \\udc00."}')),
    Hostile("malformed JSON", 422, "malformed JSON", send=json_bytes("{not json")),
    Hostile("no text field", 422, "text", send={"json": {"title": "Sans texte"}}),
    Hostile("text of the wrong type", 422, "text", send={"json": {"text": 42}}),
    Hostile("k as a string", 422, "k", path="/search", send={"json": {**KNOWN_QUERY, "k": "5"}}),
    Hostile("k as a boolean", 422, "k", path="/search", send={"json": {**KNOWN_QUERY, "k": True}}),
    Hostile("k as a fraction", 422, "k", path="/search", send={"json": {**KNOWN_QUERY, "k": 2.5}}),
    # Characters that carry no text.
    Hostile("NUL in a question", 400, "U+0000", path="/ask", send={"json": {"question": "Amazon\u0000 investit ?"}}),
    Hostile("NUL in a query", 400, "U+0000", path="/search", send={"json": {"query": "OpenAI\u0000"}}),
    Hostile("NUL bytes in an upload", 415, "binary", send=upload("photo.txt", bytes(range(256)) * 8)),
    Hostile("a text of NULs", 400, "no text left", send={"json": {"text": "\u0000" * 50}}),
    Hostile("RTL overrides as a question", 400, "no letters", path="/ask",
            send={"json": {"question": "\u202e\u202d?"}}),
    Hostile("RTL overrides as a text", 400, "no letters", send={"json": {"text": "\u202e\u202d\u202e"}}),
    Hostile("zero-width question", 400, "no letters", path="/ask",
            send={"json": {"question": "\u200b\u200c\u200d\u2060"}}),
    Hostile("zero-width text", 400, "no letters", send={"json": {"text": "\u200c\u200d\u2060"}}),
    Hostile("combining marks as a question", 400, "no letters", path="/ask/stream",
            send={"json": {"question": "\u0301\u0302\u0303\u0308"}}),
    Hostile("emoji as a question", 400, "no letters", path="/ask", send={"json": {"question": "😀😀😀"}}),
    Hostile("emoji as a query", 400, "no letters", path="/search", send={"json": {"query": "🔥🔥"}}),
    Hostile("emoji as a text", 400, "no letters", send={"json": {"text": "😀 🎉 👍"}}),
    Hostile("blank upload", 400, "no text", send=upload("empty.txt", b"   \n\n  ")),
    # Ids and file names.
    Hostile("traversal id in JSON", 422, "doc_id", send={"json": {"doc_id": "../../etc/passwd", "text": "Un texte."}}),
    Hostile("dots as an id", 422, "doc_id", send={"json": {"doc_id": "..", "text": "Un texte."}}),
    Hostile("10,000-character id", 422, "doc_id", send={"json": {"doc_id": "a" * 10_000, "text": "Un texte."}}),
    Hostile("traversal path read", 404, "Not Found", method="GET", path="/documents/..%2F..%2Fetc%2Fpasswd"),
    Hostile("dots id read", 404, "no document", method="GET", path="/documents/%2e%2e"),
    Hostile("dots id deleted", 404, "no document", method="DELETE", path="/documents/%2E%2E"),
    Hostile("100 KB id read", 404, "no document", raw=head("/documents/" + "x" * 100_000, method="GET")),
    Hostile("upload named ../", 400, "holds a path", send=upload("../../evil.txt", b"Un texte.")),
    Hostile("upload named ..\\", 400, "holds a path", send=upload("..\\..\\evil.txt", b"Un texte.")),
    Hostile("upload with a 300-character name", 400, "document id", send=upload("a" * 300 + ".txt", b"Un texte.")),
    Hostile("upload with a bad name", 400, "document id", send=upload("bad name!.txt", b"Un article.")),
    Hostile("upload of a PDF", 415, "file type", send=upload("report.pdf", b"%PDF-1.7 fake")),
    Hostile("traversal id as a form field", 422, "doc_id", send=upload("a.txt", b"Un texte.", doc_id="../a")),
    # Media types and multipart.
    Hostile("plain text to /ask", 415, "application/json", path="/ask",
            send=typed(b'{"question": "Amazon ?"}', "text/plain")),
    Hostile("a form to /search", 415, "application/json", path="/search", send={"data": {"query": "Amazon"}}),
    Hostile("XML to /documents", 415, "JSON", send=typed(b"<doc/>", "application/xml")),
    Hostile("plain text to /documents", 415, "JSON", send=typed(b"Un texte", "text/plain")),
    Hostile("a body without a media type", 415, "application/json",
            raw=head("/ask", "Content-Length: 24") + b'{"question": "Amazon ?"}'),
    Hostile("1,000 form fields", 422, "Too many fields", send=many_fields(1000)),
    Hostile("an unknown form field", 422, "unknown field", send=many_fields(1)),
    Hostile("50 files", 422, "Too many files",
            send={"files": [("file", (f"a{n}.txt", b"Un texte.")) for n in range(50)]}),
    Hostile("no file part", 422, "field `file`", send={"files": {"other": ("a.txt", b"Un texte.")}}),
    Hostile("broken multipart", 422, "multipart",
            send=typed(b"--x\r\nbroken", "multipart/form-data; boundary=x")),
    # Time: a body that stops arriving (the test server waits 2 s for a whole body).
    Hostile("slow upload", 408, "did not arrive",
            raw=head("/documents", "Content-Type: application/json", "Content-Length: 5000") + b'{"text": "Un te'),
    Hostile("slow question", 408, "did not arrive",
            raw=head("/ask", "Content-Type: application/json", "Content-Length: 100") + b'{"quest'),
]


def exchange(url: str, request: bytes, api_key: str) -> tuple[int, dict[str, str], bytes]:
    """Send raw request bytes (with the key), then read the answer; the socket times out rather than hang."""
    target = urlsplit(url)
    request = request.replace(b"\r\n", f"\r\nAuthorization: Bearer {api_key}\r\n".encode(), 1)
    with socket.create_connection((target.hostname, target.port), timeout=60) as sock:
        sock.sendall(request)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, {name.lower(): value for name, value in response.getheaders()}, response.read()


def state(http_client: httpx.Client) -> tuple[int, list[tuple[str, int, int]]]:
    """The document count and a known search result: what a hostile request must leave as it was."""
    count = len(http_client.get("/documents").json())
    hits = http_client.post("/search", json=KNOWN_QUERY).json()["hits"]
    return count, [(hit["doc_id"], hit["start"], hit["end"]) for hit in hits]


@pytest.mark.parametrize("case", HOSTILE, ids=[case.name for case in HOSTILE])
def test_a_hostile_request_gets_a_clear_4xx_and_leaves_the_index_as_it_was(
    case: Hostile, writer: httpx.Client, api_server, api_key: str
) -> None:
    before = state(writer)
    assert before[1][0][0] == OPENAI
    if case.raw is not None:
        status, headers, body = exchange(api_server.url, case.raw, api_key)
    else:
        response = writer.request(case.method, case.path, timeout=60, **case.send)
        status, headers, body = response.status_code, dict(response.headers), response.content
    assert status == case.status, body[:500]
    assert headers["content-type"] == "application/json"
    detail = json.loads(body)["detail"]
    assert case.words in detail and "Traceback" not in detail
    assert len(body) < 2000, "the input is not echoed back"
    assert state(writer) == before


class _Records(logging.Handler):
    """Every log record of the loggers it is attached to (the server runs in this process)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def requests_counted(http_client: httpx.Client, status: str) -> float:
    """`rag_http_requests_total` of POST /documents with `status`."""
    for family in text_string_to_metric_families(http_client.get("/metrics").text):
        for sample in family.samples:
            labels = sample.labels
            if (sample.name, labels.get("endpoint"), labels.get("method"), labels.get("status")) == (
                "rag_http_requests_total", "/documents", "POST", status
            ):
                return sample.value
    return 0.0


def test_a_client_leaving_mid_upload_is_no_server_error(writer: httpx.Client, api_server, api_key: str) -> None:
    records = _Records()
    loggers = [logging.getLogger(), logging.getLogger("uvicorn.error")]
    for logger in loggers:
        logger.addHandler(records)
    try:
        failed, left = requests_counted(writer, "500"), requests_counted(writer, "499")
        target = urlsplit(api_server.url)
        with socket.create_connection((target.hostname, target.port), timeout=60) as sock:
            sock.sendall(head("/documents", f"Authorization: Bearer {api_key}", "Content-Type: application/json",
                              "Content-Length: 5000") + b'{"text": "Un article qui ne finit ')
        deadline = time.monotonic() + 60  # waits for the server to count the request, not for a set time
        while requests_counted(writer, "499") == left and time.monotonic() < deadline:
            time.sleep(0.05)
        assert requests_counted(writer, "499") == left + 1
        assert requests_counted(writer, "500") == failed
        assert [record.getMessage() for record in records.records if record.levelno >= logging.ERROR] == []
    finally:
        for logger in loggers:
            logger.removeHandler(records)
