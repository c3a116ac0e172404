"""Two rkmpd that both set up their static peer at the same moment.

Each rkmpd (in its own namespace, joined by veth) has the other as a static
peer with TCP-MD5, TCP-AO and OSPFv2, and a 1 s liveness interval. Both
start together, five times over (each round stops both with SIGTERM and
starts both again on their kept key tables):

- round 1: both processes are started back to back; whichever is up
  first sends its RKMP_SA_INIT to a closed port, and the peer's SA is up
  before that is retransmitted (it is given up, or, had it been answered,
  makes a late duplicate);
- rounds 2 to 5: the link is down while both start (their first RKMP_SA_INIT
  goes nowhere), both are stopped (SIGSTOP) until their retransmission is
  due, the link comes up and both are continued (SIGCONT) at once (or
  0.2 ms apart), so both retransmit within microseconds of each other (a
  true simultaneous initiation; the link coming up also fires netlink
  triggers that call initiate again).

After each round settles, each side has exactly one RKMP SA with the other
(``rkmpctl --json sas``), established, with the same SPIs on both sides and
one active child SA per protocol; per protocol its key table has exactly
one current row (not superseded: the key of that child SA) and exactly one
row in its send lifetime, the same key on both sides; the other rows are
keys of earlier rounds, superseded, still accepted for their rollover
grace (TCP-MD5 has none: accepted no longer), the same on both sides.
Over several liveness intervals the RKMP SA
stays the same, no revoke hook runs and no log says an RKMP SA failed.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from integration.harness.netns import Link
from integration.harness.process import start_process, wait_until
from integration.test_rkmpd import (
    LIVENESS,
    RETRANSMIT,
    WAIT,
    Node,
    _diagnostics,
    node_pair,
    rkmpd_argv,
)

# None: started back to back; else started in step, continued this far apart.
ROUNDS: list[float | None] = [None, 0.0, 0.0, 0.0002, 0.0]
PROTOCOLS = {"tcp-md5", "tcp-ao", "ospfv2"}
PROTOCOL_TOML = """
  [[peer.protocol]]
  type = "tcp-md5"
  algorithm = "md5"

  [[peer.protocol]]
  type = "tcp-ao"
  algorithm = "hmac-sha-256-128"

  [[peer.protocol]]
  type = "ospfv2"
  interface = "veth0"
  algorithm = "hmac-sha-256"
"""
# Checked for after settling: several liveness intervals.
QUIET = 4 * LIVENESS
FAILURE_MARKS = (" failed (", "key(s) revoked")


def _peer(name: str, address: str) -> str:
    return f'[[peer]]\nname = "{name}"\naddress = "{address}"\nid = "{name}.rkmp.test"\n'


@pytest.fixture
def nodes(two_nodes: Link, work_dir: Path) -> Iterator[tuple[Node, Node]]:
    left_ip, right_ip = str(two_nodes.left.address), str(two_nodes.right.address)
    with node_pair(
        two_nodes,
        work_dir,
        40,
        _peer("right", right_ip) + PROTOCOL_TOML,
        _peer("left", left_ip) + PROTOCOL_TOML,
    ) as (left, right):
        for node in (left, right):
            hook = node.hooks / "50-revoked"
            hook.write_text(
                "#!/bin/sh\n"
                '[ "$RKMP_EVENT" = revoke ] || exit 0\n'
                f'echo "$RKMP_PEER_NAME $RKMP_REASON" >> {node.directory / "revoked"}\n'
            )
            hook.chmod(0o755)
        yield left, right


def _launch(node: Node) -> None:
    """Start ``node``'s rkmpd without waiting for it (Node.start waits)."""
    node.runs += 1
    node.process = start_process(
        f"rkmpd-{node.name}",
        rkmpd_argv(
            "--config", str(node.config), "--keylog", str(node.keylog), "--log-level", "debug"
        ),
        log_path=node.directory / f"rkmpd-{node.runs}.log",
        netns=node.netns,
    )


def _wait_up(*nodes: Node) -> None:
    def up(node: Node) -> bool:
        return node.answers() or not node.process_running()

    for node in nodes:
        wait_until(
            lambda: up(node),  # noqa: B023 (called before the loop moves on)
            timeout=WAIT,
            what=f"{node.name}'s control socket",
            diagnostics=lambda: _diagnostics(*nodes),
        )
        assert node.process is not None
        node.process.check_alive()


def _links(link: Link, state: str) -> None:
    link.left.ns.ip("link", "set", link.left.ifname, state)
    link.right.ns.ip("link", "set", link.right.ifname, state)


def _start_back_to_back(left: Node, right: Node) -> None:
    _launch(left)
    _launch(right)
    _wait_up(left, right)


def _start_in_step(left: Node, right: Node, link: Link, skew: float) -> None:
    """Both initiate into a down link; frozen until their retransmission is
    due; the link comes up; continued ``skew`` seconds apart."""
    _links(link, "down")
    _launch(left)
    _launch(right)
    _wait_up(left, right)
    pids = [n.process.pid for n in (left, right) if n.process is not None]
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    time.sleep(RETRANSMIT.timeout + 0.5)  # the first retransmission is overdue
    _links(link, "up")
    os.kill(pids[0], signal.SIGCONT)
    if skew:
        time.sleep(skew)
    os.kill(pids[1], signal.SIGCONT)


def _stop(*nodes: Node) -> None:
    for node in nodes:
        if node.process is not None:
            node.process.popen.send_signal(signal.SIGTERM)
    for node in nodes:
        if node.process is not None:
            node.process.stop()


def _sole_sa(node: Node) -> dict[str, Any] | None:
    """The one RKMP SA ``node`` holds, if it holds exactly one, established,
    with one active child SA per protocol and nothing orphaned."""
    try:
        answer = node.ctl("sas")
    except (AssertionError, ValueError):
        return None
    sas, orphans = answer["sas"], answer["orphans"]
    if len(sas) != 1 or orphans or sas[0]["state"] != "established":
        return None
    protocols = [c["protocol"] for c in sas[0]["children"] if c["state"] == "active"]
    if sorted(protocols) != sorted(PROTOCOLS) or len(sas[0]["children"]) != len(PROTOCOLS):
        return None
    return sas[0]  # type: ignore[no-any-return]


def _settled(left: Node, right: Node) -> tuple[dict[str, Any], dict[str, Any]] | None:
    sa_left, sa_right = _sole_sa(left), _sole_sa(right)
    if sa_left is None or sa_right is None:
        return None
    if (sa_left["spi_i"], sa_left["spi_r"]) != (sa_right["spi_i"], sa_right["spi_r"]):
        return None
    return sa_left, sa_right


def _rows_by_protocol(node: Node) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = {}
    for row in node.table():
        rows.setdefault(row["protocol"], []).append(row)
    return rows


def _check_tables(left: Node, right: Node, sa_left: dict[str, Any]) -> None:
    tables = {node.name: _rows_by_protocol(node) for node in (left, right)}
    assert set(tables["left"]) == set(tables["right"]) == PROTOCOLS
    children = {c["protocol"]: c for c in sa_left["children"]}
    for protocol in PROTOCOLS:
        current: dict[str, str] = {}
        sending: dict[str, str] = {}
        accepted: dict[str, set[str]] = {}
        for name, rows in tables.items():
            latest = [r for r in rows[protocol] if r["superseded_by"] is None]
            assert len(latest) == 1, (name, protocol, rows[protocol])
            # the others are keys of earlier rounds, replaced by a rollover
            assert all(r["superseded_by"] is not None for r in rows[protocol] if r not in latest)
            current[name] = latest[0]["key"]
            in_use = [r for r in rows[protocol] if r["sending"]]
            assert len(in_use) == 1, (name, protocol, rows[protocol])
            sending[name] = in_use[0]["key"]
            accepted[name] = {r["key"] for r in rows[protocol] if r["accepting"]}
        assert current["left"] == current["right"], protocol
        assert sending["left"] == sending["right"], protocol
        assert accepted["left"] == accepted["right"], protocol
        # the current row is the key of the RKMP SA's child SA
        spis = {r["spi"] for r in tables["left"][protocol] if r["superseded_by"] is None}
        assert spis == {children[protocol]["spi"]}, protocol


def _check_quiet(node: Node) -> None:
    text = node.log_text()
    bad = [line for line in text.splitlines() if any(mark in line for mark in FAILURE_MARKS)]
    assert not bad, f"{node.name}: {bad}"
    assert not (node.directory / "revoked").exists(), (node.directory / "revoked").read_text()


def test_simultaneous_static_peers_keep_one_rkmp_sa(
    nodes: tuple[Node, Node], two_nodes: Link
) -> None:
    left, right = nodes
    collisions = 0
    for round_number, skew in enumerate(ROUNDS):
        if skew is None:
            _start_back_to_back(left, right)
        else:
            _start_in_step(left, right, two_nodes, skew)
        sa_left, sa_right = wait_until(
            lambda: _settled(left, right),
            timeout=WAIT,
            what=f"round {round_number + 1}: one RKMP SA on each side, the same",
            diagnostics=lambda: _diagnostics(left, right),
        )
        time.sleep(QUIET)  # several liveness intervals: nothing may fail
        again = _settled(left, right)
        assert again is not None, _diagnostics(left, right)
        assert (again[0]["spi_i"], again[0]["spi_r"]) == (sa_left["spi_i"], sa_left["spi_r"])
        assert sa_left["initiator"] != sa_right["initiator"]
        _check_tables(left, right, again[0])
        for node in (left, right):
            _check_quiet(node)
        this_run = (left.directory / f"rkmpd-{left.runs}.log").read_text()
        collisions += "deleted (redundant)" in this_run
        print(f"round {round_number + 1}: {'collision' if 'redundant' in this_run else 'one SA'}")
        _stop(left, right)
    # The rounds did race: at least one ended with a redundant RKMP SA.
    assert collisions >= 1
