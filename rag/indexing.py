"""Turning document changes into a new `CorpusIndex`: one new segment for what changed, tombstones for the rest.

Only changed documents are chunked, language-detected, split into sentences, embedded (vectors of
their unchanged chunks and sentences are reused) and given a story (rag/stories.py); other segments
are kept as they are, so a write costs what it changed plus a small merge of the newest, small segments.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from rag.chunking import Chunker
from rag.documents import Document, FormatCount, SkippedFile
from rag.errors import WriteCancelledError, WriteTooLargeError
from rag.language import detect_language
from rag.segment import IndexedChunk, IndexedSentence, Segment, StoredDocument, fingerprint
from rag.sentences import split_sentences
from rag.store import CorpusIndex, SegmentView, new_name
from rag.stories import PERMUTATIONS, assign_stories, signatures_of

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
# Merge policy (log-structured, like Lucene's tiers): the newest segment absorbs its predecessor while
# that one is at most MERGE_RATIO times its size and both together stay under MERGE_MAX_CHUNKS, so
# one-article writes do not leave thousands of tiny segments and no write rewrites much. Larger
# segments are merged only by `rag index --optimize` (`python bench/scale.py` measures both).
MERGE_RATIO = 2
MERGE_MAX_CHUNKS = 2000


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
    merged: int = 0  # segments merged into one
    notes: tuple[str, ...] = ()  # what was read but left unknown (a date that is not one)
    formats: tuple[FormatCount, ...] = ()  # per format: read, skipped, indexed

    @property
    def changed(self) -> bool:
        """False when the corpus was already indexed as is (nothing was written)."""
        return bool(self.added or self.updated or self.removed or self.merged)


# A write that can be cancelled embeds in slices this long and looks at its cancel event between them.
_CANCEL_CHECK_TEXTS = 64


@dataclass(frozen=True)
class WriteBounds:
    """What one client's write may cost: the texts it may embed, and the event that cancels it (the
    client left). A cancelled or refused write leaves the index as it was. The CLI writes unbounded."""

    max_texts: int | None = None
    cancel: threading.Event | None = None


UNBOUNDED = WriteBounds()


class Indexer:
    """Builds new index snapshots from document changes, reusing the embeddings of unchanged text."""

    def __init__(
        self, embedder: Embedder, chunk_tokens: int = CHUNK_TOKENS, overlap_tokens: int = OVERLAP_TOKENS
    ) -> None:
        self.embedder = embedder
        self.chunker = Chunker(embedder.count_tokens, chunk_tokens=chunk_tokens, overlap_tokens=overlap_tokens)
        self.chunk_tokens = chunk_tokens
        self.overlap_tokens = overlap_tokens

    def empty(self) -> CorpusIndex:
        """An index with no documents, the starting point of a first build."""
        return CorpusIndex.of(self._building(), ())

    def sync(
        self, previous: CorpusIndex, documents: Iterable[Document], origin: str, *, show_progress: bool = False
    ) -> tuple[CorpusIndex, IndexReport]:
        """Make the `origin` documents exactly `documents`; other origins are kept as they are."""
        wanted = {document.doc_id: self._stored(document, origin) for document in documents}
        gone = {doc_id for doc_id, stored in previous.documents.items() if stored.origin == origin} - set(wanted)
        return self._apply(previous, wanted, gone, show_progress)

    def upsert(
        self, previous: CorpusIndex, documents: Iterable[Document], origin: str, *, bounds: WriteBounds = UNBOUNDED
    ) -> tuple[CorpusIndex, IndexReport]:
        """Add or replace `documents`, keeping every other document, within `bounds`."""
        wanted = {document.doc_id: self._stored(document, origin) for document in documents}
        return self._apply(previous, wanted, set(), False, bounds)

    def remove(self, previous: CorpusIndex, doc_ids: Iterable[str]) -> tuple[CorpusIndex, IndexReport]:
        """Drop `doc_ids` from both search sides."""
        known = {doc_id for doc_id in doc_ids if doc_id in previous.documents}
        return self._apply(previous, {}, known, show_progress=False)

    def optimize(self, previous: CorpusIndex) -> tuple[CorpusIndex, IndexReport]:
        """Merge every segment into one and drop tombstoned rows (searches scan one segment again)."""
        started = time.perf_counter()
        views = previous.segments
        if len(views) <= 1 and not any(view.deleted for view in views):
            return previous, self._report(previous, 0, (), (), (), started)
        merged = (SegmentView(merge_segments(views)),) if previous.documents else ()
        index = CorpusIndex.of(self._building(), merged, previous)
        return index, self._report(index, 0, (), (), (), started, merged=len(views))

    def _stored(self, document: Document, origin: str) -> StoredDocument:
        metadata = (document.date, document.source, document.url, document.author, document.language)
        digest = fingerprint(document.title, document.text, *(value or "" for value in metadata))
        return StoredDocument(document, origin, digest)

    def _apply(
        self,
        previous: CorpusIndex,
        wanted: dict[str, StoredDocument],
        gone: set[str],
        show_progress: bool,
        bounds: WriteBounds = UNBOUNDED,
    ) -> tuple[CorpusIndex, IndexReport]:
        started = time.perf_counter()
        before = previous.documents
        changed = {doc_id: stored for doc_id, stored in sorted(wanted.items())
                   if doc_id not in before or before[doc_id].fingerprint != stored.fingerprint}
        added = tuple(doc_id for doc_id in changed if doc_id not in before)
        updated = tuple(doc_id for doc_id in changed if doc_id in before)
        removed = tuple(sorted(gone))
        if not changed and not gone:
            return previous, self._report(previous, 0, (), (), (), started)

        doomed = set(updated) | gone
        views = [view.without(doomed) for view in previous.segments]
        views = [view for view in views if view.live_chunks]
        embedded = 0
        if changed:
            signatures = signatures_of(stored.document for stored in changed.values())
            changed = _with_stories(changed, signatures, views, previous, doomed)
            segment, embedded = self._segment(changed, signatures, self._known_vectors(previous, updated),
                                              show_progress, bounds)
            views.append(SegmentView(segment))
        views, merged = _merge_tail(views)
        index = CorpusIndex.of(self._building(), tuple(views), previous)
        return index, self._report(index, embedded, added, updated, removed, started, merged=merged)

    def _segment(
        self,
        documents: dict[str, StoredDocument],
        signatures: np.ndarray,
        known: dict[str, np.ndarray],
        show_progress: bool,
        bounds: WriteBounds,
    ) -> tuple[Segment, int]:
        """A new segment for `documents`, embedding only texts not in `known`; returns it and that count."""
        chunks = [
            IndexedChunk(chunk, detect_language(chunk.text), fingerprint(chunk.text))
            for stored in documents.values()
            for chunk in self.chunker.split(stored.document)
        ]
        sentences = [
            IndexedSentence(doc_id, start, end, fingerprint(stored.document.text[start:end]))
            for doc_id, stored in documents.items()
            for start, end in split_sentences(stored.document.text)
        ]
        pending = {item.fingerprint: item.chunk.text for item in chunks if item.fingerprint not in known}
        pending.update({item.fingerprint: documents[item.doc_id].document.text[item.start : item.end]
                        for item in sentences if item.fingerprint not in known})
        if bounds.max_texts is not None and len(pending) > bounds.max_texts:
            raise WriteTooLargeError(
                f"this would embed {len(pending):,} passages and sentences, and one request may embed "
                f"{bounds.max_texts:,} (RAG_MAX_WRITE_TEXTS): split it into smaller requests, or index the "
                "files with `rag index`"
            )
        fresh = self._embed(list(pending.values()), show_progress, bounds.cancel)
        known = {**known, **dict(zip(pending, fresh))}
        segment = Segment.assemble(
            new_name(),
            documents,
            chunks,
            self._vectors([known[item.fingerprint] for item in chunks]),
            sentences,
            self._vectors([known[item.fingerprint] for item in sentences]),
            signatures,
        )
        return segment, len(pending)

    def _embed(self, texts: list[str], show_progress: bool, cancel: threading.Event | None) -> np.ndarray:
        """The passage vectors of `texts`; with `cancel`, in slices, stopping when it is set."""
        if cancel is None:
            return self.embedder.embed_passages(texts, show_progress=show_progress)
        parts = []
        for start in range(0, len(texts), _CANCEL_CHECK_TEXTS):
            if cancel.is_set():
                raise WriteCancelledError("the client left before the write was committed: nothing was written")
            parts.append(self.embedder.embed_passages(texts[start : start + _CANCEL_CHECK_TEXTS]))
        return np.concatenate(parts) if parts else np.zeros((0, self.embedder.dimension), dtype=np.float32)

    def _known_vectors(self, previous: CorpusIndex, doc_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Vectors of the current versions of `doc_ids`, by text fingerprint (an edit re-embeds only what changed)."""
        known: dict[str, np.ndarray] = {}
        for doc_id in doc_ids:
            segment = previous.home[doc_id]
            chunk_rows, sentence_rows = segment.rows_of[doc_id]
            known.update(zip((item.fingerprint for item in segment.chunks[chunk_rows]), segment.embeddings[chunk_rows]))
            known.update(zip((item.fingerprint for item in segment.sentences[sentence_rows]),
                             segment.sentence_embeddings[sentence_rows]))
        return known

    def _vectors(self, rows: list[np.ndarray]) -> np.ndarray:
        if not rows:
            return np.zeros((0, self.embedder.dimension), dtype=np.float32)
        return np.stack(rows).astype(np.float32)

    def _building(self) -> dict:
        return {
            "embedding_model": self.embedder.model_id,
            "dimension": self.embedder.dimension,
            "chunk_tokens": self.chunk_tokens,
            "overlap_tokens": self.overlap_tokens,
        }

    def _report(
        self,
        index: CorpusIndex,
        embedded: int,
        added: tuple[str, ...],
        updated: tuple[str, ...],
        removed: tuple[str, ...],
        started: float,
        merged: int = 0,
    ) -> IndexReport:
        return IndexReport(len(index.documents), index.chunk_count, embedded, added, updated, removed,
                           time.perf_counter() - started, merged=merged)


def _with_stories(
    documents: dict[str, StoredDocument],
    signatures: np.ndarray,
    views: Sequence[SegmentView],
    previous: CorpusIndex,
    doomed: set[str],
) -> dict[str, StoredDocument]:
    """`documents` with their stories, found among the live documents of `views` (tombstones applied)."""
    leaving = Counter(previous.documents[doc_id].story for doc_id in doomed if doc_id in previous.documents)
    indexes = [(view.segment.signature_index, view.deleted) for view in views]
    stories = assign_stories(
        list(documents), signatures, indexes, lambda doc_id: previous.documents[doc_id].story,
        lambda story: previous.story_sizes.get(story, 0) > leaving[story],
    )
    return {doc_id: replace(stored, story=stories[doc_id]) for doc_id, stored in documents.items()}


def merge_segments(views: Sequence[SegmentView]) -> Segment:
    """One segment holding the live documents of `views`, with their vectors (nothing is re-embedded)."""
    documents: dict[str, StoredDocument] = {}
    chunk_parts, sentence_parts, signature_rows = [], [], []
    chunks: list[IndexedChunk] = []
    sentences: list[IndexedSentence] = []
    for view in views:
        segment = view.segment
        for doc_id, stored in segment.documents.items():
            if doc_id in view.deleted:
                continue
            documents[doc_id] = stored
            chunk_rows, sentence_rows = segment.rows_of[doc_id]
            chunks.extend(segment.chunks[chunk_rows])
            sentences.extend(segment.sentences[sentence_rows])
            chunk_parts.append(segment.embeddings[chunk_rows])
            sentence_parts.append(segment.sentence_embeddings[sentence_rows])
            signature_rows.append(segment.signatures[segment.ordinals[doc_id]])
    dimension = views[0].segment.embeddings.shape[1]
    embeddings = np.concatenate(chunk_parts) if chunk_parts else np.zeros((0, dimension), np.float32)
    sentence_embeddings = np.concatenate(sentence_parts) if sentence_parts else np.zeros((0, dimension), np.float32)
    signatures = np.stack(signature_rows) if signature_rows else np.zeros((0, PERMUTATIONS), np.uint32)
    return Segment.assemble(new_name(), documents, chunks, embeddings, sentences, sentence_embeddings, signatures)


def _merge_tail(views: list[SegmentView]) -> tuple[list[SegmentView], int]:
    """Merge the newest segments while they are of similar, small sizes; returns the views and how many merged."""
    tail = 1
    while (
        len(views) > tail
        and views[-tail - 1].live_chunks <= MERGE_RATIO * sum(view.live_chunks for view in views[-tail:])
        and sum(view.live_chunks for view in views[-tail - 1 :]) <= MERGE_MAX_CHUNKS
    ):
        tail += 1
    if tail == 1:
        return views, 0
    return [*views[:-tail], SegmentView(merge_segments(views[-tail:]))], tail
