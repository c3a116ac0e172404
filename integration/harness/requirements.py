"""What the integration tests need from the machine, and why they skip.

Tests skip only for these reasons: not root, no network namespace support,
or a required program missing. Everything else is a failure.
"""

from __future__ import annotations

import functools
import os
import shutil
from pathlib import Path

from integration.harness.netns import create_netns, delete_netns
from integration.harness.process import run

# Where Debian (and most distributions) put charon; RKMP_CHARON overrides.
CHARON_CANDIDATES = (
    "/usr/lib/ipsec/charon",
    "/usr/libexec/ipsec/charon",
    "/usr/lib/strongswan/charon",
    "/usr/libexec/strongswan/charon",
)


@functools.cache
def netns_unavailable_reason() -> str | None:
    """None if we can create network namespaces, else why not."""
    if os.geteuid() != 0:
        return "integration tests need root (network namespaces, daemons on port 500)"
    if shutil.which("ip") is None:
        return "iproute2 `ip` not found"
    try:
        probe = create_netns("probe")
    except Exception as exc:
        return f"cannot create a network namespace: {exc}"
    delete_netns(probe)
    return None


def charon_path() -> Path | None:
    override = os.environ.get("RKMP_CHARON")
    candidates = (override,) if override else CHARON_CANDIDATES
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


def missing_programs(*names: str) -> list[str]:
    return [name for name in names if shutil.which(name) is None]


def strongswan_unavailable_reason() -> str | None:
    if charon_path() is None:
        where = os.environ.get("RKMP_CHARON") or ", ".join(CHARON_CANDIDATES)
        return f"strongSwan charon not found (looked at {where})"
    missing = missing_programs("swanctl", "dumpcap", "unshare", "mount")
    if missing:
        return f"missing programs: {', '.join(missing)}"
    return None


def tshark_unavailable_reason() -> str | None:
    missing = missing_programs("tshark")
    if missing:
        return "tshark not found"
    if run(["tshark", "--version"], check=False).returncode != 0:
        return "tshark does not run"
    return None
