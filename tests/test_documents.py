"""Cleaning rules, each pinned on the real seed article that shows the quirk."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.documents import (
    Document,
    SkippedFile,
    load_document,
    load_documents,
    parse_document,
    read_documents,
    validate_doc_id,
)
from rag.errors import InvalidInputError

SEEDS = Path(__file__).resolve().parents[1] / "seeds"


@pytest.fixture(scope="module")
def seeds() -> dict[str, Document]:
    return {document.doc_id: document for document in load_documents([SEEDS])}


def test_seed_folder_loads_every_article_in_name_order(seeds: dict[str, Document]) -> None:
    assert list(seeds) == sorted(path.stem for path in SEEDS.glob("*.txt"))


def test_date_prefix_becomes_date_and_leaves_the_text(seeds: dict[str, Document]) -> None:
    document = seeds["003_d80e80294214e752"]
    assert document.date == "2025-11-05"
    assert document.text.startswith("OpenAI signe un contrat de 38 milliards")


def test_partager_line_is_dropped(seeds: dict[str, Document]) -> None:
    document = seeds["002_3e161429ba25c3db"]
    assert document.text.startswith("Malgré les rumeurs")
    assert "Partager" not in document.text


def test_share_bar_lines_are_dropped_at_either_end_only() -> None:
    raw = "Partager sur Facebook\nTwitter | LinkedIn\nLe texte cite Facebook.\nFacebook\nImprimer\nE-mail"
    document = parse_document(raw, "share")
    assert document.text == "Le texte cite Facebook."


def test_headline_becomes_title_and_leaves_the_text(seeds: dict[str, Document]) -> None:
    document = seeds["001_1cddb5f53556681f"]
    headline = "Amazon va dépenser plus de 100 milliards de dollars dans le cloud et l’IA en 2025"
    assert document.title == headline
    assert headline not in document.text
    assert document.text.startswith("L’intelligence artificielle (IA) fait tourner")


def test_headings_inside_the_article_stay_as_paragraphs(seeds: dict[str, Document]) -> None:
    assert "Priorité accordée à AWS" in seeds["002_3e161429ba25c3db"].text.split("\n\n")
    assert "Une IA Amazon pour les professionnels" in seeds["001_1cddb5f53556681f"].text.split("\n\n")
    assert "Perspectives" in seeds["004_872041e8ade15181"].text.split("\n\n")


def test_source_line_becomes_source_and_trailing_blanks_go(seeds: dict[str, Document]) -> None:
    document = seeds["000_127e0ac6955dbf7b"]
    assert document.source == "Techcrunch"
    assert "Source" not in document.text
    assert document.text.endswith("du monde technologique ?")


def test_title_without_headline_is_the_first_sentence_shortened(seeds: dict[str, Document]) -> None:
    title = seeds["000_127e0ac6955dbf7b"].title
    assert title.startswith("La frénésie autour de l’intelligence artificielle")
    assert len(title) <= 100 and title.endswith("…")
    assert seeds["000_127e0ac6955dbf7b"].text.startswith(title[:-1])  # cut on a word boundary
    assert parse_document("Une phrase courte. Une autre.", "short").title == "Une phrase courte."


def test_apostrophes_and_lost_apostrophes_are_kept_as_written(seeds: dict[str, Document]) -> None:
    assert "l’intelligence artificielle" in seeds["000_127e0ac6955dbf7b"].text  # curly
    text = seeds["003_d80e80294214e752"].text
    assert "l'accès à des GPU" in text  # straight
    assert "léditeur de ChatGPT" in text and "daprès des documents" in text


def test_paragraphs_are_joined_by_exactly_one_blank_line(seeds: dict[str, Document]) -> None:
    for document in seeds.values():
        paragraphs = document.text.split("\n\n")
        assert all(paragraph and paragraph == paragraph.strip() for paragraph in paragraphs)
        assert all("\n" not in paragraph and "  " not in paragraph for paragraph in paragraphs)
    # single newlines (001) and blank lines (004) give the same shape
    assert len(seeds["001_1cddb5f53556681f"].text.split("\n\n")) == 5
    assert len(seeds["004_872041e8ade15181"].text.split("\n\n")) == 18


def test_whitespace_is_collapsed_and_unicode_is_nfc() -> None:
    raw = "  Une\tphrase   avec  des   espaces.  \r\n\r\n\r\n Cafe\u0301 cre\u0300me.\u200b "
    assert parse_document(raw, "ws").text == "Une phrase avec des espaces.\n\nCafé crème."


def test_hard_wrapped_lines_are_rejoined() -> None:
    text = parse_document("Une phrase coupée\nen deux lignes. Fin.\nAutre paragraphe.", "wrap").text
    assert text == "Une phrase coupée en deux lignes. Fin.\n\nAutre paragraphe."


def test_markdown_heading_becomes_title(tmp_path: Path) -> None:
    path = tmp_path / "note.md"
    path.write_text("# Le titre\n\n## Une section\n\nLe corps du texte.\n", encoding="utf-8")
    document = load_document(path)
    assert (document.doc_id, document.title) == ("note", "Le titre")
    assert document.text == "## Une section\n\nLe corps du texte."


def test_blank_line_ends_the_heading_even_before_a_lower_case_line() -> None:
    document = parse_document("# Titre\n\nle texte commence en minuscule. Deuxième phrase.", "minuscule")
    assert (document.title, document.text) == ("Titre", "le texte commence en minuscule. Deuxième phrase.")
    headline = parse_document("Un titre sans point\n\nle corps commence ici. Suite.", "headline")
    assert (headline.title, headline.text) == ("Un titre sans point", "le corps commence ici. Suite.")


def test_wrapped_headline_is_still_rejoined() -> None:
    document = parse_document("Un titre coupé\nen deux lignes\nLe corps du texte. Suite.", "wrapped")
    assert (document.title, document.text) == ("Un titre coupé en deux lignes", "Le corps du texte. Suite.")


def test_explicit_arguments_override_detection() -> None:
    raw = " date 2025-11-05 Amazon investit. Beaucoup.\nSource : Techcrunch\n"
    detected = parse_document(raw, "api-doc")
    assert (detected.date, detected.source) == ("2025-11-05", "Techcrunch")
    document = parse_document(raw, "api-doc", title="Mon titre", date="2024-01-01", source="AFP")
    assert (document.title, document.date, document.source) == ("Mon titre", "2024-01-01", "AFP")
    assert document.text == "Amazon investit. Beaucoup."


def test_folder_takes_txt_and_md_only_and_duplicates_are_refused(tmp_path: Path) -> None:
    (tmp_path / "b.txt").write_text("Deuxième.", encoding="utf-8")
    (tmp_path / "a.md").write_text("Premier.", encoding="utf-8")
    (tmp_path / "c.pdf").write_bytes(b"%PDF")
    assert [document.doc_id for document in load_documents([tmp_path])] == ["a", "b"]
    (tmp_path / "a.txt").write_text("Doublon.", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="both give document id 'a'"):
        load_documents([tmp_path])


def test_bad_files_are_skipped_with_their_reason_and_the_rest_load(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("Premier article.", encoding="utf-8")
    (tmp_path / "a.txt").write_text("Doublon de a.", encoding="utf-8")
    (tmp_path / "b.txt").write_text("Deuxième article.", encoding="utf-8")
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    (tmp_path / "latin1.txt").write_bytes("Déjà vu.".encode("latin-1"))
    batch = read_documents([tmp_path])
    assert [(document.doc_id, document.text) for document in batch.documents] == [
        ("a", "Premier article."),
        ("b", "Deuxième article."),
    ]
    assert [skipped.path.name for skipped in batch.skipped] == ["a.txt", "empty.txt", "latin1.txt"]
    duplicate, empty, latin1 = (skipped.reason for skipped in batch.skipped)
    assert "a.txt" in duplicate and "a.md" in duplicate and "both give document id 'a'" in duplicate
    assert "empty.txt" in empty and "no text left" in empty
    assert "latin1.txt" in latin1 and "not UTF-8 text" in latin1
    with pytest.raises(InvalidInputError, match="both give document id 'a'"):
        load_documents([tmp_path])  # the strict wrapper fails on the first skipped file


def test_explicitly_named_bad_file_is_skipped_too(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("Un article.", encoding="utf-8")
    (tmp_path / "notes.pdf").write_bytes(b"%PDF-1.4")
    batch = read_documents([tmp_path / "good.txt", tmp_path / "notes.pdf"])
    assert [document.doc_id for document in batch.documents] == ["good"]
    (skipped,) = batch.skipped
    assert isinstance(skipped, SkippedFile) and skipped.path == tmp_path / "notes.pdf"
    assert "notes.pdf: unsupported file type '.pdf'" in skipped.reason


@pytest.mark.parametrize("name", ["absent.txt", "absent-folder"])
def test_read_documents_refuses_a_missing_path(tmp_path: Path, name: str) -> None:
    (tmp_path / "good.txt").write_text("Un article.", encoding="utf-8")
    with pytest.raises(InvalidInputError, match=f"{name}: no such file or folder"):
        read_documents([tmp_path / "good.txt", tmp_path / name])


def test_read_documents_refuses_a_folder_without_articles(tmp_path: Path) -> None:
    (tmp_path / "notes.pdf").write_bytes(b"%PDF-1.4")
    with pytest.raises(InvalidInputError, match="no .txt, .md, .html"):
        read_documents([tmp_path])


def test_unsupported_suffix_names_the_file_and_the_accepted_types(tmp_path: Path) -> None:
    path = tmp_path / "article.pdf"
    path.write_bytes(b"%PDF-1.4")
    with pytest.raises(InvalidInputError, match=r"article\.pdf.*\.txt, \.md"):
        load_documents([path])


def test_non_utf8_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes("Déjà vu.".encode("latin-1"))
    with pytest.raises(InvalidInputError, match="not UTF-8 text"):
        load_document(path)


@pytest.mark.parametrize("name", ["absent.txt", "absent-folder"])
def test_missing_path_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidInputError, match=f"{name}: no such file or folder"):
        load_documents([tmp_path / name])


def test_folder_without_articles_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="no .txt, .md, .html"):
        load_documents([tmp_path])


@pytest.mark.parametrize("raw", ["", "   \n\n\t", "Partager\n\n", " date 2025-11-05 \nSource : AFP"])
def test_empty_after_cleaning_is_refused(tmp_path: Path, raw: str) -> None:
    path = tmp_path / "empty.txt"
    path.write_text(raw, encoding="utf-8")
    with pytest.raises(InvalidInputError, match="empty.txt.*no text left"):
        load_document(path)


@pytest.mark.parametrize("raw", ["😀 🎉 👍", "\u202e\u202d", "\u200c\u200d\u2060", "?!?! ...;;;", "\u0301\u0302"])
def test_a_text_without_letters_or_digits_is_refused(raw: str) -> None:
    """Nothing in it could match a question: it would only add a chunk that retrieval returns for anything."""
    with pytest.raises(InvalidInputError, match="no letters or digits"):
        parse_document(raw, "signs")


def test_file_name_that_is_not_a_valid_id_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "mon article.txt"
    path.write_text("Texte.", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="rename the file"):
        load_document(path)


@pytest.mark.parametrize("doc_id", ["a", "000_127e0ac6955dbf7b", "v1.2-final_B", "x" * 128])
def test_valid_doc_ids(doc_id: str) -> None:
    assert validate_doc_id(doc_id) == doc_id


@pytest.mark.parametrize("doc_id", ["", "x" * 129, "a/b", "a b", "é", "a?b", "a#1", ".", ".."])
def test_invalid_doc_ids(doc_id: str) -> None:
    with pytest.raises(InvalidInputError, match="invalid document id"):
        validate_doc_id(doc_id)
    with pytest.raises(InvalidInputError):
        parse_document("Texte.", doc_id)
