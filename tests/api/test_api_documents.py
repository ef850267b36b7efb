"""`/documents` over HTTP: list, read, add (JSON or upload), replace, delete, and what the index does."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from rag.corpus import Corpus

SEED_IDS = {path.stem for path in (Path(__file__).resolve().parents[2] / "seeds").glob("*.txt")}
SUMMARY_FIELDS = {"doc_id", "title", "date", "source", "url", "author", "language", "characters", "chunks", "story"}
CABLE_CAR = (
    "Le conseil municipal de Vaulx-Sainte-Ombeline a inauguré samedi un téléphérique urbain de 2 340 mètres. "
    "Le téléphérique de Vaulx-Sainte-Ombeline a coûté 47 millions d'euros, financés pour moitié par la région.\n\n"
    "La ligne transporte jusqu'à 1 800 voyageurs par heure entre la gare et le plateau des Ormeaux, "
    "annonce la mairie, qui prévoit une extension vers l'hôpital en 2029."
)
CABLE_CAR_QUESTION = "Combien a coûté le téléphérique de Vaulx-Sainte-Ombeline ?"


def ask_cites(http: httpx.Client, question: str, doc_id: str) -> list[dict]:
    """The citations of /ask that point into `doc_id`."""
    body = http.post("/ask", json={"question": question}).json()
    return [citation for citation in body["citations"] if citation["doc_id"] == doc_id]


def test_list_documents_summarises_every_seed(client: httpx.Client) -> None:
    response = client.get("/documents")
    assert response.status_code == 200
    listing = response.json()
    assert isinstance(listing, list)
    by_id = {item["doc_id"]: item for item in listing}
    assert set(by_id) >= SEED_IDS
    for doc_id in SEED_IDS:
        item = by_id[doc_id]
        assert set(item) == SUMMARY_FIELDS
        assert item["chunks"] >= 1 and item["title"]
        assert item["characters"] == len(client.get(f"/documents/{doc_id}").json()["text"])


def test_get_document_returns_its_cleaned_text(client: httpx.Client) -> None:
    body = client.get("/documents/003_d80e80294214e752").json()
    assert set(body) == SUMMARY_FIELDS | {"text"}
    assert body["date"] == "2025-11-05"
    assert "38 milliards" in body["text"]


def test_added_document_is_answerable_with_verbatim_citations(client: httpx.Client, writer: httpx.Client) -> None:
    doc_id = "cable-car-vso"
    fields = {
        "doc_id": doc_id, "title": "Un téléphérique à Vaulx", "date": "2026-02-14T09:30:00+01:00", "source": "Test",
        "url": "https://vaulx.example/telepherique", "author": "L. Martin", "language": "fr-FR",
    }
    response = writer.post("/documents", json={**fields, "text": CABLE_CAR})
    assert response.status_code == 201, response.text
    written = response.json()
    assert written["document"] == {
        "doc_id": doc_id,
        "title": "Un téléphérique à Vaulx",
        "date": "2026-02-14",
        "source": "Test",
        "url": "https://vaulx.example/telepherique",
        "author": "L. Martin",
        "language": "fr-FR",
        "characters": len(CABLE_CAR),
        "chunks": written["document"]["chunks"],
        "story": written["document"]["story"],
    }
    assert written["indexed"]["added"] == [doc_id] and written["indexed"]["embedded_texts"] >= 1
    try:
        citations = ask_cites(client, CABLE_CAR_QUESTION, doc_id)
        assert citations, "the new article answers the question"
        text = client.get(f"/documents/{doc_id}").json()["text"]
        assert any("47 millions" in citation["snippet"] for citation in citations)
        for citation in citations:
            assert text[citation["start"] : citation["end"]] == citation["snippet"]
            cited = {key: citation[key] for key in ("date", "source", "url", "author")}
            assert cited == {"date": "2026-02-14", "source": "Test", "url": fields["url"], "author": "L. Martin"}
        hits = client.post("/search", json={"query": CABLE_CAR_QUESTION, "k": 1}).json()["hits"]
        assert (hits[0]["doc_id"], hits[0]["url"], hits[0]["date"]) == (doc_id, fields["url"], "2026-02-14")
    finally:
        writer.delete(f"/documents/{doc_id}")


def test_deleted_document_is_gone_from_both_search_sides(client: httpx.Client, writer: httpx.Client) -> None:
    doc_id = "cable-car-deleted"
    assert writer.post("/documents", json={"doc_id": doc_id, "text": CABLE_CAR}).status_code == 201
    assert ask_cites(client, CABLE_CAR_QUESTION, doc_id)

    response = writer.delete(f"/documents/{doc_id}")
    assert response.status_code == 200
    assert response.json()["deleted"] == doc_id and response.json()["indexed"]["removed"] == [doc_id]
    assert client.get(f"/documents/{doc_id}").status_code == 404
    assert doc_id not in {item["doc_id"] for item in client.get("/documents").json()}
    for query in ("Vaulx-Sainte-Ombeline téléphérique", "plateau des Ormeaux 1 800 voyageurs"):
        hits = client.post("/search", json={"query": query, "k": 50}).json()["hits"]
        assert doc_id not in {hit["doc_id"] for hit in hits}
    assert ask_cites(client, CABLE_CAR_QUESTION, doc_id) == []
    assert writer.delete(f"/documents/{doc_id}").status_code == 404


def test_document_without_id_is_named_after_a_hash_of_its_text(writer: httpx.Client) -> None:
    text = "Les chaussettes bleues de Roubaix se sont vendues à 9 000 paires en janvier, un record."
    expected = "doc-" + hashlib.sha256(text.encode()).hexdigest()[:16]
    first = writer.post("/documents", json={"text": text})
    assert first.status_code == 201
    assert first.json()["document"]["doc_id"] == expected
    again = writer.post("/documents", json={"text": text}).json()
    assert again["document"]["doc_id"] == expected
    assert again["indexed"]["added"] == again["indexed"]["updated"] == []  # unchanged: nothing re-embedded
    assert writer.delete(f"/documents/{expected}").status_code == 200


def test_posting_an_existing_id_replaces_the_document(client: httpx.Client, writer: httpx.Client) -> None:
    doc_id = "replaced-article"
    writer.post("/documents", json={"doc_id": doc_id, "text": "Le festival de Quimperlé accueillera 12 000 visiteurs."})
    response = writer.post("/documents", json={"doc_id": doc_id, "text": "Le festival de Quimperlé est annulé."})
    assert response.status_code == 201
    assert response.json()["indexed"]["updated"] == [doc_id]
    assert client.get(f"/documents/{doc_id}").json()["text"] == "Le festival de Quimperlé est annulé."
    writer.delete(f"/documents/{doc_id}")


def test_a_batch_of_json_documents_is_written_in_one_commit(
    client: httpx.Client, writer: httpx.Client, api_index_dir: Path
) -> None:
    """`{"documents": [...]}` adds many articles with one new segment; an id given twice keeps the later text."""
    segments = set((api_index_dir / "segments").iterdir())
    batch = [
        {"doc_id": "batch-cable-car", "title": "Un téléphérique à Vaulx", "text": CABLE_CAR},
        {"doc_id": "batch-festival", "text": "Le festival de Quimperlé accueillera 12 000 visiteurs."},
        {"doc_id": "batch-festival", "text": "Le festival de Quimperlé est annulé faute de bénévoles."},
    ]
    response = writer.post("/documents", json={"documents": batch})
    assert response.status_code == 201, response.text
    body = response.json()
    try:
        assert [item["doc_id"] for item in body["documents"]] == ["batch-cable-car", "batch-festival"]
        assert sorted(body["indexed"]["added"]) == ["batch-cable-car", "batch-festival"]
        assert len(set((api_index_dir / "segments").iterdir()) - segments) == 1
        assert client.get("/documents/batch-festival").json()["text"] == batch[2]["text"]
        hits = client.post("/search", json={"query": CABLE_CAR_QUESTION, "k": 1}).json()["hits"]
        assert hits[0]["doc_id"] == "batch-cable-car"
    finally:
        for doc_id in ("batch-cable-car", "batch-festival"):
            writer.delete(f"/documents/{doc_id}")


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"documents": []}, "documents: List should have at least 1 item"),
        ({"documents": [{"text": "Un article."}, {"title": "sans texte"}]}, "documents.1.text: Field required"),
        ({"documents": [{"text": "Un article.", "colour": "bleu"}]}, "documents.0.colour: unknown field"),
        ({"documents": [{"text": "Un article."}] * 1001}, "documents: List should have at most 1000 items"),
    ],
)
def test_a_bad_batch_is_refused_and_writes_nothing(
    client: httpx.Client, writer: httpx.Client, body: dict[str, Any], where: str
) -> None:
    before = client.get("/documents").json()
    response = writer.post("/documents", json=body)
    assert response.status_code == 422, response.text
    assert where in response.json()["detail"]
    assert client.get("/documents").json() == before


def test_uploaded_markdown_file_is_named_after_its_stem(client: httpx.Client, writer: httpx.Client) -> None:
    content = (
        "# Le lac du Bourget gelé\n\n"
        "Pour la première fois depuis 1963, le lac du Bourget a gelé sur 3 kilomètres le 9 janvier.\n"
    ).encode()
    response = writer.post(
        "/documents", files={"file": ("lac-du-bourget.md", content, "text/markdown")}, data={"source": "Le Test"}
    )
    assert response.status_code == 201, response.text
    document = response.json()["document"]
    assert document["doc_id"] == "lac-du-bourget"
    assert document["title"] == "Le lac du Bourget gelé"
    assert document["source"] == "Le Test"
    hits = client.post("/search", json={"query": "lac du Bourget gelé", "k": 3}).json()["hits"]
    assert hits[0]["doc_id"] == "lac-du-bourget"
    writer.delete("/documents/lac-du-bourget")


@pytest.mark.parametrize(
    ("name", "content", "status", "words"),
    [
        ("photo.txt", bytes(range(256)) * 8, 415, "binary"),
        ("latin1.txt", "Le café coûte 2 €.".encode("latin-1", errors="replace"), 400, "UTF-8"),
        ("report.pdf", b"%PDF-1.7 fake", 415, "file type"),
        ("bad name!.txt", b"Un article sans histoire.", 400, "document id"),
        ("empty.txt", b"   \n\n  ", 400, "no text"),
        ("huge.txt", b"a" * (2 * 1024 * 1024 + 1), 413, "2 MB"),
    ],
)
def test_bad_uploads_are_refused_with_a_reason(
    writer: httpx.Client, name: str, content: bytes, status: int, words: str
) -> None:
    response = writer.post("/documents", files={"file": (name, content, "application/octet-stream")})
    assert response.status_code == status
    detail = response.json()["detail"]
    assert words in detail and "Traceback" not in detail


def test_bad_document_bodies_are_refused_with_a_reason(writer: httpx.Client) -> None:
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"json": {"text": "x" * (2 * 1024 * 1024 + 1)}}, 413, "2 MB"),
        ({"content": b"\x00" * (3 * 1024 * 1024), "headers": {"Content-Type": "application/json"}}, 413, "2 MB"),
        ({"json": {"doc_id": "../etc/passwd", "text": "Un texte."}}, 422, "doc_id"),  # the schema's pattern
        ({"json": {"text": "Un texte.", "date": "hier"}}, 400, "ISO 8601 date"),
        ({"json": {"text": "Un texte.", "date": "2025-02-30"}}, 400, "ISO 8601 date"),
        ({"json": {"text": "Un texte.", "url": "javascript:alert(1)"}}, 400, "http(s) URL"),
        ({"json": {"text": "Un texte.", "language": "français!"}}, 400, "language tag"),
        ({"json": {"title": "Sans texte"}}, 422, "text"),
        ({"json": {"text": 42}}, 422, "text"),
        ({"content": b"Un texte brut", "headers": {"Content-Type": "text/plain"}}, 415, "JSON"),
        ({"content": b"{not json", "headers": {"Content-Type": "application/json"}}, 422, "malformed JSON"),
        ({"files": {"other": ("a.txt", b"Un texte.")}}, 422, "field `file`"),
        ({"content": b"--x\r\nbroken", "headers": {"Content-Type": "multipart/form-data; boundary=x"}}, 422, "file"),
    ]
    for request, status, words in cases:
        response = writer.post("/documents", **request)
        assert response.status_code == status, (request.keys(), response.text)
        assert words in response.json()["detail"]


def test_an_oversized_stream_is_cut_off_while_it_arrives(writer: httpx.Client) -> None:
    def body():  # chunked, no Content-Length: the limit must hold while reading
        yield b'{"text": "'
        for _ in range(40):
            yield b"a" * (128 * 1024)
        yield b'"}'

    try:
        response = writer.post("/documents", content=body(), headers={"Content-Type": "application/json"})
    except httpx.TransportError:
        return  # the server answered and closed before the client finished sending: refused too
    assert response.status_code == 413


def test_index_on_disk_stays_loadable_after_bad_requests(
    client: httpx.Client, writer: httpx.Client, api_index_dir: Path, embedder
) -> None:
    writer.post("/documents", files={"file": ("x.txt", b"\x00\x01binary", "text/plain")})
    writer.post("/documents", content=b"{", headers={"Content-Type": "application/json"})
    writer.post("/documents", json={"doc_id": "a/b", "text": "x"})
    writer.delete("/documents/does-not-exist")
    client.post("/documents", json={"text": "sans clé"})
    corpus = Corpus.open(api_index_dir, embedder)
    served = {item["doc_id"] for item in client.get("/documents").json()}
    assert set(corpus.snapshot.documents) == served
    assert served >= SEED_IDS
    assert corpus.search("OpenAI Amazon Web Services", 3)


def test_searches_keep_working_while_a_document_is_written(client: httpx.Client, writer: httpx.Client) -> None:
    doc_id = "concurrent-write"
    text = " ".join(f"Phrase {n} d'un long article sur les pingouins de Brest et leur colonie." for n in range(150))
    queries = ["Amazon cloud", "OpenAI contrat", "emplois supprimés", "puces Trainium", "centres de données"] * 6

    def search(query: str) -> int:
        return client.post("/search", json={"query": query, "k": 3}).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        before = [pool.submit(search, query) for query in queries[:15]]
        write = pool.submit(writer.post, "/documents", json={"doc_id": doc_id, "text": text})
        after = [pool.submit(search, query) for query in queries[15:]]
        statuses = [future.result() for future in before + after]
        assert write.result().status_code == 201
    assert statuses == [200] * len(queries)
    hits = client.post("/search", json={"query": "pingouins de Brest colonie", "k": 1}).json()["hits"]
    assert hits[0]["doc_id"] == doc_id
    writer.delete(f"/documents/{doc_id}")


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_uploaded_html_page_is_its_article_with_its_metadata(client: httpx.Client, writer: httpx.Client) -> None:
    page = (FIXTURES / "news" / "openai-aws-contrat-38-milliards.html").read_bytes()
    response = writer.post("/documents", files={"file": ("openai-aws.html", page, "text/html")})
    assert response.status_code == 201, response.text
    document = response.json()["document"]
    assert document["doc_id"] == "openai-aws"
    assert (document["source"], document["date"], document["author"]) == (
        "La Gazette du Numérique", "2025-11-05", "Camille Lefèvre",
    )
    try:
        text = client.get("/documents/openai-aws").json()["text"]
        assert text.startswith("OpenAI signe un contrat de 38 milliards") and "Cybersécurité" not in text
    finally:
        writer.delete("/documents/openai-aws")


def test_uploaded_feed_and_export_give_one_document_per_entry(client: httpx.Client, writer: httpx.Client) -> None:
    feed = (FIXTURES / "feeds" / "breves-eco.atom").read_bytes()
    response = writer.post("/documents", files={"file": ("breves.atom", feed, "application/atom+xml")})
    assert response.status_code == 201, response.text
    body = response.json()
    ids = [item["doc_id"] for item in body["documents"]]
    assert len(ids) == 4 and body["document"] == body["documents"][0] and body["skipped"] == []
    assert "'bientôt'" in body["notes"][0]
    export = (FIXTURES / "exports" / "depeches.jsonl").read_bytes()
    response = writer.post("/documents", files={"file": ("depeches.jsonl", export, "application/jsonl")})
    assert response.status_code == 201, response.text
    body = response.json()
    ids += [item["doc_id"] for item in body["documents"]]
    assert len(body["documents"]) == 3 and "line 3: not JSON" in body["skipped"][0]
    try:
        hits = client.post("/search", json={"query": "Microsoft détiendra 27 % d'OpenAI", "k": 1}).json()["hits"]
        assert hits[0]["url"] == "https://depeches-tech.example/2025/10/29/microsoft-27-openai"
        again = writer.post("/documents", files={"file": ("breves.atom", feed, "application/atom+xml")}).json()
        assert again["indexed"]["added"] == [] and again["indexed"]["updated"] == []  # seen again: no duplicate
    finally:
        for doc_id in ids:
            writer.delete(f"/documents/{doc_id}")


@pytest.mark.parametrize(
    ("name", "content", "data", "status", "words"),
    [
        ("page.html", b"\x89PNG\r\n\x1a\n\x00\x00" * 50, {}, 415, "binary"),
        ("rubrique.html", (FIXTURES / "news" / "rubrique-cloud.html").read_bytes(), {}, 400, "no article found"),
        ("flux.rss", b"<html><body>502 Bad Gateway</body></html>", {}, 400, "not an RSS or Atom feed"),
        ("breves.atom", (FIXTURES / "feeds" / "breves-eco.atom").read_bytes(), {"source": "X"}, 400, "form fields"),
        ("vide.jsonl", b'{"title": "sans texte"}\n', {}, 400, "no \"text\""),
    ],
)
def test_bad_uploads_of_each_format_are_refused_with_a_reason(
    writer: httpx.Client, name: str, content: bytes, data: dict[str, str], status: int, words: str
) -> None:
    response = writer.post("/documents", files={"file": (name, content, "application/octet-stream")}, data=data)
    assert response.status_code == status, response.text
    assert words in response.json()["detail"]
