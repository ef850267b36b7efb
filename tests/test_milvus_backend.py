"""The Milvus backend, run for real against Milvus Lite: it ranks as the local store does, follows every
write, repairs itself after a crash between the local commit and its sync, and keeps citations verbatim."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import numpy as np
import pytest
from seed_ids import AMAZON_PLAN, OPENAI, TRAINIUM
from servers import ThreadServer, copy_index

from api.cli import main
from rag.answerer import Answerer
from rag.config import Settings
from rag.corpus import Corpus
from rag.errors import SearchBackendError
from rag.evaluation.gold import load_gold
from rag.filters import DocumentFilter
from rag.milvus_backend import MilvusBackend
from rag.retrieval import retrieve
from rag.service import Service, open_corpus

GOLD = Path(__file__).resolve().parents[1] / "eval" / "gold.jsonl"
OPENAI_QUESTION = "Combien OpenAI paie-t-il AWS ?"


@pytest.fixture(scope="module")
def milvus_uri(tmp_path_factory) -> str:
    """One Milvus Lite instance for the module (pymilvus starts it on first use); tests take their own collections."""
    return str(tmp_path_factory.mktemp("milvus") / "milvus.db")


@pytest.fixture(scope="module")
def milvus_seeds(tmp_path_factory, seed_index_dir, embedder, milvus_uri) -> Iterator[Corpus]:
    """The seed index searched through Milvus (read-only: tests that write make their own)."""
    index_dir = copy_index(seed_index_dir, tmp_path_factory.mktemp("milvus-seeds") / "index")
    corpus = Corpus.open(index_dir, embedder, backend=MilvusBackend(milvus_uri, "seeds"))
    yield corpus
    corpus.close()


@pytest.fixture
def writable(tmp_path, seed_index_dir, embedder, milvus_uri, request) -> Iterator[Corpus]:
    """A copy of the seed index over its own collection, for tests that write."""
    index_dir = copy_index(seed_index_dir, tmp_path / "index")
    corpus = Corpus.open(index_dir, embedder, backend=MilvusBackend(milvus_uri, request.node.name.split("[")[0]))
    yield corpus
    corpus.close()


def rows_of(corpus: Corpus, doc_id: str) -> list[dict]:
    """What the collection holds for `doc_id`, read straight from Milvus."""
    backend = corpus.backend
    assert isinstance(backend, MilvusBackend)
    return backend._client.query(
        backend.collection, filter=f'doc_id == "{doc_id}"', output_fields=["chunk_id", "segment_id", "row"]
    )


def given(vector: np.ndarray) -> Callable[[str], np.ndarray]:
    """An `embed` for `retrieve` returning a vector computed beforehand."""
    return lambda _query: vector


def collection_count(corpus: Corpus) -> int:
    backend = corpus.backend
    assert isinstance(backend, MilvusBackend)
    return backend._count()


def test_milvus_ranks_the_gold_questions_as_the_local_store(seed_corpus, milvus_seeds):
    """Measured on the 102 gold questions: the same top chunk for 101 (the other swaps two chunks 0.002
    apart), the same top-5 chunks (as a set) for 95; the dense side is exact on both, the BM25 scores are
    Milvus's own (k1 + 1 times ours, lengths counted by its tokenizer)."""
    questions = [item.question for item in load_gold(GOLD)]
    same_top, same_five = 0, 0
    for question, vector in zip(questions, seed_corpus.embed_queries(questions)):  # embedded once, for both
        local, milvus = (
            [hit.chunk_id for hit in retrieve(corpus.snapshot, question, given(vector), 5, backend=corpus.backend)]
            for corpus in (seed_corpus, milvus_seeds)
        )
        same_top += local[0] == milvus[0]
        same_five += set(local) == set(milvus)
    assert same_top >= len(questions) - 1
    assert same_five / len(questions) >= 0.9


def test_dense_scores_are_the_local_cosines(seed_corpus, milvus_seeds):
    local = seed_corpus.search(OPENAI_QUESTION, 5, mode="dense")
    milvus = milvus_seeds.search(OPENAI_QUESTION, 5, mode="dense")
    assert [hit.chunk_id for hit in milvus] == [hit.chunk_id for hit in local]
    assert [hit.dense_score for hit in milvus] == pytest.approx([hit.dense_score for hit in local], abs=1e-5)


def test_a_deleted_document_never_comes_back(writable):
    writable.delete(OPENAI)
    assert rows_of(writable, OPENAI) == []
    for mode in ("dense", "lexical", "hybrid"):
        assert OPENAI not in {hit.doc_id for hit in writable.search(OPENAI_QUESTION, 20, mode=mode)}
    assert collection_count(writable) == writable.snapshot.chunk_count


def test_a_replaced_document_has_only_its_new_chunks(writable):
    old = writable.document(TRAINIUM).document
    writable.upsert([replace(old, text=old.text + "\nTrainium3 arrivera en 2026, selon Amazon.")])
    snapshot = writable.snapshot
    rows = rows_of(writable, TRAINIUM)
    newest = snapshot.home[TRAINIUM].segment_id
    assert len(rows) == len({row["chunk_id"] for row in rows}) == snapshot.chunks_of(TRAINIUM)
    assert {row["segment_id"] for row in rows} == {newest}
    assert collection_count(writable) == snapshot.chunk_count
    hit = writable.search("Quand Trainium3 arrivera-t-il ?", 1)[0]
    assert hit.doc_id == TRAINIUM and "Trainium3" in hit.text


def test_reopening_repairs_a_collection_that_missed_a_commit(writable, embedder, milvus_uri):
    index_dir, collection = writable.index_dir, writable.backend.collection  # type: ignore[attr-defined]
    writable.close()
    # The crash: a write committed locally whose Milvus sync never ran (the local store does not sync).
    old = Corpus.open(index_dir, embedder).document(AMAZON_PLAN).document
    Corpus.open(index_dir, embedder).upsert([replace(old, doc_id="plan-copy", text=old.text + "\nFin.")])
    reopened = Corpus.open(index_dir, embedder, backend=MilvusBackend(milvus_uri, collection))
    try:
        assert collection_count(reopened) == reopened.snapshot.chunk_count
        assert len(rows_of(reopened, "plan-copy")) == reopened.snapshot.chunks_of("plan-copy")
        # Rows lost behind its back (its sync record still says complete) are found by the count, and restored.
        backend = reopened.backend
        assert isinstance(backend, MilvusBackend)
        backend._client.delete(collection, filter='doc_id == "plan-copy"')
    finally:
        reopened.close()
    again = Corpus.open(index_dir, embedder, backend=MilvusBackend(milvus_uri, collection))
    try:
        assert len(rows_of(again, "plan-copy")) == again.snapshot.chunks_of("plan-copy")
        assert collection_count(again) == again.snapshot.chunk_count
    finally:
        again.close()


def test_a_reader_following_another_writer_syncs_what_that_writer_left_unsynced(writable, embedder):
    """A running server (the reader) picks up a generation another process committed; when that process
    died before its Milvus sync (here: it writes through the local store), the reader syncs it."""
    old = writable.document(OPENAI).document
    Corpus.open(writable.index_dir, embedder).upsert([replace(old, doc_id="openai-copy")])
    assert rows_of(writable, "openai-copy") == []
    assert "openai-copy" in writable.snapshot.documents  # followed, and synced
    assert len(rows_of(writable, "openai-copy")) == writable.snapshot.chunks_of("openai-copy")
    assert "openai-copy" in {hit.doc_id for hit in writable.search(OPENAI_QUESTION, 10, mode="lexical")}


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_where_keeps_other_documents_out(milvus_seeds, mode):
    without = DocumentFilter(excluded=frozenset({OPENAI}))  # a `doc_id not in [...]` filter
    assert OPENAI not in {hit.doc_id for hit in milvus_seeds.search(OPENAI_QUESTION, 20, mode=mode, where=without)}
    others = frozenset(milvus_seeds.snapshot.documents) - {TRAINIUM}
    only = DocumentFilter(excluded=others)  # a `doc_id in [...]` filter
    assert {hit.doc_id for hit in milvus_seeds.search(OPENAI_QUESTION, 20, mode=mode, where=only)} == {TRAINIUM}


CABLE_CAR = (
    "Le conseil municipal de Vaulx-Sainte-Ombeline a inauguré samedi un téléphérique urbain de 2 340 mètres. "
    "Le téléphérique de Vaulx-Sainte-Ombeline a coûté 47 millions d'euros, financés pour moitié par la région."
)
CABLE_CAR_QUESTION = "Combien a coûté le téléphérique de Vaulx-Sainte-Ombeline ?"


def test_http_search_and_answers_over_milvus_cite_the_stored_text(tmp_path, seed_index_dir, embedder, milvus_uri):
    settings = Settings(
        index_dir=copy_index(seed_index_dir, tmp_path / "index"), generator="extractive", api_key=None,
        store="milvus", milvus_uri=milvus_uri, milvus_collection="http",
    )
    corpus = open_corpus(settings, embedder=embedder)
    assert isinstance(corpus.backend, MilvusBackend)
    service = Service(settings, corpus, Answerer(corpus, None, max_tokens=settings.max_answer_tokens))
    try:
        with ThreadServer(service) as server, httpx.Client(base_url=server.url, timeout=60) as http:
            response = http.post("/search", json={"query": OPENAI_QUESTION, "k": 5})
            assert response.status_code == 200, response.text
            hits = response.json()["hits"]
            assert hits[0]["doc_id"] == OPENAI
            for hit in hits:
                text = http.get(f"/documents/{hit['doc_id']}").json()["text"]
                assert text[hit["start"] : hit["end"]] == hit["text"]
            posted = http.post("/documents", json={"doc_id": "telepherique", "text": CABLE_CAR})
            assert posted.status_code == 201, posted.text
            answer = http.post("/ask", json={"question": CABLE_CAR_QUESTION}).json()
            cited = [citation for citation in answer["citations"] if citation["doc_id"] == "telepherique"]
            assert any("47 millions" in citation["snippet"] for citation in cited), answer
            for citation in cited:
                assert CABLE_CAR[citation["start"] : citation["end"]] == citation["snippet"]
            assert http.delete("/documents/telepherique").status_code == 200
            hits = http.post("/search", json={"query": CABLE_CAR_QUESTION, "k": 20}).json()["hits"]
            assert "telepherique" not in {hit["doc_id"] for hit in hits}
    finally:
        corpus.close()


def test_bad_milvus_settings_are_one_line_errors(seed_index_dir, monkeypatch, capsys):
    monkeypatch.setenv("RAG_INDEX_DIR", str(seed_index_dir))
    monkeypatch.setenv("RAG_STORE", "milvus")
    monkeypatch.setenv("RAG_MILVUS_URI", "localhost:19530")
    assert main(["search", "AWS"]) == 2
    assert "RAG_MILVUS_URI" in capsys.readouterr().err
    monkeypatch.setenv("RAG_MILVUS_URI", "http://127.0.0.1:9")  # nothing listens on the discard port
    assert main(["search", "AWS"]) == 1
    assert "cannot reach Milvus at http://127.0.0.1:9" in capsys.readouterr().err


def test_an_unreachable_milvus_is_a_search_backend_error():
    with pytest.raises(SearchBackendError, match="start it, or point RAG_MILVUS_URI"):
        MilvusBackend("http://127.0.0.1:9", "nowhere")
