"""The one interface behind which the two candidate searches of retrieval run: in memory, or in Milvus.

Retrieval fuses a dense and a lexical candidate ranking with sentence scores it computes itself; a
backend only finds the candidates. The local backend (rag/retrieval.py, `LocalBackend`) searches the
snapshot's own segments; an external one (rag/milvus_backend.py) searches its copy of the snapshot's
live chunks, which `sync` keeps equal to the snapshot, the one truth.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np

    from rag.language import LanguageCode
    from rag.store import CorpusIndex


class SearchBackend(Protocol):
    """Candidate searches over a snapshot's chunks, returning `{global chunk row: score}` of the `pool` best.

    `masks` hold a boolean per chunk row of each segment (live, and allowed by the query's filter): a
    row they refuse never comes back.
    """

    # True when it searches a copy of the chunks that `sync` must update (the corpus then calls it,
    # under the index's write lock); False when it reads the snapshot itself.
    external: bool

    def dense(self, index: CorpusIndex, masks: list[np.ndarray], vector: np.ndarray, pool: int) -> dict[int, float]:
        """The `pool` allowed chunks of highest cosine with the (normalised) query vector."""
        ...

    def lexical(
        self, index: CorpusIndex, masks: list[np.ndarray], query: str, language: LanguageCode, pool: int
    ) -> dict[int, float]:
        """The `pool` allowed chunks of highest positive BM25 score for `query`, read in `language`."""
        ...

    def sync(self, index: CorpusIndex) -> None:
        """Make the backend's copy hold exactly the live chunks of `index` (idempotent, cheap when equal)."""
        ...

    def close(self) -> None:
        """Release connections; the backend is not used afterwards."""
        ...
