"""The guest kernel: unpack the backports kernel .debs, pick modules.

The kernel packages put the image beside the modules
(`usr/lib/modules/<release>/vmlinuz`, older ones in `boot/vmlinuz-*`) and
ship the build config there too, so the builder can check what the lab
relies on before booting anything.
"""

from __future__ import annotations

import fnmatch
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from integration.vmlab.errors import LabError
from integration.vmlab.proc import run_command

# What the lab exists for; a kernel without them is useless to it.
REQUIRED_CONFIG = {
    "CONFIG_TCP_AO": "y",
    "CONFIG_TCP_MD5SIG": "y",
    "CONFIG_BLK_DEV_INITRD": "y",
    "CONFIG_VETH": "m",
    "CONFIG_XFRM_USER": "m",
    "CONFIG_INET_ESP": "m",
    "CONFIG_NET_SCH_NETEM": "m",
}
EXTRACT_TIMEOUT = 300.0


@dataclass(frozen=True)
class KernelTree:
    """An unpacked kernel: release name, image, and its modules directory."""

    release: str
    vmlinuz: Path
    modules: Path  # .../lib/modules/<release>

    def config(self) -> dict[str, str]:
        values: dict[str, str] = {}
        path = self.modules / "config"
        if not path.exists():
            return values
        for line in path.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and key.startswith("CONFIG_"):
                values[key] = value
        return values


def extract_kernel(debs: Iterable[Path], dest: Path, log: Path) -> KernelTree:
    """Unpack the kernel .debs into `dest`; check the config the lab needs."""
    dest.mkdir(parents=True, exist_ok=True)
    for deb in debs:
        run_command(["dpkg-deb", "-x", str(deb), str(dest)], log=log, timeout=EXTRACT_TIMEOUT)
    module_dirs = sorted((dest / "usr/lib/modules").glob("*/kernel"))
    if len(module_dirs) != 1:
        raise LabError(f"expected one kernel's modules in {dest}, found {module_dirs}")
    modules = module_dirs[0].parent
    candidates = [modules / "vmlinuz", *sorted((dest / "boot").glob("vmlinuz-*"))]
    vmlinuz = next((c for c in candidates if c.is_file()), None)
    if vmlinuz is None:
        raise LabError(f"no vmlinuz in the kernel packages ({dest})")
    tree = KernelTree(release=modules.name, vmlinuz=vmlinuz, modules=modules)
    config = tree.config()
    wrong = {k: config.get(k) for k, v in REQUIRED_CONFIG.items() if config.get(k) != v}
    if wrong:
        raise LabError(f"kernel {tree.release} lacks what the lab needs: {wrong}")
    return tree


def parse_modules_dep(text: str) -> dict[str, list[str]]:
    """modules.dep: module path -> the paths it needs (relative to the release dir)."""
    deps: dict[str, list[str]] = {}
    for line in text.splitlines():
        module, sep, needed = line.partition(":")
        if sep:
            deps[module.strip()] = needed.split()
    return deps


def select_modules(
    all_modules: Iterable[str],
    deps: dict[str, list[str]],
    dirs: Sequence[str],
    globs: Sequence[str],
) -> set[str]:
    """Modules under `dirs` or matching `globs` (`*` stays within one
    directory), closed over their dependencies."""
    chosen = {
        m
        for m in all_modules
        if any(m.startswith(d.rstrip("/") + "/") for d in dirs)
        or any(m.count("/") == g.count("/") and fnmatch.fnmatch(m, g) for g in globs)
    }
    pending = list(chosen)
    while pending:
        for needed in deps.get(pending.pop(), []):
            if needed not in chosen:
                chosen.add(needed)
                pending.append(needed)
    return chosen


def prune_modules(release_dir: Path, keep: set[str]) -> int:
    """Delete every module file under `release_dir` not in `keep`; count them."""
    removed = 0
    for path in list((release_dir / "kernel").rglob("*.ko*")):
        if str(path.relative_to(release_dir)) not in keep:
            path.unlink()
            removed += 1
    for directory in sorted((release_dir / "kernel").rglob("*"), reverse=True):
        if directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()
    return removed


def install_modules(
    tree: KernelTree, root: Path, dirs: Sequence[str], globs: Sequence[str], log: Path
) -> int:
    """Copy the kernel's modules into rootfs `root`, keep the chosen ones
    and what they need, and index them with the guest's own depmod.
    Returns how many modules the guest has."""
    target = root / "usr/lib/modules" / tree.release
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(tree.modules, target, symlinks=True)
    for unused in ("vmlinuz", "System.map"):  # the image boots from outside
        (target / unused).unlink(missing_ok=True)
    run_command(["chroot", str(root), "depmod", tree.release], log=log, timeout=EXTRACT_TIMEOUT)
    deps = parse_modules_dep((target / "modules.dep").read_text())
    keep = select_modules(deps.keys(), deps, dirs, globs)
    prune_modules(target, keep)
    run_command(["chroot", str(root), "depmod", tree.release], log=log, timeout=EXTRACT_TIMEOUT)
    return len(parse_modules_dep((target / "modules.dep").read_text()))
