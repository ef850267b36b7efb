"""Sentence splitting and chunk packing: exact offsets, full coverage, budgets, whole words."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.chunking import Chunk, Chunker
from rag.config import Settings
from rag.documents import Document, load_documents
from rag.errors import InvalidInputError
from rag.provisioning.embedding_model import FOLDER_NAME
from rag.sentences import split_sentences

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
E5_TOKENIZER = Settings().cache_dir / FOLDER_NAME


def count_words(text: str) -> int:
    return len(text.split())


def count_quarter_chars(text: str) -> int:
    return len(text) // 4 + 1


def sentences(text: str) -> list[str]:
    return [text[start:end] for start, end in split_sentences(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("M. Dupont est arrivé. Il a parlé.", ["M. Dupont est arrivé.", "Il a parlé."]),
        (
            "La croissance atteint 3,8 %. Elle était de 3.8 % en 2024. Bien.",
            ["La croissance atteint 3,8 %.", "Elle était de 3.8 % en 2024.", "Bien."],
        ),
        (
            "Il a dit « c'est fini. » Puis il est parti. Un rythme « jamais vu ». Fin.",
            ["Il a dit « c'est fini. »", "Puis il est parti.", "Un rythme « jamais vu ».", "Fin."],
        ),
        (
            "Amazon supprime 14 000 emplois. Pourquoi ? Personne ne sait ! Vraiment.",
            ["Amazon supprime 14 000 emplois.", "Pourquoi ?", "Personne ne sait !", "Vraiment."],
        ),
        (
            'Dr. Smith lives in the U.S. with Mrs. Jones. She said "Go." Then she left!',
            ["Dr. Smith lives in the U.S. with Mrs. Jones.", 'She said "Go."', "Then she left!"],
        ),
        (
            "Des fruits, des légumes, etc. et des fleurs. Mme. Curie aussi, p. ex. ici.",
            ["Des fruits, des légumes, etc. et des fleurs.", "Mme. Curie aussi, p. ex. ici."],
        ),
        (
            "J. K. Rowling écrit. Amazon.com, Inc. (AMZN) recule.",
            ["J. K. Rowling écrit.", "Amazon.com, Inc. (AMZN) recule."],
        ),
        (
            "Avec Anthropic… Mais au-delà… non. Is it? yes it is.",
            ["Avec Anthropic…", "Mais au-delà… non.", "Is it? yes it is."],
        ),
        (
            "Un titre sans point\n\nLe corps.\nSuite sans point",
            ["Un titre sans point", "Le corps.", "Suite sans point"],
        ),
        ("  \n\n ", []),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"chunk_tokens": 0}, "chunk_tokens must be positive, got 0"),
        ({"overlap_tokens": -1}, "got -1"),
        ({"chunk_tokens": 50, "overlap_tokens": 50}, r"below chunk_tokens \(50\), got 50"),
    ],
)
def test_chunker_refuses_bad_settings(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        Chunker(count_words, **kwargs)


def test_chunks_pack_whole_sentences_with_sentence_overlap() -> None:
    text = " ".join(f"Phrase numéro {n} de six mots." for n in range(10))
    chunks = Chunker(count_words, chunk_tokens=12, overlap_tokens=6).split(Document("doc", "t", text))
    assert [chunk.chunk_id for chunk in chunks] == [f"doc#{n}" for n in range(len(chunks))]
    assert chunks[0].text == "Phrase numéro 0 de six mots. Phrase numéro 1 de six mots."
    assert chunks[1].text.startswith("Phrase numéro 1 ")  # the last sentence is repeated
    assert all(count_words(chunk.text) <= 12 for chunk in chunks)
    assert chunks[-1].text.endswith("Phrase numéro 9 de six mots.")


def test_repeated_text_gets_true_offsets() -> None:
    text = "Même phrase. " * 40 + "Fin."
    chunks = Chunker(count_words, chunk_tokens=6, overlap_tokens=2).split_text(text, "rep")
    assert_chunks_valid(text, chunks, count_words, 6)
    assert len({chunk.start for chunk in chunks}) == len(chunks) > 10


def test_overlong_sentence_is_cut_between_words() -> None:
    text = " ".join(f"mot{n}" for n in range(50)) + "."
    chunks = Chunker(count_words, chunk_tokens=10, overlap_tokens=3).split_text(text, "long")
    assert_chunks_valid(text, chunks, count_words, 10)
    assert all(count_words(chunk.text) == 10 for chunk in chunks[:-1])


def test_overlong_word_is_cut_inside() -> None:
    text = "court " + "x" * 100 + " fin"
    chunks = Chunker(len, chunk_tokens=10, overlap_tokens=0).split_text(text, "word")
    assert_chunks_valid(text, chunks, len, 10)
    assert [chunk.text for chunk in chunks[:3]] == ["court", "x" * 10, "x" * 10]


def test_empty_text_has_no_chunks() -> None:
    assert Chunker(count_words).split_text(" \n\n\t", "empty") == []


# Text built from pieces that exercise the sentence rules, mixed with arbitrary characters.
PIECES = st.sampled_from(
    [
        "M.",
        "Mme",
        "Dr.",
        "U.S.",
        "p. ex.",
        "etc.",
        "3,8",
        "3.8",
        "14 000",
        "«",
        "»",
        "« ",
        " »",
        '"',
        "’",
        "'",
        ".",
        "!",
        "?",
        "…",
        "...",
        ";",
        " ",
        "  ",
        "\n",
        "\n\n",
        "\t",
        "\u00a0",
        "\u2029",
        "Le",
        "chat",
        "mange.",
        "Il",
        "dort",
        "🙂",
        "👩‍💻",
        "e\u0301",
        "\u0301",
        "x" * 30,
    ]
)
TEXTS = st.one_of(st.text(), st.lists(st.one_of(PIECES, st.text(max_size=3)), max_size=80).map("".join))


@settings(max_examples=400, deadline=None)
@given(
    text=TEXTS,
    counter=st.sampled_from([count_words, count_quarter_chars]),
    chunk_tokens=st.integers(1, 30),
    data=st.data(),
)
def test_chunks_are_exact_and_cover_every_character(
    text: str, counter: Callable[[str], int], chunk_tokens: int, data: st.DataObject
) -> None:
    overlap_tokens = data.draw(st.integers(0, chunk_tokens - 1))
    chunks = Chunker(counter, chunk_tokens=chunk_tokens, overlap_tokens=overlap_tokens).split_text(text, "d")
    assert_chunks_valid(text, chunks, counter, chunk_tokens)


@settings(max_examples=300, deadline=None)
@given(text=TEXTS)
def test_sentences_are_trimmed_ordered_and_cover_the_text(text: str) -> None:
    spans = split_sentences(text)
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:]))
    assert all(text[start:end] and text[start:end] == text[start:end].strip() for start, end in spans)
    covered = {index for start, end in spans for index in range(start, end)}
    assert all(char.isspace() or index in covered for index, char in enumerate(text))


def assert_chunks_valid(text: str, chunks: list[Chunk], counter: Callable[[str], int], budget: int) -> None:
    """Exact offsets, increasing starts, full coverage, budget kept, no cut inside a word that fits."""
    assert all(text[chunk.start : chunk.end] == chunk.text for chunk in chunks)
    assert all(chunk.text and chunk.text == chunk.text.strip() for chunk in chunks)
    assert all(a.start < b.start for a, b in zip(chunks, chunks[1:]))
    covered = {index for chunk in chunks for index in range(chunk.start, chunk.end)}
    assert all(char.isspace() or index in covered for index, char in enumerate(text))
    for chunk in chunks:
        assert counter(chunk.text) <= budget or not any(char.isspace() for char in chunk.text)
        for cut in (chunk.start, chunk.end):
            if 0 < cut < len(text) and not text[cut - 1].isspace() and not text[cut].isspace():
                assert counter(word_around(text, cut)) > budget


def word_around(text: str, index: int) -> str:
    start, end = index, index
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    return text[start:end]


@pytest.fixture(scope="module")
def seed_counter() -> Callable[[str], int]:
    """The embedding model's tokenizer where it is provisioned, else a ~4-chars-per-token stand-in."""
    if not E5_TOKENIZER.is_dir():
        return count_quarter_chars
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(E5_TOKENIZER)
    return lambda text: len(tokenizer(text)["input_ids"])


@pytest.mark.parametrize("path", sorted(SEEDS.glob("*.txt")), ids=lambda path: path.stem[:3])
def test_seed_chunks_are_whole_sentences_within_budget(path: Path, seed_counter: Callable[[str], int]) -> None:
    (document,) = load_documents([path])
    chunks = Chunker(seed_counter, chunk_tokens=200, overlap_tokens=40).split(document)
    assert_chunks_valid(document.text, chunks, seed_counter, 200)
    spans = split_sentences(document.text)
    starts, ends = {start for start, _ in spans}, {end for _, end in spans}
    assert all(chunk.start in starts and chunk.end in ends for chunk in chunks)
    assert len(chunks) > 1 and any(a.end > b.start for a, b in zip(chunks, chunks[1:]))  # overlap
