"""Netlink triggers against the real kernel: two namespaces joined by veth.

The watcher runs as rkmpd would, inside the left node's namespace
(``python -m rkmp_frr.daemon.triggers`` printing JSON lines), configured with
a prefix peer covering the link and a static peer. The test makes the
kernel's neighbour and link tables change and reads what the watcher did:

- static peer -> Negotiate at start;
- traffic to the right node (ARP/ND resolves it) -> Negotiate;
- a neighbour flapping (added, deleted, re-added...) -> one Negotiate once
  it settles;
- the right node stops answering (neighbour goes FAILED) -> CheckLiveness;
- the right node's end of the veth goes down (carrier loss) -> CheckLiveness.

Waits are harness deadlines, never timing assertions. Ordering checks rely
on the watcher printing actions in the order it releases them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from integration.harness.netns import Endpoint, Link, two_node_network
from integration.harness.process import ManagedProcess, start_process, wait_until
from integration.harness.skips import require_netns

SETTLE = 0.3  # the watcher's debounce quiet time
WAIT = 15.0  # harness deadline for one expected line

# Sends one datagram (to the discard port): enough to make the kernel resolve
# the neighbour, whether or not anything listens.
SEND_DATAGRAM = (
    "import socket, sys\n"
    "family = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET\n"
    "socket.socket(family, socket.SOCK_DGRAM).sendto(b'rkmp', (sys.argv[1], 9))\n"
)


@dataclass
class Watcher:
    """The trigger watcher process and its JSON-lines output."""

    process: ManagedProcess

    def lines(self) -> list[dict[str, Any]]:
        text = self.process.log_path.read_text(errors="replace")
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]

    def actions(self) -> list[dict[str, Any]]:
        return [line for line in self.lines() if "action" in line]

    def wait_for(self, what: str, **fields: str) -> dict[str, Any]:
        """The first action line with all ``fields``; harness error if none comes."""

        def found() -> dict[str, Any] | None:
            self.process.check_alive()
            for line in self.actions():
                if all(line.get(k) == v for k, v in fields.items()):
                    return line
            return None

        return wait_until(found, timeout=WAIT, what=what, diagnostics=self.process.log_tail)

    def count(self, **fields: str) -> int:
        return sum(all(a.get(k) == v for k, v in fields.items()) for a in self.actions())


def start_watcher(node: Endpoint, work_dir: Path, *peers: str) -> Watcher:
    argv = [sys.executable, "-m", "rkmp_frr.daemon.triggers", "--events"]
    argv += ["--settle", str(SETTLE), "--max-delay", str(10 * SETTLE)]
    for peer in peers:
        argv += ["--peer", peer]
    process = start_process(
        "triggers", argv, log_path=work_dir / "triggers.log", netns=node.ns.name
    )
    watcher = Watcher(process)

    def ready() -> bool:
        process.check_alive()
        return any(line.get("event") == "ready" for line in watcher.lines())

    wait_until(ready, timeout=WAIT, what="watcher subscribed", diagnostics=process.log_tail)
    return watcher


@pytest.fixture
def ipv6_nodes() -> Iterator[Link]:
    require_netns()
    with two_node_network(ipv6=True) as link:
        yield link


def send_datagram(source: Endpoint, destination: str) -> None:
    source.ns.run([sys.executable, "-c", SEND_DATAGRAM, destination])


def neigh(node: Endpoint, *args: str) -> None:
    node.ns.ip("neigh", *args, "dev", node.ifname)


def test_netlink_triggers_ipv4(two_nodes: Link, work_dir: Path) -> None:
    left, right = two_nodes.left, two_nodes.right
    right_address = str(right.address)
    watcher = start_watcher(left, work_dir, "lan=10.250.0.0/24", "r77=10.250.0.77")
    try:
        # Static peer: at start, before anything happened on the link.
        assert watcher.actions()[0] == {
            "action": "negotiate", "peer": "r77", "address": "10.250.0.77",
            "reason": "static-peer",
        }  # fmt: skip

        # Traffic resolves the right node: a new neighbour in the prefix.
        send_datagram(left, right_address)
        watcher.wait_for(
            "negotiate with the right node",
            action="negotiate", peer="lan", address=right_address, reason="neighbour-up",
        )  # fmt: skip

        # Flapping: three times added and deleted, then added for good.
        for mac in ("02:00:00:00:00:01", "02:00:00:00:00:02", "02:00:00:00:00:03"):
            neigh(left, "replace", "10.250.0.3", "lladdr", mac, "nud", "reachable")
            neigh(left, "del", "10.250.0.3")
        neigh(left, "add", "10.250.0.3", "lladdr", "02:00:00:00:00:09", "nud", "permanent")
        # Barrier: a later neighbour is released after .3 would have been.
        neigh(left, "add", "10.250.0.4", "lladdr", "02:00:00:00:00:04", "nud", "permanent")
        watcher.wait_for("negotiate with .4", action="negotiate", address="10.250.0.4")
        flaps = [
            line for line in watcher.lines()
            if line.get("event") == "neighbour" and line["address"] == "10.250.0.3"
            and line["state"] in ("REACHABLE", "PERMANENT") and not line["deleted"]
        ]  # fmt: skip
        assert len(flaps) == 4  # the kernel announced every flap ...
        assert watcher.count(action="negotiate", address="10.250.0.3") == 1  # ... acted on once

        # The right node stops answering: its entry goes STALE -> DELAY ->
        # PROBE -> FAILED (probe timers shortened in the left namespace).
        left.ns.run([
            "sysctl", "-q", "-w",
            f"net.ipv4.neigh.{left.ifname}.delay_first_probe_time=1",
            f"net.ipv4.neigh.{left.ifname}.retrans_time_ms=100",
        ])  # fmt: skip
        right.ns.ip("addr", "del", str(right.interface), "dev", right.ifname)
        neigh(left, "change", right_address, "nud", "stale")

        def failed() -> bool:
            send_datagram(left, right_address)  # traffic moves STALE on to DELAY
            return watcher.count(action="check-liveness", address=right_address) > 0

        wait_until(failed, timeout=WAIT, what="FAILED neighbour", interval=0.3,
                   diagnostics=watcher.process.log_tail)  # fmt: skip
        assert watcher.actions()[-1] == {
            "action": "check-liveness", "peer": "lan", "address": right_address,
            "reason": "neighbour-failed",
        }  # fmt: skip

        # Back again, then carrier loss: the right end of the veth goes down.
        right.ns.ip("addr", "add", str(right.interface), "dev", right.ifname)
        before = watcher.count(action="negotiate", address=right_address)

        def renegotiated() -> bool:
            send_datagram(left, right_address)
            return watcher.count(action="negotiate", address=right_address) > before

        wait_until(renegotiated, timeout=WAIT, what="neighbour back", interval=0.3,
                   diagnostics=watcher.process.log_tail)  # fmt: skip
        right.ns.ip("link", "set", right.ifname, "down")
        watcher.wait_for(
            "liveness check on carrier loss",
            action="check-liveness", address=right_address, reason="link-down",
        )  # fmt: skip
        # The permanent entries on that link are checked too.
        watcher.wait_for("check .3", action="check-liveness", address="10.250.0.3")
        assert watcher.count(action="check-liveness", address="10.250.0.77") == 0
    finally:
        status = watcher.process.stop()
    assert status == 0, watcher.process.log_tail()  # closed cleanly on SIGTERM


def test_netlink_triggers_ipv6(ipv6_nodes: Link, work_dir: Path) -> None:
    left, right = ipv6_nodes.left, ipv6_nodes.right
    watcher = start_watcher(left, work_dir, "v6=fd00:726b:6d70::/64", "v4=10.250.0.0/24")
    try:
        assert watcher.actions() == []  # no static peer, nothing resolved yet
        send_datagram(left, str(right.address))
        watcher.wait_for(
            "negotiate over IPv6",
            action="negotiate", peer="v6", address=str(right.address), reason="neighbour-up",
        )  # fmt: skip
        left.ns.ip("link", "set", left.ifname, "down")  # administratively down this time
        watcher.wait_for(
            "liveness check on link down",
            action="check-liveness", address=str(right.address), reason="link-down",
        )  # fmt: skip
    finally:
        status = watcher.process.stop()
    assert status == 0, watcher.process.log_tail()
