"""BIRD OSPFv2 with static HMAC-SHA-256 keys in namespaces: the baseline.

Two BIRDs on a point-to-point veth reach Full with `authentication
cryptographic` and a hmac sha256 password, the Key ID on the wire is the
configured one, and a new key added with `birdc configure` and made the
sending key takes over without the adjacency leaving Full (what rkmpd's
rollover will do).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.harness.capture import capturing
from integration.harness.netns import Link
from integration.harness.pcap import read_pcap
from integration.harness.routing import (
    BirdNode,
    RoutingLab,
    bird_base_config,
    bird_ospf_protocol,
    bird_unavailable_reason,
    ospf_packets,
    routing_lab,
)

KEY_1 = "11" * 32
KEY_2 = "22" * 32
FAR_PAST = "2000-01-01 00:00:00"


@pytest.fixture
def lab(work_dir: Path) -> Iterator[RoutingLab]:
    with routing_lab(work_dir, bird_unavailable_reason) as routing:
        yield routing


def password(key: str, key_id: int, generate_to: str | None = None) -> str:
    until = f' generate to "{generate_to}";' if generate_to else ""
    return f'      password "{key}" {{ id {key_id}; algorithm hmac sha256;{until} }};\n'


def ospf_config(router_id: str, log: Path, auth: str) -> str:
    return bird_base_config(router_id, log) + bird_ospf_protocol(
        "o1", "veth0", "      authentication cryptographic;\n" + auth
    )


def full(node: BirdNode, router_id: str) -> bool:
    return node.ospf_neighbor_states("o1").get(router_id, "").startswith("Full")


def test_bird_bird_ospf_hmac_sha256_static(
    two_nodes: Link, lab: RoutingLab, work_dir: Path
) -> None:
    left, right = two_nodes.left, two_nodes.right
    configs = {
        side: (rid, work_dir / f"bird-{side}.log")
        for side, rid in (("a", "10.250.0.1"), ("b", "10.250.0.2"))
    }
    a = lab.bird(left.ns, "a", ospf_config(*configs["a"], password(KEY_1, 1)))
    b = lab.bird(right.ns, "b", ospf_config(*configs["b"], password(KEY_1, 1)))
    a.wait_ospf_full("o1", "10.250.0.2")
    b.wait_ospf_full("o1", "10.250.0.1")

    with capturing(
        left.ns, "veth0", "ip proto 89", work_dir / "ospf.pcap", work_dir / "dumpcap.log"
    ) as capture:
        # Make-before-break: both accept key 2, then both send with it.
        both = password(KEY_1, 1) + password(KEY_2, 2)
        for node, side in ((a, "a"), (b, "b")):
            node.configure(ospf_config(*configs[side], both))
        switched = password(KEY_1, 1, generate_to=FAR_PAST) + password(KEY_2, 2)
        for node, side in ((a, "a"), (b, "b")):
            node.configure(ospf_config(*configs[side], switched))
        samples = []
        for _ in range(15):  # 3 s at 0.2 s: longer than the dead interval
            samples.append(full(a, "10.250.0.2") and full(b, "10.250.0.1"))
            time.sleep(0.2)
        time.sleep(1.5)  # hellos after the switch, then the capture block flush
    packets = ospf_packets(read_pcap(capture.pcap_path, allow_truncated=True))
    assert all(samples), samples
    assert packets, "no OSPF packets captured"
    assert {p.auth_type for p in packets} == {2}
    for router_id in ("10.250.0.1", "10.250.0.2"):
        ids = [p.key_id for p in packets if p.router_id == router_id]
        assert ids and ids[-1] == 2, (router_id, ids)


def test_bird_bird_ospf_wrong_key_stays_down(
    two_nodes: Link, lab: RoutingLab, work_dir: Path
) -> None:
    left, right = two_nodes.left, two_nodes.right
    a = lab.bird(left.ns, "a", ospf_config("10.250.0.1", work_dir / "a.log", password(KEY_1, 1)))
    b = lab.bird(right.ns, "b", ospf_config("10.250.0.2", work_dir / "b.log", password(KEY_2, 1)))
    for _ in range(25):  # 5 s: several hello intervals
        assert not full(a, "10.250.0.2")
        assert not full(b, "10.250.0.1")
        time.sleep(0.2)
