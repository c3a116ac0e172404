"""Daemon version detection and the start-time check of configured
protocols against what the daemon can do."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from rkmp_frr.daemon.config_load import load_config
from rkmp_frr.daemon.config_model import PeerConfig
from rkmp_frr.sinks.bird_render import (
    BirdBgpSession,
    BirdOspfArea,
    BirdOspfInstance,
    BirdOspfInterface,
    BirdRenderConfig,
)
from rkmp_frr.sinks.detect import (
    DetectionError,
    check_bird,
    check_frr,
    detect_bird,
    detect_frr,
)
from rkmp_frr.sinks.features import Version, bird_features, frr_features
from rkmp_frr.sinks.frr_apply import VtyshCommand
from rkmp_frr.sinks.frr_config import FrrBgpNeighbor, FrrRenderConfig
from rkmp_frr.sinks.render import MissingSinkConfig, UnsupportedFeature
from rkmp_frr.sinks.runner import CommandError, CommandResult, CommandRunner

# What FRR 8.4.4 (Debian 12) answers, as seen on this machine.
FRR_SHOW_VERSION = (
    "FRRouting 8.4.4 (vm) on Linux(6.18.44).\n"
    "Copyright 1996-2005 Kunihiro Ishiguro, et al.\nconfigured with:\n    '--build=x86_64'\n"
)


def scripted(answers: dict[str, CommandResult | None]) -> CommandRunner:
    async def runner(
        argv: Sequence[str], *, input_text: str | None = None, timeout: float = 30.0
    ) -> CommandResult:
        answer = answers[" ".join(argv)]
        if answer is None:
            raise CommandError(f"cannot run {argv[0]}")
        return answer

    return runner


def test_detect_frr_from_show_version() -> None:
    vtysh = VtyshCommand(vty_socket=Path("/run/x"))
    runner = scripted(
        {"vtysh --vty_socket /run/x -c show version": CommandResult((), 0, FRR_SHOW_VERSION, "")}
    )
    features, detected = asyncio.run(detect_frr(vtysh, runner))
    assert features.version == Version(8, 4, 4)
    assert detected.answer.startswith("FRRouting 8.4.4")


def test_detect_frr_unreachable_is_an_error() -> None:
    runner = scripted(
        {"vtysh -c show version": CommandResult((), 1, "", "Exiting: failed to connect")}
    )
    with pytest.raises(DetectionError, match="failed to connect"):
        asyncio.run(detect_frr(VtyshCommand(), runner))


def test_detect_bird_prefers_the_running_daemon_then_the_binary() -> None:
    running = scripted(
        {"birdc -s s show status": CommandResult((), 0, "BIRD 2.17.6 ready.\nBIRD 2.17.6\n", "")}
    )
    features, _ = asyncio.run(detect_bird(["birdc", "-s", "s"], runner=running))
    assert features.version == Version(2, 17, 6) and features.tcp_ao
    # BIRD not running: birdc cannot connect; `bird --version` answers on stderr.
    stopped = scripted(
        {
            "birdc -s s show status": CommandResult((), 1, "Unable to connect to server\n", ""),
            "bird --version": CommandResult((), 0, "", "BIRD version 2.0.12\n"),
        }
    )
    features, detected = asyncio.run(detect_bird(["birdc", "-s", "s"], runner=stopped))
    assert features.version == Version(2, 0, 12) and not features.tcp_ao
    assert detected.answer == "BIRD 2.0.12"
    nothing = scripted({"birdc -s s show status": None, "bird --version": None})
    with pytest.raises(DetectionError, match="cannot run"):
        asyncio.run(detect_bird(["birdc", "-s", "s"], runner=nothing))


PEERS_TOML = """
[local]
id = "r1.test"
listen = ["10.0.0.1:500"]
state_dir = "{dir}/state"
control_socket = "{dir}/ctl.sock"
hooks_dir = "{dir}/hooks"

[auth]
psk_file = "{dir}/psk"

[[peer]]
name = "r2"
address = "10.0.0.2"
  [[peer.protocol]]
  type = "tcp-md5"
  algorithm = "md5"
  [[peer.protocol]]
  type = "ospfv2"
  interface = "eth0"
  algorithm = "hmac-sha-256"
  [[peer.protocol]]
  type = "tcp-ao"
  algorithm = "hmac-sha-1-96"

[[peer]]
name = "lan"
prefix = "10.9.0.0/24"
  [[peer.protocol]]
  type = "tcp-md5"
  algorithm = "md5"
"""


def peers(tmp_path: Path) -> tuple[PeerConfig, ...]:
    (tmp_path / "psk").write_text("0x" + "ab" * 32 + "\n")
    (tmp_path / "psk").chmod(0o600)
    config = tmp_path / "rkmpd.toml"
    config.write_text(PEERS_TOML.format(dir=tmp_path))
    return load_config(config).peers


def test_frr_84_refuses_tcp_ao_and_hmac_ospf_at_start(tmp_path: Path) -> None:
    render = FrrRenderConfig(bgp_neighbors=(FrrBgpNeighbor("10.0.0.2", 65001),))
    errors = check_frr(peers(tmp_path), render, frr_features(Version(8, 4, 4)))
    unsupported = sorted(e.protocol for e in errors if isinstance(e, UnsupportedFeature))
    assert unsupported == ["OSPFv2", "TCP-AO"]
    assert not [e for e in errors if isinstance(e, MissingSinkConfig)]  # prefix peer: no error
    # FRR 9.1 has OSPFv2 key chains; TCP-AO stays refused.
    errors = check_frr(peers(tmp_path), render, frr_features(Version(9, 1)))
    assert [e.protocol for e in errors if isinstance(e, UnsupportedFeature)] == ["TCP-AO"]


def test_frr_bgp_neighbour_missing_from_the_sink_config(tmp_path: Path) -> None:
    errors = check_frr(peers(tmp_path), FrrRenderConfig(), frr_features(Version(9, 1)))
    missing = [e for e in errors if isinstance(e, MissingSinkConfig)]
    assert [e.what for e in missing] == ["BGP neighbour 10.0.0.2"]


def test_bird_tcp_ao_by_version(tmp_path: Path) -> None:
    render = BirdRenderConfig(
        bgp=(BirdBgpSession("r2", "10.0.0.2", neighbor_as=65002, local_as=65001),),
        ospf=(BirdOspfInstance("o", 2, (BirdOspfArea("0", (BirdOspfInterface("eth0"),)),)),),
    )
    old = check_bird(peers(tmp_path), render, bird_features(Version(2, 0, 12)))
    assert [e.protocol for e in old if isinstance(e, UnsupportedFeature)] == ["TCP-AO"]
    new = check_bird(peers(tmp_path), render, bird_features(Version(2, 17, 6)))
    assert [e for e in new if isinstance(e, UnsupportedFeature)] == []
