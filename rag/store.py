"""The index on disk: a directory of generations, the live one named by an atomically swapped link.

Layout of `index_dir`:
    current -> generations/<id>     symlink, replaced with os.replace (atomic on POSIX)
    generations/<id>/manifest.json  format version, model, chunking, corpus fingerprint, counts
    generations/<id>/documents.jsonl  one stored document per line (its `text` is the offset reference)
    generations/<id>/chunks.jsonl   chunk id, doc id, offsets, language, text fingerprint
    generations/<id>/embeddings.npy float32 (chunks x dimension), row i = chunk i
    generations/<id>/dense.faiss    FAISS index over the embeddings
    generations/<id>/lexical/       bm25s files (none when the index has no chunks)
    generations/<id>/sentences.jsonl + sentence_embeddings.npy   every sentence's span and vector,
                                    so answers pick evidence sentences without embedding at query time
A crash while writing leaves a `.tmp-*` folder that is never read; the previous generation stays live.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
import tokenize
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from rag.chunking import Chunk
from rag.dense import build_dense_index, load_dense_index, save_dense_index
from rag.documents import Document
from rag.errors import IndexIncompatibleError, IndexMissingError
from rag.language import LanguageCode
from rag.lexical import LexicalIndex

FORMAT_VERSION = 3  # 2: the lexical side indexes each chunk with its document's title; 3: url, author, language
_REBUILD = "run `rag index --rebuild` to rebuild it"
_KEEP_GENERATIONS = 2  # the live one and its predecessor, for readers that opened it a moment ago


@dataclass(frozen=True)
class Manifest:
    """What built the index; loading refuses an index whose manifest does not match the runtime."""

    format_version: int
    embedding_model: str
    dimension: int
    chunk_tokens: int
    overlap_tokens: int
    corpus_fingerprint: str
    documents: int
    chunks: int
    sentences: int
    created_at: str


@dataclass(frozen=True)
class StoredDocument:
    """A document plus where it came from: `file` documents mirror `rag index` paths, `api` ones persist."""

    document: Document
    origin: str
    fingerprint: str


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
class CorpusIndex:
    """An immutable snapshot of the whole index; writers build a new one and swap it in."""

    manifest: Manifest
    documents: dict[str, StoredDocument]
    chunks: list[IndexedChunk]
    embeddings: np.ndarray
    dense: Any  # faiss.Index (faiss ships no type stubs)
    lexical: LexicalIndex
    sentences: list[IndexedSentence]
    sentence_embeddings: np.ndarray
    chunk_sentences: SentenceMembership  # which sentence rows each chunk overlaps

    @classmethod
    def assemble(
        cls,
        manifest: Manifest,
        documents: dict[str, StoredDocument],
        chunks: list[IndexedChunk],
        embeddings: np.ndarray,
        sentences: list[IndexedSentence],
        sentence_embeddings: np.ndarray,
    ) -> CorpusIndex:
        """Build both search sides from stored parts (they are cheap next to embedding)."""
        texts = [lexical_text(documents, item.chunk) for item in chunks]
        lexical = LexicalIndex.build(texts, [item.language for item in chunks])
        dense = build_dense_index(embeddings)
        spans = sentence_spans(chunks, sentences)
        return cls(manifest, documents, chunks, embeddings, dense, lexical, sentences, sentence_embeddings, spans)

    @cached_property
    def chunk_counts(self) -> dict[str, int]:
        """How many chunks each document has (computed once per snapshot)."""
        return dict(Counter(item.chunk.doc_id for item in self.chunks))


def lexical_text(documents: dict[str, StoredDocument], chunk: Chunk) -> str:
    """What BM25 sees for a chunk: its document's title, then the chunk (titles name the subject)."""
    return f"{documents[chunk.doc_id].document.title}\n{chunk.text}"


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


def fingerprint(*parts: str) -> str:
    """A short content hash: equal fingerprints mean nothing to redo."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()[:32]


def corpus_fingerprint(documents: dict[str, StoredDocument]) -> str:
    """One hash over every document, order-independent."""
    return fingerprint(*(f"{doc_id}:{documents[doc_id].fingerprint}" for doc_id in sorted(documents)))


@contextmanager
def write_lock(index_dir: Path) -> Iterator[None]:
    """Serialise writers across processes (the CLI and a running API may share a directory)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def save_index(index: CorpusIndex, index_dir: Path) -> Path:
    """Write `index` as a new generation and make it live atomically; returns its folder."""
    generations = index_dir / "generations"
    generations.mkdir(parents=True, exist_ok=True)
    name = f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**6:06d}"
    staging = generations / f".tmp-{name}"
    staging.mkdir()
    _write_json(staging / "manifest.json", asdict(index.manifest))
    _write_jsonl(
        staging / "documents.jsonl",
        ({**asdict(stored.document), "origin": stored.origin, "fingerprint": stored.fingerprint}
         for stored in index.documents.values()),
    )
    _write_jsonl(
        staging / "chunks.jsonl",
        ({"chunk_id": item.chunk.chunk_id, "doc_id": item.chunk.doc_id, "start": item.chunk.start,
          "end": item.chunk.end, "language": item.language, "fingerprint": item.fingerprint}
         for item in index.chunks),
    )
    np.save(staging / "embeddings.npy", index.embeddings.astype(np.float32))
    _write_jsonl(staging / "sentences.jsonl", (asdict(sentence) for sentence in index.sentences))
    np.save(staging / "sentence_embeddings.npy", index.sentence_embeddings.astype(np.float32))
    save_dense_index(index.dense, staging / "dense.faiss")
    (staging / "lexical").mkdir()
    index.lexical.save(staging / "lexical")
    _fsync_tree(staging)
    final = generations / name
    staging.rename(final)
    link = index_dir / "current"
    temporary_link = index_dir / f".current-{name}"
    temporary_link.symlink_to(Path("generations") / name)
    os.replace(temporary_link, link)
    _prune(generations, keep=final.name)
    return final


def load_index(index_dir: Path, embedding_model: str | None = None) -> CorpusIndex:
    """Read the live generation, checking it is whole and built by `embedding_model` (when given)."""
    live = index_dir / "current"
    if live.is_symlink() and not live.exists():
        raise IndexIncompatibleError(f"the live index in {index_dir} points at a missing generation; {_REBUILD}")
    if not live.exists():
        raise IndexMissingError(f"no index in {index_dir}; run `rag index` to build it")
    try:
        manifest = Manifest(**json.loads((live / "manifest.json").read_text("utf-8")))
    except (OSError, ValueError, TypeError) as error:
        raise IndexIncompatibleError(f"index manifest in {index_dir} is unreadable ({error}); {_REBUILD}") from error
    if manifest.format_version != FORMAT_VERSION:
        raise IndexIncompatibleError(
            f"index format {manifest.format_version} is not the supported {FORMAT_VERSION}; {_REBUILD}"
        )
    if embedding_model is not None and manifest.embedding_model != embedding_model:
        raise IndexIncompatibleError(
            f"index was built with embedding model {manifest.embedding_model!r} but {embedding_model!r} "
            f"is configured; {_REBUILD}"
        )
    try:
        documents = _read_documents(live / "documents.jsonl")
        chunks = _read_chunks(live / "chunks.jsonl", documents)
        embeddings = np.load(live / "embeddings.npy")
        dense = load_dense_index(live / "dense.faiss")
        lexical = LexicalIndex.load(live / "lexical", len(chunks))
        sentences = [IndexedSentence(**record) for record in _read_jsonl(live / "sentences.jsonl")]
        sentence_embeddings = np.load(live / "sentence_embeddings.npy")
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, SyntaxError, tokenize.TokenError) as error:
        # numpy parses a .npy header with Python's tokenizer: a corrupted one raises its errors.
        raise IndexIncompatibleError(f"index in {index_dir} is damaged ({error}); {_REBUILD}") from error
    expected = (manifest.documents, manifest.chunks, manifest.chunks, manifest.chunks, manifest.sentences,
                manifest.sentences, manifest.dimension, manifest.dimension)
    found = (len(documents), len(chunks), len(embeddings), dense.ntotal, len(sentences), len(sentence_embeddings),
             _width(embeddings), _width(sentence_embeddings))
    if expected != found:
        raise IndexIncompatibleError(
            f"index in {index_dir} is inconsistent (manifest {expected}, files {found}); {_REBUILD}"
        )
    spans = sentence_spans(chunks, sentences)
    return CorpusIndex(manifest, documents, chunks, embeddings, dense, lexical, sentences, sentence_embeddings, spans)


def _width(matrix: np.ndarray) -> int:
    return matrix.shape[1] if matrix.ndim == 2 else -1


def _read_documents(path: Path) -> dict[str, StoredDocument]:
    documents: dict[str, StoredDocument] = {}
    for record in _read_jsonl(path):
        origin, digest = record.pop("origin"), record.pop("fingerprint")
        document = Document(**record)
        documents[document.doc_id] = StoredDocument(document, origin, digest)
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


def _write_json(path: Path, value: object) -> None:
    path.write_text(json.dumps(value, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _write_jsonl(path: Path, records: Iterator[dict]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())


def _prune(generations: Path, keep: str) -> None:
    """Delete crashed staging folders and all but the newest generations."""
    finished = sorted((path for path in generations.iterdir() if not path.name.startswith(".")), key=lambda p: p.name)
    doomed = [path for path in finished[:-_KEEP_GENERATIONS] if path.name != keep]
    doomed += [path for path in generations.iterdir() if path.name.startswith(".tmp-")]
    for path in doomed:
        shutil.rmtree(path, ignore_errors=True)
