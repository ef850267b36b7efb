"""BM25 over segments with tombstones scores exactly as one bm25s index over the live chunks."""

from __future__ import annotations

import bm25s
import numpy as np
import pytest

from rag.lexical import K1, B, Postings, analyze, bm25_scores

TEXTS = [
    "Amazon investit 100 milliards de dollars dans les centres de données.",
    "Les puces Trainium d'Amazon concurrencent NVIDIA.",
    "OpenAI signe un contrat de 38 milliards avec AWS, sur sept ans.",
    "AWS annonce une croissance de 20 % de son chiffre d'affaires.",
    "Amazon supprime 14 000 emplois pour financer l'intelligence artificielle.",
    "NVIDIA et AWS, les puces et le cloud : des milliards de dollars.",
    "...",  # no indexable word: still a BM25 document of length one
]
QUERIES = ["milliards de dollars Amazon", "puces NVIDIA", "AWS cloud contrat", "emplois", "inconnu", "dollars dollars"]


def oracle(texts: list[str], query: str) -> np.ndarray:
    model = bm25s.BM25(k1=K1, b=B, method="lucene")
    model.index([analyze(text, "fr") or ["\u2205"] for text in texts], show_progress=False)
    tokens = [token for token in analyze(query, "fr") if token in model.vocab_dict]
    return model.get_scores(tokens) if tokens else np.zeros(len(texts))


@pytest.mark.parametrize("query", QUERIES)
def test_segments_with_tombstones_score_like_one_index_over_the_live_chunks(query):
    first, second = TEXTS[:4], TEXTS[4:]
    segments = [
        (Postings.build(first, ["fr"] * len(first)), np.array([True, False, True, True])),
        (Postings.build(second, ["fr"] * len(second)), np.ones(len(second), dtype=bool)),
    ]
    scores = np.concatenate(bm25_scores(segments, query, "fr"))
    live = [text for text, alive in zip(TEXTS, np.concatenate([mask for _, mask in segments])) if alive]
    expected = oracle(live, query)
    np.testing.assert_allclose(scores[[0, 2, 3, 4, 5, 6]], expected, rtol=1e-5, atol=1e-6)
    assert scores[1] == 0.0  # a tombstoned chunk never scores


def test_postings_round_trip(tmp_path):
    postings = Postings.build(TEXTS, ["fr"] * len(TEXTS))
    postings.save(tmp_path)
    loaded = Postings.load(tmp_path)
    assert loaded.terms == postings.terms
    for name in ("starts", "rows", "counts", "lengths"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(postings, name))
