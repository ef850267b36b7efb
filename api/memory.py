"""glibc's allocator in a long-running threaded server: few arenas, and free pages handed back after writes.

By default glibc gives each thread that allocates concurrently its own arena, up to eight per core. A
write's temporary arrays (chunking, embedding, a merged segment) then leave free pages in whichever
arena served it, kept for reuse rather than returned, and the server's resident memory climbs under
write load although nothing leaks: `python bench/load.py` prints its RSS every 30 s. Outside glibc
(musl, macOS) both calls do nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from functools import cache

log = logging.getLogger(__name__)

_M_ARENA_MAX = -8  # mallopt's parameter number, from glibc's malloc.h
ARENAS = 2  # one per core of the machines this runs on; measured in README "Load"


@cache
def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Cap the allocator's arenas; call it before the server starts its threads. True when it applied."""
    libc = _glibc()
    applied = bool(libc is not None and libc.mallopt(_M_ARENA_MAX, arenas) == 1)
    if not applied:
        log.info("malloc arenas not limited (not glibc)")
    return applied


def release_free_memory() -> None:
    """Hand the allocator's free pages back to the system, after a write freed its temporary arrays."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
