"""Sentence embeddings for chunks and questions, through ONNX Runtime on the CPU.

The model folder's encoder is exported to ONNX when it is prepared (`rag models prepare`), so
serving runs one engine, without torch: one query embeds in about half torch's time.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag.errors import ModelUnavailableError
from rag.provisioning.embedding_model import FOLDER_NAME, read_provenance
from rag.provisioning.onnx_export import ONNX_DIR, ONNX_MODEL, read_config

if TYPE_CHECKING:
    from tokenizers import Encoding

    from rag.config import Settings

# ONNX Runtime's intra-op threads. Measured on 2 cores (`python bench/embedding.py`), two beat one for a
# single query (p50 9 vs 13 ms; torch: 15 ms) as for passage batches (24 vs 12 paragraphs/s). They do not
# spin while idle (6.6 ms when they do): a spinning pool takes the core llama.cpp is writing on.
THREADS = 2


class Embedder:
    """Embeds passages and queries into L2-normalized float32 vectors of one model.

    e5-style models are trained with "query: " / "passage: " prefixes; when the model's
    config defines those prompts they are applied, otherwise texts are embedded as given.
    """

    def __init__(self, model: str, *, export: Path | None = None, threads: int = THREADS) -> None:
        """Load the folder `model` and its ONNX export (default `model/onnx`, as prepared) once, offline."""
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        import onnxruntime
        from tokenizers import Tokenizer

        folder = Path(model)
        if not folder.is_dir():
            raise ModelUnavailableError(
                f"cannot load embedding model {model!r} offline (no such folder); "
                "set RAG_EMBEDDING_MODEL to a local sentence-transformers folder or unset it "
                "and run `rag models prepare`"
            )
        export = folder / ONNX_DIR if export is None else export
        config = read_config(folder, export)
        if config is None:
            raise ModelUnavailableError(
                f"embedding model {model!r} has no ONNX export matching its files in {export}; "
                "run `rag models prepare` to export it"
            )
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # see THREADS
        try:
            self._session = onnxruntime.InferenceSession(
                str(export / ONNX_MODEL), options, providers=["CPUExecutionProvider"]
            )
            self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        # ONNX Runtime raises its own exception types for a damaged file; tokenizers raises Exception.
        except Exception as exc:
            raise ModelUnavailableError(
                f"cannot load embedding model {model!r} offline ({exc}); "
                "run `rag models prepare` to rebuild its ONNX export"
            ) from exc
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        self.model_id: str = model_id_of(model)
        self.dimension: int = int(config["dimension"])
        if not self.dimension:
            raise ModelUnavailableError(f"embedding model {model!r} does not declare its output dimension")
        self.max_seq_length: int = int(config["max_seq_length"])
        self._prompts: dict[str, str] = config["prompts"]
        self._pad_id = int(config["pad_token_id"])
        self._content_length = self.max_seq_length - self._tokenizer.num_special_tokens_to_add(False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Embedder:
        """The configured model, or the bundled e5-small prepared under `settings.cache_dir`."""
        return cls(configured_model(settings))

    def embed_passages(self, texts: Sequence[str], *, show_progress: bool = False, batch_size: int = 32) -> np.ndarray:
        """Vectors for texts to be indexed, shape (len(texts), dimension)."""
        return self._embed(texts, "passage", show_progress=show_progress, batch_size=batch_size)

    def embed_queries(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """Vectors for search queries, shape (len(texts), dimension)."""
        return self._embed(texts, "query", show_progress=False, batch_size=batch_size)

    def count_tokens(self, text: str) -> int:
        """Tokens in `text` without special tokens or prompt: what chunk budgets are made of."""
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def _encode(self, texts: list[str]) -> list[Encoding]:
        """Token ids with special tokens, content cut so the whole fits in max_seq_length.

        Truncating by hand, rather than switching the tokenizer's truncation on, leaves the shared
        tokenizer unchanged, so `count_tokens` can run alongside from another thread.
        """
        encodings = self._tokenizer.encode_batch(texts, add_special_tokens=False)
        for encoding in encodings:
            encoding.truncate(self._content_length)
        return [self._tokenizer.post_process(encoding) for encoding in encodings]

    def _embed(self, texts: Sequence[str], prompt: str, *, show_progress: bool, batch_size: int) -> np.ndarray:
        from tqdm import tqdm

        if isinstance(texts, str):
            raise TypeError("pass a sequence of texts, not a single string")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        prefix = self._prompts.get(prompt, "")
        encodings = self._encode([prefix + text for text in texts])
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        # Longest first, as sentence-transformers does: batches of similar lengths carry little padding.
        order = np.argsort([-len(encoding.ids) for encoding in encodings], kind="stable")
        for start in tqdm(range(0, len(order), batch_size), desc="Embedding", disable=not show_progress):
            rows = order[start : start + batch_size]
            width = len(encodings[rows[0]].ids)
            input_ids = np.full((len(rows), width), self._pad_id, dtype=np.int64)
            attention_mask = np.zeros((len(rows), width), dtype=np.int64)
            for row, index in enumerate(rows):
                ids = encodings[index].ids
                input_ids[row, : len(ids)] = ids
                attention_mask[row, : len(ids)] = 1
            (pooled,) = self._session.run(None, {"input_ids": input_ids, "attention_mask": attention_mask})
            vectors[rows] = pooled
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)


def configured_model(settings: Settings) -> str:
    """The configured model folder, without loading it."""
    if settings.embedding_model:
        return settings.embedding_model
    folder = Path(settings.cache_dir) / FOLDER_NAME
    if read_provenance(folder) is None:
        raise ModelUnavailableError(f"the embedding model is not prepared in {folder}; run `rag models prepare`")
    return str(folder)


def model_id_of(model: str) -> str:
    """The id an index records for `model`: a prepared folder's original model id, else the name given."""
    provenance = read_provenance(Path(model)) if Path(model).is_dir() else None
    return provenance["model_id"] if provenance else model
