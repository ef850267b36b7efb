"""A matrix saved as .npy and read row by row from disk: what searches read of the stored vectors.

Searches read a few hundred scattered rows of files that reach gigabytes at a million chunks (chunk
vectors to re-score an 8-bit graph's candidates, sentence vectors to score the candidates' sentences).
Memory-mapped, every page a search touched, with its neighbours, stayed mapped into the process: after
200 queries 3.5 GB of the 4.9 GB of vector files counted as the server's resident memory
(`python bench/million.py`). Read with `pread`, the rows land in the kernel's page cache, which it
shares and reclaims, and the process holds only the rows it asked for.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np


class RowFile:
    """The 2-D matrix of a .npy file, read on indexing (an int, a slice or an array of row numbers)."""

    def __init__(self, path: Path) -> None:
        with path.open("rb") as handle:
            version = np.lib.format.read_magic(handle)
            if version == (1, 0):
                shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(handle)
            else:
                shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(handle)
            self._offset = handle.tell()
        if len(shape) != 2 or fortran_order or dtype.hasobject:
            raise ValueError(f"{path.name} holds no row-major matrix (shape {shape})")
        self.shape: tuple[int, int] = (int(shape[0]), int(shape[1]))
        self.dtype = np.dtype(dtype)
        self.ndim = 2
        self._row_bytes = self.shape[1] * self.dtype.itemsize
        if os.path.getsize(path) < self._offset + self.shape[0] * self._row_bytes:
            raise ValueError(f"{path.name} is shorter than its header says")
        self._descriptor = os.open(path, os.O_RDONLY)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows: int | slice | np.ndarray) -> np.ndarray:
        if isinstance(rows, slice):
            start, stop, step = rows.indices(self.shape[0])
            if step == 1:
                return self._run(start, max(stop - start, 0))
            rows = np.arange(start, stop, step)
        if isinstance(rows, (int, np.integer)):
            row = int(rows) + (self.shape[0] if rows < 0 else 0)
            if not 0 <= row < self.shape[0]:
                raise IndexError(f"row {rows} of {self.shape[0]}")
            return self._run(row, 1)[0]
        wanted = np.asarray(rows, dtype=np.int64)
        if wanted.size and (wanted.min() < 0 or wanted.max() >= self.shape[0]):
            raise IndexError(f"rows outside 0..{self.shape[0] - 1}")
        matrix = np.empty((len(wanted), self.shape[1]), dtype=self.dtype)
        for position, row in enumerate(wanted):
            matrix[position] = self._run(int(row), 1)[0]
        return matrix

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        whole = self._run(0, self.shape[0])
        return whole if dtype is None else whole.astype(dtype)

    def astype(self, dtype: Any) -> np.ndarray:
        return np.asarray(self).astype(dtype)

    def __del__(self) -> None:
        descriptor = getattr(self, "_descriptor", None)
        if descriptor is not None:
            os.close(descriptor)

    def _run(self, start: int, count: int) -> np.ndarray:
        """`count` consecutive rows from `start` (one read, or several for more than a read returns)."""
        matrix = np.empty((count, self.shape[1]), dtype=self.dtype)
        buffer = matrix.reshape(-1).view(np.uint8).data  # the bytes of `matrix`, which the reads fill
        done, position = 0, self._offset + start * self._row_bytes
        while done < len(buffer):
            read = os.preadv(self._descriptor, [buffer[done:]], position + done)
            if read == 0:
                raise OSError(f"the vector file ended {len(buffer) - done} bytes early")
            done += read
        return matrix
