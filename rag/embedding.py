"""Sentence embeddings for chunks and questions, through sentence-transformers on the CPU."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag.errors import ModelUnavailableError
from rag.provisioning.embedding_model import FOLDER_NAME, read_provenance

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from rag.config import Settings


class Embedder:
    """Embeds passages and queries into L2-normalized float32 vectors of one model.

    e5-style models are trained with "query: " / "passage: " prefixes; when the model's
    config defines those prompts they are applied, otherwise texts are embedded as given.
    """

    def __init__(self, model: str) -> None:
        """Load `model` (a local folder or a name in the local HF cache) once, offline."""
        from sentence_transformers import SentenceTransformer

        try:
            self._model: SentenceTransformer = SentenceTransformer(model, device="cpu")
        # Loaders raise many unrelated types (OSError, ValueError, safetensors errors...);
        # all of them mean the same thing to the caller: this model cannot be used.
        except Exception as exc:
            raise ModelUnavailableError(
                f"cannot load embedding model {model!r} offline ({exc}); "
                "set RAG_EMBEDDING_MODEL to a local sentence-transformers folder or unset it "
                "and run `rag models prepare`"
            ) from exc
        self.model_id: str = model_id_of(model)
        dimension = self._model.get_embedding_dimension()
        if not dimension:
            raise ModelUnavailableError(f"embedding model {model!r} does not declare its output dimension")
        self.dimension: int = int(dimension)
        # None means the model declares no limit; 512 is the BERT-family default it most likely has.
        self.max_seq_length: int = int(self._model.max_seq_length or 512)
        self._prompts = self._model.prompts or {}

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
        # truncation=False: counts must not stop at the model limit; verbose=False: no warning.
        encoded = self._model.tokenizer(text, add_special_tokens=False, truncation=False, verbose=False)
        return len(encoded["input_ids"])

    def _embed(self, texts: Sequence[str], prompt: str, *, show_progress: bool, batch_size: int) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("pass a sequence of texts, not a single string")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if len(texts) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            prompt_name=prompt if prompt in self._prompts else None,
            batch_size=batch_size,
            show_progress_bar=show_progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.asarray(vectors, dtype=np.float32)


def configured_model(settings: Settings) -> str:
    """Where the configured model is (a folder or a name), without loading it."""
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
