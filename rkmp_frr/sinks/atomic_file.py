"""Replacing a file all at once, so that a reader (BIRD, a restarted
rkmpd) sees the old text or the new one, never a part of either."""

from __future__ import annotations

import contextlib
import grp
import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, text: str, *, mode: int, group: str | None = None) -> None:
    """``text`` at ``path``: a temporary file beside it (``mode``, and group
    ``group`` when it exists and we may set it), fsynced, renamed over
    ``path``, then the directory fsynced so that the rename is durable."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    temporary = Path(name)
    try:
        os.fchmod(fd, mode)
        if group is not None:
            with contextlib.suppress(KeyError, PermissionError):
                os.fchown(fd, -1, grp.getgrnam(group).gr_gid)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
