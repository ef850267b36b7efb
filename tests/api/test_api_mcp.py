"""`rag mcp` over stdio with the `mcp` SDK's own client, against a copy of the seed index.

The tools must return what the HTTP API returns for the same request, so each is compared with
the main API server (extractive answers, same seeds).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from servers import ROOT, STARTUP_TIMEOUT_S

from api.mcp_server import MCP_PATH

FRENCH = "Combien Amazon prévoit-il d'investir en 2025 ?"
ENGLISH = "How much is OpenAI paying AWS, and for how long?"


class Session:
    """A connected MCP client driven from synchronous tests through an anyio portal."""

    def __init__(self, portal: BlockingPortal, client: Client) -> None:
        self.portal = portal
        self.client = client

    def __call__(self, method: str, *args: Any) -> Any:
        return self.portal.call(getattr(self.client, method), *args)


@pytest.fixture(scope="module")
def mcp(seed_copy: Callable[[str], Path]) -> Iterator[Session]:
    """One `rag mcp` process (extractive answers) for the module, spoken to over its stdin and stdout."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("RAG_")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", RAG_INDEX_DIR=str(seed_copy("mcp-index")),
               RAG_GENERATOR="extractive")
    params = StdioServerParameters(command=sys.executable, args=["-m", "api.cli", "mcp"], env=env, cwd=ROOT)
    client: AbstractAsyncContextManager[Client] = Client(params, read_timeout_seconds=180)
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(client) as connected:
        yield Session(portal, connected)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def structured(result: Any) -> dict:
    """A successful tool result's JSON; its text content says the same."""
    assert not result.is_error, result.content
    assert json.loads(result.content[0].text) == result.structured_content
    return result.structured_content


def test_the_server_offers_search_ask_and_every_document(mcp: Session, client: httpx.Client) -> None:
    tools = {tool.name: tool for tool in mcp("list_tools").tools}
    assert set(tools) == {"search", "ask"}
    filters = {"since", "until", "sources"}
    assert set(tools["search"].input_schema["properties"]) == {"query", "k"} | filters
    assert set(tools["ask"].input_schema["properties"]) == {"question", "language", "top_k"} | filters
    assert tools["ask"].output_schema["properties"].keys() >= {"answer", "citations", "claims"}
    resources = mcp("list_resources").resources
    listed = client.get("/documents").json()
    assert [str(resource.uri) for resource in resources] == [f"rag://documents/{doc['doc_id']}" for doc in listed]
    assert [resource.title for resource in resources] == [doc["title"] for doc in listed]


def test_search_returns_what_post_search_returns(mcp: Session, client: httpx.Client) -> None:
    hits = structured(mcp("call_tool", "search", {"query": ENGLISH, "k": 3}))
    assert len(hits["hits"]) == 3
    assert hits == client.post("/search", json={"query": ENGLISH, "k": 3}).json()
    outlet = {"query": "Amazon cloud", "k": 3, "sources": ["techcrunch"]}
    filtered = structured(mcp("call_tool", "search", outlet))
    assert {hit["doc_id"] for hit in filtered["hits"]} == {"000_127e0ac6955dbf7b"}
    assert filtered == client.post("/search", json=outlet).json()


def test_ask_returns_what_post_ask_returns(mcp: Session, client: httpx.Client) -> None:
    for question, language in ((FRENCH, "auto"), (FRENCH, "en")):
        answer = structured(mcp("call_tool", "ask", {"question": question, "language": language}))
        expected = client.post("/ask", json={"question": question, "language": language}).json()
        answer.pop("timings_ms"), expected.pop("timings_ms")
        assert answer == expected
        assert answer["citations"] and not answer["abstained"]
    assert answer["language"] == "en" and answer["answer"].startswith("According to the articles")


def test_a_document_resource_is_the_article_its_offsets_point_into(mcp: Session, client: httpx.Client) -> None:
    answer = structured(mcp("call_tool", "ask", {"question": ENGLISH}))
    citation = answer["citations"][0]
    contents = mcp("read_resource", f"rag://documents/{citation['doc_id']}").contents
    assert contents[0].mime_type == "application/json"
    document = json.loads(contents[0].text)
    assert document == client.get(f"/documents/{citation['doc_id']}").json()
    assert document["text"][citation["start"] : citation["end"]] == citation["snippet"]


@pytest.mark.parametrize(
    ("tool", "arguments", "words"),
    [
        ("ask", {"question": "?!?! ...;;;"}, "no letters or digits"),
        ("ask", {"question": FRENCH, "language": "de"}, "language"),
        ("ask", {"question": "x" * 2001}, "question"),
        ("ask", {}, "question"),
        ("search", {"query": "Amazon", "k": 0}, "k"),
        ("search", {"query": "Amazon", "since": "hier"}, "not a date"),
        ("oracle", {"question": FRENCH}, "oracle"),
    ],
)
def test_a_failing_tool_call_is_an_error_result(mcp: Session, tool: str, arguments: dict, words: str) -> None:
    result = mcp("call_tool", tool, arguments)
    assert result.is_error
    assert words in result.content[0].text
    assert "Traceback" not in result.content[0].text


def test_an_unknown_document_is_an_invalid_params_error(mcp: Session) -> None:
    with pytest.raises(MCPError) as raised:
        mcp("read_resource", "rag://documents/never-indexed")
    assert raised.value.error.code == -32602
    assert "never-indexed" in raised.value.error.message


@pytest.fixture(scope="module")
def mcp_http(seed_copy: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory, api_key: str) -> Iterator[str]:
    """`rag mcp --http` on a free loopback port, its questions guarded by the API key; yields its URL."""
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("RAG_")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", RAG_INDEX_DIR=str(seed_copy("mcp-http-index")),
               RAG_GENERATOR="extractive", RAG_API_KEY=api_key, RAG_API_KEY_FOR_ASK="true")
    log = tmp_path_factory.mktemp("mcp-http") / "server.log"
    command = [sys.executable, "-m", "api.cli", "mcp", "--http", f"127.0.0.1:{port}"]
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}{MCP_PATH}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            assert process.poll() is None, log.read_text()
            try:
                httpx.get(url, timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_streamable_http_needs_the_key_when_questions_do(mcp_http: str, api_key: str) -> None:
    refused = httpx.post(mcp_http, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, timeout=30)
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
    assert refused.json()["error"] == "invalid_token"

    async def search() -> dict:
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {api_key}"}, timeout=60)
        async with http, Client(streamable_http_client(mcp_http, http_client=http)) as client:
            assert {tool.name for tool in (await client.list_tools()).tools} == {"search", "ask"}
            return structured(await client.call_tool("search", {"query": FRENCH, "k": 2}))

    hits = anyio.run(search)["hits"]
    assert len(hits) == 2 and all(hit["text"] for hit in hits)
