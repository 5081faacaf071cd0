"""Writing files so that a reader never sees half of one: a temporary file, fsync, rename."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` in one step; ``mode`` 0o600 for secrets (readable by the owner only)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_private(path: Path, data: bytes) -> None:
    """Write secret bytes atomically, readable only by the owner."""
    write_atomic(path, data, 0o600)
