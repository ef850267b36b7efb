"""The one composition root: settings -> embedder -> corpus -> generator -> answerer.

The CLI, the API, the evaluation and the benchmarks build their parts here, so the order and the
defaults are written once; tests pass parts they already loaded (the e5 model, say) to skip reloading.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rag.config import Settings

if TYPE_CHECKING:
    from rag.answerer import Answerer
    from rag.corpus import Corpus
    from rag.embedding import Embedder
    from rag.search_backend import SearchBackend


@dataclass(frozen=True)
class Service:
    """Everything a running rag needs, built once per process."""

    settings: Settings
    corpus: Corpus
    answerer: Answerer


def open_corpus(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    index_dir: Path | None = None,
    missing_ok: bool = False,
    rebuild: bool = False,
) -> Corpus:
    """The corpus in `index_dir` (default `settings.index_dir`); `rebuild` starts it afresh.

    The index is read before the model loads: a damaged one is reported in a second, not after it.
    """
    from rag.corpus import Corpus
    from rag.embedding import Embedder, configured_model, model_id_of
    from rag.errors import IndexMissingError
    from rag.store import load_index

    folder = index_dir if index_dir is not None else settings.index_dir
    if rebuild:
        embedder = embedder if embedder is not None else Embedder.from_settings(settings)
        return Corpus.rebuild(folder, embedder, backend=open_search_backend(settings, folder))
    if embedder is not None:
        model_id, load = embedder.model_id, lambda: embedder
    else:
        model = configured_model(settings)
        model_id, load = model_id_of(model), lambda: Embedder(model)
    try:
        index = load_index(folder, model_id)
    except IndexMissingError:
        if not missing_ok:
            raise
        index = None
    backend = open_search_backend(settings, folder)  # an unreachable Milvus, too, is reported before the model loads
    return Corpus.over(folder, load(), index, backend=backend)


def open_search_backend(settings: Settings, index_dir: Path) -> SearchBackend:
    """The configured candidate search (RAG_STORE) for the index in `index_dir`."""
    if settings.store == "local":
        from rag.retrieval import LOCAL_BACKEND

        return LOCAL_BACKEND
    from rag.milvus_backend import MilvusBackend

    return MilvusBackend.for_index(index_dir, settings.milvus_uri, settings.milvus_collection, settings.milvus_token)


def open_answerer(settings: Settings, corpus: Corpus) -> Answerer:
    """An answerer over `corpus` with the configured generator (None, i.e. extractive, when unavailable)."""
    from rag.answerer import Answerer
    from rag.generation import load_generator

    return Answerer(corpus, load_generator(settings), max_tokens=settings.max_answer_tokens)


def open_service(settings: Settings, *, embedder: Embedder | None = None, missing_ok: bool = False) -> Service:
    """Corpus and answerer from `settings`, as `rag serve` and `rag ask` run them."""
    corpus = open_corpus(settings, embedder=embedder, missing_ok=missing_ok)
    return Service(settings, corpus, open_answerer(settings, corpus))
