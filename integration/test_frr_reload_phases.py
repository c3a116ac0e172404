"""frr-reload mode keys before it opens, as vtysh mode does.

A BGP neighbour rkmpd keyed and then shut (fail closed, no usable key)
gets a new key through frr-reload.py: the first reload puts the password
in and keeps rkmpd's shutdown line (FRR's running config read right after
it shows both), the second lifts the shutdown, and the session comes up
Established with the key.

A reload that fails part-way (a password for a neighbour bgpd has no
``remote-as`` for; frr-reload.py goes on with the other lines and exits
1) is rolled back whole: the password it did put in, for a neighbour
rkmpd had not keyed before, is gone again and the previous configuration
is back, as the result says.

frr-reload.py writes the running config into FRR's own frr.conf unless
it is given that file: rkmpd's keys stay in the running config only, so
vtysh's frr.conf is the same before and after.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from integration.harness.netns import Link
from integration.harness.routing import (
    FrrNode,
    RoutingLab,
    frr_bgp_config,
    frr_reload_path,
    frr_unavailable_reason,
    routing_lab,
)
from integration.test_fail_closed import MD5_KEYS, A, B, apply, row
from rkmp_frr.sinks.batching import ApplyStatus
from rkmp_frr.sinks.features import frr_features, parse_frr_version
from rkmp_frr.sinks.frr_apply import FrrApplier, FrrApplierOptions, FrrApplyMode, VtyshCommand
from rkmp_frr.sinks.frr_config import FrrBgpNeighbor, FrrRenderConfig
from rkmp_frr.sinks.frr_render import SHUTDOWN_MESSAGE
from rkmp_frr.sinks.keyed import KeyedState
from rkmp_frr.sinks.runner import CommandResult, run_command
from rkmp_frr.wire.constants import ProtocolId


@pytest.fixture
def lab(work_dir: Path) -> Iterator[RoutingLab]:
    def reload_unavailable() -> str | None:
        return None if frr_reload_path() else "frr-reload.py not found (frr-pythontools)"

    with routing_lab(work_dir, frr_unavailable_reason, reload_unavailable) as routing:
        yield routing


@dataclass
class ReloadWatcher:
    """Runs the tools; after each frr-reload.py, reads FRR's running config."""

    vtysh: VtyshCommand
    after_reloads: list[str] = field(default_factory=list)

    async def __call__(
        self, argv: Sequence[str], *, input_text: str | None = None, timeout: float = 30.0
    ) -> CommandResult:
        result = await run_command(argv, input_text=input_text, timeout=timeout)
        if any(part.endswith("frr-reload.py") for part in argv):
            shown = await run_command(self.vtysh.show("show running-config"))
            self.after_reloads.append(shown.stdout)
        return result


def reload_applier(node: FrrNode, render: FrrRenderConfig) -> tuple[FrrApplier, ReloadWatcher]:
    vtysh = VtyshCommand(vty_socket=node.vty_dir, wrapper=("ip", "netns", "exec", node.ns.name))
    watcher = ReloadWatcher(vtysh)
    reload = frr_reload_path()
    assert reload is not None
    options = FrrApplierOptions(
        vtysh=vtysh, render=render, kernel_check=False, mode=FrrApplyMode.FRR_RELOAD,
        frr_reload=str(reload),
    )  # fmt: skip
    features = frr_features(parse_frr_version(node.vtysh("show version").stdout))
    return FrrApplier(options, features, runner=watcher, keyed=KeyedState("frr")), watcher


VTYSH_FRR_CONF = Path("/etc/frr/frr.conf")  # where "vtysh write" puts the integrated config


def frr_conf() -> bytes | None:
    return VTYSH_FRR_CONF.read_bytes() if VTYSH_FRR_CONF.exists() else None


def bgp_lines(running: str) -> str:
    return running.split("router bgp", 1)[1].split("\nexit", 1)[0]


def test_frr_reload_keys_before_it_opens(two_nodes: Link, lab: RoutingLab) -> None:
    a = lab.frr(two_nodes.left.ns, "a", config=frr_bgp_config(65001, A, B, 65002))
    b = lab.frr(two_nodes.right.ns, "b", config=frr_bgp_config(65002, B, A, 65001))
    ra, watched = reload_applier(a, FrrRenderConfig(bgp_neighbors=(FrrBgpNeighbor(B, 65001),)))
    rb, _ = reload_applier(b, FrrRenderConfig(bgp_neighbors=(FrrBgpNeighbor(A, 65002),)))
    first = MD5_KEYS[0]
    written = frr_conf()
    apply(ra, [row(ProtocolId.TCP_MD5, B, 1, first, "KEYED-MD5")])
    apply(rb, [row(ProtocolId.TCP_MD5, A, 1, first, "KEYED-MD5")])
    a.wait_bgp_established(B)
    apply(ra, [])  # revoked: a shuts b (fail closed)
    shut = f"neighbor {B} shutdown message {SHUTDOWN_MESSAGE}"
    assert shut in bgp_lines(a.running_config())
    watched.after_reloads.clear()
    key = MD5_KEYS[1]
    apply(rb, [row(ProtocolId.TCP_MD5, A, 2, key, "KEYED-MD5")])
    result = apply(ra, [row(ProtocolId.TCP_MD5, B, 2, key, "KEYED-MD5")])
    assert "shutdown lifted" in " ".join(result.notes), result.notes
    first_reload, second_reload = watched.after_reloads
    assert f"neighbor {B} password {key}" in bgp_lines(first_reload)
    assert shut in bgp_lines(first_reload)  # still shut while the key went in
    assert f"neighbor {B} password {key}" in bgp_lines(second_reload)
    assert "shutdown" not in bgp_lines(second_reload)
    a.wait_bgp_established(B)
    assert frr_conf() == written  # no "vtysh write": the keys are not on disk


def test_frr_reload_failure_is_rolled_back_whole(two_nodes: Link, lab: RoutingLab) -> None:
    c, d = "10.250.0.3", "10.250.0.4"  # c: configured in bgpd, not up; d: not in bgpd
    config = frr_bgp_config(65001, A, B, 65002).replace(
        "exit\n", f" neighbor {c} remote-as 65003\nexit\n"
    )
    a = lab.frr(two_nodes.left.ns, "a", config=config)
    render = FrrRenderConfig(
        bgp_neighbors=tuple(FrrBgpNeighbor(n, 65001) for n in (B, c, d)),
    )
    ra, watched = reload_applier(a, render)
    keyed = [row(ProtocolId.TCP_MD5, B, 1, MD5_KEYS[0], "KEYED-MD5")]
    written = frr_conf()
    apply(ra, keyed)
    before = bgp_lines(a.running_config())
    assert f"neighbor {B} password {MD5_KEYS[0]}" in before
    watched.after_reloads.clear()
    attempt = [
        *keyed,
        row(ProtocolId.TCP_MD5, c, 2, MD5_KEYS[1], "KEYED-MD5"),
        row(ProtocolId.TCP_MD5, d, 3, MD5_KEYS[1], "KEYED-MD5"),
    ]
    result = asyncio.run(ra.apply(attempt, int(time.time())))
    assert result.status is ApplyStatus.FAILED_RESTORED, result.describe()
    assert "frr-reload.py failed" in (result.error or ""), result.describe()
    assert MD5_KEYS[1] not in result.describe()
    failed, *_ = watched.after_reloads
    assert f"neighbor {c} password {MD5_KEYS[1]}" in bgp_lines(failed)  # it did go in
    after = bgp_lines(a.running_config())
    assert after == before, after
    assert frr_conf() == written
