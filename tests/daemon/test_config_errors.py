"""Broken configurations: each gives one line, ``<file>: <key>: <problem>``,
naming the right key, and the check-config entry point exits with 2."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from rkmp_frr.daemon.config import ConfigError, check_config, load_config, main

from .test_config_support import BASE, PSK, make_pki, setup_dir, write, write_pki

PEER = """\
[[peer]]
name = "r2"
address = "10.0.0.2"
port = 500
id = "r2.example.net"
on_failure = "revoke"
"""
PROTOCOL = """\
  [[peer.protocol]]
  type = "ospfv2"
  interface = "eth0"
  algorithm = "hmac-sha-256"
  rekey_time = "24h"
"""
FRR = BASE + '\n[sinks.frr]\nvtysh = "vtysh"\n'
BIRD = BASE + '\n[sinks.bird]\ninclude_file = "rkmp.conf"\n'
BIRD_OSPF = """
[[sinks.bird.ospf]]
name = "o1"
version = 2
  [[sinks.bird.ospf.area]]
  area = "0.0.0.0"
    [[sinks.bird.ospf.area.interface]]
    name = "eth0"
"""
CERT_AUTH = 'certificate = "r1.crt"\nprivate_key = "r1.key"\nca = ["ca.crt"]\n'


def edit(old: str, new: str) -> str:
    """BASE with ``old`` replaced (which must be there, else the case
    would test nothing)."""
    assert old in BASE, old
    return BASE.replace(old, new, 1)


def add_peer(text: str) -> str:
    return BASE + "\n" + text


@dataclass(frozen=True)
class Case:
    config: str
    key: str
    problem: str  # a fragment of the problem text
    psk: bytes | None = PSK + b"\n"  # None: no psk file
    setup: Callable[[Path], None] = field(default=lambda d: None)


def _psk_dir(directory: Path) -> None:
    (directory / "psk").unlink()
    (directory / "psk").mkdir()


def _pki(directory: Path) -> None:
    write_pki(directory, make_pki())


def _not_a_cert(directory: Path) -> None:
    _pki(directory)
    write(directory, "ca.crt", "this is not a certificate\n")


CASES: dict[str, Case] = {
    # --- missing keys and tables
    "missing [local]": Case(
        BASE[BASE.index("[auth]") :], "local", "missing (required table [local])"
    ),
    "missing local.id": Case(edit('id = "r1.example.net"\n', ""), "local.id", "missing"),
    "missing [auth]": Case(edit('[auth]\npsk_file = "psk"\n', ""), "auth", "missing"),
    "empty [auth]": Case(edit('psk_file = "psk"\n', ""), "auth.psk_file", "missing"),
    "missing peer name": Case(edit('name = "r2"\n', ""), "peer[0].name", "missing"),
    "peer without address or prefix": Case(
        edit('address = "10.0.0.2"\n', ""), "peer[0].address", "give address"
    ),
    "missing protocol type": Case(
        edit('type = "ospfv2"\n', ""), "peer[0].protocol[0].type", "missing"
    ),
    "missing algorithm": Case(
        edit('algorithm = "hmac-sha-256"\n', ""), "peer[0].protocol[0].algorithm", "missing"
    ),
    "ospfv2 without interface": Case(
        edit('interface = "eth0"\n', ""), "peer[0].protocol[0].interface", "belong to an interface"
    ),
    "certificate without private key": Case(
        edit('psk_file = "psk"\n', 'certificate = "r1.crt"\nca = ["ca.crt"]\n'),
        "auth.private_key",
        "missing",
        setup=_pki,
    ),
    "bird sink without include_file": Case(
        BASE + '\n[sinks.bird]\nbirdc = "birdc"\n', "sinks.bird.include_file", "missing"
    ),
    # --- wrong types
    "id is a number": Case(edit('id = "r1.example.net"', "id = 42"), "local.id", "got an integer"),
    "listen is a string": Case(
        edit('listen = ["10.0.0.1:500"]', 'listen = "10.0.0.1:500"'),
        "local.listen",
        "expected an array of strings, got a string",
    ),
    "port is a string": Case(edit("port = 500", 'port = "500"'), "peer[0].port", "got a string"),
    "liveness is a boolean": Case(
        edit('liveness_interval = "30s"', "liveness_interval = true"),
        "rkmp.liveness_interval",
        "boolean",
    ),
    "algorithm list with a number": Case(
        edit('algorithm = "hmac-sha-256"', 'algorithm = ["hmac-sha-256", 7]'),
        "peer[0].protocol[0].algorithm[1]",
        "expected a string, got an integer",
    ),
    "[peer] as a table": Case(
        edit("[[peer]]", "[peer]"),
        "peer",
        "expected an array of tables ([[peer]])",
    ),
    "[local] as a value": Case(
        'local = "r1"\n' + BASE[BASE.index("[auth]") :], "local", "expected a table, got a string"
    ),
    "dry_run is a string": Case(
        BASE + '\n[sinks.frr]\ndry_run = "yes"\n', "sinks.frr.dry_run", "expected a boolean"
    ),
    # --- PSK file
    "unreadable psk (missing)": Case(BASE, "auth.psk_file", "cannot read", psk=None),
    "unreadable psk (a directory)": Case(BASE, "auth.psk_file", "cannot read", setup=_psk_dir),
    "empty psk": Case(BASE, "auth.psk_file", "the pre-shared key is empty", psk=b"\n"),
    "psk 0x without hex": Case(
        BASE, "auth.psk_file", "not hex digits", psk=b"0xnot-hex-" + PSK + b"\n"
    ),
    "psk and certificate": Case(
        edit('psk_file = "psk"\n', 'psk_file = "psk"\ncertificate = "r1.crt"\n'),
        "auth.certificate",
        "either psk_file or certificate",
    ),
    # --- certificates
    "private key does not match": Case(
        edit('psk_file = "psk"\n', CERT_AUTH.replace("r1.key", "other.key")),
        "auth.private_key",
        "does not match",
        setup=_pki,
    ),
    "ca not a certificate": Case(
        edit('psk_file = "psk"\n', CERT_AUTH),
        "auth.ca[0]",
        "not a PEM or DER X.509 certificate",
        setup=_not_a_cert,
    ),
    "missing certificate file": Case(
        edit('psk_file = "psk"\n', CERT_AUTH.replace("r1.crt", "nope.crt")),
        "auth.certificate",
        "cannot read",
        setup=_pki,
    ),
    # --- bad values
    "identity not an identity": Case(
        edit('id = "r1.example.net"', 'id = "keyid:zz"'), "local.id", "not a usable identity"
    ),
    "peer local_id not an identity": Case(
        edit('id = "r2.example.net"', 'id = "r2.example.net"\nlocal_id = "keyid:zz"'),
        "peer[0].local_id",
        "not a usable identity",
    ),
    "listen host name": Case(
        edit('listen = ["10.0.0.1:500"]', 'listen = ["r1.example.net:500"]'),
        "local.listen[0]",
        "not an IP address",
    ),
    "listen port out of range": Case(
        edit('listen = ["10.0.0.1:500"]', 'listen = ["10.0.0.1:70000"]'),
        "local.listen[0]",
        "1..65535",
    ),
    "bad peer address": Case(
        edit('address = "10.0.0.2"', 'address = "10.0.0.256"'),
        "peer[0].address",
        "not an IPv4 or IPv6 address",
    ),
    "prefix with host bits": Case(
        edit('address = "10.0.0.2"', 'prefix = "10.0.0.1/30"'), "peer[0].prefix", "host bits"
    ),
    "address and prefix": Case(
        edit('address = "10.0.0.2"', 'address = "10.0.0.2"\nprefix = "10.0.0.0/30"'),
        "peer[0].prefix",
        "either address or prefix",
    ),
    "port zero": Case(edit("port = 500", "port = 0"), "peer[0].port", "out of range"),
    "on_failure unknown": Case(
        edit('on_failure = "revoke"', 'on_failure = "drop"'),
        "peer[0].on_failure",
        'expected "revoke" or "keep"',
    ),
    "peer name with a space": Case(
        edit('name = "r2"', 'name = "r 2"'), "peer[0].name", "use letters"
    ),
    "bad proposal": Case(
        edit('proposals = ["aes256gcm16-prfsha256-x25519"]', 'proposals = ["aes256gcm16-x25519"]'),
        "rkmp.proposals[0]",
        "needs a PRF",
    ),
    "bad duration": Case(
        edit('rekey_time = "4h"', 'rekey_time = "4 hours"'), "rkmp.rekey_time", "not a duration"
    ),
    "zero rekey time": Case(
        edit('rekey_time = "4h"', "rekey_time = 0"), "rkmp.rekey_time", "longer than 0s"
    ),
    "rand_time not below rekey_time": Case(
        edit('rekey_time = "4h"', 'rekey_time = "4h"\nrand_time = "5h"'),
        "rkmp.rekey_time",
        "longer than rand_time",
    ),
    "no half-open initiations allowed": Case(
        edit('rekey_time = "4h"', 'rekey_time = "4h"\nmax_half_open_initiations = 0'),
        "rkmp.max_half_open_initiations",
        "out of range 1..",
    ),
    "unknown protocol": Case(
        edit('type = "ospfv2"', 'type = "rip"'), "peer[0].protocol[0].type", "unknown protocol"
    ),
    "md5 on tcp-ao": Case(
        edit(
            'type = "ospfv2"\n  interface = "eth0"\n  algorithm = "hmac-sha-256"',
            'type = "tcp-ao"\n  algorithm = "md5"',
        ),
        "peer[0].protocol[0].algorithm",
        "tcp-ao has no algorithm 'md5'",
    ),
    "tcp_options on ospfv2": Case(
        edit('rekey_time = "24h"', 'rekey_time = "24h"\n  tcp_options = "include"'),
        "peer[0].protocol[0].tcp_options",
        "only TCP-AO",
    ),
    "unknown pfs group": Case(
        edit('rekey_time = "24h"', 'rekey_time = "24h"\n  pfs = "modp768"'),
        "peer[0].protocol[0].pfs",
        "unknown key exchange group",
    ),
    "key_ids outside the protocol's space": Case(
        edit('rekey_time = "24h"', 'rekey_time = "24h"\n  key_ids = [1, 300]'),
        "peer[0].protocol[0].key_ids",
        "1..255",
    ),
    "tcp-md5 with overlapping keys": Case(
        BASE + '\n[rollover.tcp-md5]\nsend_delay = "30s"\n',
        "rollover.tcp-md5.send_delay",
        "holds one key at a time",
    ),
    "send_delay not whole seconds": Case(
        BASE + '\n[rollover.ospfv2]\nsend_delay = "1500ms"\n',
        "rollover.ospfv2.send_delay",
        "whole number of seconds",
    ),
    "frr mode unknown": Case(
        BASE + '\n[sinks.frr]\nmode = "reload"\n', "sinks.frr.mode", '"vtysh" or "frr-reload"'
    ),
    # --- the routing-daemon sinks' renderer settings
    "frr neighbour address": Case(
        FRR + '[[sinks.frr.bgp_neighbor]]\naddress = "10.0.0.300"\nasn = 65001\n',
        "sinks.frr.bgp_neighbor[0].address",
        "not an IPv4 or IPv6 address",
    ),
    "frr neighbour without asn": Case(
        FRR + '[[sinks.frr.bgp_neighbor]]\naddress = "10.0.0.2"\n',
        "sinks.frr.bgp_neighbor[0].asn",
        "missing",
    ),
    "frr neighbour asn out of range": Case(
        FRR + '[[sinks.frr.bgp_neighbor]]\naddress = "10.0.0.2"\nasn = 4294967296\n',
        "sinks.frr.bgp_neighbor[0].asn",
        "out of range 1..4294967295",
    ),
    "frr neighbour vrf with a space": Case(
        FRR + '[[sinks.frr.bgp_neighbor]]\naddress = "10.0.0.2"\nasn = 1\nvrf = "a b"\n',
        "sinks.frr.bgp_neighbor[0].vrf",
        "not a plain FRR name",
    ),
    "frr neighbour twice": Case(
        FRR
        + '[[sinks.frr.bgp_neighbor]]\naddress = "10.0.0.2"\nasn = 1\n'
        + '[[sinks.frr.bgp_neighbor]]\naddress = "10.0.0.2"\nasn = 2\n',
        "sinks.frr.bgp_neighbor[1].address",
        "already in sinks.frr.bgp_neighbor[0]",
    ),
    "frr neighbour as a table": Case(
        FRR + '[sinks.frr.bgp_neighbor]\naddress = "10.0.0.2"\nasn = 1\n',
        "sinks.frr.bgp_neighbor",
        "expected an array of tables",
    ),
    "frr key chain prefix": Case(
        FRR + 'key_chain_prefix = "my keys"\n', "sinks.frr.key_chain_prefix", "not a plain"
    ),
    "frr unknown time zone": Case(
        FRR + 'timezone = "Mars/Olympus"\n', "sinks.frr.timezone", "not a time zone name"
    ),
    "bird bgp without neighbor": Case(
        BIRD + '[[sinks.bird.bgp]]\nname = "r2"\n', "sinks.bird.bgp[0].neighbor", "missing"
    ),
    "bird bgp name not a symbol": Case(
        BIRD + '[[sinks.bird.bgp]]\nname = "r-2"\nneighbor = "10.0.0.2"\n',
        "sinks.bird.bgp[0].name",
        "not a BIRD symbol",
    ),
    "bird bgp template not a symbol": Case(
        BIRD + '[[sinks.bird.bgp]]\nname = "r2"\nneighbor = "10.0.0.2"\ntemplate = "1x"\n',
        "sinks.bird.bgp[0].template",
        "not a BIRD symbol",
    ),
    "bird bgp local_as out of range": Case(
        BIRD + '[[sinks.bird.bgp]]\nname = "r2"\nneighbor = "10.0.0.2"\nlocal_as = 0\n',
        "sinks.bird.bgp[0].local_as",
        "out of range",
    ),
    "bird bgp option with a newline": Case(
        BIRD
        + '[[sinks.bird.bgp]]\nname = "r2"\nneighbor = "10.0.0.2"\n'
        + 'options = ["hold time 9;", "a;\\nb;"]\n',
        "sinks.bird.bgp[0].options[1]",
        "one statement per line",
    ),
    "bird protocol name twice": Case(
        BIRD
        + '[[sinks.bird.bgp]]\nname = "r2"\nneighbor = "10.0.0.2"\n'
        + BIRD_OSPF.replace('name = "o1"', 'name = "r2"'),
        "sinks.bird.ospf[0].name",
        "already defined by sinks.bird.bgp[0]",
    ),
    "bird ospf version 4": Case(
        BIRD + BIRD_OSPF.replace("version = 2", "version = 4"),
        "sinks.bird.ospf[0].version",
        "out of range 2..3",
    ),
    "bird ospf without area": Case(
        BIRD + '[[sinks.bird.ospf]]\nname = "o1"\nversion = 2\n',
        "sinks.bird.ospf[0].area",
        "missing",
    ),
    "bird ospf bad area": Case(
        BIRD + BIRD_OSPF.replace('area = "0.0.0.0"', 'area = "backbone"'),
        "sinks.bird.ospf[0].area[0].area",
        "not a number or dotted quad",
    ),
    "bird ospf area without interface": Case(
        BIRD + BIRD_OSPF[: BIRD_OSPF.index("    [[sinks.bird.ospf.area.interface]]")],
        "sinks.bird.ospf[0].area[0].interface",
        "missing",
    ),
    "bird ospf interface twice": Case(
        BIRD + BIRD_OSPF + BIRD_OSPF.replace('name = "o1"', 'name = "o2"'),
        "sinks.bird.ospf[1].area[0].interface[0].name",
        "already in sinks.bird.ospf[0].area[0].interface[0]",
    ),
    "bird ospf interface name with a quote": Case(
        BIRD + BIRD_OSPF.replace('name = "eth0"', 'name = "eth\\"0"'),
        "sinks.bird.ospf[0].area[0].interface[0].name",
        "unusable in BIRD",
    ),
    "bird ospf typo": Case(
        BIRD + BIRD_OSPF.replace("version = 2", "verison = 2"),
        "sinks.bird.ospf[0].verison",
        "did you mean 'version'?",
    ),
    "bird unknown time zone": Case(
        BIRD + 'timezone = "CEST"\n', "sinks.bird.timezone", "not a time zone name"
    ),
    # --- unknown keys
    "typo in [local]": Case(
        edit('control_socket = "rkmpd.sock"', 'contol_socket = "rkmpd.sock"'),
        "local.contol_socket",
        "unknown key (did you mean 'control_socket'?)",
    ),
    "unknown top-level table": Case(BASE + "\n[logging]\nlevel = 1\n", "logging", "unknown key"),
    "unknown key with a newline": Case(
        edit("[local]\n", '[local]\n"a\\nb" = 1\n'), "local.a\\nb", "unknown key"
    ),
    "unknown rollover protocol": Case(
        BASE + '\n[rollover.rip]\nsend_delay = "1s"\n', "rollover.rip", "unknown key"
    ),
    "typo in [[peer.protocol]]": Case(
        edit('algorithm = "hmac-sha-256"', 'algoritm = "hmac-sha-256"'),
        "peer[0].protocol[0].algoritm",
        "did you mean 'algorithm'?",
    ),
    # --- duplicates
    "duplicate peer name": Case(
        add_peer(PEER.replace("10.0.0.2", "10.0.0.3")), "peer[1].name", "duplicate peer name 'r2'"
    ),
    "duplicate peer address": Case(
        add_peer(PEER.replace('"r2"', '"r3"')), "peer[1].address", "already used by peer[0]"
    ),
    "duplicate protocol in a peer": Case(
        BASE + PROTOCOL, "peer[0].protocol[1].type", "already configured for this peer"
    ),
    "duplicate listen address": Case(
        edit('listen = ["10.0.0.1:500"]', 'listen = ["10.0.0.1", "10.0.0.1:500"]'),
        "local.listen",
        "listed twice",
    ),
    # --- the file itself
    "TOML syntax error": Case(
        BASE + "\n[[peer]\n", f"line {BASE.count(chr(10)) + 2}, column 7", "TOML syntax error"
    ),
    "TOML duplicate key": Case(
        edit('id = "r1.example.net"\n', 'id = "r1.example.net"\nid = "r9"\n'),
        "line 3, column 10",
        "TOML syntax error",
    ),
}


def _materialise(directory: Path, case: Case) -> Path:
    path = setup_dir(directory, case.config, psk=case.psk or b"unused")
    if case.psk is None:
        (directory / "psk").unlink()
    case.setup(directory)
    return path


@pytest.mark.parametrize("name", list(CASES))
def test_broken_config(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    path = _materialise(tmp_path, case)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    error = info.value
    assert (error.file, error.key) == (str(path), case.key)
    assert case.problem in error.problem
    assert str(error) == f"{path}: {case.key}: {error.problem}"
    assert "\n" not in str(error)
    assert PSK.decode() not in str(error)
    # The check-config entry point: one line on stderr, exit code 2.
    out, err = io.StringIO(), io.StringIO()
    assert check_config(path, stdout=out, stderr=err) == 2
    assert out.getvalue() == ""
    assert err.getvalue() == f"{error}\n"


def test_at_least_twenty_cases() -> None:
    assert len(CASES) >= 20


def test_unreadable_config_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load_config(missing)
    assert str(info.value) == f"{missing}: (file): cannot read: No such file or directory"
    assert main(["--config", str(missing)]) == 2


def test_config_not_utf8(tmp_path: Path) -> None:
    path = write(tmp_path, "rkmpd.toml", b'[local]\nid = "\xff"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert (info.value.key, info.value.problem) == ("(file)", "not UTF-8 text")


def test_main_accepts_a_valid_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = setup_dir(tmp_path)
    assert main(["--config", str(path)]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(f"{path}: OK: identity r1.example.net")
    assert captured.err == ""


def test_main_usage_error() -> None:
    assert main(["--no-such-option"]) == 2
