"""An immutable slice of the index: some documents with their chunks, sentences, vectors and postings.

A write adds one segment holding only what it changed; older segments are never rewritten, only
masked (their replaced or deleted documents become tombstones in the generation manifest) and, when
small, merged. Layout of `segments/<id>/`:
    segment.json                   counts and a SHA-256 of every other file (damage is detected at load)
    documents.jsonl                one stored document per line (its `text` is the offset reference)
    chunks.jsonl                   chunk id, doc id, offsets, language, text fingerprint
    embeddings.npy, dense.faiss    e5 passage vectors (row i = chunk i) and the FAISS index over them
    sentences.jsonl, sentence_embeddings.npy   every sentence's span and vector (float16), for evidence
    lexical.npz, lexical_terms.json   BM25 postings (title + chunk text, analysed in the chunk's language)
    signatures.npy                 each document's MinHash signature, to group later writes into stories
                                   (absent from segments written before stories: computed from the texts)
"""

from __future__ import annotations

import hashlib
import json
import os
import tokenize
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from rag.chunking import Chunk
from rag.dense import build_dense_index, load_dense_index, save_dense_index
from rag.documents import Document
from rag.errors import IndexIncompatibleError
from rag.language import LanguageCode
from rag.lexical import Postings
from rag.rowfile import RowFile
from rag.stories import PERMUTATIONS, SignatureIndex, signatures_of, story_id

REBUILD = "run `rag index --rebuild` to rebuild it"


@dataclass(frozen=True)
class StoredDocument:
    """A document plus where it came from: `file` documents mirror `rag index` paths, `api` ones persist."""

    document: Document
    origin: str
    fingerprint: str
    story: str = ""  # the story it reports (rag/stories.py), given when it is written


@dataclass(frozen=True)
class IndexedChunk:
    """A chunk with the facts retrieval needs: its language and a fingerprint to reuse its embedding."""

    chunk: Chunk
    language: LanguageCode
    fingerprint: str


@dataclass(frozen=True)
class IndexedSentence:
    """A sentence span of one document; its vector is the same row of `sentence_embeddings`."""

    doc_id: str
    start: int
    end: int
    fingerprint: str


@dataclass(frozen=True)
class SentenceMembership:
    """Chunk i overlaps sentence rows `rows[offsets[i]:offsets[i + 1]]`, laid out for `np.maximum.reduceat`."""

    rows: np.ndarray
    offsets: np.ndarray

    def members(self, chunk: int) -> np.ndarray:
        """The sentence rows chunk `chunk` overlaps, in document order."""
        end = self.offsets[chunk + 1] if chunk + 1 < len(self.offsets) else len(self.rows)
        return self.rows[self.offsets[chunk] : end]

    def best_per_chunk(self, sentence_scores: np.ndarray) -> np.ndarray:
        """Each chunk's best sentence score, in one vectorised pass."""
        if len(self.offsets) == 0:
            return np.zeros(0, dtype=sentence_scores.dtype)
        return np.maximum.reduceat(sentence_scores[self.rows], self.offsets)


@dataclass(frozen=True)
class Segment:
    """Documents with everything both search sides need; chunks and sentences are grouped by document."""

    segment_id: str
    documents: dict[str, StoredDocument]
    chunks: list[IndexedChunk]
    embeddings: np.ndarray | RowFile  # RowFile once read back from disk
    sentences: list[IndexedSentence]
    sentence_embeddings: np.ndarray | RowFile
    chunk_sentences: SentenceMembership
    postings: Postings
    dense: Any  # faiss.Index (faiss ships no type stubs)
    stored_signatures: np.ndarray | None = None  # row i = document i; None in a segment from before stories

    @classmethod
    def assemble(
        cls,
        segment_id: str,
        documents: dict[str, StoredDocument],
        chunks: list[IndexedChunk],
        embeddings: np.ndarray,
        sentences: list[IndexedSentence],
        sentence_embeddings: np.ndarray,
        signatures: np.ndarray,
    ) -> Segment:
        """Derive the postings, the FAISS index and the chunk-sentence membership from stored parts.

        Sentence vectors are kept as float16: they are most of the index (4.5 per chunk), only the
        candidates' rows are ever scored, and their cosines move by about 1e-3.
        """
        texts = [lexical_text(documents[item.chunk.doc_id].document, item.chunk) for item in chunks]
        postings = Postings.build(texts, [item.language for item in chunks])
        membership = sentence_spans(chunks, sentences)
        return cls(segment_id, documents, chunks, embeddings, sentences, sentence_embeddings.astype(np.float16),
                   membership, postings, build_dense_index(embeddings), signatures)

    @cached_property
    def signatures(self) -> np.ndarray:
        """Each document's MinHash signature, row i = document i; a segment written before stories has
        them computed from its texts, once, when a write first compares with it (not at load)."""
        if self.stored_signatures is not None:
            return self.stored_signatures
        return signatures_of(stored.document for stored in self.documents.values())

    @cached_property
    def signature_index(self) -> SignatureIndex:
        """Its documents' signatures under LSH, built once, when a write first compares with them."""
        return SignatureIndex(list(self.documents), self.signatures)

    @cached_property
    def ordinals(self) -> dict[str, int]:
        """Each document's position in `documents`."""
        return {doc_id: number for number, doc_id in enumerate(self.documents)}

    @cached_property
    def chunk_documents(self) -> np.ndarray:
        """The document ordinal of every chunk, for vectorised masks."""
        return np.array([self.ordinals[item.chunk.doc_id] for item in self.chunks], dtype=np.int64)

    @cached_property
    def chunk_counts(self) -> dict[str, int]:
        """How many chunks each document has."""
        return dict(Counter(item.chunk.doc_id for item in self.chunks))

    @cached_property
    def rows_of(self) -> dict[str, tuple[slice, slice]]:
        """Each document's chunk rows and sentence rows (both are stored grouped by document)."""
        chunk_rows, sentence_rows = _row_ranges(item.chunk.doc_id for item in self.chunks), _row_ranges(
            sentence.doc_id for sentence in self.sentences
        )
        return {doc_id: (chunk_rows.get(doc_id, slice(0, 0)), sentence_rows.get(doc_id, slice(0, 0)))
                for doc_id in self.documents}

    def document_mask(self, doc_ids: Iterable[str]) -> np.ndarray:
        """True for the chunks of the documents in `doc_ids`."""
        ordinals = self.ordinals
        return np.isin(self.chunk_documents, [ordinals[doc_id] for doc_id in doc_ids if doc_id in ordinals])


def lexical_text(document: Document, chunk: Chunk) -> str:
    """What BM25 reads of a chunk: its document's title (often the best keywords), then the chunk."""
    return f"{document.title}\n{chunk.text}"


def _row_ranges(doc_ids: Iterable[str]) -> dict[str, slice]:
    starts: dict[str, int] = {}
    ends: dict[str, int] = {}
    for row, doc_id in enumerate(doc_ids):
        starts.setdefault(doc_id, row)
        ends[doc_id] = row + 1
    return {doc_id: slice(start, ends[doc_id]) for doc_id, start in starts.items()}


def fingerprint(*parts: str) -> str:
    """A short content hash: equal fingerprints mean nothing to redo."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()[:32]


def sentence_spans(chunks: list[IndexedChunk], sentences: list[IndexedSentence]) -> SentenceMembership:
    """For each chunk, the sentence rows that overlap it (a chunk always overlaps at least one)."""
    rows_by_doc: dict[str, list[int]] = {}
    for row, sentence in enumerate(sentences):
        rows_by_doc.setdefault(sentence.doc_id, []).append(row)
    members: list[int] = []
    offsets: list[int] = []
    for item in chunks:
        chunk = item.chunk
        rows = [row for row in rows_by_doc.get(chunk.doc_id, ())
                if sentences[row].start < chunk.end and chunk.start < sentences[row].end]
        offsets.append(len(members))
        members.extend(rows or [0])
    return SentenceMembership(np.array(members, dtype=np.int64), np.array(offsets, dtype=np.int64))


def write_segment(segment: Segment, folder: Path) -> None:
    """Write `segment` into the new folder `folder` (the caller renames it into place once synced)."""
    folder.mkdir(parents=True)
    _write_jsonl(
        folder / "documents.jsonl",
        ({**asdict(stored.document), "origin": stored.origin, "fingerprint": stored.fingerprint,
          "story": stored.story} for stored in segment.documents.values()),
    )
    _write_jsonl(
        folder / "chunks.jsonl",
        ({"chunk_id": item.chunk.chunk_id, "doc_id": item.chunk.doc_id, "start": item.chunk.start,
          "end": item.chunk.end, "language": item.language, "fingerprint": item.fingerprint}
         for item in segment.chunks),
    )
    _write_jsonl(folder / "sentences.jsonl", (asdict(sentence) for sentence in segment.sentences))
    np.save(folder / "embeddings.npy", segment.embeddings.astype(np.float32))
    np.save(folder / "sentence_embeddings.npy", segment.sentence_embeddings.astype(np.float16))
    np.save(folder / "signatures.npy", segment.signatures.astype(np.uint32))
    save_dense_index(segment.dense, folder / "dense.faiss")
    segment.postings.save(folder)
    files = sorted(path for path in folder.iterdir())
    summary = {
        "documents": len(segment.documents),
        "chunks": len(segment.chunks),
        "sentences": len(segment.sentences),
        "sha256": {path.name: _digest(path) for path in files},
    }
    (folder / "segment.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    for path in [*files, folder / "segment.json"]:
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())


def read_segment(folder: Path, dimension: int) -> Segment:
    """Load a segment written by `write_segment`, refusing one whose files changed or disagree."""
    where = f"index segment {folder.name}"
    try:
        summary = json.loads((folder / "segment.json").read_text("utf-8"))
        for name, expected in summary["sha256"].items():
            if _digest(folder / name) != expected:
                raise IndexIncompatibleError(f"{where} is damaged ({name} changed since it was written); {REBUILD}")
        documents = _read_documents(folder / "documents.jsonl")
        chunks = _read_chunks(folder / "chunks.jsonl", documents)
        sentences = [IndexedSentence(**record) for record in _read_jsonl(folder / "sentences.jsonl")]
        # Read row by row: searches read only the candidates' rows (rag/rowfile.py), so neither matrix
        # is resident (sentence vectors are float32 in older segments).
        embeddings = RowFile(folder / "embeddings.npy")
        sentence_embeddings = RowFile(folder / "sentence_embeddings.npy")
        # Read when present: segments of format 3 written before stories have none (see `Segment.signatures`).
        signatures = np.load(folder / "signatures.npy") if "signatures.npy" in summary["sha256"] else None
        dense = load_dense_index(folder / "dense.faiss")
        postings = Postings.load(folder)
    except IndexIncompatibleError:
        raise
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, SyntaxError, tokenize.TokenError) as error:
        # numpy parses a .npy header with Python's tokenizer: a corrupted one raises its errors.
        raise IndexIncompatibleError(f"{where} is damaged ({error}); {REBUILD}") from error
    signed = (summary["documents"], PERMUTATIONS)  # the shape of the signatures, when stored
    expected = (summary["documents"], summary["chunks"], summary["chunks"], summary["chunks"], summary["sentences"],
                summary["sentences"], dimension, dimension, summary["chunks"], signed)
    found = (len(documents), len(chunks), len(embeddings), dense.ntotal, len(sentences), len(sentence_embeddings),
             _width(embeddings), _width(sentence_embeddings), len(postings.lengths),
             signed if signatures is None else (len(signatures), _width(signatures)))
    if expected != found:
        raise IndexIncompatibleError(f"{where} is inconsistent (expected {expected}, files {found}); {REBUILD}")
    membership = sentence_spans(chunks, sentences)
    return Segment(folder.name, documents, chunks, embeddings, sentences, sentence_embeddings, membership,
                   postings, dense, signatures)


def _width(matrix: np.ndarray | RowFile) -> int:
    return matrix.shape[1] if matrix.ndim == 2 else -1


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_documents(path: Path) -> dict[str, StoredDocument]:
    documents: dict[str, StoredDocument] = {}
    for record in _read_jsonl(path):
        origin, digest = record.pop("origin"), record.pop("fingerprint")
        story = record.pop("story", None)  # None in segments from before stories: each is its own story
        document = Document(**record)
        documents[document.doc_id] = StoredDocument(document, origin, digest, story or story_id(document.doc_id))
    return documents


def _read_chunks(path: Path, documents: dict[str, StoredDocument]) -> list[IndexedChunk]:
    chunks = []
    for record in _read_jsonl(path):
        text = documents[record["doc_id"]].document.text[record["start"] : record["end"]]
        chunk = Chunk(record["chunk_id"], record["doc_id"], text, record["start"], record["end"])
        chunks.append(IndexedChunk(chunk, record["language"], record["fingerprint"]))
    return chunks


def _read_jsonl(path: Path) -> Iterator[dict]:
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def _write_jsonl(path: Path, records: Iterator[dict]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
