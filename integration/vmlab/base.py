"""The cached base image: Debian kernel + trixie rootfs + dependency venv.

Its key is a hash of everything it is made of: the backports kernel
packages (names, versions, archive SHA-256), the versions of the guest's
Debian packages, the Date of trixie's InRelease (a point release changes
dependencies too), the dependency wheels (SHA-256), and the source of the
modules that build it. The project's own code is not in it (see `layer`),
so a commit does not rebuild it.

Resolving the inputs needs the registries (apt lists, pip's index). When
they cannot be reached but an image was built before, the newest one is
used and the run says so; with none, the lab is unavailable.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from integration.vmlab import aptrepo, config, cpio, kernel, rootfs, wheels
from integration.vmlab.aptrepo import DebPackage, PrivateApt
from integration.vmlab.cache import LabCache
from integration.vmlab.errors import LabError, LabUnavailable
from integration.vmlab.proc import Progress

VMLAB_DIR = Path(__file__).parent
# The modules whose code decides what goes into the base image.
BUILDER_SOURCES = (
    "aptrepo.py", "base.py", "cache.py", "config.py", "cpio.py", "kernel.py",
    "proc.py", "rootfs.py", "wheels.py",
)  # fmt: skip
MANIFEST = "manifest.json"
GUEST_MANIFEST = "opt/rkmp/base.json"  # the same facts, readable in the guest


def builder_digest() -> str:
    digest = hashlib.sha256()
    for name in BUILDER_SOURCES:
        digest.update(name.encode() + b"\0" + (VMLAB_DIR / name).read_bytes())
    return digest.hexdigest()


def python_minor(debian_version: str) -> str:
    """ "3.13" from the python3 package version "3.13.5-1"."""
    parts = debian_version.split(":")[-1].split(".")
    return f"{parts[0]}.{parts[1]}"


@dataclass(frozen=True)
class BaseInputs:
    """What a base image is made of; `key` names the image."""

    mirror: str
    kernel: tuple[DebPackage, ...]
    packages: tuple[DebPackage, ...]
    suite_date: str
    python_version: str
    requirements: tuple[str, ...]
    wheels: tuple[wheels.Wheel, ...]
    builder: str

    def key_material(self) -> dict[str, Any]:
        return {
            "kernel": [[p.name, p.version, p.sha256] for p in self.kernel],
            "packages": [[p.name, p.version] for p in self.packages],
            "suite_date": self.suite_date,
            "python": self.python_version,
            "requirements": list(self.requirements),
            "wheels": [[w.name, w.sha256] for w in self.wheels],
            "builder": self.builder,
        }

    def key(self) -> str:
        material = json.dumps(self.key_material(), sort_keys=True).encode()
        return hashlib.sha256(material).hexdigest()[:20]


@dataclass(frozen=True)
class BaseImage:
    key: str
    directory: Path
    manifest: Mapping[str, Any]

    @property
    def vmlinuz(self) -> Path:
        return self.directory / "vmlinuz"

    @property
    def initrd(self) -> Path:
        return self.directory / "rootfs.cpio"

    @property
    def python_version(self) -> str:
        return str(self.manifest["python"])

    @classmethod
    def load(cls, directory: Path) -> BaseImage:
        manifest = json.loads((directory / MANIFEST).read_text())
        image = cls(key=directory.name, directory=directory, manifest=manifest)
        if not (image.vmlinuz.is_file() and image.initrd.is_file()):
            raise LabError(f"incomplete base image {directory}")
        return image


def resolve_inputs(cache: LabCache, project_root: Path, log: Path) -> BaseInputs:
    """Ask the registries what the image would be made of today."""
    mirror = aptrepo.host_debian_mirror()
    apt = PrivateApt(cache.apt, mirror, log)
    apt.update()
    packages = apt.packages([f"{name}/{config.SUITE}" for name in config.GUEST_PACKAGES])
    python3 = next(p for p in packages if p.name == "python3")
    python_version = python_minor(python3.version)
    requirements = tuple(wheels.project_requirements(project_root))
    return BaseInputs(
        mirror=mirror,
        kernel=aptrepo.resolve_kernel(apt),
        packages=packages,
        suite_date=apt.suite_date(config.SUITE),
        python_version=python_version,
        requirements=requirements,
        wheels=wheels.download_wheels(requirements, python_version, cache.wheels, log),
        builder=builder_digest(),
    )


def newest_base(cache: LabCache) -> BaseImage | None:
    if not cache.bases.is_dir():
        return None
    candidates = sorted(
        (p for p in cache.bases.iterdir() if (p / MANIFEST).is_file()),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    return BaseImage.load(candidates[0]) if candidates else None


def build_base(inputs: BaseInputs, cache: LabCache, log: Path, progress: Progress) -> BaseImage:
    """Build the image for `inputs` into the cache (caller holds the lock)."""
    started = time.monotonic()
    for stale in cache.stale_work_dirs():
        rootfs.remove_tree(stale)
    work = cache.work_dir()
    rootfs.remove_tree(work)
    work.mkdir(parents=True)
    try:
        progress(f"kernel {inputs.kernel[0].version} from {config.BACKPORTS}")
        apt = PrivateApt(cache.apt, inputs.mirror, log)
        debs = apt.download(inputs.kernel, cache.debs)
        tree = kernel.extract_kernel(debs, work / "kernel", log)
        root = work / "rootfs"
        progress(f"debootstrap {config.SUITE} minbase + {', '.join(config.GUEST_PACKAGES)}")
        rootfs.debootstrap(root, inputs.mirror, config.GUEST_PACKAGES, cache.debootstrap_debs,
                           log)  # fmt: skip
        found = rootfs.guest_python_version(root)
        if found != inputs.python_version:
            raise LabError(f"guest has Python {found}, wheels are for {inputs.python_version}")
        progress("kernel modules, venv with the dependency wheels, trim")
        module_count = kernel.install_modules(tree, root, config.MODULE_DIRS,
                                              config.MODULE_GLOBS, log)  # fmt: skip
        rootfs.make_venv(root, inputs.wheels, inputs.requirements, log)
        rootfs.trim(root)
        manifest = {
            **inputs.key_material(),
            "key": inputs.key(),
            "kernel_release": tree.release,
            "modules": module_count,
            "built": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        }
        (root / GUEST_MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
        out = work / "image"
        out.mkdir()
        progress("packing the initramfs")
        size = cpio.write_tree(root, out / "rootfs.cpio")
        shutil.copy2(tree.vmlinuz, out / "vmlinuz")
        manifest["initrd_octets"] = size
        manifest["build_seconds"] = round(time.monotonic() - started, 1)
        (out / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
        final = cache.bases / inputs.key()
        if final.exists():
            shutil.rmtree(final)
        out.rename(final)
    finally:
        rootfs.remove_tree(work)
    cache.prune()
    return BaseImage.load(final)


def ensure_base(cache: LabCache, project_root: Path, progress: Progress) -> tuple[BaseImage, bool]:
    """The base image for today's inputs, built if missing; (image, built)."""
    cache.prepare()
    log = cache.new_log("base")
    with cache.lock():
        try:
            inputs = resolve_inputs(cache, project_root, log)
        except LabUnavailable as exc:
            fallback = newest_base(cache)
            if fallback is None:
                raise
            progress(f"registries unreachable ({exc}); using cached base {fallback.key}")
            return fallback, False
        directory = cache.bases / inputs.key()
        if (directory / MANIFEST).is_file():
            directory.touch()  # newest-used survives pruning
            return BaseImage.load(directory), False
        progress(f"building base image {inputs.key()} (log {log})")
        return build_base(inputs, cache, log, progress), True
