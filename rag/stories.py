"""Stories: documents that report the same story share a story id, given once, when a document is written.

A written document is compared with the live ones by the MinHash (datasketch) of its word shingles;
LSH over the signatures' bands finds the candidates without scanning the corpus. It joins the story
of its most similar match at or above the threshold, else starts a story named after itself. Nothing
else is regrouped: other documents keep their story ids whatever is added, replaced or deleted. Each
segment stores the signatures of its documents, so a write never re-reads stored texts.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from functools import cache

import numpy as np
from datasketch import MinHash

from rag.documents import Document

# Same story: estimated Jaccard similarity of 3-word shingles at least SAME_STORY_JACCARD. Measured by
# `python bench/stories.py`: the 5 seeds, 3 variants of each (rewritten: paragraphs reordered, headline
# changed, a sentence added; one figure changed; the last third cut), the 9 editions of the stories
# corpus and the 12 dated fixture articles, 41 documents, 170 same-story pairs of 820. Variants score
# 0.61-1.00 with their seed (cut 0.61-0.80, the others 0.94-1.00), every edition, page or feed copy of a
# seed joins its story, different stories score at most 0.06. Precision is 1.00 at every threshold from
# 0.1 to 0.9; recall 0.59 from 0.2 to 0.5, 0.58 at 0.6 (a cut copy falls off), 0.51 at 0.7, 0.63 at 0.1
# (a brief scoring 0.18-0.19 with its article's copies joins, 0.05 above different stories): 0.5 is the
# highest threshold that keeps every copy. Missed: what shares few words, seeds 001 and 002 (one plan
# told by two outlets, 0.02) and two-line briefs of an article (0.01-0.19).
# Embeddings do not separate those from the same topic: the lowest same-story e5 cosine is 0.888 (first
# chunk) / 0.904 (mean of chunk vectors), the highest different-story one 0.957 / 0.965; 001-002 scores
# 0.949 / 0.970, within 0.01 of different stories (seed 003 and a brief on Microsoft's stake in OpenAI,
# 0.942; seeds 001 and 004, 0.962). Without the dated fixtures' briefs and same-topic stories, on the
# seeds and the stories corpus alone, e5 separates (margin 0.028 first chunk, 0.005 mean): what breaks
# it is the same topic. A cosine threshold fitted just above the highest different-story pair would
# group more here (recall 0.81), but that pair only gets closer as the corpus grows: `Jaccard or cosine`
# is not shipped.
SAME_STORY_JACCARD = 0.5
SHINGLE_WORDS = 3
PERMUTATIONS = 128
# LSH bands × rows: a pair becomes a candidate with probability 1 - (1 - J^3)^42: 0.996 at J = 0.5,
# 0.9999 at 0.61 (the lowest variant), 0.007 at 0.06 (candidates are then checked against the threshold).
LSH_BANDS = (42, 3)
_SEED = 1
_SCHEME = "affine32"  # datasketch's 32-bit scheme: a signature is PERMUTATIONS uint32 values
# Odd 64-bit multipliers, one per row of a band and one for the band number, to mix a band into one key.
_ROW_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9], dtype=np.uint64)
_BAND_MIX = np.uint64(0xD6E8FEB86659FD93)
_WORD = re.compile(r"\w+")


def shingles(text: str, words: int = SHINGLE_WORDS) -> set[str]:
    """The runs of `words` consecutive words of `text`, lowercased: what near-copies share.

    Stored texts are NFC and words split at apostrophes, so typography does not count (`l’IA`, `l'IA`).
    """
    tokens = _WORD.findall(text.casefold())
    if len(tokens) <= words:
        return {" ".join(tokens) or text}
    return {" ".join(tokens[start : start + words]) for start in range(len(tokens) - words + 1)}


def signature(text: str, words: int = SHINGLE_WORDS) -> np.ndarray:
    """The MinHash signature of `text`'s shingles: PERMUTATIONS uint32 values."""
    minhash = MinHash(seed=_SEED, permutations=_permutations(), scheme=_SCHEME)
    minhash.update_batch([shingle.encode("utf-8") for shingle in shingles(text, words)])
    return minhash.hashvalues.astype(np.uint32)


def signatures_of(documents: Iterable[Document]) -> np.ndarray:
    """One signature row per document, of its title and text."""
    rows = [signature(f"{document.title}\n{document.text}") for document in documents]
    return np.stack(rows) if rows else np.zeros((0, PERMUTATIONS), dtype=np.uint32)


def similarity(first: np.ndarray, second: np.ndarray) -> float:
    """The estimated Jaccard similarity of the shingle sets behind two signatures."""
    return float(np.mean(first == second))


def story_id(doc_id: str, attempt: int = 0) -> str:
    """The id of a story `doc_id` starts: stable, so a rebuild gives the same ids; `attempt` > 0 when
    the first one is still held by other documents (it started it, then was replaced by another story)."""
    key = doc_id if attempt == 0 else f"{doc_id}#{attempt}"
    return "story-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]


class SignatureIndex:
    """LSH over fixed documents' signatures: documents sharing a band (LSH_BANDS rows of their signature)
    are candidates, kept when their estimated Jaccard similarity reaches the threshold.

    The band keys are one sorted array: building it is one sort, a lookup a binary search. datasketch's
    MinHashLSH inserts one document at a time: 7-11 s for 50,000 of them against 0.5-0.9 s (`python
    bench/stories.py`), which the first write after loading an index would wait for.
    """

    def __init__(self, doc_ids: Sequence[str], signatures: np.ndarray) -> None:
        keys = band_keys(signatures)
        order = np.argsort(keys, axis=None)
        self._doc_ids = list(doc_ids)
        self._signatures = signatures
        self._keys = keys.ravel()[order]
        self._rows = (order // keys.shape[1]).astype(np.int32)

    def matches(self, signature: np.ndarray, among: int | None = None) -> list[tuple[float, str]]:
        """(similarity, doc id) of each document at or above the threshold, of the first `among` only
        when given."""
        keys = band_keys(signature[np.newaxis])[0]
        starts, ends = np.searchsorted(self._keys, keys, "left"), np.searchsorted(self._keys, keys, "right")
        rows = np.unique(np.concatenate([self._rows[start:end] for start, end in zip(starts, ends)]))
        if among is not None:
            rows = rows[rows < among]
        scores = (self._signatures[rows] == signature).mean(axis=1)
        return [(score, self._doc_ids[row]) for score, row in zip(scores.tolist(), rows.tolist())
                if score >= SAME_STORY_JACCARD]


def band_keys(signatures: np.ndarray) -> np.ndarray:
    """One 64-bit key per band of each signature, the band number mixed in: equal keys, equal bands."""
    bands, rows = LSH_BANDS
    values = signatures[:, : bands * rows].astype(np.uint64).reshape(len(signatures), bands, rows)
    return (values * _ROW_MIX).sum(axis=2, dtype=np.uint64) + np.arange(bands, dtype=np.uint64) * _BAND_MIX


def assign_stories(
    doc_ids: Sequence[str],
    signatures: np.ndarray,
    stored: Sequence[tuple[SignatureIndex, Collection[str]]],
    story_of: Callable[[str], str],
    is_taken: Callable[[str], bool],
) -> dict[str, str]:
    """The story of each written document (`doc_ids`, in order, with their signature rows).

    Each joins the story of its most similar match among the `stored` indexes (less their excluded
    documents: those tombstoned) and the written documents before it; otherwise it starts a story
    named after itself. `story_of` gives a stored match's story, and `is_taken` whether another live
    document reports a story: both are lookups, so a write never visits the whole corpus.
    """
    batch = SignatureIndex(doc_ids, signatures)
    assigned: set[str] = set()
    stories: dict[str, str] = {}
    for row, (doc_id, signature) in enumerate(zip(doc_ids, signatures)):
        found = [(score, story_of(match)) for index, excluded in stored
                 for score, match in index.matches(signature) if match not in excluded]
        found += [(score, stories[match]) for score, match in batch.matches(signature, among=row)]
        story = max(found)[1] if found else _new_story(doc_id, lambda name: name in assigned or is_taken(name))
        assigned.add(story)
        stories[doc_id] = story
    return stories


@cache
def _permutations() -> tuple[np.ndarray, np.ndarray]:
    """datasketch's permutations for (PERMUTATIONS, _SEED), drawn once (a third of a signature's cost)."""
    permutations: tuple[np.ndarray, np.ndarray] = MinHash(PERMUTATIONS, _SEED, scheme=_SCHEME).permutations
    return permutations


def _new_story(doc_id: str, taken: Callable[[str], bool]) -> str:
    attempt = 0
    while taken(story_id(doc_id, attempt)):
        attempt += 1
    return story_id(doc_id, attempt)
