"""rkmpd puts its keys back into FRR by itself: FRR restarted, or a
password removed by hand.

rkmpd's keys live in FRR's running configuration only. Two FRR and two
rkmpd reach BGP Established with rkmpd's TCP-MD5 key; then one FRR is
stopped by PID and started again from its original configuration (no
rkmpd key in it). Without anything done to rkmpd, its drift check
(``[sinks.frr] check_interval``, 1 s here) finds the password missing,
puts the same key back, and the session is Established again with it;
``rkmpctl --json status`` counts the drift. A password removed by hand
with vtysh comes back the same way, and checks that find nothing reset no
session.

A repair must not race a restarted FRR that is still loading its
configuration: with a big operator configuration fed in over seconds
after the restart (checks every second all along), rkmpd waits until FRR
has settled and the neighbour is configured, then puts its key back; every
operator line is still there afterwards, in vtysh and in frr-reload mode
(where a reload file made from a half-loaded config used to make
frr-reload.py remove what loaded meanwhile).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from integration.harness.netns import Link
from integration.harness.process import wait_until
from integration.harness.routing import (
    FrrNode,
    RkmpdNode,
    RoutingLab,
    frr_reload_path,
    frr_unavailable_reason,
    routing_lab,
)
from integration.test_frr_rkmpd import (
    FRR_A_CONFIG,
    frr_has_password,
    md5_key,
    start_frr_pair,
    wait_keyed_session,
)

# Short: a check may well run while a restarted FRR is still loading its
# configuration; rkmpd waits for it to settle before it repairs.
CHECK_INTERVAL = "1s"
DEADLINE = 60.0  # generous: FRR's restart, a check, the apply, BGP's connect retry


@pytest.fixture
def lab(work_dir: Path) -> Iterator[RoutingLab]:
    with routing_lab(work_dir, frr_unavailable_reason) as routing:
        yield routing


def drifted_status(rkmpd: RkmpdNode, drifts: int) -> dict[str, Any] | None:
    """The sink's status once it counted ``drifts`` drifts and has nothing
    left to apply."""
    rkmpd.check_alive()
    sink = rkmpd.sink("frr")
    if sink["drifts"] < drifts or sink["pending"]:
        return None
    return sink


def key_back(frr: FrrNode, neighbor: str, key: str) -> bool:
    frr.check_alive()
    return frr_has_password(frr, neighbor, key) and frr.bgp_state(neighbor) == "Established"


@pytest.mark.parametrize("mode", ["vtysh", "frr-reload"])
def test_frr_restart_gets_rkmpd_keys_back(
    two_nodes: Link, lab: RoutingLab, work_dir: Path, mode: str
) -> None:
    if mode == "frr-reload" and frr_reload_path() is None:
        pytest.skip("frr-reload.py not found (frr-pythontools)")
    a, b, ra, rb = start_frr_pair(lab, two_nodes, work_dir, mode, CHECK_INTERVAL)
    _, key = wait_keyed_session(a, "10.250.0.2", ra)
    wait_keyed_session(b, "10.250.0.1", rb)
    before = ra.sink("frr")
    assert before["drifts"] == 0 and before["last_drift"] is None, before

    # Stopped by PID, started from the operator's config: without the key,
    # until rkmpd's drift check (counted below) puts it back.
    a.restart(FRR_A_CONFIG)
    wait_until(
        lambda: key_back(a, "10.250.0.2", key), timeout=DEADLINE,
        what="rkmpd's key back in the restarted FRR and the session Established",
        interval=0.2, diagnostics=ra.log_text,
    )  # fmt: skip
    b.wait_bgp_established("10.250.0.1")
    assert md5_key(ra)[1] == key and md5_key(rb)[1] == key  # the same key, no new SA
    sink = wait_until(
        lambda: drifted_status(ra, 1), timeout=DEADLINE, what="the drift in rkmpctl status",
        diagnostics=ra.log_text,
    )  # fmt: skip
    assert sink["drift_checks"] > before["drift_checks"], sink
    assert (
        sink["last_drift_at"] is not None
        and sink["last_drift_at"] >= before["last_apply"]["started_at"]
    ), sink
    assert "BGP neighbour 10.250.0.2" in sink["last_drift"], sink
    assert key not in sink["last_drift"] and key not in str(sink)
    assert sink["last_apply"]["ok"], sink
    assert "no longer runs what rkmpd applied" in ra.log_text()
    assert key not in ra.log_text()
    assert rb.sink("frr")["drifts"] == 0  # the other FRR kept its key


def test_frr_password_removed_by_hand_comes_back(
    two_nodes: Link, lab: RoutingLab, work_dir: Path
) -> None:
    a, b, ra, rb = start_frr_pair(lab, two_nodes, work_dir, check_interval=CHECK_INTERVAL)
    _, key = wait_keyed_session(a, "10.250.0.2", ra)
    wait_keyed_session(b, "10.250.0.1", rb)
    # Checks that find FRR as rkmpd left it change nothing: no password set
    # again, no session reset.
    established = b.bgp_established_count("10.250.0.1")
    checks = rb.sink("frr")["drift_checks"]
    wait_until(
        lambda: rb.sink("frr")["drift_checks"] >= checks + 3, timeout=DEADLINE,
        what="three more drift checks", diagnostics=rb.log_text,
    )  # fmt: skip
    assert rb.sink("frr")["drifts"] == 0
    assert b.bgp_established_count("10.250.0.1") == established
    assert b.bgp_state("10.250.0.1") == "Established"

    b.vtysh("configure terminal", "router bgp 65002", "no neighbor 10.250.0.1 password")
    wait_until(
        lambda: key_back(b, "10.250.0.1", key), timeout=DEADLINE,
        what="rkmpd's key back after it was removed by hand", interval=0.2,
        diagnostics=rb.log_text,
    )  # fmt: skip
    sink = wait_until(
        lambda: drifted_status(rb, 1), timeout=DEADLINE, what="the drift in rkmpctl status",
        diagnostics=rb.log_text,
    )  # fmt: skip
    assert sink["ok"] and "10.250.0.1" in sink["last_drift"], sink
    assert md5_key(rb)[1] == key
    a.wait_bgp_established("10.250.0.2")


# --- a repair racing FRR's restart ---------------------------------------------------------

AS_PATH_LISTS = 1500  # operator lines before `router bgp`
NETWORKS = 1500  # operator lines inside it, after the neighbour
CHUNK = 20  # lines per vtysh run while the configuration trickles in


def operator_parts() -> tuple[list[str], list[str], list[str]]:
    """The operator's configuration on top of FRR_A_CONFIG, in the order a
    big frr.conf loads: top-level lines, the router block, the networks in
    its address family."""
    top = [
        f"bgp as-path access-list rkmpt-op seq {n} permit ^{n}$"
        for n in range(5, 5 + AS_PATH_LISTS)
    ]
    router = [line.strip() for line in FRR_A_CONFIG.splitlines()[1:-1]]
    networks = [f"network 10.{n // 256}.{n % 256}.0/24" for n in range(NETWORKS)]
    return top, router, networks


def operator_config() -> str:
    top, router, networks = operator_parts()
    lines = [*top, "router bgp 65001", *(f" {line}" for line in router)]
    lines += [" address-family ipv4 unicast", *(f"  {n}" for n in networks)]
    return "\n".join([*lines, " exit-address-family", "exit", ""])


def operator_runs() -> list[list[str]]:
    """The same as vtysh command runs of a few lines each, in that order."""
    top, router, networks = operator_parts()
    runs = [top[i : i + CHUNK] for i in range(0, len(top), CHUNK)]
    runs.append(["router bgp 65001", *router])
    family = ["router bgp 65001", "address-family ipv4 unicast"]
    runs += [[*family, *networks[i : i + CHUNK]] for i in range(0, len(networks), CHUNK)]
    return runs


def operator_lines(frr: FrrNode, key: str) -> Counter[str]:
    """FRR's running config without rkmpd's password line."""
    return Counter(line.rstrip() for line in frr.running_config().splitlines() if key not in line)


@pytest.mark.parametrize("mode", ["vtysh", "frr-reload"])
def test_a_repair_waits_for_a_restarted_frr_to_load_its_configuration(
    two_nodes: Link, lab: RoutingLab, work_dir: Path, mode: str
) -> None:
    if mode == "frr-reload" and frr_reload_path() is None:
        pytest.skip("frr-reload.py not found (frr-pythontools)")
    a, b, ra, rb = start_frr_pair(lab, two_nodes, work_dir, mode, CHECK_INTERVAL)
    a.configure(operator_config())
    _, key = wait_keyed_session(a, "10.250.0.2", ra)
    wait_keyed_session(b, "10.250.0.1", rb)
    before = operator_lines(a, key)
    assert sum(n for line, n in before.items() if "rkmpt-op" in line) == AS_PATH_LISTS
    assert sum(n for line, n in before.items() if "network 10." in line) == NETWORKS

    # FRR restarts bare; once rkmpd has seen its key gone, the operator's
    # configuration comes in over seconds, as a big frr.conf does. Every
    # repair rkmpd tries meanwhile races the load.
    restarted_at = len(ra.log_text())
    a.restart()
    wait_until(
        lambda: ra.sink("frr")["drifts"] >= 1, timeout=DEADLINE,
        what="rkmpd to find its key gone from the restarted FRR", diagnostics=ra.log_text,
    )  # fmt: skip
    for run in operator_runs():
        a.vtysh("configure terminal", *run)
    wait_until(
        lambda: key_back(a, "10.250.0.2", key), timeout=DEADLINE,
        what="rkmpd's key back once FRR's configuration is in", interval=0.2,
        diagnostics=ra.log_text,
    )  # fmt: skip
    sink = wait_until(
        lambda: drifted_status(ra, 1), timeout=DEADLINE, what="rkmpd done applying",
        diagnostics=ra.log_text,
    )  # fmt: skip
    assert sink["last_apply"]["ok"], sink
    after = operator_lines(a, key)
    assert after == before, (
        f"lost: {sorted((before - after).elements())[:5]},"
        f" added: {sorted((after - before).elements())[:5]}"
    )
    log = ra.log_text()[restarted_at:]
    assert "FRR not ready" in log  # the repair did wait
    assert "Specify remote-as" not in log and "that are not rkmpd's" not in log
    assert key not in ra.log_text()
    assert md5_key(ra)[1] == key
