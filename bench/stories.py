"""Stories, measured: which score separates 'same story' from 'same topic', and how the shipped rule groups.

Run: .venv/bin/python bench/stories.py
Documents: the 5 seeds; per seed, deterministic variants (a rewrite: paragraphs reordered, headline
changed, a sentence added; one figure changed; the last third cut, as outlets trim wire copy); the
stories corpus (tests/fixtures/stories, `eval/build_stories.py`: the seeds as nine outlets published
them, rewritten or with a figure changed); the dated fixture corpus (tests/fixtures: the seeds as
pages and feed entries, briefs, other stories of the same topics). Pairs are labelled by story: seed
001 ≡ 002 (one plan told by two outlets), each variant or edition ≡ its seed, fixture articles by
their content (FIXTURE_STORIES). All are indexed in one write
with the real e5 model, so the scores are what the index stores: MinHash similarity of the stored
signatures, and e5 cosine of a document's first chunk vector or of the mean of its chunk vectors.
Prints, for the seeds with their variants and then for everything: per score the lowest same-story
and highest different-story value, their margin, and precision/recall over pairs (the shipped rule
for MinHash; for a cosine, the best recall any threshold gets without a wrong pair); a threshold
sweep; the same-story pairs the rule misses; pair precision/recall of the story ids the index gave,
in one batch and when the documents arrive one by one in date order; and how fast the LSH lookup is
built over 50,000 signatures, against datasketch's MinHashLSH.
"""

from __future__ import annotations

import itertools
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
from datasketch import LeanMinHash, MinHashLSH

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "eval"))  # build_stories.py, a script: imported by its file's name
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from build_stories import EDITIONS  # noqa: E402

from rag.config import Settings  # noqa: E402
from rag.documents import Document, read_documents  # noqa: E402
from rag.embedding import Embedder  # noqa: E402
from rag.indexing import Indexer  # noqa: E402
from rag.store import CorpusIndex  # noqa: E402
from rag.stories import (  # noqa: E402
    LSH_BANDS,
    PERMUTATIONS,
    SAME_STORY_JACCARD,
    SignatureIndex,
    assign_stories,
    similarity,
)

FIXTURES = ROOT / "tests" / "fixtures"
SAME_PLAN = {"002_3e161429ba25c3db": "001_1cddb5f53556681f"}  # the same plan, told in other words
# Fixture documents that report a seed's story, by that seed (the others are stories of their own, on the
# same topics: Trainium 3 expected, 14,000 jobs cut, Microsoft's 27 % of OpenAI, NVIDIA's market share).
FIXTURE_STORIES = {
    "amazon-100-milliards-cloud-ia-2025": "001_1cddb5f53556681f",  # the page of seed 001
    "amazon-plan-ia-2025": "002_3e161429ba25c3db",  # the page of seed 002
    "entry-750e5f9d9099f3c2": "002_3e161429ba25c3db",  # a brief: the lead paragraph of seed 002
    "aws-croissance-cloud-ia": "000_127e0ac6955dbf7b",  # the page of seed 000
    "entry-bf922a819ce40a53": "000_127e0ac6955dbf7b",  # a brief: seed 000's figures
    "openai-aws-contrat-38-milliards": "003_d80e80294214e752",  # the page of seed 003
    "entry-03cf3a80512d7428": "003_d80e80294214e752",  # a brief of the contract, reworded
    "entry-af3b1ca4c56c4e08": "004_872041e8ade15181",  # the feed entry of seed 004
}
ADDED_SENTENCE = "Contacté par notre rédaction, le groupe n’a pas souhaité faire de commentaire supplémentaire."
SWEEP = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
LSH_DOCUMENTS = 50_000


def main() -> None:
    seeds = read_documents([ROOT / "seeds"]).documents
    fixtures = read_documents([FIXTURES / "news", FIXTURES / "feeds", FIXTURES / "exports"]).documents
    editions = read_documents([FIXTURES / "stories"]).documents
    labels = {seed.doc_id: SAME_PLAN.get(seed.doc_id, seed.doc_id) for seed in seeds}
    labels |= {edition.doc_id: labels[edition.seed] for edition in EDITIONS}
    variants = {make.__name__: [make(seed) for seed in seeds] for make in (rewritten, refigured, trimmed)}
    synthetic = [variant for made in variants.values() for variant in made]
    labels |= {variant.doc_id: labels[seed.doc_id] for made in variants.values() for variant, seed in zip(made, seeds)}
    labels |= {item.doc_id: labels.get(FIXTURE_STORIES.get(item.doc_id, ""), item.doc_id) for item in fixtures}
    documents = [*seeds, *synthetic, *editions, *fixtures]
    indexer = Indexer(Embedder.from_settings(Settings()))
    index, _ = indexer.sync(indexer.empty(), documents, "file")
    signatures, first, mean = _stored_scores(index)
    scores: dict[str, Callable[[str, str], float]] = {
        "MinHash Jaccard (shipped)": lambda a, b: similarity(signatures[a], signatures[b]),
        "e5 cosine, first chunk": lambda a, b: float(first[a] @ first[b]),
        "e5 cosine, mean of chunks": lambda a, b: float(mean[a] @ mean[b]),
    }
    jaccard = scores["MinHash Jaccard (shipped)"]
    corpora = {"seeds + variants": [*seeds, *synthetic], "seeds + stories corpus": [*seeds, *editions],
               "seeds + dated fixtures": [*seeds, *fixtures], "everything": documents}
    for title, members in corpora.items():
        pairs = list(itertools.combinations([document.doc_id for document in members], 2))
        same = [labels[a] == labels[b] for a, b in pairs]
        print(f"\n{title}: {len(members)} documents, {sum(same)} same-story pairs of {len(pairs)}")
        _separation(scores, pairs, same)

    plan = tuple(SAME_PLAN.items())[0]
    print(f"\nseed {plan[0][:3]} ≡ {plan[1][:3]} (one plan, two outlets): "
          + ", ".join(f"{name} {score(*plan):.3f}" for name, score in scores.items()))
    print("\nMinHash Jaccard of each variant with its seed: lowest, highest")
    for kind, made in variants.items():
        values = [jaccard(variant.doc_id, seed.doc_id) for variant, seed in zip(made, seeds)]
        print(f"  {kind:<10} {min(values):.2f} {max(values):.2f}")
    pairs = list(itertools.combinations([document.doc_id for document in documents], 2))
    same = [labels[a] == labels[b] for a, b in pairs]
    values = [jaccard(a, b) for a, b in pairs]
    print("\nMinHash threshold sweep (all documents): threshold, precision, recall")
    for threshold in SWEEP:
        print(f"  {threshold:.1f}  {_precision_recall([value >= threshold for value in values], same)}")
    real = {document.doc_id for document in [*seeds, *editions, *fixtures]}
    print(f"\nsame-story pairs of real documents under {SAME_STORY_JACCARD}, missed (their variants score alike):")
    for (a, b), value, is_same in sorted(zip(pairs, values, same), key=lambda row: row[1]):
        if is_same and value < SAME_STORY_JACCARD and {a, b} <= real:
            print(f"  {value:.2f}  {a:<34} {b}")

    batch = {doc_id: stored.story for doc_id, stored in index.documents.items()}
    arrival = sorted(documents, key=lambda document: (document.date or "", document.doc_id))
    one_by_one = _one_by_one([document.doc_id for document in arrival], signatures)
    for name, stories in (("one write", batch), ("one by one, by date", one_by_one)):
        grouped = [stories[a] == stories[b] for a, b in pairs]
        print(f"\nstory ids given by the index ({name}): {len(set(stories.values()))} stories for "
              f"{len(set(labels.values()))} labelled; pairs {_precision_recall(grouped, same)}")
    _lookup_speed(LSH_DOCUMENTS)


def rewritten(seed: Document) -> Document:
    """Paragraphs reordered (the first goes last), another headline, one sentence added mid-text."""
    paragraphs = seed.text.split("\n\n")
    paragraphs = [*paragraphs[1:], paragraphs[0]]
    paragraphs.insert(len(paragraphs) // 2, ADDED_SENTENCE)
    return replace(seed, doc_id=f"{seed.doc_id}-rewrite", title=f"Ce qu’il faut retenir : {seed.title[:50]}",
                   text="\n\n".join(paragraphs))


def refigured(seed: Document) -> Document:
    """The first figure of the text changed (a correction, or a copy with a typo)."""
    number = re.search(r"\d+", seed.text)
    if number is None:
        raise ValueError(f"seed {seed.doc_id} has no figure to change")
    text = f"{seed.text[: number.start()]}{int(number.group()) + 7}{seed.text[number.end() :]}"
    return replace(seed, doc_id=f"{seed.doc_id}-figure", text=text)


def trimmed(seed: Document) -> Document:
    """The last third of the paragraphs cut, as an outlet runs a shortened wire copy."""
    paragraphs = seed.text.split("\n\n")
    kept = paragraphs[: len(paragraphs) - len(paragraphs) // 3]
    return replace(seed, doc_id=f"{seed.doc_id}-trimmed", text="\n\n".join(kept))


def _stored_scores(index: CorpusIndex) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per document, what the index stores: its signature, its first chunk vector, its mean chunk vector."""
    signatures, first, mean = {}, {}, {}
    for view in index.segments:
        segment = view.segment
        for doc_id in segment.documents:
            chunk_rows, _ = segment.rows_of[doc_id]
            vectors = segment.embeddings[chunk_rows]
            signatures[doc_id] = segment.signatures[segment.ordinals[doc_id]]
            first[doc_id] = vectors[0]
            mean[doc_id] = vectors.mean(axis=0) / np.linalg.norm(vectors.mean(axis=0))
    return signatures, first, mean


def _separation(
    scores: dict[str, Callable[[str, str], float]], pairs: Sequence[tuple[str, str]], same: Sequence[bool]
) -> None:
    """Lowest same-story and highest other-story score, margin, and precision/recall of a rule, per score."""
    print(f"  {'score':<34} {'lowest same':>11} {'highest other':>13} {'margin':>7}  {'rule':<14} precision, recall")
    passing: dict[str, list[bool]] = {}
    closest: list[str] = []
    for name, score in scores.items():
        values = np.array([score(a, b) for a, b in pairs])
        lowest, highest = values[np.array(same)].min(), values[~np.array(same)].max()
        a, b = pairs[int(np.argmax(np.where(same, -np.inf, values)))]
        closest.append(f"{name}: {a} ~ {b}")
        if name.startswith("MinHash"):
            rule, passing[name] = f">= {SAME_STORY_JACCARD:.2f}", list(values >= SAME_STORY_JACCARD)
        else:  # the best a cosine threshold does without a wrong pair: just above the highest other-story score
            rule, passing[name] = f"> {highest:.3f}", list(values > highest)
        print(f"  {name:<34} {lowest:>11.3f} {highest:>13.3f} {lowest - highest:>7.3f}  {rule:<14} "
              f"{_precision_recall(passing[name], same)}")
    minhash, *cosines = passing
    for name in cosines:
        either = [a or b for a, b in zip(passing[minhash], passing[name])]
        label = f"Jaccard or {name.removeprefix('e5 ')}"
        print(f"  {label:<34} {'':>11} {'':>13} {'':>7}  {'both rules':<14} {_precision_recall(either, same)}")
    print("  highest other-story pair,", "; ".join(closest))


def _precision_recall(predicted: Sequence[bool], same: Sequence[bool]) -> str:
    right = sum(p and s for p, s in zip(predicted, same))
    precision = right / sum(predicted) if any(predicted) else 1.0
    return f"{precision:.2f}, {right / sum(same):.2f}"


def _lookup_speed(count: int) -> None:
    """Seconds to index `count` random signatures with SignatureIndex and with datasketch's MinHashLSH, and
    milliseconds per lookup: what the first write after loading an index of that size waits for."""
    signatures = np.random.default_rng(0).integers(0, 2**32, size=(count, PERMUTATIONS), dtype=np.uint32)
    doc_ids = [f"d{row}" for row in range(count)]
    started = time.perf_counter()
    index = SignatureIndex(doc_ids, signatures)
    built = time.perf_counter() - started
    started = time.perf_counter()
    for row in range(1000):
        index.matches(signatures[row])
    lookup_ms = time.perf_counter() - started  # seconds for 1,000 lookups: milliseconds for one
    started = time.perf_counter()
    lsh = MinHashLSH(num_perm=PERMUTATIONS, params=LSH_BANDS)
    for doc_id, row in zip(doc_ids, signatures):
        lsh.insert(doc_id, LeanMinHash(seed=1, hashvalues=row, scheme="affine32"), check_duplication=False)
    inserted = time.perf_counter() - started
    print(f"\nLSH over {count:,} signatures: SignatureIndex builds in {built:.2f} s, looks up in {lookup_ms:.3f} ms; "
          f"datasketch's MinHashLSH inserts them in {inserted:.2f} s")


def _one_by_one(doc_ids: Sequence[str], signatures: dict[str, np.ndarray]) -> dict[str, str]:
    """The stories the index gives when each document is a write of its own, in this order."""
    stories: dict[str, str] = {}
    for doc_id in doc_ids:
        known = np.array([signatures[earlier] for earlier in stories]).reshape(-1, PERMUTATIONS)
        stored = SignatureIndex(list(stories), known)
        stories |= assign_stories([doc_id], signatures[doc_id][np.newaxis], [(stored, ())], stories.__getitem__,
                                  set(stories.values()).__contains__)
    return stories


if __name__ == "__main__":
    main()
