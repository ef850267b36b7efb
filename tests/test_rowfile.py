"""Stored vectors read row by row: the same rows, values and errors as the matrix saved."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.rowfile import RowFile


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_rows_read_back_are_the_saved_ones(tmp_path: Path, dtype: type) -> None:
    matrix = np.random.default_rng(1).normal(size=(50, 8)).astype(dtype)
    np.save(tmp_path / "m.npy", matrix)
    rows = RowFile(tmp_path / "m.npy")
    assert len(rows) == 50 and rows.shape == (50, 8) and rows.dtype == dtype
    np.testing.assert_array_equal(rows[7], matrix[7])
    np.testing.assert_array_equal(rows[-1], matrix[-1])
    np.testing.assert_array_equal(rows[10:20], matrix[10:20])
    np.testing.assert_array_equal(rows[40:99], matrix[40:])
    np.testing.assert_array_equal(rows[::7], matrix[::7])
    np.testing.assert_array_equal(rows[np.array([3, 3, 49, 0])], matrix[[3, 3, 49, 0]])
    np.testing.assert_array_equal(np.asarray(rows), matrix)
    assert rows[5:5].shape == (0, 8)
    np.testing.assert_array_equal(rows.astype(np.float32), matrix.astype(np.float32))
    with pytest.raises(IndexError):
        rows[50]
    with pytest.raises(IndexError):
        rows[np.array([2, 50])]


def test_a_truncated_or_non_matrix_file_is_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "m.npy", np.ones((10, 4), np.float32))
    data = (tmp_path / "m.npy").read_bytes()
    (tmp_path / "short.npy").write_bytes(data[:-8])
    with pytest.raises(ValueError, match="shorter than its header"):
        RowFile(tmp_path / "short.npy")
    np.save(tmp_path / "flat.npy", np.ones(10, np.float32))
    with pytest.raises(ValueError, match="no row-major matrix"):
        RowFile(tmp_path / "flat.npy")
