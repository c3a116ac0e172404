"""Valid configurations load into the right dataclasses and engine
policies; the shipped example loads; secrets stay out of reprs."""

from __future__ import annotations

import io
import re
from datetime import UTC
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from rkmp_frr.daemon.config import (
    BirdSink,
    CertAuth,
    ConfigError,
    DaemonConfig,
    Endpoint,
    FrrMode,
    FrrSink,
    KernelSink,
    PskAuth,
    check_config,
    load_config,
    parse_config,
)
from rkmp_frr.daemon.timezones import local_timezone
from rkmp_frr.engine import Engine
from rkmp_frr.engine.events import ChildRef, ChildSaCreated, Event, RkmpSaEstablished
from rkmp_frr.engine.policy import (
    CertTrust,
    Lifetime,
    OnFailure,
    PskCredential,
    RetransmitPolicy,
)
from rkmp_frr.engine.routing_proposals import PROFILES
from rkmp_frr.keytable.rollover import RolloverPolicy
from rkmp_frr.keytable.row import ALL_INTERFACES
from rkmp_frr.profiles.base import HITLESS_ROLLOVER, IMMEDIATE_ROLLOVER
from rkmp_frr.sinks.bird_render import (
    BirdBgpSession,
    BirdOspfArea,
    BirdOspfInstance,
    BirdOspfInterface,
    BirdRenderConfig,
)
from rkmp_frr.sinks.frr_config import FrrBgpNeighbor, FrrRenderConfig
from rkmp_frr.wire.constants import IntegId, KeId, ProtocolId, RkmpOptionId

from .test_config_support import BASE, PSK, der, make_pki, setup_dir, write, write_pki

EXAMPLE = Path(__file__).resolve().parents[2] / "etc" / "rkmpd.toml.example"


def load(tmp_path: Path, text: str = BASE, psk: bytes = PSK + b"\n") -> DaemonConfig:
    return load_config(setup_dir(tmp_path, text, psk))


# --------------------------------------------------------------------------- the base case


def test_base_config_sections(tmp_path: Path) -> None:
    config = load(tmp_path)
    assert config.file == tmp_path / "rkmpd.toml"
    local = config.local
    assert local.identity == "r1.example.net"
    assert local.listen == (Endpoint("10.0.0.1", 500),)
    # Relative paths are taken relative to the file's directory.
    assert local.state_dir == tmp_path / "state"
    assert local.control_socket == tmp_path / "rkmpd.sock"
    assert local.hooks_dir == tmp_path / "hooks.d"
    assert local.hook_timeout == 10.0
    assert isinstance(config.auth, PskAuth)
    assert config.auth.credential == PskCredential(PSK)
    assert config.rkmp.proposals == ("aes256gcm16-prfsha256-x25519",)
    assert config.rkmp.lifetime == Lifetime(4 * 3600.0, 1440.0, 1440.0)
    assert config.rkmp.liveness_interval == 30.0
    assert config.rkmp.retransmit == RetransmitPolicy()
    [peer] = config.peers
    assert (peer.name, peer.address, peer.prefix, peer.port) == ("r2", "10.0.0.2", None, 500)
    assert (peer.identity, peer.on_failure) == ("r2.example.net", OnFailure.REVOKE)
    [ospf] = peer.protocols
    assert ospf.protocol == ProtocolId.OSPFV2
    assert ospf.interface == "eth0"
    assert ospf.algorithms == (IntegId.RKMP_HMAC_SHA2_256,)
    assert ospf.lifetime == Lifetime(86400.0, 8640.0, 8640.0)
    assert ospf.rollover == HITLESS_ROLLOVER
    assert config.sinks.frr is None and config.sinks.bird is None and config.sinks.kernel is None
    assert config.warnings == ()


def test_defaults_when_optional_keys_are_left_out(tmp_path: Path) -> None:
    text = '[local]\nid = "192.0.2.1"\n[auth]\npsk_file = "psk"\n'
    config = load(tmp_path, text)
    assert config.local.listen == (Endpoint("0.0.0.0", 500),)
    assert config.local.state_dir == Path("/var/lib/rkmp")
    assert config.local.control_socket == Path("/run/rkmp/rkmpd.sock")
    assert config.local.hooks_dir == Path("/etc/rkmp/hooks.d")
    assert config.rkmp.proposals == ("aes256gcm16-prfsha256-x25519",)
    assert config.rkmp.lifetime == Lifetime(14400.0, 1440.0, 1440.0)
    assert config.rkmp.liveness_interval == 60.0
    assert config.peers == ()
    assert [w.key for w in config.warnings] == ["peer"]


def test_listen_forms(tmp_path: Path) -> None:
    text = BASE.replace(
        'listen = ["10.0.0.1:500"]',
        'listen = ["10.0.0.1", "10.0.0.1:4500", "[2001:db8::1]:4500", "2001:db8::2", "[::]"]',
    )
    config = load(tmp_path, text)
    assert config.local.listen == (
        Endpoint("10.0.0.1", 500),
        Endpoint("10.0.0.1", 4500),
        Endpoint("2001:db8::1", 4500),
        Endpoint("2001:db8::2", 500),
        Endpoint("::", 500),
    )
    assert [str(e) for e in config.local.listen[1:3]] == ["10.0.0.1:4500", "[2001:db8::1]:4500"]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ('"500ms"', 0.5),
        ('"30s"', 30.0),
        ('"5m"', 300.0),
        ('"4h"', 14400.0),
        ('"1d"', 86400.0),
        ('"1h30m"', 5400.0),
        ("45", 45.0),
        ("2.5", 2.5),
        ('"90"', 90.0),
    ],
)
def test_durations(tmp_path: Path, text: str, seconds: float) -> None:
    config = load(
        tmp_path, BASE.replace('liveness_interval = "30s"', f"liveness_interval = {text}")
    )
    assert config.rkmp.liveness_interval == seconds


def test_liveness_zero_turns_checks_off(tmp_path: Path) -> None:
    config = load(tmp_path, BASE.replace('liveness_interval = "30s"', "liveness_interval = 0"))
    assert config.rkmp.liveness_interval is None
    assert config.engine_config().peers[0].liveness_interval is None


# --------------------------------------------------------------------------- PSK files


@pytest.mark.parametrize(
    ("content", "key"),
    [
        (PSK + b"\n", PSK),
        (PSK, PSK),
        (PSK + b"\r\n", PSK),
        (PSK + b"\n\n", PSK + b"\n"),  # only one newline is the file's
        (b"0x00ff10ab\n", bytes.fromhex("00ff10ab")),
        (b"0X00FF\n", b"\x00\xff"),
        (b"\x00\x01binary", b"\x00\x01binary"),
    ],
)
def test_psk_file_contents(tmp_path: Path, content: bytes, key: bytes) -> None:
    config = load(tmp_path, psk=content)
    assert isinstance(config.auth, PskAuth)
    assert config.auth.credential.key == key
    assert config.auth.psk_file == tmp_path / "psk"


def test_psk_readable_by_others_is_a_warning(tmp_path: Path) -> None:
    path = setup_dir(tmp_path)
    (tmp_path / "psk").chmod(0o644)
    config = load_config(path)
    [warning] = config.warnings
    assert warning.key == "auth.psk_file"
    assert "mode 0644" in warning.problem
    assert str(warning) == f"{path}: auth.psk_file: {warning.problem}"
    out, err = io.StringIO(), io.StringIO()
    assert check_config(path, stdout=out, stderr=err) == 0
    assert err.getvalue() == f"warning: {warning}\n"
    assert "OK" in out.getvalue()


def test_secrets_are_not_in_reprs(tmp_path: Path) -> None:
    config = load(tmp_path)
    for text in (repr(config), str(config), repr(config.engine_config())):
        assert PSK.decode() not in text
        assert PSK.hex() not in text


# --------------------------------------------------------------------------- certificates


def test_certificate_auth(tmp_path: Path) -> None:
    pki = make_pki()
    write_pki(tmp_path, pki)
    text = BASE.replace(
        'psk_file = "psk"', 'certificate = "r1.crt"\nprivate_key = "r1.key"\nca = ["ca.crt"]'
    )
    config = load(tmp_path, text)
    assert isinstance(config.auth, CertAuth)
    assert config.auth.certificate == tmp_path / "r1.crt"
    assert config.auth.ca == (tmp_path / "ca.crt",)
    assert config.auth.credential.chain == (der(pki.cert),)
    assert config.auth.trust == CertTrust((der(pki.ca_cert),))
    engine = config.engine_config()
    assert engine.credential is config.auth.credential
    assert engine.peers[0].remote_auth == CertTrust((der(pki.ca_cert),))
    assert pki.key_pem.decode() not in repr(config)
    assert config.warnings == ()


def test_certificate_peer_without_id_warns(tmp_path: Path) -> None:
    write_pki(tmp_path, make_pki())
    text = BASE.replace(
        'psk_file = "psk"', 'certificate = "r1.crt"\nprivate_key = "r1.key"\nca = "ca.crt"'
    ).replace('id = "r2.example.net"\n', "")
    config = load(tmp_path, text)
    assert [w.key for w in config.warnings] == ["peer[0].id"]


def test_private_key_readable_by_others_warns(tmp_path: Path) -> None:
    write_pki(tmp_path, make_pki())
    (tmp_path / "r1.key").chmod(0o640)
    text = BASE.replace(
        'psk_file = "psk"', 'certificate = "r1.crt"\nprivate_key = "r1.key"\nca = ["ca.crt"]'
    )
    config = load(tmp_path, text)
    assert [w.key for w in config.warnings] == ["auth.private_key"]


def test_private_key_errors_do_not_quote_the_key(tmp_path: Path) -> None:
    pki = make_pki()
    write_pki(tmp_path, pki)
    # A private key given as the certificate: the error must not echo it.
    text = BASE.replace(
        'psk_file = "psk"', 'certificate = "r1.key"\nprivate_key = "r1.key"\nca = ["ca.crt"]'
    )
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    assert info.value.key == "auth.certificate"
    body = pki.key_pem.decode().splitlines()[1]
    assert body not in str(info.value)


# --------------------------------------------------------------------------- protocols

# (type, config algorithm name, INTEG transform) for every protocol and MAC.
ALGORITHMS = [
    ("tcp-ao", "hmac-sha-1-96", IntegId.HMAC_SHA1_96),
    ("tcp-ao", "aes-128-cmac-96", IntegId.AES_CMAC_96),
    ("tcp-ao", "hmac-sha-256", IntegId.HMAC_SHA2_256_128),
    ("tcp-ao", "hmac-sha-256-128", IntegId.HMAC_SHA2_256_128),
    ("tcp-md5", "md5", IntegId.RKMP_KEYED_MD5),
    ("ospfv2", "md5", IntegId.RKMP_KEYED_MD5),
    ("ospfv2", "keyed-md5", IntegId.RKMP_KEYED_MD5),
    ("ospfv2", "hmac-sha-1", IntegId.RKMP_HMAC_SHA1),
    ("ospfv2", "hmac-sha-256", IntegId.RKMP_HMAC_SHA2_256),
    ("ospfv2", "hmac-sha-384", IntegId.RKMP_HMAC_SHA2_384),
    ("ospfv2", "HMAC-SHA-512", IntegId.RKMP_HMAC_SHA2_512),
    ("ospfv3", "hmac-sha-1", IntegId.RKMP_HMAC_SHA1),
    ("ospfv3", "hmac-sha-256", IntegId.RKMP_HMAC_SHA2_256),
    ("ospfv3", "hmac-sha-384", IntegId.RKMP_HMAC_SHA2_384),
    ("ospfv3", "hmac-sha-512", IntegId.RKMP_HMAC_SHA2_512),
    ("isis", "hmac-sha-1", IntegId.RKMP_HMAC_SHA1),
    ("isis", "hmac-sha-256", IntegId.RKMP_HMAC_SHA2_256),
    ("isis", "hmac-sha-384", IntegId.RKMP_HMAC_SHA2_384),
    ("isis", "hmac-sha-512", IntegId.RKMP_HMAC_SHA2_512),
    ("bfd", "keyed-md5", IntegId.RKMP_KEYED_MD5),
    ("bfd", "keyed-sha1", IntegId.RKMP_HMAC_SHA1),
    ("bfd", "keyed-sha-1", IntegId.RKMP_HMAC_SHA1),
    ("ospfv3-ipsec", "hmac-sha-1-96", IntegId.HMAC_SHA1_96),
    ("ospfv3-ipsec", "hmac-sha-256-128", IntegId.HMAC_SHA2_256_128),
]
PROTOCOL_IDS = {
    "tcp-ao": ProtocolId.TCP_AO,
    "tcp-md5": ProtocolId.TCP_MD5,
    "ospfv2": ProtocolId.OSPFV2,
    "ospfv3": ProtocolId.OSPFV3,
    "isis": ProtocolId.ISIS,
    "bfd": ProtocolId.BFD,
    "ospfv3-ipsec": ProtocolId.OSPFV3_IPSEC,
}


def protocol_block(type_name: str, algorithm: str, extra: str = "") -> str:
    return (
        f'  [[peer.protocol]]\n  type = "{type_name}"\n  interface = "eth1"\n'
        f'  algorithm = "{algorithm}"\n{extra}'
    )


def single_protocol(type_name: str, algorithm: str, extra: str = "") -> str:
    head = BASE[: BASE.index("  [[peer.protocol]]")]
    return head + protocol_block(type_name, algorithm, extra)


@pytest.mark.parametrize(("type_name", "algorithm", "integ"), ALGORITHMS)
def test_every_protocol_and_algorithm(
    tmp_path: Path, type_name: str, algorithm: str, integ: IntegId
) -> None:
    config = load(tmp_path, single_protocol(type_name, algorithm))
    [entry] = config.peers[0].protocols
    protocol = PROTOCOL_IDS[type_name]
    assert entry.protocol == protocol
    assert entry.algorithms == (integ,)
    assert integ in PROFILES[protocol].integ  # the engine's table allows it
    [child] = config.engine_config().peers[0].children
    assert (child.protocol, child.integ) == (protocol, (integ,))


def test_the_table_covers_every_allowed_mac() -> None:
    covered = {(PROTOCOL_IDS[t], integ) for t, _, integ in ALGORITHMS}
    allowed = {(p, integ) for p in PROTOCOL_IDS.values() for integ in PROFILES[p].integ}
    assert covered == allowed


def test_child_policy_fields(tmp_path: Path) -> None:
    extra = (
        '  rekey_time = "2h"\n  pfs = ["x25519", "ecp256"]\n  tcp_options = "exclude"\n'
        "  key_ids = [10, 20]\n"
    )
    text = single_protocol("tcp-ao", "aes-128-cmac-96", extra).replace(
        'algorithm = "aes-128-cmac-96"', 'algorithm = ["aes-128-cmac-96", "hmac-sha-1-96"]'
    )
    config = load(tmp_path, text)
    [child] = config.engine_config().peers[0].children
    assert child.protocol == ProtocolId.TCP_AO
    assert child.integ == (IntegId.AES_CMAC_96, IntegId.HMAC_SHA1_96)
    assert child.pfs_groups == (KeId.CURVE25519, KeId.ECP_256)
    assert child.options == (RkmpOptionId.TCP_AO_EXCLUDE_OPTIONS,)
    assert child.key_ids == range(10, 21)
    assert child.lifetime == Lifetime(7200.0, 720.0, 720.0)


def test_interfaces_and_rollover_lookups(tmp_path: Path) -> None:
    text = (
        BASE
        + protocol_block("tcp-md5", "md5")
        + protocol_block("bfd", "keyed-md5", '  send_delay = "10s"\n  accept_grace = "20s"\n')
        + '\n[rollover.ospfv2]\nsend_delay = "1m"\naccept_grace = "2m"\nhard_expiry = "1h"\n'
    )
    config = load(tmp_path, text)
    ospf = RolloverPolicy(60, 120, 3600)
    assert config.rollover[ProtocolId.OSPFV2] == ospf
    assert config.rollover[ProtocolId.TCP_MD5] == IMMEDIATE_ROLLOVER
    assert config.rollover[ProtocolId.TCP_AO] == HITLESS_ROLLOVER
    assert config.rollover_for("10.0.0.2", ProtocolId.OSPFV2) == ospf
    assert config.rollover_for("10.0.0.2", ProtocolId.BFD) == RolloverPolicy(10, 20, 0)
    assert config.rollover_for("10.0.0.2", ProtocolId.TCP_MD5) == IMMEDIATE_ROLLOVER
    assert config.rollover_for("10.9.9.9", ProtocolId.BFD) == HITLESS_ROLLOVER
    ref = ChildRef(("10.0.0.2", 500), ProtocolId.OSPFV2, 1, 1)
    assert config.interfaces_for(ref) == frozenset({"eth0"})
    assert config.interfaces_for(ChildRef(("10.0.0.3", 500), ProtocolId.OSPFV2, 1, 1)) == (
        ALL_INTERFACES
    )


# --------------------------------------------------------------------------- peers


PREFIX_PEERS = """
[[peer]]
name = "wide"
prefix = "10.0.0.0/16"
on_failure = "keep"
proposals = ["aes128gcm16-prfsha256-ecp256"]
rekey_time = "1h"
liveness_interval = "10s"
port = 4500

[[peer]]
name = "narrow"
prefix = "10.0.0.0/30"

[[peer]]
name = "v6"
prefix = "2001:db8::/64"
"""


def test_prefix_peers_and_specificity(tmp_path: Path) -> None:
    config = load(tmp_path, BASE + PREFIX_PEERS)
    assert [p.name for p in config.peers] == ["r2", "wide", "narrow", "v6"]
    wide = config.peer("wide")
    assert wide is not None
    assert (wide.address, wide.prefix, wide.port) == (None, "10.0.0.0/16", 4500)
    assert wide.on_failure == OnFailure.KEEP
    engine = config.engine_config()
    # Most specific first: the address, then /64, /30, /16.
    assert [p.name for p in engine.peers] == ["r2", "v6", "narrow", "wide"]
    assert engine.peer_for("10.0.0.2") is engine.peers[0]
    assert engine.peer_for("10.0.0.1").name == "narrow"  # type: ignore[union-attr]
    assert engine.peer_for("10.0.7.7").name == "wide"  # type: ignore[union-attr]
    assert engine.peer_for("2001:db8::9").name == "v6"  # type: ignore[union-attr]
    assert engine.peer_for("192.0.2.1") is None
    policy = engine.peers[3]
    assert policy.address == "10.0.0.0/16"
    assert policy.rkmp_proposals == ("aes128gcm16-prfsha256-ecp256",)
    assert policy.rkmp_lifetime == Lifetime(3600.0, 360.0, 360.0)
    assert policy.liveness_interval == 10.0
    assert policy.on_failure == OnFailure.KEEP
    assert config.peer_for("10.0.0.1") is config.peer("narrow")
    assert config.peer_for("not an address") is None
    # Warnings for prefix peers without protocols, nothing else.
    assert [w.key for w in config.warnings] == [
        "peer[1].protocol",
        "peer[2].protocol",
        "peer[3].protocol",
    ]


def test_engine_config_maps_rkmp_settings(tmp_path: Path) -> None:
    rkmp = (
        'rand_time = "10m"\nover_time = "20m"\nretransmit_timeout = "2s"\nretransmit_base = 2\n'
        'retransmit_tries = 3\nretransmit_jitter = 0.1\nretransmit_limit = "30s"\n'
        'cookie_threshold = 100\ncookie_threshold_per_address = 10\nhalf_open_timeout = "1m"\n'
        "max_half_open_initiations = 16\n"
    )
    config = load(
        tmp_path, BASE.replace('liveness_interval = "30s"\n', f'liveness_interval = "30s"\n{rkmp}')
    )
    engine = config.engine_config()
    assert engine.identity == "r1.example.net"
    assert engine.retransmit == RetransmitPolicy(2.0, 2.0, 3, 0.1, 30.0)
    assert (engine.dos.cookie_threshold, engine.dos.cookie_threshold_per_address) == (100, 10)
    assert engine.dos.half_open_timeout == 60.0
    assert config.rkmp.max_half_open_initiations == 16
    [peer] = engine.peers
    assert peer.rkmp_lifetime == Lifetime(14400.0, 600.0, 1200.0)
    assert peer.remote_identity == "r2.example.net"
    assert peer.remote_auth is None  # the PSK, both ways
    assert engine.remote_auth_for(peer) == PskCredential(PSK)
    assert engine.identity_for(peer) == "r1.example.net"  # no local_id: [local] id


def test_peer_local_id_overrides_the_local_identity(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        BASE.replace('id = "r2.example.net"', 'id = "r2.example.net"\nlocal_id = "keyid:01ab"'),
    )
    [peer] = config.engine_config().peers
    assert peer.local_identity == "keyid:01ab"
    assert config.engine_config().identity_for(peer) == "keyid:01ab"


# --------------------------------------------------------------------------- sinks


def test_sinks(tmp_path: Path) -> None:
    sinks = """
[sinks.frr]
vtysh = "/usr/bin/vtysh"
vty_socket = "/run/frr/r1"
mode = "frr-reload"
dry_run = true
templates_dir = "templates/frr"

[sinks.bird]
birdc = "birdc"
socket = "/run/bird/bird.ctl"
include_file = "/etc/bird/rkmp.conf"
confirm_timeout = "30s"

[sinks.kernel]
enabled = false
"""
    config = load(tmp_path, BASE + sinks)
    assert config.sinks.frr == FrrSink(
        vtysh="/usr/bin/vtysh",
        vty_socket=Path("/run/frr/r1"),
        pathspace=None,
        mode=FrrMode.FRR_RELOAD,
        dry_run=True,
        templates_dir=tmp_path / "templates/frr",
    )
    assert config.sinks.bird == BirdSink(
        birdc="birdc",
        socket=Path("/run/bird/bird.ctl"),
        include_file=Path("/etc/bird/rkmp.conf"),
        confirm_timeout=30.0,
        dry_run=False,
        templates_dir=None,
    )
    assert config.sinks.kernel == KernelSink(enabled=False)


def test_sink_renderer_settings(tmp_path: Path) -> None:
    sinks = """
[sinks.frr]
key_chain_prefix = "r1"
timezone = "Europe/Berlin"
  [[sinks.frr.bgp_neighbor]]
  address = "2001:db8:0::2"
  asn = 4200000000
  vrf = "blue"
  [[sinks.frr.bgp_neighbor]]
  address = "10.0.0.2"
  asn = 65001

[sinks.bird]
include_file = "rkmp-keys.conf"
timezone = "UTC"
  [[sinks.bird.bgp]]
  name = "r2"
  neighbor = "10.0.0.2"
  neighbor_as = 65002
  local_as = 65001
  local_address = "10.0.0.1"
  template = "rkmp_peer"
  options = ["hold time 9;"]
  [[sinks.bird.ospf]]
  name = "ospf_v3"
  version = 3
  options = ["ipv6 { import all; };"]
    [[sinks.bird.ospf.area]]
    area = 0
      [[sinks.bird.ospf.area.interface]]
      name = "eth0"
      options = ["type ptp;", "hello 1;"]
    [[sinks.bird.ospf.area]]
    area = "0.0.0.1"
    options = ["stub;"]
      [[sinks.bird.ospf.area.interface]]
      name = "eth1"
      secured = false
"""
    config = load(tmp_path, BASE + sinks)
    frr, bird = config.sinks.frr, config.sinks.bird
    assert frr is not None and bird is not None
    assert frr.render_config() == FrrRenderConfig(
        bgp_neighbors=(
            FrrBgpNeighbor("2001:db8::2", 4200000000, "blue"),
            FrrBgpNeighbor("10.0.0.2", 65001),
        ),
        key_chain_prefix="r1",
        timezone=ZoneInfo("Europe/Berlin"),
    )
    assert bird.include_file == tmp_path / "rkmp-keys.conf"
    assert bird.render_config() == BirdRenderConfig(
        bgp=(
            BirdBgpSession(
                "r2", "10.0.0.2", 65002, 65001, "10.0.0.1", "rkmp_peer", ("hold time 9;",)
            ),
        ),
        ospf=(
            BirdOspfInstance(
                "ospf_v3",
                3,
                (
                    BirdOspfArea("0", (BirdOspfInterface("eth0", ("type ptp;", "hello 1;")),)),
                    BirdOspfArea(
                        "0.0.0.1", (BirdOspfInterface("eth1", secured=False),), ("stub;",)
                    ),
                ),
                options=("ipv6 { import all; };",),
            ),
        ),
        timezone=UTC,
    )


def test_sink_time_zone_defaults_to_the_hosts(tmp_path: Path) -> None:
    config = load(tmp_path, BASE + '\n[sinks.frr]\ntimezone = "local"\n')
    assert config.sinks.frr is not None and config.sinks.frr.timezone is None
    assert config.sinks.frr.render_config().timezone is local_timezone()
    # The same zone object on every load: a reload sees no change.
    assert load(tmp_path, BASE + "\n[sinks.frr]\n").sinks == config.sinks


# --------------------------------------------------------------------------- the example


def test_example_config_loads(tmp_path: Path) -> None:
    psk = write(tmp_path, "psk", PSK + b"\n")
    text = EXAMPLE.read_text()
    assert 'psk_file = "/etc/rkmp/psk"' in text
    config = parse_config(
        text.replace('psk_file = "/etc/rkmp/psk"', f'psk_file = "{psk}"'), EXAMPLE
    )
    assert config.warnings == ()
    assert [p.name for p in config.peers] == ["r2", "lan1"]
    assert [e.protocol for e in config.peers[0].protocols] == [ProtocolId.OSPFV2, ProtocolId.TCP_AO]
    assert config.peers[1].prefix == "192.0.2.0/30"
    assert config.sinks.frr is not None and config.sinks.frr.mode == FrrMode.VTYSH
    assert config.engine_config().peers[0].name == "r2"


def test_example_sink_settings_load_when_uncommented(tmp_path: Path) -> None:
    """The commented-out sink settings of the example are valid as written."""
    psk = write(tmp_path, "psk", PSK + b"\n")
    text = EXAMPLE.read_text().replace('psk_file = "/etc/rkmp/psk"', f'psk_file = "{psk}"')
    setting = re.compile(r"^#(\s*)(\[\[?sinks\.[a-z_.]+\]\]?|[a-z_]+ = .*)$")
    head, sinks = text.split("[sinks.frr]", 1)
    # (pathspace is the alternative to vty_socket)
    sinks = sinks.split("# Kernel checks", 1)[0].replace("# pathspace =", "# (pathspace) =")
    uncommented = [
        re.sub(r"\s+#.*$", "", match[1] + match[2]) if (match := setting.match(line)) else line
        for line in sinks.splitlines()
    ]
    config = parse_config(head + "[sinks.frr]" + "\n".join(uncommented), EXAMPLE)
    assert config.sinks.frr is not None and config.sinks.bird is not None
    assert [n.address for n in config.sinks.frr.bgp_neighbors] == ["10.0.0.2"]
    assert config.sinks.frr.templates_dir == Path("/etc/rkmp/templates")
    assert [s.name for s in config.sinks.bird.bgp] == ["r2"]
    [ospf] = config.sinks.bird.ospf
    assert [(i.name, i.secured) for a in ospf.areas for i in a.interfaces] == [
        ("eth0", True),
        ("lo", False),
    ]


def test_example_names_every_key_the_issue_requires() -> None:
    text = EXAMPLE.read_text()
    for key in (
        "[local]", "id =", "listen =", "state_dir =", "control_socket =", "hooks_dir =",
        "[auth]", "psk_file =", "certificate =", "private_key =", "ca =", "[rkmp]",
        "proposals =", "rekey_time =", "liveness_interval =", "[[peer]]", "name =",
        "address =", "prefix =", "port =", "on_failure =", "[[peer.protocol]]", "type =",
        "interface =", "algorithm =", "[sinks.frr]", "[sinks.bird]",
    ):  # fmt: skip
        assert key in text, key


# --------------------------------------------------------------------------- end to end


def _config_pair(tmp_path: Path) -> tuple[DaemonConfig, DaemonConfig]:
    """Two routers' configs: r1 keys OSPFv2 and TCP-AO with r2 by address;
    r2 knows r1 only through a prefix."""
    r1_dir, r2_dir = tmp_path / "r1", tmp_path / "r2"
    r1_dir.mkdir()
    r2_dir.mkdir()
    r1 = BASE + protocol_block("tcp-ao", "hmac-sha-256", '  pfs = "x25519"\n')
    r2 = (
        BASE.replace('id = "r1.example.net"', 'id = "r2.example.net"')
        .replace("10.0.0.1:500", "10.0.0.2:500")
        .replace('name = "r2"', 'name = "lan"')
        .replace('address = "10.0.0.2"', 'prefix = "10.0.0.0/30"')
        .replace('id = "r2.example.net"\non_failure', 'id = "r1.example.net"\non_failure')
    ) + protocol_block("tcp-ao", "hmac-sha-256", '  pfs = "x25519"\n')
    return load(r1_dir, r1), load(r2_dir, r2)


def _run(a: Engine, b: Engine, addr_a: tuple[str, int], addr_b: tuple[str, int]) -> None:
    now = 1_700_000_000.0
    a.initiate(addr_b, now)
    for _ in range(50):
        moved = False
        for src, src_addr, dst in ((a, addr_a, b), (b, addr_b, a)):
            for data, _dst in src.datagrams_to_send(now):
                dst.receive_datagram(data, src_addr, now)
                moved = True
        if not moved:
            return
    raise AssertionError("the exchange did not settle")


def _events(engine: Engine) -> list[Event]:
    events = []
    while (event := engine.next_event()) is not None:
        events.append(event)
    return events


def test_two_routers_from_config_establish_their_child_sas(tmp_path: Path) -> None:
    r1, r2 = _config_pair(tmp_path)
    a, b = Engine(r1.engine_config()), Engine(r2.engine_config())
    addr_a, addr_b = ("10.0.0.1", 500), ("10.0.0.2", 500)
    _run(a, b, addr_a, addr_b)
    events_a, events_b = _events(a), _events(b)
    [est_a] = [e for e in events_a if isinstance(e, RkmpSaEstablished)]
    assert (est_a.local_identity, est_a.remote_identity) == ("r1.example.net", "r2.example.net")
    children_a = {e.child.ref.protocol: e.child for e in events_a if isinstance(e, ChildSaCreated)}
    children_b = {e.child.ref.protocol: e.child for e in events_b if isinstance(e, ChildSaCreated)}
    assert set(children_a) == set(children_b) == {ProtocolId.OSPFV2, ProtocolId.TCP_AO}
    for protocol, child in children_a.items():
        assert child.master_key == children_b[protocol].master_key
    assert children_a[ProtocolId.OSPFV2].integ == IntegId.RKMP_HMAC_SHA2_256
    assert children_a[ProtocolId.TCP_AO].integ == IntegId.HMAC_SHA2_256_128
    assert children_a[ProtocolId.TCP_AO].pfs_group == KeId.CURVE25519
