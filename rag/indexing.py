"""Turning documents into a `CorpusIndex`, embedding only chunks that are new since the last build."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from rag.chunking import Chunker
from rag.documents import Document, FormatCount, SkippedFile
from rag.language import detect_language
from rag.sentences import split_sentences
from rag.store import (
    FORMAT_VERSION,
    CorpusIndex,
    IndexedChunk,
    IndexedSentence,
    Manifest,
    StoredDocument,
    corpus_fingerprint,
    fingerprint,
)

if TYPE_CHECKING:
    from rag.embedding import Embedder

# Chunk budget in e5 tokens, chosen by measurement (`python bench/chunking.py`, 75 answerable gold
# questions over the seeds, shipped hybrid retriever). 200/40 ties for the best prompt recall (0.920:
# a gold evidence span is among the sentences the answer prompt gets) with evidence recall@5 0.987;
# 128/0 also reaches 0.920 and ranks the right article first more often (hit@1 0.960 vs 0.907) but
# finds less evidence in the top 5 (0.960); 96-token chunks feed the prompt worse (0.880). Far under
# e5's 512-token limit: nothing is truncated.
CHUNK_TOKENS = 200
OVERLAP_TOKENS = 40


@dataclass(frozen=True)
class IndexReport:
    """What an indexing run did, for the CLI and the API to print."""

    documents: int
    chunks: int
    embedded_texts: int
    added: tuple[str, ...]
    updated: tuple[str, ...]
    removed: tuple[str, ...]
    seconds: float
    skipped: tuple[SkippedFile, ...] = ()  # files that did not load, reported and left out
    notes: tuple[str, ...] = ()  # what was read but left unknown (a date that is not one)
    formats: tuple[FormatCount, ...] = ()  # per format: read, skipped, indexed

    @property
    def changed(self) -> bool:
        """False when the corpus was already indexed as is (nothing was written)."""
        return bool(self.added or self.updated or self.removed)


class Indexer:
    """Builds new index snapshots from documents, reusing the embeddings of unchanged chunks."""

    def __init__(
        self, embedder: Embedder, chunk_tokens: int = CHUNK_TOKENS, overlap_tokens: int = OVERLAP_TOKENS
    ) -> None:
        self.embedder = embedder
        self.chunker = Chunker(embedder.count_tokens, chunk_tokens=chunk_tokens, overlap_tokens=overlap_tokens)
        self.chunk_tokens = chunk_tokens
        self.overlap_tokens = overlap_tokens

    def empty(self) -> CorpusIndex:
        """An index with no documents, the starting point of a first build."""
        nothing = self._vectors([])
        return self._assemble({}, [], nothing, [], nothing)

    def sync(
        self, previous: CorpusIndex, documents: Iterable[Document], origin: str, *, show_progress: bool = False
    ) -> tuple[CorpusIndex, IndexReport]:
        """Make the `origin` documents exactly `documents`; other origins are kept as they are."""
        wanted = {document.doc_id: self._stored(document, origin) for document in documents}
        kept = {doc_id: stored for doc_id, stored in previous.documents.items() if stored.origin != origin}
        return self._rebuild(previous, {**kept, **wanted}, show_progress)

    def upsert(
        self, previous: CorpusIndex, documents: Iterable[Document], origin: str, *, show_progress: bool = False
    ) -> tuple[CorpusIndex, IndexReport]:
        """Add or replace `documents`, keeping every other document."""
        wanted = {document.doc_id: self._stored(document, origin) for document in documents}
        return self._rebuild(previous, {**previous.documents, **wanted}, show_progress)

    def remove(self, previous: CorpusIndex, doc_ids: Iterable[str]) -> tuple[CorpusIndex, IndexReport]:
        """Drop `doc_ids` from both search sides."""
        doomed = set(doc_ids)
        remaining = {doc_id: stored for doc_id, stored in previous.documents.items() if doc_id not in doomed}
        return self._rebuild(previous, remaining, show_progress=False)

    def _stored(self, document: Document, origin: str) -> StoredDocument:
        metadata = (document.date, document.source, document.url, document.author, document.language)
        digest = fingerprint(document.title, document.text, *(value or "" for value in metadata))
        return StoredDocument(document, origin, digest)

    def _rebuild(
        self, previous: CorpusIndex, documents: dict[str, StoredDocument], show_progress: bool
    ) -> tuple[CorpusIndex, IndexReport]:
        started = time.perf_counter()
        before = previous.documents
        added = tuple(sorted(set(documents) - set(before)))
        removed = tuple(sorted(set(before) - set(documents)))
        updated = tuple(
            sorted(d for d in documents if d in before and before[d].fingerprint != documents[d].fingerprint)
        )
        if not (added or removed or updated):
            report = IndexReport(len(documents), len(previous.chunks), 0, (), (), (), time.perf_counter() - started)
            return previous, report

        texts = {doc_id: documents[doc_id].document.text for doc_id in sorted(documents)}
        chunks = [
            IndexedChunk(chunk, detect_language(chunk.text), fingerprint(chunk.text))
            for doc_id in texts
            for chunk in self.chunker.split(documents[doc_id].document)
        ]
        sentences = [
            IndexedSentence(doc_id, start, end, fingerprint(text[start:end]))
            for doc_id, text in texts.items()
            for start, end in split_sentences(text)
        ]
        # Chunks and sentences share one vector cache keyed by text: a text embedded once is reused.
        known = {item.fingerprint: previous.embeddings[row] for row, item in enumerate(previous.chunks)}
        known.update(
            {item.fingerprint: previous.sentence_embeddings[row] for row, item in enumerate(previous.sentences)}
        )
        pending = {item.fingerprint: item.chunk.text for item in chunks if item.fingerprint not in known}
        pending.update(
            {item.fingerprint: texts[item.doc_id][item.start : item.end]
             for item in sentences if item.fingerprint not in known}
        )
        fresh = self.embedder.embed_passages(list(pending.values()), show_progress=show_progress)
        known.update(zip(pending, fresh))
        index = self._assemble(
            documents,
            chunks,
            self._vectors([known[item.fingerprint] for item in chunks]),
            sentences,
            self._vectors([known[item.fingerprint] for item in sentences]),
        )
        report = IndexReport(
            len(documents), len(chunks), len(pending), added, updated, removed, time.perf_counter() - started
        )
        return index, report

    def _vectors(self, rows: list[np.ndarray]) -> np.ndarray:
        if not rows:
            return np.zeros((0, self.embedder.dimension), dtype=np.float32)
        return np.stack(rows).astype(np.float32)

    def _assemble(
        self,
        documents: dict[str, StoredDocument],
        chunks: list[IndexedChunk],
        embeddings: np.ndarray,
        sentences: list[IndexedSentence],
        sentence_embeddings: np.ndarray,
    ) -> CorpusIndex:
        manifest = Manifest(
            format_version=FORMAT_VERSION,
            embedding_model=self.embedder.model_id,
            dimension=self.embedder.dimension,
            chunk_tokens=self.chunk_tokens,
            overlap_tokens=self.overlap_tokens,
            corpus_fingerprint=corpus_fingerprint(documents),
            documents=len(documents),
            chunks=len(chunks),
            sentences=len(sentences),
            created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        )
        return CorpusIndex.assemble(manifest, documents, chunks, embeddings, sentences, sentence_embeddings)
