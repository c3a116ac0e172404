"""The BIRD sink's include files, as the installed BIRD parses them
(`bird -p -c`): BGP TCP-MD5 and OSPFv2/OSPFv3 key sets always, TCP-AO key
sets when the installed BIRD has TCP-AO (2.17 / 3.1 and later; otherwise
that test skips and says why). No daemon runs: `-p` only parses.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from integration.harness.routing import bird_unavailable_reason, bird_version
from rkmp_frr.engine.events import ChildParams, ChildRef
from rkmp_frr.keytable.rollover import RolloverPolicy, end_predecessor, new_key_lifetimes
from rkmp_frr.keytable.row import KeyRow
from rkmp_frr.profiles import KEY_PROFILES
from rkmp_frr.sinks.bird_render import (
    BirdBgpSession,
    BirdOspfArea,
    BirdOspfInstance,
    BirdOspfInterface,
    BirdRenderConfig,
    render_bird,
)
from rkmp_frr.sinks.features import BIRD_BGP_TCP_AO, bird_features, parse_bird_version
from rkmp_frr.wire.constants import IntegId, ProtocolId

NOW = 1_800_000_000
PEER = "10.250.0.2"
HITLESS = RolloverPolicy(send_delay=180, accept_grace=300)
BASE = "router id 10.250.0.1;\nprotocol device { }\n"


def row(protocol: ProtocolId, key_id: int, integ: IntegId, interface: str | None = None) -> KeyRow:
    """A row as the key profile makes it for a child SA with ``PEER``."""
    profile = KEY_PROFILES[protocol]
    params = ChildParams(
        ref=ChildRef((PEER, 500), protocol, key_id, key_id),
        integ=integ,
        options=(),
        pfs_group=None,
        rekey_at=0.0,
        expires_at=0.0,
        initiator=True,
        master_key=bytes([key_id]) * profile.master_key_length(integ),
    )
    lifetimes = new_key_lifetimes(HITLESS, NOW, None)
    interfaces = frozenset({interface}) if interface else frozenset({"all"})
    return profile.fill_row(params, lifetimes, interfaces=interfaces)


def rollover(protocol: ProtocolId, integ: IntegId, interface: str | None = None) -> list[KeyRow]:
    """An old key ending and its successor starting (make-before-break)."""
    old, new = row(protocol, 1, integ, interface), row(protocol, 2, integ, interface)
    new = new.with_lifetimes(new_key_lifetimes(HITLESS, NOW + 60, None))
    old = old.with_lifetimes(end_predecessor(old.lifetimes, new.send_lifetime_start, 300))
    return [old, new]


def parses(tmp_path: Path, include_text: str) -> subprocess.CompletedProcess[str]:
    include = tmp_path / "rkmp.conf"
    include.write_text(include_text)
    conf = tmp_path / "bird.conf"
    conf.write_text(f'{BASE}include "{include}";\n')
    return subprocess.run(
        ["bird", "-p", "-c", str(conf)], capture_output=True, text=True, timeout=30, check=False
    )


def require_bird() -> None:
    reason = bird_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)


def test_bird_parses_md5_and_ospf_includes(tmp_path: Path) -> None:
    require_bird()
    features = bird_features(parse_bird_version(f"BIRD {bird_version()}"))
    config = BirdRenderConfig(
        bgp=(BirdBgpSession("peer_b", PEER, neighbor_as=65002, local_as=65001,
                            options=("ipv4 { import none; export none; };",)),),
        ospf=(
            BirdOspfInstance("o2", 2, (BirdOspfArea("0", (BirdOspfInterface("veth0"),)),),
                             options=("ipv4 { import none; export none; };",)),
            BirdOspfInstance("o3", 3, (BirdOspfArea("0", (BirdOspfInterface("veth0"),)),),
                             options=("ipv6 { import none; export none; };",)),
        ),
    )  # fmt: skip
    rows = (
        rollover(ProtocolId.TCP_MD5, IntegId.RKMP_KEYED_MD5)
        + rollover(ProtocolId.OSPFV2, IntegId.RKMP_HMAC_SHA2_256, "veth0")
        + rollover(ProtocolId.OSPFV3, IntegId.RKMP_HMAC_SHA2_256, "veth0")
    )
    for now in (NOW, NOW + 61, NOW + 400):  # before, during and after the rollover
        rendered = render_bird(rows, config, features, now)
        assert "password" in rendered.text and not rendered.refused
        result = parses(tmp_path, rendered.text)
        assert result.returncode == 0, result.stdout + result.stderr


def test_bird_parses_tcp_ao_include(tmp_path: Path) -> None:
    require_bird()
    version = parse_bird_version(f"BIRD {bird_version()}")
    features = bird_features(version)
    if not features.tcp_ao:
        pytest.skip(f"BIRD {version} has no TCP-AO ({BIRD_BGP_TCP_AO.describe()})")
    config = BirdRenderConfig(
        bgp=(BirdBgpSession("peer_b", PEER, neighbor_as=65002, local_as=65001,
                            options=("ipv4 { import none; export none; };",)),),
    )  # fmt: skip
    for integ in (IntegId.HMAC_SHA1_96, IntegId.AES_CMAC_96, IntegId.HMAC_SHA2_256_128):
        rows = rollover(ProtocolId.TCP_AO, integ)
        for now in (NOW, NOW + 61, NOW + 400):
            rendered = render_bird(rows, config, features, now)
            assert "authentication ao;" in rendered.text and not rendered.refused
            result = parses(tmp_path, rendered.text)
            assert result.returncode == 0, result.stdout + result.stderr
