"""Article extraction from saved pages, measured: trafilatura's options against the seed texts.

Run: .venv/bin/python bench/extraction.py
Each page of tests/fixtures/news holds a seed article (seeds/) inside its site's page. Per option
set: paragraph recall (the seed's paragraphs found verbatim in the extracted text, subheadings
counted apart), precision (extracted paragraphs that are the seed's), pages whose text is exactly
the seed's, metadata found (title, date, site, URL, author, language: of those the page has), and
whether the page without an article is refused.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rag.documents import Document, load_document  # noqa: E402
from rag.errors import InvalidInputError  # noqa: E402
from rag.ingest.html import EXTRACTION, read_html  # noqa: E402

PAGES = ROOT / "tests" / "fixtures" / "news"
# What each page declares (None: the page does not say), as the fixture's markup has it.
EXPECTED: dict[str, dict[str, str | None]] = {
    "openai-aws-contrat-38-milliards.html": {
        "date": "2025-11-05", "source": "La Gazette du Numérique", "author": "Camille Lefèvre", "language": "fr-FR",
        "url": "https://www.gazette-numerique.example/cloud/2025/11/05/openai-aws-contrat-38-milliards",
    },
    "aws-croissance-cloud-ia.html": {
        "date": "2025-10-31", "source": "Techcrunch", "author": "Romain Dufresne", "language": "fr",
        "url": "https://techcrunch.example/2025/10/31/aws-croissance-cloud-ia/",
    },
    "amazon-100-milliards-cloud-ia-2025.html": {
        "date": "2025-02-07", "source": None, "author": None, "language": None, "url": None,
    },
    "amazon-plan-ia-2025.html": {
        "date": "2025-02-10", "source": "L’Écho des Réseaux", "author": None, "language": "fr",
        "url": "https://www.echo-reseaux.example/actualites/lire-amazon-100-milliards-ia-2025-4512.html",
    },
}
NOT_ARTICLE = "rubrique-cloud.html"
VARIANTS: dict[str, dict[str, Any]] = {
    "trafilatura defaults (tables on)": {**EXTRACTION, "include_tables": True},
    "shipped: tables off": EXTRACTION,
    "tables off, favor_precision": {**EXTRACTION, "favor_precision": True},
    "tables off, favor_recall": {**EXTRACTION, "favor_recall": True},
    "tables off, fast (no fallback)": {**EXTRACTION, "fast": True},
}


def main() -> None:
    seeds = [load_document(path) for path in sorted((ROOT / "seeds").glob("*.txt"))]
    print(f"{'options':<34} {'recall':>6} {'(heads)':>7} {'prec.':>6} {'exact':>5} {'meta':>5} {'refused':>7}")
    for name, options in VARIANTS.items():
        found = expected = exact = heads_found = heads = fields_right = fields = 0
        kept = total = 0
        for page, metadata in EXPECTED.items():
            (document,) = read_html(PAGES / page, (PAGES / page).read_bytes(), options=options).documents
            original = _seed_of(document, seeds)
            wanted = original.text.split("\n\n")
            got = document.text.split("\n\n")
            body = [paragraph for paragraph in wanted if _is_sentence(paragraph)]
            subheads = [paragraph for paragraph in wanted if not _is_sentence(paragraph)]
            found += sum(paragraph in got for paragraph in body)
            expected += len(body)
            heads_found += sum(paragraph in got for paragraph in subheads)
            heads += len(subheads)
            kept += sum(paragraph in wanted for paragraph in got)
            total += len(got)
            exact += document.text == original.text
            for field, value in metadata.items():
                fields += 1
                fields_right += getattr(document, field) == value
        try:
            read_html(PAGES / NOT_ARTICLE, (PAGES / NOT_ARTICLE).read_bytes(), options=options)
            refused = "no"
        except InvalidInputError:
            refused = "yes"
        print(
            f"{name:<34} {found / expected:>6.3f} {f'{heads_found}/{heads}':>7} {kept / total:>6.3f} "
            f"{f'{exact}/{len(EXPECTED)}':>5} {f'{fields_right}/{fields}':>5} {refused:>7}"
        )


def _seed_of(document: Document, seeds: list[Document]) -> Document:
    """The seed whose opening sentence the extracted text holds."""
    return next(seed for seed in seeds if seed.text[:60] in document.text)


def _is_sentence(paragraph: str) -> bool:
    return paragraph.rstrip("»\" ")[-1:] in (".", "?", "!", "…")


if __name__ == "__main__":
    main()
