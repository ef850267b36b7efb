"""Turning documents into a `CorpusIndex`, embedding only chunks that are new since the last build."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from rag.chunking import Chunker
from rag.documents import Document
from rag.embedding import Embedder
from rag.language import detect_language
from rag.store import (
    FORMAT_VERSION,
    CorpusIndex,
    IndexedChunk,
    Manifest,
    StoredDocument,
    corpus_fingerprint,
    fingerprint,
)

# Chunk budget in e5 tokens, chosen by measurement (bench/chunking.py on the seeds gold set and
# PIAF): see README "Chunk size". Well under e5's 512-token limit, so nothing is truncated.
CHUNK_TOKENS = 200
OVERLAP_TOKENS = 40


@dataclass(frozen=True)
class IndexReport:
    """What an indexing run did, for the CLI and the API to print."""

    documents: int
    chunks: int
    embedded_chunks: int
    added: tuple[str, ...]
    updated: tuple[str, ...]
    removed: tuple[str, ...]
    seconds: float

    @property
    def changed(self) -> bool:
        """False when the corpus was already indexed as is (nothing was written)."""
        return bool(self.added or self.updated or self.removed)


class Indexer:
    """Builds new index snapshots from documents, reusing the embeddings of unchanged chunks."""

    def __init__(self, embedder: Embedder, chunk_tokens: int = CHUNK_TOKENS, overlap_tokens: int = OVERLAP_TOKENS) -> None:
        self.embedder = embedder
        self.chunker = Chunker(embedder.count_tokens, chunk_tokens=chunk_tokens, overlap_tokens=overlap_tokens)
        self.chunk_tokens = chunk_tokens
        self.overlap_tokens = overlap_tokens

    def empty(self) -> CorpusIndex:
        """An index with no documents, the starting point of a first build."""
        return self._assemble({}, [], np.zeros((0, self.embedder.dimension), dtype=np.float32))

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
        digest = fingerprint(document.title, document.text, document.date or "", document.source or "")
        return StoredDocument(document, origin, digest)

    def _rebuild(
        self, previous: CorpusIndex, documents: dict[str, StoredDocument], show_progress: bool
    ) -> tuple[CorpusIndex, IndexReport]:
        started = time.perf_counter()
        before = previous.documents
        added = tuple(sorted(set(documents) - set(before)))
        removed = tuple(sorted(set(before) - set(documents)))
        updated = tuple(sorted(d for d in documents if d in before and before[d].fingerprint != documents[d].fingerprint))
        if not (added or removed or updated):
            report = IndexReport(len(documents), len(previous.chunks), 0, (), (), (), time.perf_counter() - started)
            return previous, report

        chunks = [
            IndexedChunk(chunk, detect_language(chunk.text), fingerprint(chunk.text))
            for doc_id in sorted(documents)
            for chunk in self.chunker.split(documents[doc_id].document)
        ]
        reusable = {item.fingerprint: previous.embeddings[row] for row, item in enumerate(previous.chunks)}
        missing = [item for item in chunks if item.fingerprint not in reusable]
        fresh = self.embedder.embed_passages([item.chunk.text for item in missing], show_progress=show_progress)
        reusable.update({item.fingerprint: vector for item, vector in zip(missing, fresh)})
        embeddings = (
            np.stack([reusable[item.fingerprint] for item in chunks]).astype(np.float32)
            if chunks
            else np.zeros((0, self.embedder.dimension), dtype=np.float32)
        )
        index = self._assemble(documents, chunks, embeddings)
        report = IndexReport(
            len(documents), len(chunks), len(missing), added, updated, removed, time.perf_counter() - started
        )
        return index, report

    def _assemble(
        self, documents: dict[str, StoredDocument], chunks: list[IndexedChunk], embeddings: np.ndarray
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
            created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        )
        return CorpusIndex.assemble(manifest, documents, chunks, embeddings)
