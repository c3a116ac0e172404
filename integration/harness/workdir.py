"""Short, unique temporary directories (unix socket paths must stay short)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

# Set RKMP_KEEP_WORKDIR=1 to keep logs, configs and captures for debugging.
KEEP_ENV = "RKMP_KEEP_WORKDIR"


def make_work_dir(tag: str) -> Path:
    """/tmp/rkmpt-<pid>-<tag>-<random>: unique per call, short enough for
    AF_UNIX paths below it (108 octets)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", tag)[:24]
    return Path(tempfile.mkdtemp(prefix=f"rkmpt-{os.getpid()}-{safe}-", dir="/tmp"))


def remove_work_dir(path: Path) -> None:
    if os.environ.get(KEEP_ENV):
        print(f"keeping {path} ({KEEP_ENV} is set)")
        return
    shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def work_dir(tag: str) -> Iterator[Path]:
    path = make_work_dir(tag)
    try:
        yield path
    finally:
        remove_work_dir(path)
