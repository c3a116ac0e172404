"""The guest's root file system: debootstrap trixie, trim it, add a venv.

Everything runs on the host as root: debootstrap (minbase plus the lab's
packages), then `chroot` for the guest's own tools (depmod, python3 -m venv,
pip --no-index). No file system is mounted into the tree by this module;
debootstrap mounts /proc and /sys itself while it works, and
`unmount_below` clears anything a killed run left there before a tree is
deleted.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from integration.vmlab.config import GUEST_VENV, SUITE
from integration.vmlab.errors import LabError, LabUnavailable
from integration.vmlab.proc import run_command
from integration.vmlab.wheels import Wheel

DEBOOTSTRAP_TIMEOUT = 1200.0
CHROOT_TIMEOUT = 600.0
# Not needed to run anything in the guest (the image lives in its RAM).
TRIM_PATHS = (
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "usr/share/lintian",
    "usr/share/bash-completion",
    "usr/share/bug",
    "usr/share/common-licenses",
    "usr/share/zsh",
    "usr/share/python-wheels",  # only `python3 -m venv` needs them, before trim
    "var/cache/apt",
    "var/lib/apt/lists",
    "var/cache/debconf",
    "var/log",
)
# debootstrap prints these when the archive cannot be reached.
_NETWORK_FAILURES = re.compile(
    r"Failed getting release file|Couldn't download|Could not resolve|Connection refused"
    r"|Temporary failure in name resolution|Network is unreachable"
)


def mounts_below(path: Path) -> list[str]:
    """Mount points at or below `path` (deepest first), from /proc/self/mounts."""
    prefix = str(path.resolve())
    found: list[str] = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        point = line.split()[1].replace("\\040", " ")
        if point == prefix or point.startswith(prefix + "/"):
            found.append(point)
    return sorted(found, key=len, reverse=True)


def unmount_below(path: Path) -> None:
    for point in mounts_below(path):
        subprocess.run(["umount", "-l", point], check=False, timeout=60)


def remove_tree(path: Path) -> None:
    """Delete a rootfs tree, never following a mount left inside it."""
    if not path.exists():
        return
    unmount_below(path)
    if mounts_below(path):
        raise LabError(f"cannot unmount everything below {path}; not deleting it")
    shutil.rmtree(path)


def debootstrap(
    target: Path, mirror: str, packages: Sequence[str], debs_cache: Path, log: Path
) -> None:
    """debootstrap --variant=minbase SUITE into `target` (.debs kept in `debs_cache`)."""
    if shutil.which("debootstrap") is None:
        raise LabUnavailable("debootstrap not installed (Debian package debootstrap)")
    debs_cache.mkdir(parents=True, exist_ok=True)
    argv = [
        "debootstrap", "--variant=minbase", f"--include={','.join(packages)}",
        f"--cache-dir={debs_cache}", SUITE, str(target), mirror,
    ]  # fmt: skip
    try:
        run_command(argv, log=log, timeout=DEBOOTSTRAP_TIMEOUT)
    except LabError as exc:
        if _NETWORK_FAILURES.search(str(exc)) or _NETWORK_FAILURES.search(_log_tail(log)):
            raise LabUnavailable(f"debootstrap could not reach {mirror}: {exc}") from exc
        raise
    finally:
        unmount_below(target)


def _log_tail(log: Path, octets: int = 20000) -> str:
    data = log.read_bytes()
    return data[-octets:].decode(errors="replace")


def trim(root: Path) -> None:
    """Remove documentation, translations, apt's caches and logs."""
    for relative in TRIM_PATHS:
        path = root / relative
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
            path.mkdir()
    # Keep dpkg's database small too: the guest never installs anything.
    for info in (root / "var/lib/dpkg/info").glob("*.md5sums"):
        info.unlink()


def guest_python_version(root: Path) -> str:
    """ "3.13" for the guest's /usr/bin/python3."""
    target = os.readlink(root / "usr/bin/python3")
    match = re.fullmatch(r"python(\d+\.\d+)", Path(target).name)
    if match is None:
        raise LabError(f"cannot tell the guest's Python version from {target!r}")
    return match.group(1)


def make_venv(root: Path, wheels: Sequence[Wheel], requirements: Sequence[str], log: Path) -> None:
    """The guest venv at GUEST_VENV with `requirements` installed from
    `wheels` only (no index), compiled to bytecode by the guest's Python."""
    staging = root / "tmp/wheels"
    staging.mkdir(parents=True, exist_ok=True)
    for wheel in wheels:
        shutil.copy2(wheel.path, staging / wheel.name)
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    chroot = ["chroot", str(root)]
    run_command(
        [*chroot, "python3", "-m", "venv", GUEST_VENV], log=log, env=env, timeout=CHROOT_TIMEOUT
    )
    run_command(
        [*chroot, f"{GUEST_VENV}/bin/python3", "-m", "pip", "install", "-q", "--no-index",
         "--no-cache-dir", "--find-links", "/tmp/wheels", *requirements],
        log=log, env=env, timeout=CHROOT_TIMEOUT,
    )  # fmt: skip
    # pip itself is not needed in the guest: nothing is installed there later.
    run_command([*chroot, f"{GUEST_VENV}/bin/python3", "-m", "pip", "uninstall", "-q", "-y",
                 "pip"], log=log, env=env, timeout=CHROOT_TIMEOUT)  # fmt: skip
    shutil.rmtree(staging)
