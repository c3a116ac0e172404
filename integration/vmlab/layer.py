"""The project layer: a small cpio laid over the base image at boot.

It holds what changes with every commit: /init, the project's wheel
unpacked into the guest venv (plus its console scripts: rkmpd, rkmpctl...),
and the `integration` package with the guest runner and the scenarios
under /opt/rkmp/src (with templates/, hooks/, etc/ beside it). The kernel
unpacks it after the base archive, so its files win. Its key is a hash of
the project's files and the base image's key; building one takes seconds.
"""

from __future__ import annotations

import hashlib
import shutil
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from integration.vmlab import cpio, wheels
from integration.vmlab.base import BaseImage
from integration.vmlab.cache import LabCache
from integration.vmlab.config import GUEST_SRC, GUEST_VENV, PROJECT_LAYER_DIRS
from integration.vmlab.proc import Progress

INIT_SCRIPT = Path(__file__).parent / "guest" / "init.sh"
SKIP_PARTS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis"}


@dataclass(frozen=True)
class ProjectLayer:
    key: str
    path: Path


def _project_files(project_root: Path) -> Iterator[Path]:
    for name in wheels.PROJECT_FILES:
        yield project_root / name
    for top in (wheels.PROJECT_PACKAGE, *PROJECT_LAYER_DIRS):
        directory = project_root / top
        if not directory.is_dir():
            continue
        for path in sorted(directory.rglob("*")):
            relative = path.relative_to(project_root)
            if (
                path.is_file()
                and not SKIP_PARTS.intersection(relative.parts)
                and (path.suffix not in (".pyc", ".pyo"))
            ):
                yield path


def layer_key(project_root: Path, base: BaseImage) -> str:
    digest = hashlib.sha256(base.key.encode() + b"\0")
    digest.update(Path(__file__).read_bytes())
    for path in _project_files(project_root):
        digest.update(str(path.relative_to(project_root)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


def _stage(project_root: Path, base: BaseImage, stage: Path, log: Path) -> None:
    site_packages = stage / GUEST_VENV.lstrip("/") / "lib" / f"python{base.python_version}"
    site_packages = site_packages / "site-packages"
    site_packages.mkdir(parents=True)
    wheel = wheels.build_project_wheel(project_root, stage.parent / "wheel", log)
    wheels.install_wheel(wheel, site_packages, stage / GUEST_VENV.lstrip("/") / "bin",
                         f"{GUEST_VENV}/bin/python3")  # fmt: skip
    src = stage / GUEST_SRC.lstrip("/")
    src.mkdir(parents=True)
    for path in _project_files(project_root):
        relative = path.relative_to(project_root)
        if relative.parts[0] in PROJECT_LAYER_DIRS:
            target = src / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    shutil.copy2(INIT_SCRIPT, stage / "init")
    (stage / "init").chmod(0o755)


def _write_layer(stage: Path, output: Path) -> None:
    """The staged tree as root-owned entries (whoever owns the checkout)."""
    with output.open("wb") as stream:
        writer = cpio.CpioWriter(stream)
        for name, path in cpio.walk(stage):
            st = path.lstat()
            mode = stat.S_IMODE(st.st_mode)
            if path.is_dir():
                writer.add_directory(name, mode)
            else:
                writer.add_bytes(name, path.read_bytes(), mode)
        writer.close()


def ensure_layer(
    cache: LabCache, base: BaseImage, project_root: Path, progress: Progress
) -> ProjectLayer:
    """The layer for the project as it is now, built if missing."""
    key = layer_key(project_root, base)
    path = cache.layers / f"{key}.cpio"
    with cache.lock():
        if path.is_file():
            path.touch()
            return ProjectLayer(key, path)
        progress(f"building project layer {key}")
        _build(project_root, base, path, cache.new_log("layer"))
        cache.prune()
    return ProjectLayer(key, path)


def _build(project_root: Path, base: BaseImage, path: Path, log: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="rkmp-vmlab-layer-") as tmp:
        stage = Path(tmp) / "stage"
        stage.mkdir()
        _stage(project_root, base, stage, log)
        partial = path.with_name(path.name + ".partial")
        _write_layer(stage, partial)
        partial.rename(path)
