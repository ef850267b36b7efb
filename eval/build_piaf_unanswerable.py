"""Build `eval/piaf_unanswerable.jsonl`: PIAF questions to ask with their whole article hidden (issue #9).

The questions are the fixed PIAF sample (`rag.evaluation.piaf.sample`, seed 0) of 200; each line holds
the question's id and text, its paragraph and the ids of every paragraph of its article, which
`rag eval --dataset piaf --unanswerable` hides from retrieval. No paragraph text is copied: PIAF is
read from /work/shared/datasets/piaf/. Run from the repo root:

    .venv/bin/python eval/build_piaf_unanswerable.py           # rebuild the set
    .venv/bin/python eval/build_piaf_unanswerable.py --check   # fail if the set is out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from rag.errors import InvalidInputError  # noqa: E402
from rag.evaluation.piaf import DEFAULT_DATASET, load_piaf  # noqa: E402
from rag.evaluation.piaf_unanswerable import DEFAULT_SET, SET_SIZE, build_set, render_set  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Build (or with --check, verify) the set; 0 when all is well, 1 on any problem."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify the set is up to date; write nothing")
    parser.add_argument("--dataset-path", type=Path, default=ROOT / DEFAULT_DATASET, help="PIAF JSON file")
    parser.add_argument("--output", type=Path, default=ROOT / DEFAULT_SET, help=f"the set (default {DEFAULT_SET})")
    parser.add_argument("--size", type=int, default=SET_SIZE, help=f"questions in the set (default {SET_SIZE})")
    args = parser.parse_args(argv)
    try:
        items = build_set(load_piaf(args.dataset_path), args.size)
    except InvalidInputError as error:
        sys.stderr.write(f"{error}\n")
        return 1
    text = render_set(items)
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            sys.stderr.write(f"{args.output} is out of date: run python eval/build_piaf_unanswerable.py\n")
            return 1
    else:
        args.output.write_text(text, encoding="utf-8")
    hidden = [len(item.excluded_doc_ids) for item in items]
    articles = len({item.excluded_doc_ids for item in items})
    sys.stdout.write(f"{len(items)} questions over {articles} articles; {min(hidden)}-{max(hidden)} paragraphs "
                     f"hidden per question ({sum(hidden) / len(hidden):.1f} on average)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
