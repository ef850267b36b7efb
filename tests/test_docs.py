"""Every setting is documented in the README, so a new setting cannot ship undocumented."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.config import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_setting_is_in_the_readme_table(name):
    assert f"| `RAG_{name.upper()}` |" in README
