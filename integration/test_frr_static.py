"""FRR sessions with static keys in namespaces: the harness's baseline.

These prove that the daemons, as the harness starts them, authenticate
with the keys we give them (FRR to FRR and FRR to BIRD BGP with TCP-MD5),
and that the kernel holds the key on bgpd's sockets, before any key comes
from rkmpd.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.harness.netns import Link
from integration.harness.routing import (
    RoutingLab,
    bird_base_config,
    bird_bgp_protocol,
    bird_unavailable_reason,
    frr_bgp_config,
    frr_unavailable_reason,
    routing_lab,
)

KEY = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def lab(work_dir: Path) -> Iterator[RoutingLab]:
    with routing_lab(work_dir, frr_unavailable_reason) as routing:
        yield routing


def kernel_md5(ns_name: str, peer: str, key: str) -> str:
    """The kernel check's verdict, run inside the namespace (as rkmpd is)."""
    result = subprocess.run(
        ["ip", "netns", "exec", ns_name, sys.executable, "-m",
         "rkmp_frr.daemon.kernel_check", peer],
        input=key + "\n", capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    return result.stdout + result.stderr


def test_frr_frr_bgp_md5_static(two_nodes: Link, lab: RoutingLab) -> None:
    left, right = two_nodes.left, two_nodes.right
    a = lab.frr(left.ns, "a", config=frr_bgp_config(65001, "10.250.0.1", "10.250.0.2", 65002, KEY))
    b = lab.frr(right.ns, "b", config=frr_bgp_config(65002, "10.250.0.2", "10.250.0.1", 65001, KEY))
    a.wait_bgp_established("10.250.0.2")
    b.wait_bgp_established("10.250.0.1")
    assert f"neighbor 10.250.0.2 password {KEY}" in a.running_config()
    assert '"status": "ok"' in kernel_md5(left.ns.name, "10.250.0.2", KEY)
    assert '"status": "mismatch"' in kernel_md5(left.ns.name, "10.250.0.2", KEY[::-1])


def test_frr_frr_bgp_md5_mismatch_stays_down(two_nodes: Link, lab: RoutingLab) -> None:
    """The keys really are checked: different passwords never come up."""
    left, right = two_nodes.left, two_nodes.right
    a = lab.frr(left.ns, "a", config=frr_bgp_config(65001, "10.250.0.1", "10.250.0.2", 65002, KEY))
    b = lab.frr(
        right.ns, "b", config=frr_bgp_config(65002, "10.250.0.2", "10.250.0.1", 65001, KEY[::-1])
    )
    # Both keep trying (connect retry 1 s); a few attempts must all fail.
    for _ in range(30):
        assert a.bgp_state("10.250.0.2") != "Established"
        assert b.bgp_state("10.250.0.1") != "Established"
        a.check_alive()
        time.sleep(0.1)


def test_frr_bird_bgp_md5_static(two_nodes: Link, lab: RoutingLab, work_dir: Path) -> None:
    reason = bird_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    left, right = two_nodes.left, two_nodes.right
    a = lab.frr(left.ns, "a", config=frr_bgp_config(65001, "10.250.0.1", "10.250.0.2", 65002, KEY))
    b = lab.bird(
        right.ns,
        "b",
        bird_base_config("10.250.0.2", work_dir / "bird-b.log")
        + bird_bgp_protocol("peer_a", "10.250.0.2", 65002, "10.250.0.1", 65001, KEY),
    )
    a.wait_bgp_established("10.250.0.2")
    b.wait_bgp_established("peer_a")
    assert '"status": "ok"' in kernel_md5(left.ns.name, "10.250.0.2", KEY)
    assert '"status": "ok"' in kernel_md5(right.ns.name, "10.250.0.1", KEY)
