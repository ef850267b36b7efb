"""Article metadata as stored: ISO 8601 dates, web URLs and language tags, or None when not one.

Each normaliser returns None for a value it cannot read, so no date, link or language is ever
guessed: strict callers (`parse_document`) turn that None into an error, lenient ones (the file
readers) keep the field unknown and say so.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

MAX_URL_CHARS = 2000
_ISO_DATE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?",
    re.IGNORECASE,
)
# BCP 47 as news pages write it: "fr", "fr-FR", "en_GB" (the underscore is common, and read as "-").
_LANGUAGE_TAG = re.compile(r"([A-Za-z]{2,3})(?:[-_]([A-Za-z0-9]{1,8}))*")


def iso_date(value: str | None) -> str | None:
    """The calendar date `YYYY-MM-DD` of an ISO 8601 date or date-time, or of an RFC 2822 date
    (feeds and mail write those); None when `value` is not a real date.

    A date-time keeps the day as written in its own time zone: the publisher's day.
    """
    text = field_text(value)
    if text is None:
        return None
    if match := _ISO_DATE.fullmatch(text):
        year, month, day = (int(part) for part in match.group(1, 2, 3))
        hour, minute, second = (int(part or 0) for part in match.group(4, 5, 6))
        try:
            day_of = date(year, month, day)
            datetime(year, month, day, hour, minute, second)  # 25:61 is no time
        except ValueError:
            return None
        return day_of.isoformat()
    try:
        return parsedate_to_datetime(text).date().isoformat()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def web_url(value: str | None) -> str | None:
    """`value` if it is an absolute http(s) URL with a host (never `javascript:` or a relative path)."""
    text = field_text(value)
    if text is None or len(text) > MAX_URL_CHARS or any(char.isspace() for char in text):
        return None
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    return text if parts.scheme.lower() in ("http", "https") and parts.hostname else None


def language_tag(value: str | None) -> str | None:
    """A BCP 47 language tag, primary subtag in lower case (`fr`, `fr-FR`, `en-GB`); None if not one."""
    text = field_text(value)
    if text is None or not _LANGUAGE_TAG.fullmatch(text):
        return None
    primary, *rest = re.split(r"[-_]", text)
    return "-".join([primary.lower(), *(part.upper() if len(part) == 2 else part for part in rest)])


def field_text(value: str | None) -> str | None:
    """`value` NFC, whitespace runs collapsed, stripped; None when nothing is left."""
    if value is None:
        return None
    text = " ".join(unicodedata.normalize("NFC", value).split())
    return text or None
