"""Network namespaces and veth links for tests.

Names carry a fixed prefix, the test run's PID and a random suffix, so runs
in parallel on one machine never collide, and a namespace left behind by a
run that was killed can be recognised (its PID is gone) and removed.
Interfaces are created directly inside their namespaces, so their names
(`veth0`) never touch the host's namespace. Addresses are test-only ranges
(10.0.0.0/8, fd00::/8) that exist only inside these namespaces.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from integration.harness.process import HarnessError, run

NAME_PREFIX = "rkmpt"
NETNS_RUN_DIR = Path("/run/netns")
DEFAULT_IFNAME = "veth0"


def unique_netns_name(role: str) -> str:
    """`rkmpt-<pid>-<random>-<role>`: unique per run and per call."""
    return f"{NAME_PREFIX}-{os.getpid()}-{secrets.token_hex(3)}-{role}"


def _owner_pid(name: str) -> int | None:
    parts = name.split("-")
    if len(parts) < 3 or parts[0] != NAME_PREFIX or not parts[1].isdigit():
        return None
    return int(parts[1])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_namespaces() -> list[str]:
    """Delete namespaces this harness made in runs whose process is gone.

    Only names with our prefix and a dead owner PID are touched. Processes
    still inside such a namespace are left alone (we did not start them in
    this run); the namespace then lives on until they exit.
    """
    removed: list[str] = []
    if not NETNS_RUN_DIR.is_dir():
        return removed
    for entry in NETNS_RUN_DIR.iterdir():
        owner = _owner_pid(entry.name)
        if owner is None or owner == os.getpid() or _pid_alive(owner):
            continue
        if run(["ip", "netns", "delete", entry.name], check=False).returncode == 0:
            removed.append(entry.name)
    return removed


@dataclass(frozen=True, slots=True)
class NetNs:
    """A named network namespace; `run`/`argv` execute inside it."""

    name: str

    def argv(self, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.name, *argv]

    def run(
        self, argv: list[str], *, check: bool = True, timeout: float = 30.0
    ) -> subprocess.CompletedProcess[str]:
        return run(argv, netns=self.name, check=check, timeout=timeout)

    def ip(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """`ip -n NAME args...` (no exec into the namespace needed)."""
        return run(["ip", "-n", self.name, *args], check=check)


def create_netns(role: str) -> NetNs:
    ns = NetNs(unique_netns_name(role))
    run(["ip", "netns", "add", ns.name])
    try:
        ns.ip("link", "set", "lo", "up")
    except HarnessError:
        delete_netns(ns)
        raise
    return ns


def delete_netns(ns: NetNs) -> None:
    """Remove the namespace name; its links go with it."""
    run(["ip", "netns", "delete", ns.name], check=False)


@dataclass
class NamespacePool:
    """Namespaces made for one test (or module); `close` removes them all."""

    namespaces: list[NetNs] = field(default_factory=list)

    def create(self, role: str) -> NetNs:
        ns = create_netns(role)
        self.namespaces.append(ns)
        return ns

    def close(self) -> None:
        while self.namespaces:
            delete_netns(self.namespaces.pop())


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One side of a link: namespace, interface name, address with prefix."""

    ns: NetNs
    ifname: str
    interface: ipaddress.IPv4Interface | ipaddress.IPv6Interface

    @property
    def address(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        return self.interface.ip


@dataclass(frozen=True, slots=True)
class Link:
    """A veth pair between two namespaces."""

    left: Endpoint
    right: Endpoint


def _configure(endpoint: Endpoint) -> None:
    extra = ["nodad"] if endpoint.interface.version == 6 else []  # usable at once
    endpoint.ns.ip("addr", "add", str(endpoint.interface), "dev", endpoint.ifname, *extra)
    endpoint.ns.ip("link", "set", endpoint.ifname, "up")


def link_veth(
    left: NetNs,
    right: NetNs,
    left_interface: str,
    right_interface: str,
    *,
    left_ifname: str = DEFAULT_IFNAME,
    right_ifname: str = DEFAULT_IFNAME,
) -> Link:
    """A veth pair created directly in both namespaces, addressed and up.

    Interfaces are like "10.250.0.1/24" or "fd00:72b::1/64".
    """
    run([
        "ip", "link", "add", left_ifname, "netns", left.name, "type", "veth",
        "peer", "name", right_ifname, "netns", right.name,
    ])  # fmt: skip
    link = Link(
        Endpoint(left, left_ifname, ipaddress.ip_interface(left_interface)),
        Endpoint(right, right_ifname, ipaddress.ip_interface(right_interface)),
    )
    _configure(link.left)
    _configure(link.right)
    return link


# Default test addresses (inside the namespaces only).
IPV4_PAIR = ("10.250.0.1/24", "10.250.0.2/24")
IPV6_PAIR = ("fd00:726b:6d70::1/64", "fd00:726b:6d70::2/64")


@contextlib.contextmanager
def two_node_network(ipv6: bool = False) -> Iterator[Link]:
    """Two fresh namespaces joined by a veth pair; removed on exit."""
    pool = NamespacePool()
    try:
        left = pool.create("l")
        right = pool.create("r")
        left_if, right_if = IPV6_PAIR if ipv6 else IPV4_PAIR
        yield link_veth(left, right, left_if, right_if)
    finally:
        pool.close()
