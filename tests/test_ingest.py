"""Saved pages, feeds and exports read as a user saves them (tests/fixtures), and bad input of each kind."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag.corpus import Corpus
from rag.documents import Document, FormatCount, load_document, read_documents, read_file
from rag.errors import InvalidInputError

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
NEWS = FIXTURES / "news"
ATOM = FIXTURES / "feeds" / "breves-eco.atom"
JSONL = FIXTURES / "exports" / "depeches.jsonl"


def seed(prefix: str) -> Document:
    (path,) = (ROOT / "seeds").glob(f"{prefix}_*.txt")
    return load_document(path)


def one(path: Path) -> Document:
    (document,) = read_file(path, path.read_bytes()).documents
    return document


def prose(document: Document) -> list[str]:
    """The seed's paragraphs that are sentences (subheadings aside)."""
    return [paragraph for paragraph in document.text.split("\n\n") if paragraph.rstrip("»\" ")[-1] in ".?!…"]


def test_article_page_gives_the_seed_text_and_its_og_and_json_ld_metadata() -> None:
    document = one(NEWS / "openai-aws-contrat-38-milliards.html")
    assert document.text == seed("003").text  # the kicker, headline, byline, caption and tags left out
    assert document.doc_id == "openai-aws-contrat-38-milliards"
    assert document.title.startswith("OpenAI signe un contrat de 38 milliards de dollars avec AWS")
    assert (document.date, document.source, document.author, document.language) == (
        "2025-11-05", "La Gazette du Numérique", "Camille Lefèvre", "fr-FR",
    )
    assert document.url == "https://www.gazette-numerique.example/cloud/2025/11/05/openai-aws-contrat-38-milliards"


def test_boilerplate_banners_related_boxes_and_comments_are_not_article_text() -> None:
    document = one(NEWS / "aws-croissance-cloud-ia.html")
    assert document.text == seed("000").text
    for noise in ("cookies", "Tout accepter", "Lire aussi", "Google Cloud mise sur", "newsletter", "Jean-Marc",
                  "30 000 personnes", "Les plus lus", "Publicité", "Partager"):
        assert noise not in document.text
    assert (document.source, document.author, document.date) == ("Techcrunch", "Romain Dufresne", "2025-10-31")


def test_a_page_with_only_a_time_element_gets_that_date_and_nothing_invented() -> None:
    document = one(NEWS / "amazon-100-milliards-cloud-ia-2025.html")
    assert document.date == "2025-02-07"
    assert (document.source, document.url, document.author, document.language) == (None, None, None, None)
    assert document.title == seed("001").title
    assert all(paragraph in document.text.split("\n\n") for paragraph in prose(seed("001")))


def test_a_legacy_encoding_declared_in_meta_charset_is_decoded() -> None:
    raw = (NEWS / "amazon-plan-ia-2025.html").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # really Windows-1252
    document = one(NEWS / "amazon-plan-ia-2025.html")
    assert document.source == "L’Écho des Réseaux" and "Ã" not in document.text
    assert all(paragraph in document.text.split("\n\n") for paragraph in prose(seed("002")))
    assert "Actualités - Dossiers" not in document.text  # the layout table's menu
    assert (document.date, document.language) == ("2025-02-10", "fr")


def test_a_page_without_an_article_is_refused_naming_the_file() -> None:
    with pytest.raises(InvalidInputError, match=r"rubrique-cloud\.html: no article found"):
        one(NEWS / "rubrique-cloud.html")


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("cut.html", (NEWS / "aws-croissance-cloud-ia.html").read_bytes()[:4000], "cut short"),
        ("photo.html", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, "binary data"),
        ("mislabelled.html", '<meta charset="utf-8"><p>Déjà vu.</p>'.encode("cp1252"), "not utf-8 text"),
        ("unknown.html", b'<meta charset="klingon-8"><p>x</p>', "unknown charset"),
        ("flux.rss", (NEWS / "rubrique-cloud.html").read_bytes(), "not an RSS or Atom feed"),
        ("vide.atom", b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>x</title></feed>',
         "no entries"),
        ("export.jsonl", b"\n\n", "no records"),
    ],
)
def test_bad_files_are_refused_with_a_reason_naming_them(tmp_path: Path, name: str, content: bytes, words: str):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InvalidInputError, match=words) as error:
        read_file(path, content)
    assert name in str(error.value)


def test_rss_entries_take_the_full_content_and_the_latest_version_of_a_repeated_entry() -> None:
    contents = read_file(NEWS / "le-fil-tech.rss", (NEWS / "le-fil-tech.rss").read_bytes())
    assert contents.read == 3
    (document,) = contents.documents
    assert document.text == seed("004").text  # not the shorter first version seen again below it
    assert "Une puce Trainium 2" not in document.text and "est apparu en premier" not in document.text
    assert (document.title, document.date, document.source, document.author, document.language) == (
        "Trainium : Amazon défie NVIDIA sur les puces IA", "2025-11-04", "Le Fil Tech", "Hugo Marchal", "fr-FR",
    )
    assert document.url == "https://www.lefiltech.example/2025/11/04/amazon-trainium-nvidia/"
    assert document.doc_id.startswith("entry-")
    (skipped,) = contents.skipped
    assert "entry 2" in skipped.reason and "re:Invent" in skipped.reason and "no text" in skipped.reason


def test_atom_summaries_a_corrected_entry_and_an_unreadable_date() -> None:
    contents = read_file(ATOM, ATOM.read_bytes())
    assert contents.read == 5 and len(contents.documents) == 4
    by_url = {document.url: document for document in contents.documents}
    corrected = by_url["https://www.breves-eco.example/2025/11/05/openai-aws/"]
    assert corrected.title.endswith("(mis à jour)") and "centaines de milliers de GPU" in corrected.text
    assert (corrected.source, corrected.author, corrected.language) == ("Brèves éco", "Paul Rivière", "fr")
    undated = by_url["https://www.breves-eco.example/trainium-3/"]
    assert undated.date is None  # "bientôt" is no date, and the <updated> one is not put in its place
    (note,) = contents.notes
    assert "entry 5" in note and "'bientôt'" in note and "kept unknown" in note


def test_an_entry_seen_again_in_a_later_feed_updates_it(tmp_path: Path) -> None:
    shutil.copy(ATOM, tmp_path / "2025-11-06.atom")
    later = ATOM.read_text(encoding="utf-8").replace("AWS accélère : +20 % sur un an", "AWS accélère encore")
    (tmp_path / "2025-11-07.atom").write_text(later, encoding="utf-8")
    batch = read_documents([tmp_path])
    assert batch.skipped == [] and len(batch.documents) == 4
    assert "AWS accélère encore" in {document.title for document in batch.documents}
    assert batch.formats == (FormatCount("feed", read=10, skipped=0, indexed=4),)


def test_jsonl_export_bad_lines_are_reported_with_their_number_and_the_rest_read() -> None:
    contents = read_file(JSONL, JSONL.read_bytes())
    assert [document.doc_id for document in contents.documents][0::2] == ["cms-1042", "cms-1051"]
    first, derived, undated = contents.documents
    assert (first.date, first.source, first.url, first.author, first.language) == (
        "2025-10-28", "Dépêches Tech", "https://depeches-tech.example/2025/10/28/amazon-14000-postes",
        "Service économie", "fr",
    )
    assert derived.doc_id.startswith("entry-") and derived.date == "2025-10-29"  # no id: known by its URL
    assert undated.date is None
    assert [item.reason.split(": ", 1)[1] for item in contents.skipped] == [
        "line 3: not JSON (Unterminated string starting at, column 73); line left out",
        'line 5: no "text"; line left out',
    ]
    assert contents.skipped[1].doc_ids == ("cms-1060",)
    assert contents.notes == [f"{JSONL}: line 4: date 'le 3 novembre' is not an ISO 8601 date such as 2025-11-05; "
                              "kept unknown"]


def test_invalid_utf8_in_a_jsonl_line_skips_that_line_only(tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"
    path.write_bytes(b'{"id": "a", "text": "Premier."}\n{"id": "b", "text": "Caf\xe9."}\n{"id": "c", "text": "3."}\n')
    contents = read_file(path, path.read_bytes())
    assert [document.doc_id for document in contents.documents] == ["a", "c"]
    (skipped,) = contents.skipped
    assert "line 2: not UTF-8 (invalid byte at column 25)" in skipped.reason


def test_a_folder_of_pages_and_feeds_is_counted_per_format() -> None:
    batch = read_documents([NEWS])
    assert batch.formats == (
        FormatCount("html", read=4, skipped=1, indexed=4),
        FormatCount("feed", read=3, skipped=1, indexed=1),
    )
    assert sorted(item.path.name for item in batch.skipped) == ["le-fil-tech.rss", "rubrique-cloud.html"]


def test_a_feed_that_turns_bad_loses_nothing_already_indexed(tmp_path: Path, keyword_embedder) -> None:
    folder = tmp_path / "news"
    shutil.copytree(NEWS, folder)
    corpus = Corpus.open(tmp_path / "index", keyword_embedder, missing_ok=True)
    first = corpus.sync_paths([folder])
    assert first.documents == 5
    (folder / "le-fil-tech.rss").write_text("<html><body>502 Bad Gateway</body></html>", encoding="utf-8")
    (folder / "aws-croissance-cloud-ia.html").unlink()  # removals wait: what the feed held is unknown now
    report = corpus.sync_paths([folder])
    assert "le-fil-tech.rss: not an RSS or Atom feed" in " ".join(item.reason for item in report.skipped)
    assert report.removed == () and report.documents == 5
    titles = {stored.document.title for stored in corpus.snapshot.documents.values()}
    assert "Trainium : Amazon défie NVIDIA sur les puces IA" in titles
