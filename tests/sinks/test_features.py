"""The FRR/BIRD feature model and the version-string parsers."""

from __future__ import annotations

import pytest

from rkmp_frr.sinks.features import (
    BIRD_BGP_TCP_AO,
    BIRD_OSPF3_AUTH_TRAILER,
    FRR_BFD_RFC5880_AUTH,
    FRR_BGP_TCP_AO,
    FRR_ISIS_KEY_IDS,
    FRR_OSPF6_AUTH_TRAILER,
    FRR_OSPF_KEY_CHAIN,
    Daemon,
    Requirement,
    Version,
    VersionParseError,
    bird_features,
    frr_features,
    parse_bird_version,
    parse_frr_version,
)
from rkmp_frr.sinks.render import UnsupportedFeature

# `vtysh -c 'show version'` as FRR 8.4 prints it (lib/command.c show_version).
FRR_SHOW_VERSION = """FRRouting 8.4.4 (r1) on Linux(6.1.0-18-amd64).
Copyright 1996-2005, Kunihiro Ishiguro, et al.
configured with:
    '--build=x86_64-linux-gnu' '--prefix=/usr' '--with-pkg-extra-version=-my 9.9.9'
"""


@pytest.mark.parametrize(
    ("text", "version"),
    [
        (FRR_SHOW_VERSION, Version(8, 4, 4)),
        ("FRRouting 10.3 (r2) on Linux(6.12.0).\n", Version(10, 3, 0)),
        ("FRRouting 10.2-dev (r3) on Linux(6.1.0).\n", Version(10, 2, 0)),
        ("vtysh version 9.1.2\nCopyright 1996-2005, Kunihiro Ishiguro, et al.\n", Version(9, 1, 2)),
        ("zebra version 7.5.1\n", Version(7, 5, 1)),
    ],
)
def test_parse_frr_version(text: str, version: Version) -> None:
    assert parse_frr_version(text) == version


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("BIRD version 2.0.12\n", Version(2, 0, 12)),
        ("BIRD 2.17.6 ready.\nBIRD 2.17.6\nRouter ID is 10.0.0.1\n", Version(2, 17, 6)),
        ("0001 BIRD 3.1.0 ready.\n1000-BIRD 3.1.0\n", Version(3, 1, 0)),
        ("BIRD version v2.16\n", Version(2, 16, 0)),
    ],
)
def test_parse_bird_version(text: str, version: Version) -> None:
    assert parse_bird_version(text) == version


@pytest.mark.parametrize("text", ["", "bird: command not found", "FRRouting unknown"])
def test_unparseable_versions(text: str) -> None:
    with pytest.raises(VersionParseError):
        parse_frr_version(text)
    with pytest.raises(VersionParseError):
        parse_bird_version(text)


def test_version_parse_and_order() -> None:
    assert Version.parse("8.4.4") == Version(8, 4, 4)
    assert Version.parse("10.3") == Version(10, 3)
    assert Version.parse("9.1-rc1") == Version(9, 1)
    assert Version(9, 0, 5) < Version(9, 1) < Version(10, 0)
    assert str(Version(2, 17)) == "2.17.0"
    with pytest.raises(VersionParseError):
        Version.parse("eight")


@pytest.mark.parametrize(
    ("version", "key_chains", "any_md5_key", "ospf6", "zero_padded_day"),
    [
        ("8.2.2", False, False, False, True),
        ("8.4.4", False, False, True, True),
        ("9.0.5", False, False, True, True),
        ("9.1", True, True, True, True),
        ("10.0.1", True, True, True, True),
        ("10.3", True, True, True, False),
    ],
)
def test_frr_facts(
    version: str, key_chains: bool, any_md5_key: bool, ospf6: bool, zero_padded_day: bool
) -> None:
    features = frr_features(Version.parse(version))
    assert features.ospf_key_chains is key_chains
    assert features.ospf_md5_accepts_any_key is any_md5_key
    assert features.has(FRR_OSPF6_AUTH_TRAILER) is ospf6
    assert features.keychain_day_zero_padded is zero_padded_day


@pytest.mark.parametrize("version", ["8.4.4", "10.3", "10.7.0", "99.0"])
def test_frr_never_has_tcp_ao_isis_key_ids_or_rfc5880_bfd(version: str) -> None:
    features = frr_features(Version.parse(version))
    for requirement in (FRR_BGP_TCP_AO, FRR_ISIS_KEY_IDS, FRR_BFD_RFC5880_AUTH):
        assert not features.has(requirement)


@pytest.mark.parametrize(
    ("version", "tcp_ao", "ospf3_auth"),
    [
        ("2.0.2", False, False),
        ("2.0.12", False, True),
        ("2.16.2", False, True),
        ("2.17", True, True),
        ("2.17.6", True, True),
        ("3.0.5", False, True),
        ("3.1.0", True, True),
        ("4.0", True, True),
    ],
)
def test_bird_facts(version: str, tcp_ao: bool, ospf3_auth: bool) -> None:
    features = bird_features(Version.parse(version))
    assert features.tcp_ao is tcp_ao
    assert features.has(BIRD_OSPF3_AUTH_TRAILER) is ospf3_auth


def test_features_of_one_product_do_not_answer_for_the_other() -> None:
    assert not frr_features(Version(99, 0)).has(BIRD_BGP_TCP_AO)
    assert not bird_features(Version(99, 0)).has(FRR_OSPF_KEY_CHAIN)


def test_requirement_release_lines() -> None:
    lines = Requirement(Daemon.BIRD, "x", (Version(2, 17), Version(3, 1)))
    assert not lines.met_by(Version(1, 6, 8))
    assert lines.met_by(Version(2, 18))
    assert not lines.met_by(Version(3, 0, 5))
    assert lines.describe() == "BIRD >= 2.17 or BIRD >= 3.1"
    assert "none does (no FRR release" in FRR_BGP_TCP_AO.describe()


def test_require_raises_a_typed_refusal_naming_daemon_version_and_protocol() -> None:
    with pytest.raises(UnsupportedFeature) as caught:
        frr_features(Version(8, 4, 4)).require(FRR_OSPF_KEY_CHAIN, "OSPFv2")
    error = caught.value
    assert (error.daemon, error.version, error.protocol) == ("ospfd", "FRR 8.4.4", "OSPFv2")
    assert error.requirement == "FRR >= 9.1"
    assert str(error) == (
        "ospfd (FRR 8.4.4) cannot do OSPFv2: key-chain authentication with HMAC-SHA"
        " (RFC 5709) needs FRR >= 9.1"
    )
    frr_features(Version(9, 1)).require(FRR_OSPF_KEY_CHAIN, "OSPFv2")  # no error
