"""FRR to FRR OSPFv3 with ospf6d key chains (RFC 7166 authentication
trailer, hmac-sha-256) and keys from rkmpd.

The FRR sink gives each interface a key chain with one key per key table
row, each key's send lifetime trimmed to when RFC 7210 §3 picks it. Rekeys
roll over make-before-break: with both sides sampled every 0.2 s the
adjacency never leaves Full and is never re-formed. Needs an FRR whose
ospf6d has key chains (8.3 and later); older ones skip with the reason.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from integration.harness.netns import Link
from integration.harness.process import wait_until
from integration.harness.routing import (
    FrrDaemon,
    FrrNode,
    RkmpdNode,
    RoutingLab,
    frr_sink_toml,
    frr_unavailable_reason,
    rkmpd_toml,
    routing_lab,
)
from rkmp_frr.sinks.features import FRR_OSPF6_AUTH_TRAILER, frr_features, parse_frr_version

PSK = "0x" + bytes(range(32)).hex()
ROLLOVER = """
[rollover.ospfv3]
send_delay = "2s"
accept_grace = "3s"
hard_expiry = "0s"
"""
SAMPLES = 40  # 8 s at 0.2 s per rekey


@pytest.fixture
def lab(work_dir: Path) -> Iterator[RoutingLab]:
    with routing_lab(work_dir, frr_unavailable_reason) as routing:
        yield routing


def ospf6_config(router_id: str) -> str:
    return f"""
interface veth0
 ipv6 ospf6 area 0
 ipv6 ospf6 network point-to-point
 ipv6 ospf6 hello-interval 1
 ipv6 ospf6 dead-interval 4
exit
router ospf6
 ospf6 router-id {router_id}
exit
"""


def ospf6_peer(name: str, address: str) -> str:
    return f"""
[[peer]]
name = "{name}"
address = "{address}"
id = "{name}.rkmp.test"
  [[peer.protocol]]
  type = "ospfv3"
  interface = "veth0"
  algorithm = "hmac-sha-256"
"""


def frr_sink(frr: FrrNode) -> str:
    return frr_sink_toml(frr)


def neighbor(node: FrrNode, router_id: str) -> dict[str, Any]:
    data = node.show_json("show ipv6 ospf6 neighbor json")
    for entry in data.get("neighbors", []):
        if entry.get("neighborId") == router_id:
            return dict(entry)
    return {}


def current_spi(rkmpd: RkmpdNode) -> int:
    rows = [r for r in rkmpd.keys("ospfv3") if r["superseded_by"] is None]
    assert len(rows) == 1, rows
    return int(rows[0]["spi"])


def rx_drops(node: FrrNode) -> int:
    """ospf6d's count of received packets dropped on veth0 (authentication)."""
    text = node.vtysh("show ipv6 ospf6 interface veth0").stdout
    match = re.search(r"Packet drop Tx \d+, Packet drop Rx (\d+)", text)
    assert match is not None, text
    return int(match[1])


def keyed(node: FrrNode, rkmpd: RkmpdNode) -> bool:
    rows = rkmpd.keys("ospfv3")
    return bool(rows) and "ipv6 ospf6 authentication keychain" in node.running_config()


def test_frr_frr_ospf6_keychain_rollover_rkmpd(
    two_nodes: Link, lab: RoutingLab, work_dir: Path
) -> None:
    left, right = two_nodes.left, two_nodes.right
    a = lab.frr(left.ns, "a", (FrrDaemon.OSPF6D,), ospf6_config("1.1.1.1"))
    version = parse_frr_version(a.vtysh("show version").stdout)
    if not frr_features(version).has(FRR_OSPF6_AUTH_TRAILER):
        pytest.skip(
            f"FRR {version}: ospf6d has no key chains ({FRR_OSPF6_AUTH_TRAILER.describe()})"
        )
    b = lab.frr(right.ns, "b", (FrrDaemon.OSPF6D,), ospf6_config("2.2.2.2"))
    psk = work_dir / "psk"
    psk.write_text(PSK + "\n")
    psk.chmod(0o600)
    rkmpds = {}
    for name, end, node, address, other, other_address in (
        ("b", right, b, "10.250.0.2", "a", "10.250.0.1"),
        ("a", left, a, "10.250.0.1", "b", "10.250.0.2"),
    ):
        config = rkmpd_toml(
            identity=f"{name}.rkmp.test",
            listen=address,
            directory=work_dir / f"rkmpd-{name}",
            psk_file=psk,
            peers=ospf6_peer(other, other_address),
            rollover=ROLLOVER,
            sinks=frr_sink(node),
        )
        rkmpds[name] = lab.rkmpd(end.ns, name, config)
    ra, rb = rkmpds["a"], rkmpds["b"]
    for node, rkmpd in ((a, ra), (b, rb)):
        wait_until(lambda n=node, r=rkmpd: keyed(n, r), timeout=30,  # type: ignore[misc]
                   what=f"{node.name} to hold rkmpd's key chain", interval=0.2)  # fmt: skip
    a.wait_ospf6_full("2.2.2.2")
    b.wait_ospf6_full("1.1.1.1")
    assert current_spi(ra) == current_spi(rb)
    used = [current_spi(ra)]
    drops_before = (rx_drops(a), rx_drops(b))
    samples: list[bool] = []
    for _ in range(3):
        answer = ra.rkmpctl("rekey-sa", "ospfv3", str(used[-1]))
        assert answer["ok"], answer
        used.append(int(answer["result"]["new_spi"]))
        for _ in range(SAMPLES):
            states = (neighbor(a, "2.2.2.2").get("state"), neighbor(b, "1.1.1.1").get("state"))
            samples.append(states == ("Full", "Full"))
            time.sleep(0.2)
        assert current_spi(rb) == used[-1]
        chain = a.vtysh("show running-config").stdout
        assert f" key {used[-1]}\n" in chain
    assert all(samples), f"non-Full samples: {samples.count(False)} of {len(samples)}"
    # Make-before-break: no packet failed authentication during the rollovers.
    assert (rx_drops(a), rx_drops(b)) == drops_before
    for rkmpd in (ra, rb):
        sink = rkmpd.sink("frr")
        assert sink["ok"] and sink["failures"] == 0, sink
