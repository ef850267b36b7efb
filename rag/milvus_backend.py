"""Milvus as the search backend: the snapshot's live chunks in one collection, searched densely and by BM25.

Documents, sentences and offsets stay in the local segments (citations are cut from them); the
collection holds, per live chunk, its vector, its title and text as `rag.lexical.analyze` tokens (stemmed
here: Milvus Lite's analyser ignores the French stemmer), its original text (for reading the collection
by hand) and where it lives in the index (segment id, local row), so every result maps back to a global
row of the snapshot. The snapshot is the truth: `sync` makes the collection hold exactly its live chunks.
The same `pymilvus` client talks to Milvus Lite (a `.db` file, for tests) and to a server or cluster.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from pymilvus import DataType, Function, FunctionType, MilvusClient
from pymilvus.exceptions import MilvusException

from rag.dense import HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH, HNSW_NEIGHBOURS
from rag.errors import SearchBackendError
from rag.language import LanguageCode
from rag.lexical import K1, B, analyze
from rag.segment import lexical_text
from rag.store import CorpusIndex, Manifest, SegmentView

log = logging.getLogger(__name__)

LITE_FILE = "milvus.db"  # the default Milvus Lite file, inside the index directory
_TEXT_BYTES = 65_535  # Milvus's largest VARCHAR
_UPSERT_BATCH = 512  # chunks per upsert call
_DELETE_BATCH = 1_000  # document ids per delete expression
_BUILT = "rag_built"  # collection property: the embedding model and dimension its vectors come from
_SYNCED = "rag_synced"  # collection property: digest of the snapshot state it was last synced to
_Result = TypeVar("_Result")
_Item = TypeVar("_Item")


class MilvusBackend:
    """Dense (HNSW, inner product = cosine on e5's unit vectors) and BM25 search over one Milvus collection."""

    external = True

    def __init__(self, uri: str, collection: str, *, token: str | None = None, timeout_s: float = 10.0) -> None:
        self.uri = uri
        self.collection = collection
        try:
            self._client = MilvusClient(uri=uri, token=token or "", timeout=timeout_s)
        except MilvusException as error:
            hint = " (a Milvus Lite file serves one process at a time)" if uri.endswith(".db") else ""
            raise SearchBackendError(
                f"cannot reach Milvus at {uri} ({_reason(error)}){hint}: start it, or point RAG_MILVUS_URI at a "
                "running one"
            ) from None

    @classmethod
    def for_index(
        cls, index_dir: Path, uri: str | None = None, collection: str | None = None, token: str | None = None
    ) -> MilvusBackend:
        """The backend of the index in `index_dir`: by default a Milvus Lite file inside it, and a
        collection named after the directory (set both when several machines share one Milvus)."""
        if uri is None:
            index_dir.mkdir(parents=True, exist_ok=True)
            uri = str(index_dir / LITE_FILE)
        name = collection or "rag_" + hashlib.sha256(str(index_dir.resolve()).encode()).hexdigest()[:16]
        return cls(uri, name, token=token)

    def dense(self, index: CorpusIndex, masks: list[np.ndarray], vector: np.ndarray, pool: int) -> dict[int, float]:
        """The `pool` allowed chunks of highest inner product with `vector`."""
        found = self._call(
            self._client.search, self.collection, data=[np.asarray(vector, dtype=np.float32).tolist()],
            anns_field="vector", limit=pool, filter=_restriction(index, masks), output_fields=["segment_id", "row"],
            search_params={"metric_type": "IP", "params": {"ef": max(HNSW_EF_SEARCH, pool)}},
        )
        return _rows(index, masks, found[0])

    def lexical(
        self, index: CorpusIndex, masks: list[np.ndarray], query: str, language: LanguageCode, pool: int
    ) -> dict[int, float]:
        """The `pool` allowed chunks of highest BM25 score, the query analysed as the chunks were."""
        tokens = analyze(query, language)
        if not tokens:
            return {}
        found = self._call(
            self._client.search, self.collection, data=[" ".join(tokens)], anns_field="sparse", limit=pool,
            filter=_restriction(index, masks), output_fields=["segment_id", "row"],
            search_params={"metric_type": "BM25"},
        )
        return _rows(index, masks, found[0])

    def sync(self, index: CorpusIndex) -> None:
        """Make the collection hold exactly the live chunks of `index`: drop the rows of segments it no
        longer has and of its tombstoned documents, then upsert every live segment whose row count is
        off (an interrupted sync included). Costs a describe and a count when nothing changed."""
        self._prepare(index.manifest)
        state = _state(index)
        if self._properties().get(_SYNCED) == state and self._count() == index.chunk_count:
            return
        self._call(self._client.delete, self.collection, filter=f"segment_id not in {_listed(_segment_ids(index))}")
        for view in index.segments:
            here = f"segment_id == {json.dumps(view.segment.segment_id)}"
            for doc_ids in _batches(sorted(view.deleted), _DELETE_BATCH):
                self._call(self._client.delete, self.collection, filter=f"{here} and doc_id in {_listed(doc_ids)}")
            if self._count(here) != view.live_chunks:
                self._upsert(view)
        if (count := self._count()) != index.chunk_count:
            raise SearchBackendError(
                f"Milvus collection {self.collection} holds {count} chunks after syncing, the index "
                f"{index.chunk_count}: is another index using it? Give each index its own RAG_MILVUS_COLLECTION"
            )
        self._call(self._client.alter_collection_properties, self.collection, properties={_SYNCED: state})

    def close(self) -> None:
        """Close the connection (Milvus Lite stops with the process)."""
        self._client.close()

    def _prepare(self, manifest: Manifest) -> None:
        """Create the collection for this model if it is missing or was made for another one (it holds
        only what the index can give again), and load it for search."""
        built = f"{manifest.embedding_model}/{manifest.dimension}"
        if self._call(self._client.has_collection, self.collection):
            if self._properties().get(_BUILT) == built:
                self._call(self._client.load_collection, self.collection)
                return
            log.warning("recreating Milvus collection %s for %s: it was made for another model", self.collection, built)
            self._call(self._client.drop_collection, self.collection)
        self._call(
            self._client.create_collection, self.collection, schema=_schema(manifest.dimension),
            index_params=self._index_params(), consistency_level="Strong",
        )
        self._call(self._client.alter_collection_properties, self.collection, properties={_BUILT: built})

    def _index_params(self) -> Any:
        params = self._client.prepare_index_params()
        params.add_index(
            "vector", index_type="HNSW", metric_type="IP",
            params={"M": HNSW_NEIGHBOURS, "efConstruction": HNSW_EF_CONSTRUCTION},
        )
        params.add_index(
            "sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", params={"bm25_k1": K1, "bm25_b": B}
        )
        return params

    def _upsert(self, view: SegmentView) -> None:
        rows = np.flatnonzero(view.live)
        for batch in _batches(rows.tolist(), _UPSERT_BATCH):
            self._call(self._client.upsert, self.collection, [_entity(view, row) for row in batch])

    def _count(self, where: str = "") -> int:
        found = self._call(self._client.query, self.collection, filter=where, output_fields=["count(*)"])
        return int(found[0]["count(*)"])

    def _properties(self) -> dict[str, str]:
        return dict(self._call(self._client.describe_collection, self.collection).get("properties") or {})

    def _call(self, method: Callable[..., _Result], *args: Any, **kwargs: Any) -> _Result:
        """`method` of the client, its failure as a SearchBackendError that names the collection."""
        try:
            return method(*args, **kwargs)
        except MilvusException as error:
            raise SearchBackendError(
                f"Milvus at {self.uri} failed on collection {self.collection} ({_reason(error)}); the local index "
                "is intact, and the next write or restart syncs Milvus with it"
            ) from None


def _schema(dimension: int) -> Any:
    schema = MilvusClient.create_schema(auto_id=False)
    schema.add_field("chunk_id", DataType.VARCHAR, is_primary=True, max_length=256)
    schema.add_field("segment_id", DataType.VARCHAR, max_length=64)
    schema.add_field("row", DataType.INT64)
    schema.add_field("doc_id", DataType.VARCHAR, max_length=256)
    schema.add_field("language", DataType.VARCHAR, max_length=8)
    schema.add_field("text", DataType.VARCHAR, max_length=_TEXT_BYTES)
    # Already analysed tokens: Milvus only splits them (Lite has no whitespace tokenizer; the standard
    # one splits `\w+` tokens nowhere).
    schema.add_field(
        "lexical", DataType.VARCHAR, max_length=_TEXT_BYTES, enable_analyzer=True,
        analyzer_params={"tokenizer": "standard"},
    )
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
    schema.add_function(
        Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["lexical"],
                 output_field_names=["sparse"])
    )
    return schema


def _entity(view: SegmentView, row: int) -> dict[str, Any]:
    """Chunk `row` of the segment as a collection row; BM25 reads title and text, as the local postings do."""
    segment = view.segment
    item = segment.chunks[row]
    chunk = item.chunk
    return {
        "chunk_id": chunk.chunk_id,
        "segment_id": segment.segment_id,
        "row": row,
        "doc_id": chunk.doc_id,
        "language": item.language,
        "text": _clipped(chunk.text),
        "lexical": _clipped(" ".join(analyze(lexical_text(segment.documents[chunk.doc_id].document, chunk),
                                                item.language))),
        "vector": np.asarray(segment.embeddings[row], dtype=np.float32).tolist(),
    }


def _rows(index: CorpusIndex, masks: list[np.ndarray], hits: Iterable[Any]) -> dict[int, float]:
    """Milvus hits as global rows of `index`. Rows of segments it does not have (another process synced a
    newer snapshot) or that its masks refuse are dropped. Milvus Lite gives BM25 scores negated."""
    positions = {view.segment.segment_id: position for position, view in enumerate(index.segments)}
    found: dict[int, float] = {}
    for hit in hits:
        entity = hit["entity"]
        position = positions.get(entity["segment_id"])
        row = int(entity["row"])
        if position is not None and row < len(masks[position]) and masks[position][row]:
            found[int(index.offsets[position]) + row] = abs(float(hit["distance"]))
    return found


def _restriction(index: CorpusIndex, masks: list[np.ndarray]) -> str:
    """A Milvus filter keeping the documents the masks allow; empty when they allow every live row
    (tombstoned rows are not in the collection). The shorter of `in` and `not in` is used."""
    if all(np.array_equal(mask, view.live) for view, mask in zip(index.segments, masks)):
        return ""
    allowed: set[str] = set()
    for view, mask in zip(index.segments, masks):
        names = list(view.segment.documents)
        allowed.update(names[ordinal] for ordinal in np.unique(view.segment.chunk_documents[mask]))
    refused = set(index.documents) - allowed
    if len(allowed) <= len(refused):
        return f"doc_id in {_listed(sorted(allowed))}"
    return f"doc_id not in {_listed(sorted(refused))}"


def _segment_ids(index: CorpusIndex) -> list[str]:
    """The ids of the snapshot's segments, in order."""
    return [view.segment.segment_id for view in index.segments]


def _state(index: CorpusIndex) -> str:
    """What the collection must hold for `index`, as a digest: its segments and their tombstones."""
    state = [(view.segment.segment_id, sorted(view.deleted)) for view in index.segments]
    return hashlib.sha256(json.dumps(state).encode()).hexdigest()[:32]


def _listed(values: Sequence[str]) -> str:
    return json.dumps(list(values))


def _batches(values: Sequence[_Item], size: int) -> Iterable[Sequence[_Item]]:
    return (values[start : start + size] for start in range(0, len(values), size))


def _clipped(text: str) -> str:
    """`text` cut to what a VARCHAR field holds (in UTF-8 bytes), on a character boundary."""
    encoded = text.encode("utf-8")
    return text if len(encoded) <= _TEXT_BYTES else encoded[:_TEXT_BYTES].decode("utf-8", errors="ignore")


def _reason(error: MilvusException) -> str:
    return str(getattr(error, "message", "") or error)
