"""Rows of a large ``.npy`` file read when asked for, not loaded.

A million passages hold ~5 million sentence vectors (9.8 GB as float32); a question needs the
few hundred of its candidates. Rows are read with ``os.pread`` (not a memory map: a map of a file
that shrinks under a running server kills it), and a short read is IndexCorrupt naming the file.
"""
from __future__ import annotations

import os
import weakref
from pathlib import Path

import numpy as np


class NpyRows:
    """A 2-d ``.npy`` file indexed like the array it holds (``rows[k]``, ``rows[a:b]``, ``len``, ``shape``)."""

    def __init__(self, path: Path):
        with path.open("rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read_header(f)
            offset = f.tell()
        if fortran or len(shape) != 2 or dtype.hasobject:
            raise ValueError(f"{path} is not a C-ordered 2-d array of numbers")
        self.path, self.shape, self.dtype, self._offset = path, shape, dtype, offset
        self._width = shape[1] * dtype.itemsize
        self._fd = os.open(path, os.O_RDONLY)  # kept open: a build removed while served stays readable
        weakref.finalize(self, os.close, self._fd)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: int | slice) -> np.ndarray:
        if isinstance(key, slice):
            first, end, step = key.indices(len(self))
            if step != 1:
                raise IndexError("NpyRows reads runs of rows, step 1")
            return self._read(first, max(first, end))
        k = int(key) + (len(self) if key < 0 else 0)
        if not 0 <= k < len(self):
            raise IndexError(f"row {key} of {len(self)}")
        return self._read(k, k + 1)[0]

    def _read(self, first: int, end: int) -> np.ndarray:
        data = read_exactly(self._fd, self.path, (end - first) * self._width, self._offset + first * self._width, f"row {end}")
        return np.frombuffer(data, self.dtype).reshape(end - first, self.shape[1])


def read_exactly(fd: int, path: Path, size: int, offset: int, what: str) -> bytes:
    """``size`` bytes at ``offset``: a file cut short under a running process is IndexCorrupt, not a crash."""
    from index.store import IndexCorrupt  # index/store.py imports the readers

    parts = []
    try:
        while size:
            data = os.pread(fd, size, offset)
            if not data:
                break
            parts.append(data)
            offset, size = offset + len(data), size - len(data)
    except OSError as e:
        raise IndexCorrupt(path, f"cannot be read ({e})") from None
    if size:
        raise IndexCorrupt(path, f"ends before {what} (truncated or altered)")
    return b"".join(parts)
