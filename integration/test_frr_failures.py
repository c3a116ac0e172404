"""Failure cases with FRR and rkmpd in namespaces.

- Mismatched credentials between the two rkmpd: no key is made, FRR's
  configuration is not touched, and the session keeps its old key.
- FRR refuses the rendered change: the previous configuration is back,
  and the sink reports the error.
- The peer's rkmpd is killed: liveness fails, RP_revokeSA runs the revoke
  hook and, with on_failure = "revoke", the key leaves FRR's configuration.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from integration.harness.netns import Link
from integration.harness.process import wait_until
from integration.harness.routing import (
    RkmpdNode,
    RoutingLab,
    frr_bgp_config,
    frr_unavailable_reason,
)
from integration.test_frr_rkmpd import (
    PSK,
    frr_sink,
    md5_key,
    md5_peer,
    rkmpd_config,
    wait_keyed_session,
    write_psk,
)

STATIC_KEY = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def lab(work_dir: Path) -> Iterator[RoutingLab]:
    reason = frr_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    routing = RoutingLab(work_dir)
    yield routing
    routing.close()


def _logged(rkmpd: RkmpdNode, text: str) -> bool:
    return text in rkmpd.log_text().lower()


def sink_config_lines(running: str) -> list[str]:
    """The running config without the lines that change by themselves."""
    return [line for line in running.splitlines() if line.strip()]


def test_frr_frr_mismatched_psk_no_key_no_change(
    two_nodes: Link, lab: RoutingLab, work_dir: Path
) -> None:
    left, right = two_nodes.left, two_nodes.right
    a = lab.frr(
        left.ns, "a", config=frr_bgp_config(65001, "10.250.0.1", "10.250.0.2", 65002, STATIC_KEY)
    )
    b = lab.frr(
        right.ns, "b", config=frr_bgp_config(65002, "10.250.0.2", "10.250.0.1", 65001, STATIC_KEY)
    )
    a.wait_bgp_established("10.250.0.2")
    b.wait_bgp_established("10.250.0.1")
    before = {node.name: node.running_config() for node in (a, b)}
    established = a.bgp_established_count("10.250.0.2")
    ra = lab.rkmpd(
        left.ns, "a",
        rkmpd_config("a", "10.250.0.1", work_dir, md5_peer("b", "10.250.0.2"),
                     write_psk(work_dir, "psk-a", PSK)),
        frr_sink(a, "10.250.0.2", 65001),
    )  # fmt: skip
    rb = lab.rkmpd(
        right.ns, "b",
        rkmpd_config("b", "10.250.0.2", work_dir, md5_peer("a", "10.250.0.1"),
                     write_psk(work_dir, "psk-b", "0x" + "ab" * 32)),
        frr_sink(b, "10.250.0.1", 65002),
        passive=True,
    )  # fmt: skip
    # a initiates; b cannot verify a's AUTH, a is told so: both log it.
    for rkmpd in (ra, rb):
        wait_until(
            partial(_logged, rkmpd, "authentication"),
            timeout=20,
            what=f"rkmpd {rkmpd.name} to log the failed authentication",
        )
    for rkmpd in (ra, rb):
        assert rkmpd.keys() == []
        assert all(r["status"] == "unchanged" for r in rkmpd.sink_results()), rkmpd.sink_results()
    for node in (a, b):
        assert sink_config_lines(node.running_config()) == sink_config_lines(before[node.name])
    assert a.bgp_state("10.250.0.2") == "Established"
    assert a.bgp_established_count("10.250.0.2") == established


def test_frr_rejected_change_restores_previous_config(
    two_nodes: Link, lab: RoutingLab, work_dir: Path
) -> None:
    left, right = two_nodes.left, two_nodes.right
    psk = write_psk(work_dir)
    a = lab.frr(left.ns, "a", config=frr_bgp_config(65001, "10.250.0.1", "10.250.0.2", 65002))
    b = lab.frr(right.ns, "b", config=frr_bgp_config(65002, "10.250.0.2", "10.250.0.1", 65001))
    before = a.running_config()
    # The sink places the neighbour in `router bgp 65009`, which this FRR does
    # not run: bgpd refuses the change.
    ra = lab.rkmpd(
        left.ns, "a",
        rkmpd_config("a", "10.250.0.1", work_dir, md5_peer("b", "10.250.0.2"), psk),
        frr_sink(a, "10.250.0.2", 65009),
    )  # fmt: skip
    rb = lab.rkmpd(
        right.ns, "b",
        rkmpd_config("b", "10.250.0.2", work_dir, md5_peer("a", "10.250.0.1"), psk),
        frr_sink(b, "10.250.0.1", 65002),
        passive=True,
    )  # fmt: skip
    failed = wait_until(
        lambda: [r for r in ra.sink_results() if not r["ok"]],
        timeout=30,
        what="rkmpd a's FRR sink to report the refused change",
        diagnostics=lambda: str(ra.sink_results()),
    )
    assert failed[0]["status"] == "failed-restored", failed
    assert "FRR refused the change" in failed[0]["line"]
    assert "65009" in failed[0]["line"]
    key = md5_key(ra)[1]
    assert key not in failed[0]["line"]  # keys never in a message
    assert sink_config_lines(a.running_config()) == sink_config_lines(before)
    del rb


def test_frr_peer_rkmpd_killed_revokes_keys(
    two_nodes: Link, lab: RoutingLab, work_dir: Path
) -> None:
    left, right = two_nodes.left, two_nodes.right
    psk = write_psk(work_dir)
    a = lab.frr(left.ns, "a", config=frr_bgp_config(65001, "10.250.0.1", "10.250.0.2", 65002))
    b = lab.frr(right.ns, "b", config=frr_bgp_config(65002, "10.250.0.2", "10.250.0.1", 65001))
    hooks = work_dir / "rkmpd-a" / "hooks.d"
    hooks.mkdir(parents=True)
    hook_out = work_dir / "hook-events"
    hook = hooks / "50-record.sh"
    hook.write_text(f'#!/bin/sh\necho "$RKMP_EVENT $RKMP_PEER_NAME $RKMP_REASON" >> {hook_out}\n')
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)
    config_a = rkmpd_config("a", "10.250.0.1", work_dir, md5_peer("b", "10.250.0.2"), psk)
    config_a = config_a.replace('liveness_interval = "30s"', 'liveness_interval = "1s"')
    ra = lab.rkmpd(left.ns, "a", config_a, frr_sink(a, "10.250.0.2", 65001))
    rb = lab.rkmpd(
        right.ns, "b",
        rkmpd_config("b", "10.250.0.2", work_dir, md5_peer("a", "10.250.0.1"), psk),
        frr_sink(b, "10.250.0.1", 65002),
        passive=True,
    )  # fmt: skip
    _, key = wait_keyed_session(a, "10.250.0.2", ra)
    assert rb.process is not None
    os.kill(rb.process.pid, 9)  # no orderly delete: a crash
    rb.process.popen.wait(10)

    def revoked() -> bool:
        events = hook_out.read_text() if hook_out.exists() else ""
        return (
            "revoke b" in events
            and "password"
            not in a.vtysh("show running-config bgpd").stdout.split("router bgp", 1)[1]
        )

    wait_until(
        revoked, timeout=30, what="the revoke hook and the password gone from FRR",
        interval=0.2, diagnostics=lambda: ra.process.log_tail() if ra.process else "",
    )  # fmt: skip
    assert ra.keys("tcp-md5") == []
    assert key not in a.running_config()
    assert any(r["status"] == "applied" and r["rows"] == 0 for r in _rows(ra.sink_results()))


def _rows(results: list[dict[str, object]]) -> list[dict[str, object]]:
    """Sink results with their row count parsed from the line."""
    out = []
    for result in results:
        line = str(result["line"])
        count = int(line.split("(", 1)[1].split(" ", 1)[0])
        out.append({**result, "rows": count})
    return out
