"""Other web pages cannot write: cross-site requests and unknown Host headers are refused, key or not."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from api.security import allowed_hosts
from rag.config import Settings

TARGET = "003_d80e80294214e752"  # a seed article the hostile requests try to replace or delete
EVIL = "http://evil.example"
ALLOWED = "http://allowed.example"  # the CORS origin of `open_server`
FORGED = "Un faux article : OpenAI ne paie rien à AWS."


@pytest.fixture
def http(open_server) -> Iterator[httpx.Client]:
    """A client of the keyless `rag serve`, sending what a script sends: no Origin, no Sec-Fetch-Site."""
    with httpx.Client(base_url=open_server.url, timeout=120) as client:
        yield client


def snapshot(http: httpx.Client) -> tuple[object, object]:
    """The document list and the targeted article, to show a refused write changed nothing."""
    return http.get("/documents").json(), http.get(f"/documents/{TARGET}").json()


def refusal(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"detail"} and isinstance(body["detail"], str)
    return body["detail"]


def test_a_cross_site_upload_cannot_replace_an_article(http: httpx.Client) -> None:
    """The probe's attack: a page's `fetch(..., {method: "POST", mode: "no-cors", body: formData})`."""
    before = snapshot(http)
    response = http.post(
        "/documents",
        files={"file": ("forged.txt", FORGED.encode(), "text/plain")},
        data={"doc_id": TARGET},
        headers={"Origin": EVIL, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"},
    )
    detail = refusal(response, 403)
    assert "cross-site request refused" in detail and "RAG_CORS_ORIGINS" in detail
    assert snapshot(http) == before


def test_a_foreign_origin_alone_is_refused(http: httpx.Client) -> None:
    before = snapshot(http)
    response = http.post("/documents", files={"file": ("forged.txt", FORGED.encode())}, data={"doc_id": TARGET},
                         headers={"Origin": EVIL})
    assert f"Origin {EVIL} is not this server" in refusal(response, 403)
    assert snapshot(http) == before


def test_a_sandboxed_page_with_origin_null_is_refused(http: httpx.Client) -> None:
    before = snapshot(http)
    response = http.post("/documents", json={"doc_id": TARGET, "text": FORGED}, headers={"Origin": "null"})
    assert "Origin null" in refusal(response, 403)
    assert snapshot(http) == before


@pytest.mark.parametrize("fetch_site", ["cross-site", "same-site"])
def test_a_cross_site_delete_is_refused(http: httpx.Client, fetch_site: str) -> None:
    response = http.delete(f"/documents/{TARGET}", headers={"Sec-Fetch-Site": fetch_site})
    assert f"Sec-Fetch-Site is {fetch_site}" in refusal(response, 403)
    assert http.get(f"/documents/{TARGET}").status_code == 200


def test_the_api_key_does_not_let_a_foreign_page_write(writer: httpx.Client) -> None:
    """A browser may hold the key too (a page of ours on another origin): writes still need our origin."""
    response = writer.post("/documents", json={"doc_id": TARGET, "text": FORGED}, headers={"Origin": EVIL})
    refusal(response, 403)
    assert FORGED not in writer.get(f"/documents/{TARGET}").json()["text"]


def test_same_origin_pages_and_scripts_may_search(http: httpx.Client, open_server) -> None:
    query = {"query": "Amazon"}
    same_origin = {"Origin": open_server.url, "Sec-Fetch-Site": "same-origin"}
    assert http.post("/search", json=query, headers=same_origin).status_code == 200
    assert http.post("/search", json=query).status_code == 200


def test_the_configured_cors_origin_may_search_as_a_browser_sends_it(http: httpx.Client) -> None:
    """A browser on the CORS origin sends `Sec-Fetch-Site: cross-site` too; the operator allowed it."""
    browser = {"Origin": ALLOWED, "Sec-Fetch-Site": "cross-site"}
    response = http.post("/search", json={"query": "Amazon"}, headers=browser)
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == ALLOWED


def test_scripts_may_still_write_without_a_key(http: httpx.Client) -> None:
    response = http.post("/documents", files={"file": ("script-note.txt", b"Une note sur Brest.")})
    assert response.status_code == 201, response.text
    assert http.delete("/documents/script-note").status_code == 200


def test_an_unknown_host_is_refused_as_json(http: httpx.Client) -> None:
    detail = refusal(http.get("/health", headers={"Host": "evil.example"}), 400)
    assert "'evil.example'" in detail and "127.0.0.1" in detail and "RAG_ALLOWED_HOSTS" in detail


def test_a_rebound_name_cannot_write(http: httpx.Client, open_server) -> None:
    """DNS rebinding: the page's origin and the Host agree, and both are the attacker's name."""
    before = snapshot(http)
    hostile = {"Host": f"evil.example:{open_server.port}", "Origin": f"{EVIL}:{open_server.port}"}
    refusal(http.post("/documents", json={"doc_id": TARGET, "text": FORGED}, headers=hostile), 400)
    refusal(http.delete(f"/documents/{TARGET}", headers=hostile), 400)
    assert snapshot(http) == before


def test_localhost_is_this_server(http: httpx.Client, open_server) -> None:
    host = f"localhost:{open_server.port}"
    assert http.get("/health", headers={"Host": host}).status_code == 200
    same_origin = {"Host": host, "Origin": f"http://{host}"}
    assert http.post("/search", json={"query": "Amazon"}, headers=same_origin).status_code == 200


@pytest.mark.parametrize(
    ("host", "configured", "expected"),
    [
        ("127.0.0.1", [], ["127.0.0.1", "localhost", "::1", "[::1]"]),
        ("localhost", [], ["127.0.0.1", "localhost", "::1", "[::1]"]),
        ("::1", [], ["127.0.0.1", "localhost", "::1", "[::1]"]),
        ("0.0.0.0", [], ["*"]),
        ("::", [], ["*"]),
        ("192.168.1.20", [], ["192.168.1.20"]),
        ("rag.internal", [], ["rag.internal"]),
        ("fd00::5", [], ["[fd00::5]"]),
        ("0.0.0.0", ["rag.example.org"], ["rag.example.org"]),
        ("127.0.0.1", ["*.example.org", "localhost"], ["*.example.org", "localhost"]),
    ],
)
def test_allowed_hosts_follow_the_listen_address(host: str, configured: list[str], expected: list[str]) -> None:
    assert allowed_hosts(Settings(host=host, allowed_hosts=configured)) == expected


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_api_key_stops_rag_serve_with_one_line(value: str) -> None:
    """`RAG_API_KEY=` used to run with writes open; it is an error before anything loads."""
    env = {**os.environ, "RAG_API_KEY": value, "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-m", "api.cli", "serve", "--port", "1"], capture_output=True, text=True,
                            env=env, timeout=120, check=False)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "rag: error: invalid setting: RAG_API_KEY:" in result.stderr and "unset it" in result.stderr
