"""The TCP-MD5 kernel check after a BGP key apply (issue 6), shared by the
FRR and BIRD appliers: the daemon replaces its sessions some time after a
password change, so the check is repeated until it passes or a window
ends."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from rkmp_frr.daemon.kernel_check import KernelCheckError, Md5CheckResult, check_md5_async

KERNEL_CHECK_INTERVAL = 0.25

Md5Checker = Callable[[str, bytes], Awaitable[Md5CheckResult]]
Sleep = Callable[[float], Awaitable[None]]


async def default_md5_check(neighbor: str, key: bytes) -> Md5CheckResult:
    """The sock_diag check in this process's network namespace."""
    return await check_md5_async(neighbor, key)


async def md5_problem(
    checker: Md5Checker, neighbor: str, key: bytes, window: float, sleep: Sleep
) -> str | None:
    """None once the kernel shows ``key`` on the sockets for ``neighbor``;
    else, when ``window`` seconds have passed, a one-line reason (never the
    key)."""
    deadline = time.monotonic() + window
    while True:
        try:
            result = await checker(neighbor, key)
        except (KernelCheckError, ValueError) as exc:
            return f"TCP-MD5 key for {neighbor}: kernel check failed: {exc}"
        if result.ok:
            return None
        if time.monotonic() >= deadline:
            return result.describe()
        await sleep(KERNEL_CHECK_INTERVAL)
