"""Atomic file writes: readers see the old file or the new one, never half of one."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# tempfile creates files 0600 and folders 0700; an index should be as readable as any file
# written the ordinary way, so that another user (a service account) can serve it.
_UMASK = _umask()
FILE_MODE = 0o666 & ~_UMASK
FOLDER_MODE = 0o777 & ~_UMASK
# A complete index build is read-only (index/store.py): readable by all as above, writable by none.
SEALED_FILE_MODE = FILE_MODE & 0o444
SEALED_FOLDER_MODE = FOLDER_MODE & 0o555


def write_atomic(path: Path, write: Callable[[BinaryIO], None] | bytes) -> None:
    """Write to a temp file beside ``path``, then rename it over ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.fchmod(fd, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as f:
            if isinstance(write, bytes):
                f.write(write)
            else:
                write(f)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
