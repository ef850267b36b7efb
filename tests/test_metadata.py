"""Metadata normalisers: real dates, web links and language tags are kept, anything else is unknown."""

from __future__ import annotations

import pytest

from rag.documents import parse_document
from rag.errors import InvalidInputError
from rag.metadata import iso_date, language_tag, web_url


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2025-11-05", "2025-11-05"),
        (" 2025-11-05T08:30:00+01:00 ", "2025-11-05"),
        ("2025-11-05T23:59:59.123Z", "2025-11-05"),
        ("2025-11-05 08:30", "2025-11-05"),
        ("Wed, 05 Nov 2025 08:30:00 +0100", "2025-11-05"),  # RFC 2822, as RSS writes it
        ("Wed, 05 Nov 2025 23:30:00 -0500", "2025-11-05"),  # the publisher's day, not UTC's
    ],
)
def test_real_dates_become_their_iso_day(raw: str, expected: str) -> None:
    assert iso_date(raw) == expected


@pytest.mark.parametrize(
    "raw", [None, "", "hier", "2025-02-30", "2025-13-01", "2025-11-05T25:00", "05/11/2025", "2025", "Nov 2025"]
)
def test_anything_else_is_no_date(raw: str | None) -> None:
    assert iso_date(raw) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://www.example.fr/tech/article-1.html?x=1#a", "https://www.example.fr/tech/article-1.html?x=1#a"),
        ("http://example.org", "http://example.org"),
        ("javascript:alert(1)", None),
        ("data:text/html,<b>x</b>", None),
        ("/tech/article-1.html", None),
        ("https://", None),
        ("https://exa mple.org/", None),
        ("ftp://example.org/file", None),
    ],
)
def test_only_absolute_web_urls_are_kept(raw: str, expected: str | None) -> None:
    assert web_url(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"), [("fr", "fr"), ("FR", "fr"), ("fr-fr", "fr-FR"), ("en_GB", "en-GB"), ("français", None)]
)
def test_language_tags_are_normalised(raw: str, expected: str | None) -> None:
    assert language_tag(raw) == expected


def test_explicit_metadata_is_normalised_and_a_bad_value_is_an_error() -> None:
    document = parse_document(
        "Un texte.", "d", date="2025-11-05T08:00:00Z", url="https://example.fr/a", author="  Léa  Roux ", language="FR"
    )
    assert (document.date, document.url, document.author, document.language) == (
        "2025-11-05", "https://example.fr/a", "Léa Roux", "fr",
    )
    assert parse_document("Un texte.", "d").url is None
    for field, value, words in [
        ("date", "le 5 novembre", "ISO 8601 date"),
        ("url", "javascript:alert(1)", r"http\(s\) URL"),
        ("language", "??", "language tag"),
    ]:
        with pytest.raises(InvalidInputError, match=words):
            parse_document("Un texte.", "d", **{field: value})


def test_an_impossible_date_prefix_is_dropped_from_the_text_and_not_kept() -> None:
    document = parse_document(" date 2025-02-30 Amazon investit.", "d")
    assert (document.date, document.text) == (None, "Amazon investit.")
