"""The README and index/README.md keep up with the code: routes, commands, settings, refusals, index files."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.app import create_app
from api.cli import build_parser
from rag.answer_types import ABSTAIN_REASONS
from rag.config import Settings
from rag.documents import Document
from rag.indexing import Indexer
from rag.store import save_index

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
INDEX_README = (ROOT / "index" / "README.md").read_text(encoding="utf-8")


def _routes() -> list[str]:
    """Every operation of the OpenAPI schema, as "METHOD /path"."""
    paths = create_app(Settings()).openapi()["paths"]
    return sorted(f"{method.upper()} {path}" for path, operations in paths.items() for method in operations)


def _subcommands() -> list[str]:
    parser = build_parser()
    commands = next(action for action in parser._actions if action.dest == "command")
    return sorted(commands.choices)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_setting_is_in_the_readme_table(name):
    assert f"| `RAG_{name.upper()}` |" in README


@pytest.mark.parametrize("route", _routes())
def test_route_is_in_the_readme(route):
    assert f"`{route}`" in README


@pytest.mark.parametrize("command", _subcommands())
def test_cli_subcommand_is_in_the_readme(command):
    assert f"rag {command}" in README


@pytest.mark.parametrize("reason", ABSTAIN_REASONS)
def test_abstain_reason_is_explained_in_the_readme(reason):
    assert f"`{reason}`" in README


def test_index_readme_lists_every_file_the_store_writes(tmp_path, keyword_embedder):
    indexer = Indexer(keyword_embedder)
    index, _ = indexer.upsert(indexer.empty(), [Document("cloud", "Cloud", "AWS investit dans le cloud.")], "api")
    generation = save_index(index, tmp_path)
    segment = tmp_path / "segments" / index.manifest.segments[0]
    written = sorted(path.name for path in [*generation.iterdir(), *segment.iterdir()])
    missing = [name for name in written if f"{name}" not in INDEX_README]
    assert not missing, f"index/README.md does not describe {missing}"
