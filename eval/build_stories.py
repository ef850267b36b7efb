"""Build the stories corpus (`tests/fixtures/stories/stories.jsonl`) from the seeds: one story told by
several outlets, copies with light rewrites, and variants with one figure changed.

News repeats itself and sometimes contradicts itself; the seeds alone do only the first (seeds 001 and
002 tell Amazon's 2025 plan in different words). This corpus adds, deterministically:
  - rewrites: paragraphs reordered, a new headline, a sentence added, under another outlet and date;
  - variants: the same article with one figure changed, under a third outlet and a later date.
Run from the repo root: `.venv/bin/python eval/build_stories.py` (`--check`: fail if out of date).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "tests" / "fixtures" / "stories" / "stories.jsonl"

sys.path.insert(0, str(ROOT))
from rag.documents import Document, load_documents  # noqa: E402


@dataclass(frozen=True)
class Edition:
    """One article of the corpus: a seed as an outlet published it, maybe rewritten or with a figure changed."""

    doc_id: str
    seed: str  # the seed file's stem
    source: str
    date: str
    headline: str | None = None  # a rewrite: this headline, paragraphs reordered, `added` appended
    added: str | None = None
    changed: tuple[str, str] | None = None  # a variant: this figure replaced everywhere


EDITIONS = (
    Edition("openai-aws-journal-cloud", "003_d80e80294214e752", "Le Journal du Cloud", "2025-11-04"),
    Edition(
        "openai-aws-fil-eco", "003_d80e80294214e752", "Le Fil Éco", "2025-11-05",
        headline="Accord géant entre OpenAI et Amazon Web Services",
        added="La rédaction reviendra sur les détails de cet accord dans une prochaine édition.",
    ),
    Edition(
        "openai-aws-cloud-hebdo", "003_d80e80294214e752", "Cloud Hebdo", "2025-11-06",
        changed=("38 milliards", "45 milliards"),
    ),
    Edition("amazon-2025-tech-quotidien", "001_1cddb5f53556681f", "Tech Quotidien", "2025-02-10"),
    Edition("amazon-2025-echo-reseaux", "002_3e161429ba25c3db", "L'Écho des Réseaux", "2025-02-11"),
    Edition(
        "amazon-2025-agence-eco", "002_3e161429ba25c3db", "Agence Éco", "2025-02-11",
        headline="Amazon maintient le cap de ses investissements dans l'IA",
        added="Le groupe n'a pas souhaité commenter ces chiffres auprès de notre agence.",
    ),
    Edition("aws-croissance-les-affaires", "000_127e0ac6955dbf7b", "Les Affaires", "2025-10-31"),
    Edition(
        "aws-croissance-datacenter-mag", "000_127e0ac6955dbf7b", "Datacenter Mag", "2025-11-02",
        changed=("33,1 milliards", "36,4 milliards"),
    ),
    Edition("trainium-veille-ia", "004_872041e8ade15181", "Veille IA", "2025-11-10"),
)


def edition_text(edition: Edition, seed: Document) -> tuple[str, str]:
    """The edition's title and text."""
    title, text = seed.title, seed.text
    if edition.changed is not None:
        before, after = edition.changed
        if before not in text:
            raise SystemExit(f"{edition.doc_id}: {before!r} is not in seed {edition.seed}")
        return title.replace(before, after), text.replace(before, after)
    if edition.headline is not None:
        paragraphs = [paragraph for paragraph in text.split("\n\n") if paragraph.strip()]
        lead, rest = paragraphs[0], paragraphs[1:]
        reordered = [lead, *rest[1::2], *rest[0::2]]  # the lead stays, the body is shuffled
        return edition.headline, "\n\n".join([*reordered, edition.added or ""]).strip()
    return title, text


def render(seeds: dict[str, Document]) -> str:
    lines = []
    for edition in EDITIONS:
        title, text = edition_text(edition, seeds[edition.seed])
        record = {"id": edition.doc_id, "title": title, "text": text, "date": edition.date, "source": edition.source,
                  "url": f"https://{edition.doc_id.split('-')[-1]}.example/{edition.doc_id}", "language": "fr"}
        lines.append(json.dumps(record, ensure_ascii=False))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the corpus is out of date; write nothing")
    args = parser.parse_args(argv)
    seeds = {document.doc_id: document for document in load_documents([ROOT / "seeds"])}
    text = render(seeds)
    if args.check:
        if not OUTPUT.exists() or OUTPUT.read_text(encoding="utf-8") != text:
            sys.stderr.write(f"{OUTPUT.relative_to(ROOT)} is out of date: run python eval/build_stories.py\n")
            return 1
        return 0
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text, encoding="utf-8")
    sys.stdout.write(f"{len(EDITIONS)} articles written to {OUTPUT.relative_to(ROOT)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
