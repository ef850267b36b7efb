"""The live corpus: the one owner of the loaded index snapshot, which readers share and writers replace."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag.documents import Document, read_documents
from rag.errors import DocumentNotFoundError, IndexIncompatibleError, IndexMissingError, InvalidInputError, RagError
from rag.filters import DocumentFilter
from rag.indexing import UNBOUNDED, Indexer, IndexReport, WriteBounds
from rag.language import LanguageCode
from rag.retrieval import LOCAL_BACKEND, Hit, Mode, retrieve
from rag.search_backend import SearchBackend
from rag.store import CorpusIndex, StoredDocument, load_index, save_index, write_lock

if TYPE_CHECKING:
    from rag.embedding import Embedder

log = logging.getLogger(__name__)

FILE_ORIGIN = "file"  # documents from `rag index PATH`: the index mirrors those paths
API_ORIGIN = "api"  # documents posted over HTTP: kept until deleted over HTTP


class Corpus:
    """Owns the live index snapshot; every write goes to disk first, then swaps the snapshot in memory.

    Reads never wait for writes: a search uses whichever snapshot was live when it started. Candidates
    are searched by `backend` (default: the snapshot's own segments); an external one (Milvus) is synced
    with the snapshot after every write and whenever a snapshot is opened or followed, so a crash between
    the local commit and that sync is repaired by the next one.
    """

    def __init__(
        self, index_dir: Path, indexer: Indexer, index: CorpusIndex, backend: SearchBackend = LOCAL_BACKEND
    ) -> None:
        self.index_dir = index_dir
        self.backend = backend
        self._indexer = indexer
        self._snapshot = index
        self._lock = threading.Lock()
        self._generation = _live_generation(index_dir)

    @classmethod
    def open(
        cls, index_dir: Path, embedder: Embedder, *, missing_ok: bool = False, backend: SearchBackend = LOCAL_BACKEND
    ) -> Corpus:
        """Load the index in `index_dir`, checking it was built by this embedder and chunking."""
        try:
            index = load_index(index_dir, embedder.model_id)
        except IndexMissingError:
            if not missing_ok:
                raise
            index = None
        return cls.over(index_dir, embedder, index, backend=backend)

    @classmethod
    def over(
        cls, index_dir: Path, embedder: Embedder, index: CorpusIndex | None, *, backend: SearchBackend = LOCAL_BACKEND
    ) -> Corpus:
        """A corpus over an index already loaded from `index_dir` for this embedder's model (None: empty)."""
        indexer = Indexer(embedder)
        index = index if index is not None else indexer.empty()
        _check_chunking(index, indexer)
        corpus = cls(index_dir, indexer, index, backend)
        if backend.external:
            with write_lock(index_dir):  # a writer syncing a newer snapshot meanwhile would be undone
                if _live_generation(index_dir) == corpus._generation:
                    backend.sync(index)
        return corpus

    @classmethod
    def rebuild(cls, index_dir: Path, embedder: Embedder, *, backend: SearchBackend = LOCAL_BACKEND) -> Corpus:
        """Start from an empty index, keeping documents posted over HTTP when the old one is readable."""
        indexer = Indexer(embedder)
        corpus = cls(index_dir, indexer, indexer.empty(), backend)
        try:
            old = load_index(index_dir)
        except (IndexMissingError, IndexIncompatibleError):
            return corpus
        posted = [stored.document for stored in old.documents.values() if stored.origin == API_ORIGIN]
        if posted:
            corpus.upsert(posted)
        return corpus

    @property
    def snapshot(self) -> CorpusIndex:
        """The live snapshot (immutable): read it once when several reads must agree.

        When another process (`rag index`) made a new generation live, it is loaded first; a reader
        never waits for that: while this process is writing, the current snapshot is served.
        """
        if _live_generation(self.index_dir) != self._generation and self._lock.acquire(blocking=False):
            try:
                self._follow_other_writer()
            finally:
                self._lock.release()
        return self._snapshot

    @property
    def model_id(self) -> str:
        """The embedding model the index was built with and queries are embedded by."""
        return self._indexer.embedder.model_id

    def search(
        self,
        query: str,
        k: int = 5,
        *,
        language: LanguageCode | None = None,
        mode: Mode = "hybrid",
        where: DocumentFilter | None = None,
    ) -> list[Hit]:
        """The k best chunks for `query` in the live snapshot (of the documents `where` allows), each
        with its scored sentences."""
        # One snapshot for the whole query, even if a writer swaps in a new one meanwhile.
        snapshot = self.snapshot
        return retrieve(
            snapshot, query, lambda text: self.embed_queries([text])[0], k, language=language, mode=mode, where=where,
            backend=self.backend,
        )

    def embed_queries(self, queries: Sequence[str]) -> np.ndarray:
        """Query vectors as `search` makes them, for benchmarks that embed many questions in batches."""
        return self._indexer.embedder.embed_queries(queries)

    def document(self, doc_id: str) -> StoredDocument:
        """One stored document, or DocumentNotFoundError."""
        try:
            return self.snapshot.documents[doc_id]
        except KeyError:
            shown = doc_id if len(doc_id) <= 130 else f"{doc_id[:120]}…"  # never echo a huge id back
            raise DocumentNotFoundError(f"no document with id {shown!r}") from None

    def sync_paths(self, paths: Sequence[Path], *, show_progress: bool = False) -> IndexReport:
        """Make the file documents exactly those under `paths` (added, changed, removed).

        A file (or a feed entry, an export line) that fails to load is skipped and listed in the
        report, and what it gave before stays indexed; when that cannot be known (a feed that does
        not parse, a line that is not JSON), no file document is removed this time. When no file
        loads, nothing changes.
        """
        batch = read_documents(paths)
        if not batch.documents:
            reasons = "; ".join(item.reason for item in batch.skipped[:3])
            raise InvalidInputError(f"no document could be read, the index is unchanged: {reasons}")

        def change(previous: CorpusIndex) -> tuple[CorpusIndex, IndexReport]:
            loaded = {document.doc_id for document in batch.documents}
            unknown = any(item.doc_ids is None for item in batch.skipped)  # keep every file document then
            held = {doc_id for item in batch.skipped for doc_id in item.doc_ids or ()}
            kept = [
                stored.document
                for doc_id, stored in previous.documents.items()
                if stored.origin == FILE_ORIGIN and doc_id not in loaded and (unknown or doc_id in held)
            ]
            documents = [*batch.documents, *kept]
            return self._indexer.sync(previous, documents, FILE_ORIGIN, show_progress=show_progress)

        report = self._write(change)
        return replace(report, skipped=tuple(batch.skipped), notes=tuple(batch.notes), formats=batch.formats)

    def upsert(self, documents: Sequence[Document], bounds: WriteBounds = UNBOUNDED) -> IndexReport:
        """Add or replace documents posted over HTTP, within what one request may cost."""
        return self._write(lambda previous: self._indexer.upsert(previous, documents, API_ORIGIN, bounds=bounds))

    def delete(self, doc_id: str) -> IndexReport:
        """Remove one document from both search sides."""
        self.document(doc_id)
        return self._write(lambda previous: self._indexer.remove(previous, [doc_id]))

    def optimize(self) -> IndexReport:
        """Merge every segment into one, dropping tombstoned rows."""
        return self._write(self._indexer.optimize)

    def close(self) -> None:
        """Release the search backend's connections."""
        self.backend.close()

    def _follow_other_writer(self) -> None:
        generation = _live_generation(self.index_dir)
        if generation is None or generation == self._generation:
            return
        try:
            index = load_index(self.index_dir, self.model_id, self._snapshot.loaded_segments)
            _check_chunking(index, self._indexer)
        except RagError as error:  # a damaged new generation must not take down the one being served
            log.warning("keeping the loaded index: the one another process wrote cannot be read (%s)", error)
            self._generation = generation
            return
        self._snapshot, self._generation = index, generation
        if self.backend.external:
            with write_lock(self.index_dir, wait=False) as free:  # a writer syncs what it commits; never wait for it
                if free and _live_generation(self.index_dir) == generation:
                    self.backend.sync(index)

    def _write(self, change: Callable[[CorpusIndex], tuple[CorpusIndex, IndexReport]]) -> IndexReport:
        with self._lock, write_lock(self.index_dir):
            previous = self._snapshot
            if _live_generation(self.index_dir) != self._generation:
                previous = load_index(self.index_dir, self.model_id, previous.loaded_segments)  # another process wrote
            index, report = change(previous)
            if report.changed or _live_generation(self.index_dir) is None:
                self._generation = save_index(index, self.index_dir).name
            self._snapshot = index
            if self.backend.external:
                self.backend.sync(index)
            return report


def _live_generation(index_dir: Path) -> str | None:
    link = index_dir / "current"
    return link.resolve().name if link.exists() else None


def _check_chunking(index: CorpusIndex, indexer: Indexer) -> None:
    built = (index.manifest.chunk_tokens, index.manifest.overlap_tokens)
    wanted = (indexer.chunk_tokens, indexer.overlap_tokens)
    if index.manifest.chunks and built != wanted:
        raise IndexIncompatibleError(
            f"index was chunked with (size, overlap) {built} but this version uses {wanted}; "
            "run `rag index --rebuild` to rebuild it"
        )
