"""The on-disk index: round trip, incremental work, atomic writes, clear errors on damage."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from rag import indexing, store
from rag.corpus import Corpus
from rag.documents import Document
from rag.errors import IndexIncompatibleError, IndexMissingError
from rag.indexing import Indexer
from rag.rowfile import RowFile
from rag.store import load_index, save_index

ARTICLES = {
    "cloud": "Le cloud progresse vite. AWS investit dans le cloud et les serveurs.",
    "puces": "Amazon conçoit ses propres puces. Les puces Trainium concurrencent NVIDIA.",
    "emplois": "Amazon supprime 14 000 emplois. Les emplois supprimés financent l'IA.",
}


def write_corpus(folder: Path, articles: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in articles.items():
        (folder / f"{name}.txt").write_text(text, encoding="utf-8")
    return folder


def staging_leftovers(index_dir: Path) -> list[str]:
    return [path.name for path in (index_dir / "generations").iterdir() if path.name.startswith(".tmp-")]


@pytest.fixture
def corpus(tmp_path, keyword_embedder) -> Corpus:
    corpus = Corpus.open(tmp_path / "index", keyword_embedder, missing_ok=True)
    corpus.sync_paths([write_corpus(tmp_path / "articles", ARTICLES)])
    return corpus


def segment_folders(index_dir: Path) -> set[str]:
    return {path.name for path in (index_dir / "segments").iterdir()}


def live_segment(index_dir: Path) -> Path:
    manifest = json.loads((index_dir / "current" / "manifest.json").read_text())
    return index_dir / "segments" / manifest["segments"][-1]


def test_round_trip_keeps_offsets_exact(corpus, keyword_embedder):
    loaded = load_index(corpus.index_dir, keyword_embedder.model_id)
    assert set(loaded.documents) == set(ARTICLES)
    assert loaded.chunk_count == corpus.snapshot.chunk_count >= 3
    for item in loaded.live_chunks():
        text = loaded.documents[item.chunk.doc_id].document.text
        assert text[item.chunk.start : item.chunk.end] == item.chunk.text
    for saved, live in zip(loaded.segments, corpus.snapshot.segments, strict=True):
        np.testing.assert_allclose(saved.segment.embeddings, live.segment.embeddings)
    assert sum(len(view.segment.sentences) for view in loaded.segments) == 6


def test_vectors_are_read_from_disk_row_by_row_with_sentences_as_float16_and_rank_as_before(corpus, keyword_embedder):
    """Reopening must not change a score: the live snapshot holds the same float16 sentence vectors it wrote."""
    loaded = load_index(corpus.index_dir, keyword_embedder.model_id)
    for saved, live in zip(loaded.segments, corpus.snapshot.segments, strict=True):
        assert isinstance(saved.segment.embeddings, RowFile)
        assert isinstance(saved.segment.sentence_embeddings, RowFile)
        assert saved.segment.sentence_embeddings.dtype == live.segment.sentence_embeddings.dtype == np.float16
        np.testing.assert_array_equal(saved.segment.sentence_embeddings, live.segment.sentence_embeddings)
    reopened = Corpus.open(corpus.index_dir, keyword_embedder)
    for query in ("puces Trainium", "emplois supprimés", "cloud AWS"):
        before, after = corpus.search(query, 3), reopened.search(query, 3)
        assert [(hit.chunk_id, hit.score, [s.score for s in hit.sentences]) for hit in before] == [
            (hit.chunk_id, hit.score, [s.score for s in hit.sentences]) for hit in after
        ]


def test_unchanged_corpus_embeds_nothing_and_writes_nothing(corpus, keyword_embedder, tmp_path):
    generation = (corpus.index_dir / "current").resolve()
    keyword_embedder.embedded.clear()
    report = corpus.sync_paths([tmp_path / "articles"])
    assert not report.changed and report.embedded_texts == 0
    assert keyword_embedder.embedded == []
    assert (corpus.index_dir / "current").resolve() == generation


def test_adding_one_article_embeds_only_its_text(corpus, keyword_embedder, tmp_path):
    keyword_embedder.embedded.clear()
    write_corpus(tmp_path / "articles", {"openai": "OpenAI signe avec AWS. Le contrat porte sur le cloud."})
    report = corpus.sync_paths([tmp_path / "articles"])
    assert report.added == ("openai",)
    assert keyword_embedder.embedded and all("OpenAI" in t or "contrat" in t for t in keyword_embedder.embedded)
    assert corpus.search("openai", 1)[0].doc_id == "openai"


def test_removed_article_disappears_from_results(corpus, tmp_path):
    (tmp_path / "articles" / "puces.txt").unlink()
    report = corpus.sync_paths([tmp_path / "articles"])
    assert report.removed == ("puces",)
    assert all(hit.doc_id != "puces" for hit in corpus.search("puces nvidia", 5))
    assert "puces" not in load_index(corpus.index_dir).documents


def test_a_write_keeps_older_segments_and_adds_one(corpus, tmp_path, monkeypatch):
    monkeypatch.setattr(indexing, "MERGE_MAX_CHUNKS", 0)  # no merge: see exactly what one write adds
    before = segment_folders(corpus.index_dir)
    stamps = {path: path.stat().st_mtime_ns for path in live_segment(corpus.index_dir).iterdir()}
    corpus.upsert([Document("openai", "OpenAI", "OpenAI signe avec AWS pour le cloud.")])
    corpus.delete("puces")
    assert len(segment_folders(corpus.index_dir) - before) == 1
    assert {path: path.stat().st_mtime_ns for path in stamps} == stamps  # never rewritten
    manifest = json.loads((corpus.index_dir / "current" / "manifest.json").read_text())
    assert list(manifest["deleted"].values()) == [["puces"]]
    assert set(load_index(corpus.index_dir).documents) == {"cloud", "emplois", "openai"}


def test_a_replaced_document_is_only_found_in_its_new_version(corpus):
    corpus.upsert([Document("puces", "Puces", "Les puces Graviton remplacent les anciennes.")])
    texts = {hit.text for hit in corpus.search("puces Trainium NVIDIA Graviton", 10) if hit.doc_id == "puces"}
    assert texts == {"Les puces Graviton remplacent les anciennes."}
    assert corpus.snapshot.chunks_of("puces") == 1


@pytest.mark.parametrize("point", ["segment", "manifest", "link"])
def test_crash_mid_write_leaves_previous_index_usable(corpus, tmp_path, monkeypatch, keyword_embedder, point):
    def crash(*args, **kwargs):
        raise OSError("disk full")

    target = {"segment": (store, "write_segment"), "manifest": (store.os, "fsync"), "link": (store.os, "replace")}
    monkeypatch.setattr(*target[point], crash)
    write_corpus(tmp_path / "articles", {"openai": "OpenAI signe avec AWS."})
    with pytest.raises(OSError):
        corpus.sync_paths([tmp_path / "articles"])
    reopened = Corpus.open(corpus.index_dir, keyword_embedder)
    assert set(reopened.snapshot.documents) == set(ARTICLES)
    assert reopened.search("puces", 1)[0].doc_id == "puces"
    monkeypatch.undo()
    Corpus.open(corpus.index_dir, keyword_embedder).sync_paths([tmp_path / "articles"])
    assert staging_leftovers(corpus.index_dir) == []


def test_emptied_index_saves_reopens_and_takes_documents_again(tmp_path, keyword_embedder):
    index_dir = tmp_path / "index"
    indexer = Indexer(keyword_embedder)
    articles = [Document(doc_id, doc_id.title(), text) for doc_id, text in ARTICLES.items()]
    full, _ = indexer.upsert(indexer.empty(), articles, "api")
    save_index(full, index_dir)
    emptied, report = indexer.remove(full, list(ARTICLES))
    assert report.removed == tuple(sorted(ARTICLES))
    save_index(emptied, index_dir)
    reopened = load_index(index_dir, keyword_embedder.model_id)
    assert (dict(reopened.documents), reopened.chunk_count, reopened.segments) == ({}, 0, ())
    assert staging_leftovers(index_dir) == []
    refilled, _ = indexer.upsert(reopened, [Document("puces", "Puces", ARTICLES["puces"])], "api")
    save_index(refilled, index_dir)
    corpus = Corpus.open(index_dir, keyword_embedder)
    assert [hit.doc_id for hit in corpus.search("Trainium", 5, mode="lexical")] == ["puces"]
    assert corpus.search("puces nvidia", 1)[0].doc_id == "puces"


def test_index_built_from_nothing_saves_and_loads(tmp_path, keyword_embedder):
    save_index(Indexer(keyword_embedder).empty(), tmp_path / "index")
    loaded = load_index(tmp_path / "index", keyword_embedder.model_id)
    assert (dict(loaded.documents), loaded.chunk_count, loaded.segments) == ({}, 0, ())
    assert staging_leftovers(tmp_path / "index") == []


def test_index_built_with_another_model_is_refused(corpus):
    with pytest.raises(IndexIncompatibleError, match=r"rag index --rebuild"):
        load_index(corpus.index_dir, "other/model")


@pytest.mark.parametrize(
    "damage",
    ["manifest", "embeddings", "flipped-byte", "missing-file", "missing-segment", "segment-summary", "counts",
     "dangling"],
)
def test_damaged_index_names_the_fix(corpus, damage):
    live = (corpus.index_dir / "current").resolve()
    segment = live_segment(corpus.index_dir)
    if damage == "flipped-byte":  # the checksums catch what no parser would
        raw = bytearray((segment / "lexical.npz").read_bytes())
        raw[len(raw) // 2] ^= 0x01
        (segment / "lexical.npz").write_bytes(bytes(raw))
    elif damage == "dangling":
        shutil.rmtree(live)
    elif damage == "manifest":
        (live / "manifest.json").write_text("{not json")
    elif damage == "embeddings":
        (segment / "embeddings.npy").write_bytes(b"garbage")
    elif damage == "missing-file":
        (segment / "dense.faiss").unlink()
    elif damage == "missing-segment":
        shutil.rmtree(segment)
    elif damage == "segment-summary":
        (segment / "segment.json").write_text("[]")
    else:
        manifest = json.loads((live / "manifest.json").read_text())
        (live / "manifest.json").write_text(json.dumps({**manifest, "chunks": manifest["chunks"] + 1}))
    with pytest.raises(IndexIncompatibleError, match=r"rag index --rebuild"):
        load_index(corpus.index_dir)


def test_rebuild_recovers_a_damaged_index_and_keeps_posted_documents(corpus, keyword_embedder, tmp_path):
    corpus.upsert([Document("posted", "Posté", "OpenAI et le cloud.")])
    rebuilt = Corpus.rebuild(corpus.index_dir, keyword_embedder)
    assert "posted" in rebuilt.snapshot.documents
    (live_segment(corpus.index_dir) / "embeddings.npy").write_bytes(b"garbage")
    recovered = Corpus.rebuild(corpus.index_dir, keyword_embedder)
    recovered.sync_paths([tmp_path / "articles"])
    assert set(load_index(corpus.index_dir).documents) == set(ARTICLES)


def test_missing_index_is_a_clear_error(tmp_path, keyword_embedder):
    with pytest.raises(IndexMissingError, match="rag index"):
        Corpus.open(tmp_path / "nothing", keyword_embedder)


def test_delete_removes_from_both_sides(corpus):
    corpus.delete("emplois")
    hits = corpus.search("emplois", 5, mode="lexical") + corpus.search("emplois", 5, mode="dense")
    assert all(hit.doc_id != "emplois" for hit in hits)


def test_a_corpus_follows_what_another_process_wrote(corpus, keyword_embedder):
    reader = Corpus.open(corpus.index_dir, keyword_embedder)  # a running server, say
    writer = Corpus.open(corpus.index_dir, keyword_embedder)  # `rag index` in another process
    writer.upsert([Document("nouvelle", "Nouvelle", "NVIDIA annonce des puces pour le cloud.")])
    assert "nouvelle" in reader.snapshot.documents
    assert "nouvelle" in {hit.doc_id for hit in reader.search("nvidia", 5)}


def test_small_segments_merge_and_optimize_leaves_one(corpus, keyword_embedder):
    for number in range(6):
        corpus.upsert([Document(f"breve-{number}", "Brève", f"Brève numéro {number} sur le cloud.")])
    segments = len(corpus.snapshot.segments)
    assert segments < 7  # six one-chunk writes did not leave six more segments
    before = [(hit.doc_id, hit.start, round(hit.score, 5)) for hit in corpus.search("cloud AWS puces", 8)]
    report = corpus.optimize()
    assert report.merged == segments and len(corpus.snapshot.segments) == 1
    after = [(hit.doc_id, hit.start, round(hit.score, 5)) for hit in corpus.search("cloud AWS puces", 8)]
    assert after == before
    assert len(segment_folders(corpus.index_dir)) <= segments + 1  # older generations' segments pruned


def test_unreferenced_segments_are_removed_by_the_next_write(corpus, monkeypatch):
    def crash(*args, **kwargs):
        raise OSError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr(store.os, "replace", crash)
        with pytest.raises(OSError):
            corpus.upsert([Document("orpheline", "Orpheline", "Un segment que rien ne nomme.")])
    orphans = segment_folders(corpus.index_dir) - set(load_index(corpus.index_dir).manifest.segments)
    assert orphans
    corpus.upsert([Document("suivante", "Suivante", "La prochaine écriture fait le ménage.")])
    assert not orphans & segment_folders(corpus.index_dir)


def test_a_snapshot_updated_write_by_write_equals_one_read_from_scratch(corpus, keyword_embedder):
    """Writes update the live documents, their segments and story sizes from the previous snapshot;
    after adds, copies (one story), replacements, deletions, merges and an optimize, that equals
    what reading every segment afresh gives."""

    def state(index: store.CorpusIndex) -> tuple:
        return (dict(index.documents), {doc_id: segment.segment_id for doc_id, segment in index.home.items()},
                dict(index.story_sizes), index.manifest.documents, index.manifest.chunks)

    def fresh(index: store.CorpusIndex) -> tuple:
        return state(store.CorpusIndex.of(store.building_fields(index.manifest), index.segments))

    wire = "Amazon conçoit ses propres puces Trainium pour concurrencer NVIDIA dans le cloud, selon la dépêche."
    steps = [
        lambda: corpus.upsert([Document(f"breve-{n}", "Brève", f"Brève {n} sur le cloud.") for n in range(3)]),
        lambda: corpus.upsert([Document("copie-1", "Puces", wire), Document("copie-2", "Puces", wire + " Fin.")]),
        lambda: corpus.upsert([Document("breve-1", "Brève", "Brève une, corrigée, sur les puces.")]),
        lambda: corpus.delete("copie-1"),
        lambda: corpus.upsert([Document("copie-1", "Puces", wire)]),  # rejoins the story of copie-2
        lambda: corpus.delete("cloud"),
        corpus.optimize,
    ]
    for step in steps:
        step()
        assert state(corpus.snapshot) == fresh(corpus.snapshot)
    assert corpus.snapshot.documents["copie-1"].story == corpus.snapshot.documents["copie-2"].story
    assert corpus.snapshot.story_sizes[corpus.snapshot.documents["copie-1"].story] == 2
    assert state(load_index(corpus.index_dir, keyword_embedder.model_id)) == state(corpus.snapshot)
