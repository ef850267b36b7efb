"""Stories: copies and rewrites share a story id, given once when written; other documents never regroup."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from seed_ids import AMAZON_100, AMAZON_PLAN, AWS_GROWTH, OPENAI, TRAINIUM
from servers import ThreadServer

from eval.build_stories import EDITIONS
from rag.config import Settings
from rag.corpus import Corpus
from rag.documents import Document, read_documents
from rag.service import open_service
from rag.stories import shingles, signature, similarity, story_id

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def rewrite(document: Document, doc_id: str) -> Document:
    """Another outlet's rewrite: paragraphs reordered, another headline, a sentence added."""
    paragraphs = document.text.split("\n\n")
    paragraphs = [*paragraphs[1:], "Le groupe n'a pas souhaité commenter.", paragraphs[0]]
    return replace(document, doc_id=doc_id, title=f"À retenir : {document.title}", text="\n\n".join(paragraphs),
                   source="Autre média")


def edited(document: Document) -> Document:
    """The same article with a line added, as an update: still the same story."""
    return replace(document, text=document.text + "\n\nMis à jour dans la soirée.")


@pytest.fixture
def seeds(seed_documents: list[Document]) -> dict[str, Document]:
    return {document.doc_id: document for document in seed_documents}


@pytest.fixture
def corpus(tmp_path: Path, keyword_embedder) -> Corpus:
    return Corpus.open(tmp_path / "index", keyword_embedder, missing_ok=True)


def stories(corpus: Corpus) -> dict[str, str]:
    return {doc_id: stored.story for doc_id, stored in corpus.snapshot.documents.items()}


def test_the_signature_estimates_the_jaccard_similarity_of_the_shingles(seeds) -> None:
    first, second = seeds[OPENAI], rewrite(seeds[OPENAI], "copy")
    exact = len(shingles(first.text) & shingles(second.text)) / len(shingles(first.text) | shingles(second.text))
    assert similarity(signature(first.text), signature(second.text)) == pytest.approx(exact, abs=0.1)
    assert shingles("L’IA d'Amazon") == shingles("l'ia D’AMAZON") == {"l ia d", "ia d amazon"}  # case, apostrophes
    assert shingles("Amazon investit") == {"amazon investit"}  # shorter than a shingle: one of all its words


def test_rewrites_and_wire_copies_share_a_story_and_other_stories_do_not(corpus, seeds) -> None:
    wire_copy = replace(seeds[TRAINIUM], doc_id="trainium-wire", source="Dépêches", date="2025-11-06")
    corpus.upsert([seeds[AWS_GROWTH], seeds[OPENAI], seeds[TRAINIUM], rewrite(seeds[OPENAI], "openai-rewrite"),
                   wire_copy])
    story = stories(corpus)
    assert story["openai-rewrite"] == story[OPENAI] == story_id(OPENAI)  # named after the first, by id
    assert story["trainium-wire"] == story[TRAINIUM] == story_id(TRAINIUM)
    assert len({story[AWS_GROWTH], story[OPENAI], story[TRAINIUM]}) == 3  # one topic, three stories


def test_the_fixture_pages_and_feed_copies_join_their_seed_and_briefs_stay_apart(corpus, seed_documents) -> None:
    corpus.upsert(seed_documents)
    corpus.upsert(read_documents([FIXTURES / "news", FIXTURES / "feeds", FIXTURES / "exports"]).documents)
    story = stories(corpus)
    copies = {"aws-croissance-cloud-ia": AWS_GROWTH, "amazon-100-milliards-cloud-ia-2025": AMAZON_100,
              "amazon-plan-ia-2025": AMAZON_PLAN, "openai-aws-contrat-38-milliards": OPENAI,
              "entry-af3b1ca4c56c4e08": TRAINIUM}
    assert {page: story[page] for page in copies} == {page: story[seed] for page, seed in copies.items()}
    others = set(story) - set(copies) - {AWS_GROWTH, AMAZON_100, AMAZON_PLAN, OPENAI, TRAINIUM}
    assert len(others) == 7  # three briefs of a seed (too few shared words) and four other stories
    assert [story[other] for other in sorted(others)] == [story_id(other) for other in sorted(others)]


def test_every_edition_of_the_stories_corpus_joins_its_seed(corpus, seed_documents) -> None:
    corpus.upsert([*seed_documents, *read_documents([FIXTURES / "stories"]).documents])
    story = stories(corpus)
    assert {edition.doc_id: story[edition.doc_id] for edition in EDITIONS} == {
        edition.doc_id: story_id(edition.seed) for edition in EDITIONS
    }


def test_adding_an_article_assigns_only_it(corpus, seeds) -> None:
    corpus.upsert([seeds[AWS_GROWTH], seeds[OPENAI], seeds[TRAINIUM]])
    before = stories(corpus)
    corpus.upsert([rewrite(seeds[OPENAI], "openai-rewrite")])
    after = stories(corpus)
    assert after == {**before, "openai-rewrite": before[OPENAI]}


def test_deleting_the_first_of_a_story_leaves_the_others_alone(corpus, seeds) -> None:
    corpus.upsert([seeds[OPENAI], rewrite(seeds[OPENAI], "openai-rewrite"), seeds[TRAINIUM]])
    first = stories(corpus)
    corpus.delete(OPENAI)
    assert stories(corpus) == {"openai-rewrite": first[OPENAI], TRAINIUM: first[TRAINIUM]}
    corpus.upsert([replace(seeds[OPENAI], doc_id="openai-wire")])  # matches the rewrite, which kept the story
    assert stories(corpus)["openai-wire"] == first[OPENAI]
    corpus.delete(TRAINIUM)
    corpus.upsert([replace(seeds[TRAINIUM], doc_id="trainium-wire")])  # only live documents are compared with
    assert stories(corpus)["trainium-wire"] == story_id("trainium-wire")


def test_a_replaced_document_keeps_its_story_unless_it_reports_another(corpus, seeds) -> None:
    corpus.upsert([seeds[OPENAI], rewrite(seeds[OPENAI], "openai-rewrite"), seeds[TRAINIUM]])
    first = stories(corpus)
    corpus.upsert([edited(seeds[OPENAI]), edited(seeds[TRAINIUM])])
    assert stories(corpus) == first  # a copy still matches its story; a lone document gets its own id back
    corpus.upsert([replace(seeds[AWS_GROWTH], doc_id=OPENAI)])  # OPENAI now tells another story
    after = stories(corpus)
    assert after["openai-rewrite"] == first[OPENAI] == story_id(OPENAI)
    assert after[OPENAI] == story_id(OPENAI, 1)  # its first id is still the rewrite's: never shared by accident
    assert after[TRAINIUM] == first[TRAINIUM]


def test_stories_and_signatures_survive_reload_and_optimize(corpus, seeds, keyword_embedder) -> None:
    corpus.upsert([seeds[OPENAI], seeds[TRAINIUM]])
    corpus.upsert([rewrite(seeds[TRAINIUM], "trainium-rewrite")])
    first = stories(corpus)
    reopened = Corpus.open(corpus.index_dir, keyword_embedder)
    assert stories(reopened) == first
    assert all(view.segment.stored_signatures is not None for view in reopened.snapshot.segments)
    reopened.optimize()
    reopened.upsert([replace(seeds[OPENAI], doc_id="openai-wire")])  # compared with the stored signatures
    assert stories(Corpus.open(corpus.index_dir, keyword_embedder)) == {**first, "openai-wire": first[OPENAI]}


def test_an_index_written_before_stories_loads_and_groups_new_copies(corpus, seeds, keyword_embedder) -> None:
    corpus.upsert([seeds[OPENAI], seeds[TRAINIUM]])
    for segment in (corpus.index_dir / "segments").iterdir():
        _strip_stories(segment)
    old = Corpus.open(corpus.index_dir, keyword_embedder)
    assert stories(old) == {OPENAI: story_id(OPENAI), TRAINIUM: story_id(TRAINIUM)}  # each its own story
    old.upsert([rewrite(seeds[TRAINIUM], "trainium-rewrite")])  # its signatures come from the stored texts
    assert stories(old)["trainium-rewrite"] == story_id(TRAINIUM)
    assert stories(Corpus.open(corpus.index_dir, keyword_embedder))["trainium-rewrite"] == story_id(TRAINIUM)


def test_the_api_lists_each_documents_story(tmp_path: Path, keyword_embedder, seeds) -> None:
    settings = Settings(index_dir=tmp_path / "index", generator="extractive", api_key=None)
    with ThreadServer(open_service(settings, embedder=keyword_embedder, missing_ok=True)) as server, \
            httpx.Client(base_url=server.url, timeout=60) as http:
        for document in (seeds[OPENAI], rewrite(seeds[OPENAI], "openai-rewrite"), seeds[TRAINIUM]):
            fields = {"doc_id": document.doc_id, "title": document.title, "text": document.text}
            response = http.post("/documents", json=fields)
            assert response.status_code == 201, response.text
        assert response.json()["document"]["story"] == story_id(TRAINIUM)
        listed = {item["doc_id"]: item["story"] for item in http.get("/documents").json()}
        assert listed == {OPENAI: story_id(OPENAI), "openai-rewrite": story_id(OPENAI), TRAINIUM: story_id(TRAINIUM)}
        assert http.get("/documents/openai-rewrite").json()["story"] == story_id(OPENAI)


def _strip_stories(segment: Path) -> None:
    """Make `segment` what format 3 wrote before stories: no story per document, no signatures file."""
    documents = segment / "documents.jsonl"
    records = [json.loads(line) for line in documents.read_text("utf-8").splitlines()]
    documents.write_text("".join(json.dumps({key: value for key, value in record.items() if key != "story"},
                                            ensure_ascii=False) + "\n" for record in records), encoding="utf-8")
    (segment / "signatures.npy").unlink()
    summary = json.loads((segment / "segment.json").read_text("utf-8"))
    del summary["sha256"]["signatures.npy"]
    summary["sha256"]["documents.jsonl"] = hashlib.sha256(documents.read_bytes()).hexdigest()
    (segment / "segment.json").write_text(json.dumps(summary), encoding="utf-8")
