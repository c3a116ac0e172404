"""The lab's cache directory: layout, lock, pruning.

    <root>/apt/            private apt lists and configuration (aptrepo)
    <root>/debs/           kernel .debs
    <root>/debootstrap/    .debs debootstrap downloaded (--cache-dir)
    <root>/wheels/         dependency wheels for the guest's Python
    <root>/base/<key>/     built base images: vmlinuz, rootfs.cpio, manifest.json
    <root>/layers/<key>.cpio  project layers
    <root>/logs/           build logs
    <root>/accel.json      whether KVM boots here (decided by a real boot)

`<root>` is $RKMP_VMLAB_CACHE or /var/tmp/rkmp-vmlab. Deleting it only
costs a cold build. Builds hold an exclusive flock on <root>/lock, so two
test runs on one machine never build into each other.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from integration.vmlab.config import cache_root

KEEP_BASES = 2
KEEP_LAYERS = 4
KEEP_LOGS = 20


class LabCache:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root if root is not None else cache_root()
        self.apt = self.root / "apt"
        self.debs = self.root / "debs"
        self.debootstrap_debs = self.root / "debootstrap"
        self.wheels = self.root / "wheels"
        self.bases = self.root / "base"
        self.layers = self.root / "layers"
        self.logs = self.root / "logs"
        self.accel_file = self.root / "accel.json"

    def prepare(self) -> None:
        for path in (self.root, self.bases, self.layers, self.logs):
            path.mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive while building; other runs wait here."""
        self.prepare()
        with (self.root / "lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def new_log(self, what: str) -> Path:
        self.prepare()
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = self.logs / f"{stamp}-{os.getpid()}-{what}.log"
        path.touch()
        return path

    def work_dir(self) -> Path:
        """A scratch directory for one build (same file system as the images)."""
        return self.root / f"work-{os.getpid()}"

    def stale_work_dirs(self) -> list[Path]:
        """work-<pid> directories whose builder process is gone."""
        stale: list[Path] = []
        for path in self.root.glob("work-*"):
            pid = path.name.removeprefix("work-")
            if pid.isdigit() and not _alive(int(pid)):
                stale.append(path)
        return stale

    def prune(self) -> None:
        """Keep the newest few images, layers and logs."""
        _keep_newest([p for p in self.bases.iterdir() if p.is_dir()], KEEP_BASES, tree=True)
        _keep_newest(list(self.layers.glob("*.cpio")), KEEP_LAYERS)
        _keep_newest(list(self.logs.glob("*.log")), KEEP_LOGS)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _keep_newest(paths: list[Path], keep: int, *, tree: bool = False) -> None:
    paths.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for old in paths[keep:]:
        if tree:
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)
