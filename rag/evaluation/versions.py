"""Gold items pointed at another version of the same articles: the seeds as saved pages and feed entries.

Doc ids differ between versions (file names, feed entry ids), so each article is matched to its version
by its opening text and each gold span by its words; the gold set then scores any version of the corpus.
"""

from __future__ import annotations

from dataclasses import replace

from rag.evaluation.gold import GoldItem, GoldSpan
from rag.store import CorpusIndex

_OPENING_CHARS = 80


def versions_of(original: CorpusIndex, other: CorpusIndex) -> dict[str, str]:
    """Each document of `original` mapped to the document of `other` holding its opening, when one does."""
    found = {}
    for doc_id, stored in original.documents.items():
        opening = stored.document.text[:_OPENING_CHARS]
        match = next((other_id for other_id, theirs in other.documents.items() if opening in theirs.document.text),
                     None)
        if match is not None:
            found[doc_id] = match
    return found


def translated(item: GoldItem, other: CorpusIndex, versions: dict[str, str]) -> GoldItem:
    """`item` with its doc ids and evidence offsets in `other`; a span the other version lost is left
    empty, so it is never retrieved and counts as missed."""
    evidence = []
    for span in item.evidence:
        doc_id = versions[span.doc_id]
        start = other.documents[doc_id].document.text.find(span.text)
        end = start + len(span.text) if start >= 0 else 0
        evidence.append(GoldSpan(doc_id, max(start, 0), end, span.text))
    return replace(item, doc_ids=tuple(versions[doc_id] for doc_id in item.doc_ids), evidence=tuple(evidence))
