"""The server's allocator setting: applied on glibc (this project's Linux and Docker image)."""

from __future__ import annotations

import platform

import pytest

from api.memory import limit_arenas


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_malloc_arenas_are_limited_on_glibc() -> None:
    assert limit_arenas()
