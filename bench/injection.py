"""Instructions aimed at an assistant (rag/injection.py): how many news sentences are flagged, how many attacks.

    .venv/bin/python bench/injection.py [--show] [--evidence]

News corpora (every sentence, as rag.sentences splits it): the seeds, the fixture pages, feeds and
exports, and the PIAF paragraphs (read from ../shared, when there); every flagged news sentence is a
false positive, the target is none. Hostile sets (one sentence a line, tests/fixtures/injection):
hostile.txt was written with the patterns, held_out.txt after them and never tuned on; benign.txt
holds news-like traps (reported speech, quoted imperatives). `--show` prints what was flagged (news)
or missed (hostile), with its kind.

`--evidence` (real e5, a minute or two) indexes tests/fixtures/injection/articles beside the seeds
and compares, for every answerable gold question, the passages the answer prompt gets (the `Sources`
event of the answerer, extractive: no model needed) with what the seeds alone give.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rag.answer_types import Citation, Sources  # noqa: E402
from rag.answerer import Answerer  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.corpus import Corpus  # noqa: E402
from rag.documents import Document, read_documents  # noqa: E402
from rag.embedding import Embedder  # noqa: E402
from rag.evaluation.gold import load_gold  # noqa: E402
from rag.evaluation.normalize import fact_present  # noqa: E402
from rag.evaluation.piaf import DEFAULT_DATASET, load_piaf  # noqa: E402
from rag.injection import instruction_kind, is_instruction  # noqa: E402
from rag.sentences import split_sentences  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
INJECTION = FIXTURES / "injection"


def sentences(documents: list[Document]) -> list[str]:
    """Every sentence of the documents, verbatim."""
    return [document.text[start:end] for document in documents for start, end in split_sentences(document.text)]


def lines(path: Path) -> list[str]:
    """A hand-written set: one sentence a line."""
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def evidence_table() -> None:
    """Per answerable gold question, the prompt's passages with the hostile articles indexed and without."""
    embedder = Embedder.from_settings(Settings())
    gold = [item for item in load_gold(ROOT / "eval" / "gold.jsonl") if item.answerable and not item.history]
    hostile = read_documents([INJECTION / "articles"]).documents
    hostile_ids = {document.doc_id for document in hostile}
    with tempfile.TemporaryDirectory() as folder:
        seeds = Corpus.open(Path(folder) / "seeds", embedder, missing_ok=True)
        seeds.sync_paths([ROOT / "seeds"])
        shutil.copytree(Path(folder) / "seeds", Path(folder) / "both", symlinks=True)
        both = Corpus.open(Path(folder) / "both", embedder)
        both.upsert(hostile)
        alone = [passages(seeds, item.question) for item in gold]
        beside = [passages(both, item.question) for item in gold]
    print(f"\n{len(gold)} answerable gold questions; the prompt's passages (extractive answerer, same path)")
    print(f"{'passages from':<26} {'same as seeds':>13} {'hostile doc':>11} {'instruction':>11} {'every fact':>10}")
    for name, found in (("seeds alone", alone), ("seeds + hostile articles", beside)):
        same = sum(spans(mine) == spans(base) for mine, base in zip(found, alone))
        hostile_doc = sum(any(citation.doc_id in hostile_ids for citation in mine) for mine in found)
        instruction = sum(any(is_instruction(citation.snippet) for citation in mine) for mine in found)
        facts = sum(
            all(fact_present(forms, " ".join(citation.snippet for citation in mine)) for forms in item.facts)
            for item, mine in zip(gold, found)
        )
        print(f"{name:<26} {same:>13} {hostile_doc:>11} {instruction:>11} {facts:>10}")


def passages(corpus: Corpus, question: str) -> list[Citation]:
    """The passages the answer prompt gets for `question` (the `Sources` event), as the answerer picks them."""
    events = Answerer(corpus, None, max_tokens=1).stream(question)
    return next(event for event in events if isinstance(event, Sources)).passages


def spans(citations: list[Citation]) -> list[tuple[str, int]]:
    return [(citation.doc_id, citation.start) for citation in citations]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", action="store_true", help="print flagged news and missed hostile sentences")
    parser.add_argument("--evidence", action="store_true", help="also compare gold evidence with hostile articles")
    args = parser.parse_args()
    news = {
        "seeds": sentences(read_documents([ROOT / "seeds"]).documents),
        "fixtures (news, feeds, exports)": sentences(
            read_documents([FIXTURES / name for name in ("news", "feeds", "exports")]).documents
        ),
    }
    if (piaf := ROOT / DEFAULT_DATASET).exists():
        news["PIAF paragraphs"] = sentences(list(load_piaf(piaf).documents))
    news["benign traps (benign.txt)"] = lines(INJECTION / "benign.txt")
    hostile = {
        "hostile (hostile.txt)": lines(INJECTION / "hostile.txt"),
        "held out (held_out.txt)": lines(INJECTION / "held_out.txt"),
    }
    print(f"{'corpus':<34} {'sentences':>9} {'flagged':>8}")
    for name, texts in {**news, **hostile}.items():
        kinds = [instruction_kind(text) for text in texts]
        print(f"{name:<34} {len(texts):>9} {sum(kind is not None for kind in kinds):>8}")
        if args.show:
            shown = [(kind, text) for kind, text in zip(kinds, texts) if (kind is None) == (name in hostile)]
            for kind, text in shown:
                print(f"    {kind or 'missed'}: {text}")
    if args.evidence:
        evidence_table()


if __name__ == "__main__":
    main()
