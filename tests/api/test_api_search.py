"""`POST /search` over HTTP: hit shape, verbatim offsets, k bounds."""

from __future__ import annotations

import httpx

AMAZON_100 = "001_1cddb5f53556681f"
HIT_FIELDS = {"doc_id", "title", "text", "start", "end", "score", "date", "source", "url", "author"}


def test_search_returns_verbatim_passages_best_first(client: httpx.Client) -> None:
    response = client.post("/search", json={"query": "Amazon 100 milliards de dollars cloud IA 2025", "k": 4})
    assert response.status_code == 200
    hits = response.json()["hits"]
    assert len(hits) == 4
    assert AMAZON_100 in [hit["doc_id"] for hit in hits[:2]]
    assert [hit["score"] for hit in hits] == sorted((hit["score"] for hit in hits), reverse=True)
    for hit in hits:
        assert set(hit) == HIT_FIELDS
        document = client.get(f"/documents/{hit['doc_id']}").json()
        assert document["text"][hit["start"] : hit["end"]] == hit["text"]
        assert hit["title"] == document["title"]
        assert (hit["date"], hit["source"], hit["url"]) == (document["date"], document["source"], document["url"])


def test_search_defaults_to_five_hits_and_accepts_up_to_fifty(client: httpx.Client) -> None:
    assert len(client.post("/search", json={"query": "OpenAI"}).json()["hits"]) == 5
    many = client.post("/search", json={"query": "OpenAI", "k": 50}).json()["hits"]
    chunks = client.get("/health").json()["chunks"]
    assert len(many) == min(50, chunks)


def test_search_filters_by_date_and_outlet(client: httpx.Client) -> None:
    query = {"query": "Amazon AWS cloud milliards", "k": 5}
    dated = client.post("/search", json={**query, "since": "2025-11-05", "until": "2025-11-05"}).json()["hits"]
    assert dated and {hit["doc_id"] for hit in dated} == {"003_d80e80294214e752"}
    outlet = client.post("/search", json={**query, "sources": ["TECHCRUNCH"]}).json()["hits"]
    assert outlet and {hit["source"] for hit in outlet} == {"Techcrunch"}
    nothing = client.post("/search", json={**query, "since": "2030"})
    assert nothing.status_code == 200 and nothing.json()["hits"] == []
