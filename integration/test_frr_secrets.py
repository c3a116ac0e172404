"""No password in rkmpd's messages, the operator's included: real FRR 8.4
and frr-reload.py in a namespace, the FRR sink's applier in frr-reload
mode.

frr-reload.py logs the lines it removes and adds, and when it fails rkmpd
quotes that log in its error (the result line ``rkmpctl status`` shows as
the last error, and the sink's log line). Here the operator changes the
password of one of their own neighbours in the moment between rkmpd's
last read and frr-reload.py's own (the race rkmpd's guard cannot close:
frr-reload.py puts the old password back and says so), and bgpd refuses
rkmpd's key line (for a neighbour FRR does not configure), so the
reload fails with both operator passwords and rkmpd's key in its log.
None of them may be in the result or in what was logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from integration.harness.netns import Link
from integration.harness.routing import (
    FrrDaemon,
    RoutingLab,
    frr_bgp_config,
    frr_reload_path,
    frr_unavailable_reason,
    routing_lab,
)
from integration.test_fail_closed import MD5_KEYS, A, B, frr_applier, frr_ospf_config, row
from rkmp_frr.sinks.batching import ApplyStatus
from rkmp_frr.sinks.frr_apply import FrrApplyMode
from rkmp_frr.sinks.frr_config import FrrBgpNeighbor, FrrRenderConfig
from rkmp_frr.sinks.runner import CommandResult, run_command
from rkmp_frr.wire.constants import ProtocolId

C = "10.250.0.3"  # the operator's own neighbour, with their own password
D = "10.250.0.9"  # a neighbour FRR does not have
OPERATOR_SECRETS = ("op-bgp-s3cret", "op-changed-s3cret", "op-chain-secret", "opauth1")


@pytest.fixture
def lab(work_dir: Path) -> Iterator[RoutingLab]:
    with routing_lab(work_dir, frr_unavailable_reason) as routing:
        yield routing


def operator_config() -> str:
    bgp = frr_bgp_config(65001, A, B, 65002).replace(
        "exit\n", f" neighbor {C} remote-as 65003\n neighbor {C} password op-bgp-s3cret\nexit\n"
    )
    ospf = frr_ospf_config("1.1.1.1").replace(
        " ip ospf area 0\n", " ip ospf area 0\n ip ospf authentication-key opauth1\n"
    )
    chain = "key chain opchain\n key 1\n  key-string op-chain-secret\n exit\nexit\n"
    return chain + bgp + ospf


def test_a_failed_reload_shows_no_operator_password(
    two_nodes: Link, lab: RoutingLab, work_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    reload = frr_reload_path()
    if reload is None:
        pytest.skip("frr-reload.py not found")
    a = lab.frr(
        two_nodes.left.ns, "a", (FrrDaemon.ZEBRA, FrrDaemon.BGPD, FrrDaemon.OSPFD),
        operator_config(),
    )  # fmt: skip
    assert "op-bgp-s3cret" in a.running_config()
    # rkmpd keys a neighbour FRR does not have (its remote-as missing: the
    # readiness check that would wait for it is passed over), so bgpd
    # refuses rkmpd's password line and the reload fails.
    render = FrrRenderConfig(bgp_neighbors=(FrrBgpNeighbor(D, 65001),))
    applier = frr_applier(a, render, work_dir / "frr-a.keyed", FrrApplyMode.FRR_RELOAD)
    applier.unsettled, applier.synced = False, True

    async def racing(
        argv: Sequence[str], *, input_text: str | None = None, timeout: float = 30.0
    ) -> CommandResult:
        if argv and argv[-1].endswith("frr.conf") and str(reload) in argv:
            # The operator, just before frr-reload.py reads FRR's config.
            a.vtysh("configure terminal", "router bgp 65001", f"neighbor {C} password "
                    "op-changed-s3cret")  # fmt: skip
        return await run_command(argv, input_text=input_text, timeout=timeout)

    applier.runner = racing
    key = MD5_KEYS[0]
    caplog.set_level(logging.INFO, logger="rkmp_frr")
    result = asyncio.run(applier.apply([row(ProtocolId.TCP_MD5, D, 1, key, "KEYED-MD5")],
                                       int(time.time())))  # fmt: skip
    assert result.status in (ApplyStatus.FAILED, ApplyStatus.FAILED_RESTORED), result.describe()
    error = result.error or ""
    assert error.startswith("frr-reload.py failed"), error
    assert "password <hidden>" in error  # the operator's lines were in frr-reload.py's log
    shown = "\n".join((result.describe(), error, result.restore_error or "", caplog.text))
    for secret in (*OPERATOR_SECRETS, key):
        assert secret not in shown, secret
    assert "not rkmpd's" in caplog.text  # the operator's line frr-reload.py removed, named
