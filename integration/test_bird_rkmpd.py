"""BIRD to BIRD OSPFv2 with HMAC-SHA-256 keys from rkmpd.

One rkmpd per namespace negotiates the OSPFv2 child SA over the veth and
its BIRD sink writes the include file BIRD's configuration includes. The
adjacency reaches Full with the negotiated key, and three forced rekeys
(`rkmpctl rekey-sa`) roll the key over with both sides sampled every
0.2 s: every sample Full, and the Key ID on the wire moving to each new
key's ID (DESIGN.md §2: the SPI is the Key ID, same both ways).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.harness.capture import capturing
from integration.harness.netns import Link
from integration.harness.pcap import read_pcap
from integration.harness.process import wait_until
from integration.harness.routing import (
    BirdNode,
    RkmpdNode,
    RoutingLab,
    bird_base_config,
    bird_unavailable_reason,
    ospf_packets,
    rkmpd_toml,
    routing_lab,
    toml_strings,
)

PSK = "0x" + bytes(range(32)).hex()
ROLLOVER = """
[rollover.ospfv2]
send_delay = "2s"
accept_grace = "3s"
hard_expiry = "0s"
"""
SAMPLE_INTERVAL = 0.2
ROLLOVER_SAMPLES = 40  # 8 s: send delay + grace + dead interval, with margin


@pytest.fixture
def lab(work_dir: Path) -> Iterator[RoutingLab]:
    with routing_lab(work_dir, bird_unavailable_reason) as routing:
        yield routing


def ospf_peer(name: str, address: str, identity: str) -> str:
    return f"""
[[peer]]
name = "{name}"
address = "{address}"
id = "{identity}"
on_failure = "revoke"
  [[peer.protocol]]
  type = "ospfv2"
  interface = "veth0"
  algorithm = "hmac-sha-256"
"""


def bird_sink(node_dir: Path, bird: BirdNode, dead: str = "dead 4;") -> str:
    interface_options = toml_strings(["type ptp;", "hello 1;", dead])
    return f"""
[sinks.bird]
socket = "{bird.socket_path}"
include_file = "{node_dir / "rkmp.conf"}"
  [[sinks.bird.ospf]]
  name = "o1"
  version = 2
  options = ["ipv4 {{ import none; export none; }};"]
    [[sinks.bird.ospf.area]]
    area = 0
      [[sinks.bird.ospf.area.interface]]
      name = "veth0"
      options = {interface_options}
"""


def full(node: BirdNode, router_id: str) -> bool:
    return node.ospf_neighbor_states("o1").get(router_id, "").startswith("Full")


def current_spi(rkmpd: RkmpdNode) -> int:
    rows = [r for r in rkmpd.keys("ospfv2") if r["superseded_by"] is None]
    assert len(rows) == 1, rows
    return int(rows[0]["spi"])


def start_pair(
    lab: RoutingLab, link: Link, work_dir: Path
) -> tuple[BirdNode, BirdNode, RkmpdNode, RkmpdNode]:
    """BIRD a and b with rkmpd a and b (each the other's static peer), OSPF
    Full with keys."""
    psk = work_dir / "psk"
    psk.write_text(PSK + "\n")
    psk.chmod(0o600)
    sides = (
        ("a", link.left, "10.250.0.1", "b", "10.250.0.2"),
        ("b", link.right, "10.250.0.2", "a", "10.250.0.1"),
    )
    birds: dict[str, BirdNode] = {}
    rkmpds: dict[str, RkmpdNode] = {}
    for name, end, address, _, _ in sides:
        include = work_dir / f"rkmpd-{name}" / "rkmp.conf"
        include.parent.mkdir(mode=0o700, exist_ok=True)
        include.write_text("")
        birds[name] = lab.bird(
            end.ns,
            name,
            bird_base_config(address, work_dir / f"bird-{name}.log") + f'include "{include}";\n',
        )
    for name, end, address, other, other_address in sides:
        directory = work_dir / f"rkmpd-{name}"
        config = rkmpd_toml(
            identity=f"{name}.rkmp.test",
            listen=address,
            directory=directory,
            psk_file=psk,
            peers=ospf_peer(other, other_address, f"{other}.rkmp.test"),
            rollover=ROLLOVER,
            sinks=bird_sink(directory, birds[name]),
        )
        rkmpds[name] = lab.rkmpd(end.ns, name, config)
    a, b = birds["a"], birds["b"]
    a.wait_ospf_full("o1", "10.250.0.2")
    b.wait_ospf_full("o1", "10.250.0.1")
    return a, b, rkmpds["a"], rkmpds["b"]


def test_bird_bird_ospf_rkmpd_keys_and_three_rekeys(
    two_nodes: Link, lab: RoutingLab, work_dir: Path
) -> None:
    a, b, rkmpd_a, rkmpd_b = start_pair(lab, two_nodes, work_dir)
    spi = current_spi(rkmpd_a)
    assert current_spi(rkmpd_b) == spi
    include = (rkmpd_a.directory / "rkmp.conf").read_text()
    assert f"id {spi};" in include and "algorithm hmac sha256;" in include

    samples: list[bool] = []
    used: list[int] = [spi]
    with capturing(
        two_nodes.left.ns, "veth0", "ip proto 89", work_dir / "ospf.pcap", work_dir / "dump.log"
    ) as capture:
        for _ in range(3):
            answer = rkmpd_a.rkmpctl("rekey-sa", "ospfv2", str(used[-1]))
            assert answer["ok"], answer
            new_spi = int(answer["result"]["new_spi"])
            assert new_spi != used[-1]
            used.append(new_spi)
            wait_until(
                lambda: current_spi(rkmpd_b) == used[-1],
                timeout=10,
                what="the peer's key table to hold the new key",
            )
            for _ in range(ROLLOVER_SAMPLES):
                samples.append(full(a, "10.250.0.2") and full(b, "10.250.0.1"))
                time.sleep(SAMPLE_INTERVAL)
        time.sleep(1.5)  # the last hellos reach the capture file
    assert samples and all(samples), f"non-Full samples: {samples.count(False)} of {len(samples)}"
    packets = ospf_packets(read_pcap(capture.pcap_path, allow_truncated=True))
    for router_id in ("10.250.0.1", "10.250.0.2"):
        ids = [p.key_id for p in packets if p.router_id == router_id]
        # Each key in turn was the one sent, ending with the last rekey's.
        seen = list(dict.fromkeys(ids))
        assert seen[-1] == used[-1], (router_id, seen, used)
        assert set(used[1:]) <= set(seen), (router_id, seen, used)
    for rkmpd in (rkmpd_a, rkmpd_b):
        sink = rkmpd.sink("bird")
        assert sink["ok"] and sink["failures"] == 0, sink
        assert sink["daemon"] == "BIRD" and sink["last_change"]["status"] == "applied", sink
