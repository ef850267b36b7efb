"""Evidence selection: the best sentences among those retrieval scored inside its hits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rag.retrieval import Evidence, Hit


def select_evidence(hits: Sequence[Hit], limit: int) -> list[Evidence]:
    """The `limit` best sentences of the hits, best first, each span once (overlapping chunks share some)."""
    ranked = sorted((sentence for hit in hits for sentence in hit.sentences), key=lambda item: -item.score)
    return _distinct(ranked)[:limit]


def closest_passages(hits: Sequence[Hit], limit: int) -> list[Evidence]:
    """Each hit's best sentence, in retrieval order, distinct: what a refusal shows as related."""
    return _distinct(hit.sentences[0] for hit in hits if hit.sentences)[:limit]


def _distinct(items: Iterable[Evidence]) -> list[Evidence]:
    seen: set[tuple[str, int]] = set()
    chosen = []
    for item in items:
        if (item.doc_id, item.start) not in seen:
            seen.add((item.doc_id, item.start))
            chosen.append(item)
    return chosen
