"""The Service's pure helpers: indexed peer lookups give the answers of
the scans they replace; event log lines carry no key material."""

from __future__ import annotations

from pathlib import Path

from rkmp_frr.daemon.config_load import load_config
from rkmp_frr.daemon.service import PeerIndex, describe_event
from rkmp_frr.engine import ChildParams, ChildRef, ChildSaCreated, ChildSaRekeyed
from rkmp_frr.wire.constants import IntegId, ProtocolId

from .test_service_support import write_psk

SELECTORS = [
    "10.0.0.1",
    "10.0.0.0/30",
    "10.0.0.0/24",
    "10.0.1.7",
    "10.0.0.0/8",
    "192.0.2.9",
    "2001:db8::1",
    "2001:db8::/64",
    "10.0.0.2",
    "10.0.0.3/32",
    "2001:db8::2/128",
    "not-an-address",
]
HOSTS = [
    "10.0.0.1",
    "10.0.0.2",
    "10.0.0.3",
    "10.0.0.77",
    "10.0.1.7",
    "10.9.9.9",
    "192.0.2.9",
    "192.0.2.10",
    "2001:db8::1",
    "2001:db8::2",
    "2001:db9::1",
    "not-an-address",
    "bogus",
]


def test_peer_index_answers_like_the_configuration(tmp_path: Path) -> None:
    psk = write_psk(tmp_path)
    peers = "".join(
        f'[[peer]]\nname = "p{i}"\n'
        + (f'prefix = "{sel}"\n' if "/" in sel else f'address = "{sel}"\n')
        for i, sel in enumerate(SELECTORS[:-1])
    )
    config_file = tmp_path / "rkmpd.toml"
    config_file.write_text(
        f'[local]\nid = "r1.example"\nstate_dir = "{tmp_path}"\n[auth]\npsk_file = "{psk}"\n{peers}'
    )
    config = load_config(config_file)
    index = PeerIndex(config)
    for host in HOSTS:
        assert index.peer_for(host) == config.peer_for(host), host
        assert index.peer_for(host) == config.peer_for(host)  # memoised
    assert index.peer("p3") == config.peer("p3") and index.peer("nobody") is None


def test_event_lines_carry_no_keys() -> None:
    key = bytes(range(1, 33))
    ref = ChildRef(("192.0.2.2", 500), ProtocolId.TCP_AO, 5, 6)
    params = ChildParams(ref, IntegId.HMAC_SHA2_256_128, (), None, 1.0, 2.0, True, key)
    lines = [
        describe_event(ChildSaCreated(params), lambda host: "r2"),
        describe_event(ChildSaRekeyed(ref, params), lambda host: None),
    ]
    assert lines[0] == "tcp-ao key 5 (peer's 6) with r2 (192.0.2.2:500) created"
    for line in lines:
        assert line is not None and key.hex() not in line.lower()
