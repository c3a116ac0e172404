"""BGP with TCP-MD5 keys from rkmpd: FRR to FRR and FRR to BIRD.

One rkmpd per namespace negotiates the TCP-MD5 child SA; the FRR sink sets
`neighbor X password` through vtysh (or frr-reload.py), the BIRD sink
writes the session into its include file. The sessions come up
Established with the negotiated key, the kernel holds that key on bgpd's
sockets (sock_diag), and a rekey (`rkmpctl rekey-sa`) resets the session,
which comes back Established with the new key within 10 s.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from integration.harness.netns import Link, NetNs
from integration.harness.process import wait_until
from integration.harness.routing import (
    BirdNode,
    FrrNode,
    RkmpdNode,
    RoutingLab,
    bird_base_config,
    bird_unavailable_reason,
    frr_bgp_config,
    frr_sink_toml,
    frr_unavailable_reason,
    rkmpd_toml,
    routing_lab,
    toml_strings,
)
from rkmp_frr.sinks.features import parse_frr_version

PSK = "0x" + bytes(range(32)).hex()
REESTABLISH_WITHIN = 10.0  # the budget for a rekey's session reset
BIRD_BGP_OPTIONS = [
    "hold time 9;",
    "keepalive time 3;",
    "connect retry time 2;",
    "connect delay time 1;",
    "error wait time 1, 5;",
    "ipv4 { import none; export none; };",
]


@pytest.fixture
def lab(work_dir: Path) -> Iterator[RoutingLab]:
    with routing_lab(work_dir, frr_unavailable_reason) as routing:
        yield routing


def md5_peer(name: str, address: str, on_failure: str = "revoke") -> str:
    return f"""
[[peer]]
name = "{name}"
address = "{address}"
id = "{name}.rkmp.test"
on_failure = "{on_failure}"
  [[peer.protocol]]
  type = "tcp-md5"
  algorithm = "md5"
"""


def write_psk(work_dir: Path, name: str = "psk", value: str = PSK) -> Path:
    path = work_dir / name
    path.write_text(value + "\n")
    path.chmod(0o600)
    return path


def frr_sink(
    frr: FrrNode, neighbor: str, asn: int, mode: str = "vtysh", check_interval: str | None = None
) -> str:
    return frr_sink_toml(frr, [(neighbor, asn)], mode, check_interval)


def bird_bgp_sink(bird: BirdNode, include: Path) -> str:
    return f"""
[sinks.bird]
socket = "{bird.socket_path}"
include_file = "{include}"
  [[sinks.bird.bgp]]
  name = "peer_a"
  neighbor = "10.250.0.1"
  neighbor_as = 65001
  local_as = 65002
  local_address = "10.250.0.2"
  options = {toml_strings(BIRD_BGP_OPTIONS)}
"""


def rkmpd_config(
    name: str, address: str, work_dir: Path, peers: str, psk: Path, sinks: str = ""
) -> str:
    return rkmpd_toml(
        identity=f"{name}.rkmp.test",
        listen=address,
        directory=work_dir / f"rkmpd-{name}",
        psk_file=psk,
        peers=peers,
        sinks=sinks,
    )


def frr_version(frr: FrrNode) -> str:
    return str(parse_frr_version(frr.vtysh("show version").stdout))


def sink_healthy(rkmpd: RkmpdNode, name: str) -> dict[str, Any]:
    """The sink's status, asserted free of failures since start."""
    sink = rkmpd.sink(name)
    assert sink["ok"] and sink["failures"] == 0 and sink["kernel_problems"] == [], sink
    return sink


def md5_key(rkmpd: RkmpdNode) -> tuple[int, str]:
    """(SPI, key) of the TCP-MD5 row in use."""
    answer = rkmpd.rkmpctl("keys", "--protocol", "tcp-md5", "--show-secrets")
    rows = [r for r in answer["result"]["rows"] if r["superseded_by"] is None]
    assert len(rows) == 1, rows
    return int(rows[0]["spi"]), str(rows[0]["key"])


def kernel_check(ns: NetNs, peer: str, key: str) -> str:
    """The kernel's verdict on bgpd's/BIRD's sockets (run inside ``ns``)."""
    result = subprocess.run(
        ["ip", "netns", "exec", ns.name, sys.executable, "-m",
         "rkmp_frr.daemon.kernel_check", peer],
        input=key + "\n", capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    return result.stdout + result.stderr


def frr_has_password(frr: FrrNode, neighbor: str, key: str) -> bool:
    return f"neighbor {neighbor} password {key}" in frr.running_config()


def wait_keyed_session(frr: FrrNode, neighbor: str, rkmpd: RkmpdNode) -> tuple[int, str]:
    """Wait until FRR runs the session Established with rkmpd's key."""

    def keyed() -> tuple[int, str] | None:
        rkmpd.check_alive()
        rows = rkmpd.keys("tcp-md5")
        if not rows:
            return None
        spi, key = md5_key(rkmpd)
        if frr_has_password(frr, neighbor, key) and frr.bgp_state(neighbor) == "Established":
            return spi, key
        return None

    return wait_until(
        keyed, timeout=30, what=f"{frr.name} Established with rkmpd's key",
        interval=0.2, diagnostics=frr.diagnostics,
    )  # fmt: skip


FRR_A_CONFIG = frr_bgp_config(65001, "10.250.0.1", "10.250.0.2", 65002)
FRR_B_CONFIG = frr_bgp_config(65002, "10.250.0.2", "10.250.0.1", 65001)


def start_frr_pair(
    lab: RoutingLab,
    link: Link,
    work_dir: Path,
    mode: str = "vtysh",
    check_interval: str | None = None,
) -> tuple[FrrNode, FrrNode, RkmpdNode, RkmpdNode]:
    psk = write_psk(work_dir)
    a = lab.frr(link.left.ns, "a", config=FRR_A_CONFIG)
    b = lab.frr(link.right.ns, "b", config=FRR_B_CONFIG)
    rb = lab.rkmpd(
        link.right.ns, "b",
        rkmpd_config("b", "10.250.0.2", work_dir, md5_peer("a", "10.250.0.1"),
                     psk, frr_sink(b, "10.250.0.1", 65002, mode, check_interval)),
    )  # fmt: skip
    ra = lab.rkmpd(
        link.left.ns, "a",
        rkmpd_config("a", "10.250.0.1", work_dir, md5_peer("b", "10.250.0.2"), psk,
                     frr_sink(a, "10.250.0.2", 65001, mode, check_interval)),
    )  # fmt: skip
    return a, b, ra, rb


def rekey_and_wait(
    frr: FrrNode, neighbor: str, rkmpd: RkmpdNode, spi: int, peer_frr: FrrNode
) -> tuple[float, str]:
    """rekey-sa; returns (seconds until Established again with the new
    key on both ends, the new key)."""
    before = frr.bgp_established_count(neighbor)
    started = time.monotonic()
    answer = rkmpd.rkmpctl("rekey-sa", "tcp-md5", str(spi))
    assert answer["ok"], answer
    new_spi = int(answer["result"]["new_spi"])

    def back() -> str | None:
        if md5_key(rkmpd)[0] != new_spi:
            return None
        key = md5_key(rkmpd)[1]
        if not frr_has_password(frr, neighbor, key):
            return None
        if frr.bgp_established_count(neighbor) <= before:
            return None
        if frr.bgp_state(neighbor) != "Established":
            return None
        return key

    key = wait_until(back, timeout=30, what="the session back with the new key", interval=0.1,
                     diagnostics=frr.diagnostics)  # fmt: skip
    del peer_frr
    return time.monotonic() - started, key


@pytest.mark.parametrize("mode", ["vtysh", "frr-reload"])
def test_frr_frr_bgp_md5_rkmpd(two_nodes: Link, lab: RoutingLab, work_dir: Path, mode: str) -> None:
    a, b, ra, rb = start_frr_pair(lab, two_nodes, work_dir, mode)
    spi, key = wait_keyed_session(a, "10.250.0.2", ra)
    wait_keyed_session(b, "10.250.0.1", rb)
    assert md5_key(rb)[1] == key  # both ends derived the same key
    assert '"status": "ok"' in kernel_check(two_nodes.left.ns, "10.250.0.2", key)
    assert '"status": "ok"' in kernel_check(two_nodes.right.ns, "10.250.0.1", key)
    took, new_key = rekey_and_wait(a, "10.250.0.2", ra, spi, b)
    assert new_key != key
    assert took < REESTABLISH_WITHIN, f"re-established after {took:.1f} s"
    assert '"status": "ok"' in kernel_check(two_nodes.left.ns, "10.250.0.2", new_key)
    for node in (ra, rb):
        sink = sink_healthy(node, "frr")
        assert (sink["daemon"], sink["version"]) == ("FRR", frr_version(a))
        assert "BGP sessions reset" in " ".join(sink["last_change"]["notes"]), sink


def test_frr_bird_bgp_md5_rkmpd(two_nodes: Link, lab: RoutingLab, work_dir: Path) -> None:
    reason = bird_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    psk = write_psk(work_dir)
    left, right = two_nodes.left, two_nodes.right
    a = lab.frr(left.ns, "a", config=frr_bgp_config(65001, "10.250.0.1", "10.250.0.2", 65002))
    include = work_dir / "rkmpd-b" / "rkmp.conf"
    include.parent.mkdir(mode=0o700)
    include.write_text("")
    b = lab.bird(
        right.ns, "b",
        bird_base_config("10.250.0.2", work_dir / "bird-b.log") + f'include "{include}";\n',
    )  # fmt: skip
    rb = lab.rkmpd(
        right.ns, "b",
        rkmpd_config("b", "10.250.0.2", work_dir, md5_peer("a", "10.250.0.1"),
                     psk, bird_bgp_sink(b, include)),
    )  # fmt: skip
    ra = lab.rkmpd(
        left.ns, "a",
        rkmpd_config("a", "10.250.0.1", work_dir, md5_peer("b", "10.250.0.2"), psk,
                     frr_sink(a, "10.250.0.2", 65001)),
    )  # fmt: skip
    spi, key = wait_keyed_session(a, "10.250.0.2", ra)
    b.wait_bgp_established("peer_a")
    assert f'password "{key}";' in include.read_text()
    assert '"status": "ok"' in kernel_check(left.ns, "10.250.0.2", key)
    assert '"status": "ok"' in kernel_check(right.ns, "10.250.0.1", key)
    took, new_key = rekey_and_wait(a, "10.250.0.2", ra, spi, a)
    assert took < REESTABLISH_WITHIN, f"re-established after {took:.1f} s"
    b.wait_bgp_established("peer_a")
    assert f'password "{new_key}";' in include.read_text()
    assert '"status": "ok"' in kernel_check(right.ns, "10.250.0.1", new_key)
    sink_healthy(ra, "frr")
    bird_sink = sink_healthy(rb, "bird")
    assert bird_sink["daemon"] == "BIRD"
    assert "restarted by the key change" in " ".join(bird_sink["last_change"]["notes"]), bird_sink


def test_frr_rkmpd_restart_leaves_frr_alone(
    two_nodes: Link, lab: RoutingLab, work_dir: Path
) -> None:
    """A restarted rkmpd starts its sink from the key table as it is: FRR
    already runs those keys, so nothing is applied (no password set again,
    no session reset). The peer's rkmpd stays down meanwhile, so no new key
    can be negotiated."""
    a, b, ra, rb = start_frr_pair(lab, two_nodes, work_dir)
    _, key = wait_keyed_session(a, "10.250.0.2", ra)
    wait_keyed_session(b, "10.250.0.1", rb)
    b.wait_bgp_established("10.250.0.1")
    rb.stop()  # SIGTERM: both keep their keys (draft-mahesh §3.3)
    assert ra.process is not None and ra.process.stop() == 0
    established = a.bgp_established_count("10.250.0.2")
    again = lab.rkmpd(two_nodes.left.ns, "a", ra.config_file.read_text())
    sink = wait_until(
        lambda: (s := again.sink("frr"))["applies"] >= 1 and not s["pending"] and s,
        timeout=30,
        what="the restarted rkmpd's first apply",
        diagnostics=again.log_text,
    )
    assert sink["ok"] and sink["rows"] == 1, sink
    assert sink["last_apply"]["status"] == "unchanged" and sink["last_change"] is None, sink
    assert md5_key(again)[1] == key
    assert frr_has_password(a, "10.250.0.2", key)
    assert a.bgp_state("10.250.0.2") == "Established"
    assert a.bgp_established_count("10.250.0.2") == established
