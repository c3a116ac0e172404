"""Routing-protocol key profiles: the engine's facts, the rows they fill."""

from __future__ import annotations

import dataclasses

import pytest

from rkmp_frr.engine.events import ChildParams, ChildRef
from rkmp_frr.engine.policy import RetransmitPolicy
from rkmp_frr.engine.routing_proposals import PROFILES
from rkmp_frr.keytable.errors import InvalidRow
from rkmp_frr.keytable.rollover import RolloverPolicy
from rkmp_frr.keytable.row import ALL_INTERFACES, Direction, Lifetimes, RowLink
from rkmp_frr.profiles import KEY_PROFILES, bfd, isis, key_profile, ospfv2, tcp_ao, tcp_md5
from rkmp_frr.profiles.base import Algorithm, KeyProfile, format_info, parse_info
from rkmp_frr.wire.constants import ROUTING_SPI_SIZE, IntegId, ProtocolId, RkmpOptionId

LIFE = Lifetimes(send_start=130, send_end=4000, accept_start=100, accept_end=4000)
PEER = ("192.0.2.1", 500)


def params(
    protocol: ProtocolId,
    integ: IntegId,
    local: int,
    remote: int | None = None,
    options: tuple[int, ...] = (),
    key: bytes | None = None,
) -> ChildParams:
    length = PROFILES[protocol].master_key_length(integ)
    return ChildParams(
        ref=ChildRef(PEER, protocol, local, local if remote is None else remote),
        integ=integ,
        options=options,
        pfs_group=None,
        rekey_at=0.0,
        expires_at=1.0,
        initiator=True,
        master_key=key if key is not None else bytes(range(1, length + 1)),
    )


def test_every_routing_protocol_has_a_profile() -> None:
    assert set(KEY_PROFILES) == set(PROFILES)
    assert key_profile(ProtocolId.OSPFV3_IPSEC) is KEY_PROFILES[ProtocolId.OSPFV3_IPSEC]
    assert key_profile(999) is None


@pytest.mark.parametrize("protocol", sorted(KEY_PROFILES))
def test_profiles_use_the_engines_facts(protocol: ProtocolId) -> None:
    profile = KEY_PROFILES[protocol]
    assert profile.routing is PROFILES[protocol]
    assert profile.protocol == protocol
    assert profile.spi_size == ROUTING_SPI_SIZE[protocol]
    assert set(profile.algorithms) == PROFILES[protocol].integ
    for integ in profile.algorithms:
        assert profile.master_key_length(integ) == PROFILES[protocol].master_key_length(integ)


def test_a_profile_cannot_fork_the_engines_mac_list() -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(ospfv2.PROFILE, algorithms={IntegId.RKMP_HMAC_SHA1: Algorithm("x")})


# (protocol, integ, local ID, remote ID, LocalKeyName, PeerKeyName, AlgID, KDF, info)
ROWS = [
    (
        ProtocolId.TCP_AO, IntegId.HMAC_SHA1_96, 2, 8, "08", "02", "HMAC-SHA-1-96", "HMAC-SHA-1",
        "send-id=2;recv-id=8;tcp-options=include",
    ),
    (
        ProtocolId.TCP_AO, IntegId.AES_CMAC_96, 200, 3, "03", "c8", "AES-128-CMAC-96",
        "AES-128-CMAC", "send-id=200;recv-id=3;tcp-options=include",
    ),
    (ProtocolId.TCP_MD5, IntegId.RKMP_KEYED_MD5, 4, 9, "", "", "MD5", "none", ""),
    (ProtocolId.OSPFV2, IntegId.RKMP_KEYED_MD5, 5, 5, "05", "05", "KEYED-MD5", "none", ""),
    (ProtocolId.OSPFV2, IntegId.RKMP_HMAC_SHA2_256, 5, 5, "05", "05", "HMAC-SHA-256", "none", ""),
    (ProtocolId.OSPFV3, IntegId.RKMP_HMAC_SHA2_512, 300, 300, "012c", "012c", "HMAC-SHA-512",
     "none", ""),
    (ProtocolId.ISIS, IntegId.RKMP_HMAC_SHA1, 7, 7, "0007", "0007", "HMAC-SHA-1", "none",
     "pdu=iih"),
    (ProtocolId.BFD, IntegId.RKMP_KEYED_MD5, 1, 1, "01", "01", "KEYED-MD5", "none", "auth-type=3"),
    (ProtocolId.BFD, IntegId.RKMP_HMAC_SHA1, 1, 1, "01", "01", "KEYED-SHA-1", "none",
     "auth-type=5"),
    (ProtocolId.OSPFV3_IPSEC, IntegId.HMAC_SHA2_256_128, 0x1000, 0x1000, "00001000", "00001000",
     "HMAC-SHA-256-128", "none", ""),
]  # fmt: skip


@pytest.mark.parametrize("case", ROWS, ids=lambda c: f"{c[0].name}-{c[1].name}")
def test_fill_row(case: tuple) -> None:  # type: ignore[type-arg]
    protocol, integ, local, remote, local_name, peer_name, alg_id, kdf, info = case
    p = params(protocol, integ, local, remote)
    row = KEY_PROFILES[protocol].fill_row(p, LIFE)
    assert row.protocol == protocol
    assert (row.local_key_name, row.peer_key_name) == (local_name, peer_name)
    assert (row.alg_id, row.kdf, row.protocol_specific_info) == (alg_id, kdf, info)
    assert row.key == p.master_key.hex() and len(row.key) == 2 * len(p.master_key)
    assert row.peers == {"192.0.2.1"} and row.interfaces == ALL_INTERFACES
    assert row.direction is Direction.BOTH
    assert row.lifetimes == LIFE
    assert row.spi == local and row.link == RowLink(p.ref, None)


def test_fill_row_refuses_what_the_profile_does_not_allow() -> None:
    ospf = ospfv2.PROFILE
    assert ospf.fill_row(params(ProtocolId.OSPFV2, IntegId.RKMP_HMAC_SHA1, 5), LIFE)
    with pytest.raises(InvalidRow):  # a MAC OSPFv2 does not have
        ospf.fill_row(
            dataclasses.replace(
                params(ProtocolId.OSPFV2, IntegId.RKMP_HMAC_SHA1, 5), integ=IntegId.AES_CMAC_96
            ),
            LIFE,
        )
    wrong = params(ProtocolId.OSPFV2, IntegId.RKMP_HMAC_SHA1, 5, key=b"\x42" * 7)
    with pytest.raises(InvalidRow) as info:
        ospf.fill_row(wrong, LIFE)
    assert "42424242" not in str(info.value)
    with pytest.raises(InvalidRow):  # symmetric key IDs must be equal
        ospf.fill_row(params(ProtocolId.OSPFV2, IntegId.RKMP_HMAC_SHA1, 5, 6), LIFE)
    with pytest.raises(InvalidRow):  # outside the key-ID space
        ospf.fill_row(params(ProtocolId.OSPFV2, IntegId.RKMP_HMAC_SHA1, 256), LIFE)
    with pytest.raises(InvalidRow):  # another protocol's child SA
        ospf.fill_row(params(ProtocolId.ISIS, IntegId.RKMP_HMAC_SHA1, 5), LIFE)


def test_tcp_md5_is_not_hitless() -> None:
    profile = tcp_md5.PROFILE
    assert not profile.hitless
    assert profile.rollover == RolloverPolicy(send_delay=0, accept_grace=0, hard_expiry=0)
    assert "resets" in profile.note
    assert all(p.hitless for p in KEY_PROFILES.values() if p is not profile)
    with pytest.raises(ValueError):  # one key cannot overlap another
        KeyProfile(
            routing=profile.routing,
            algorithms=profile.algorithms,
            hitless=False,
            rollover=RolloverPolicy(send_delay=10),
            interfaces_required=False,
        )


def test_hitless_send_delay_covers_the_engines_retransmission_budget() -> None:
    budget = RetransmitPolicy().budget
    for profile in KEY_PROFILES.values():
        if profile.hitless:
            assert profile.rollover.send_delay >= budget
            assert profile.rollover.accept_grace >= budget


def test_interfaces_required_where_keys_are_per_interface() -> None:
    required = {p.protocol for p in KEY_PROFILES.values() if p.interfaces_required}
    assert required == {
        ProtocolId.OSPFV2, ProtocolId.OSPFV3, ProtocolId.ISIS, ProtocolId.OSPFV3_IPSEC
    }  # fmt: skip


def test_tcp_ao_mkt_from_row() -> None:
    p = params(ProtocolId.TCP_AO, IntegId.AES_CMAC_96, 2, 8)
    row = tcp_ao.PROFILE.fill_row(p, LIFE)
    mkt = tcp_ao.mkt_from_row(row)
    assert (mkt.send_id, mkt.recv_id, mkt.include_options) == (2, 8, True)
    assert mkt.algorithm is tcp_ao.TcpAoAlgorithm.AES_128_CMAC_96
    assert mkt.peers == {"192.0.2.1"}
    # DESIGN.md §2: daemons are given the hex text, so that is the MKT's key.
    assert mkt.master_key == p.master_key.hex().encode()
    assert p.master_key.hex() not in repr(mkt)
    args = ("192.0.2.9", "192.0.2.1", 40000, 179, 0x1234, 0)
    assert mkt.traffic_key(*args) == tcp_ao.traffic_key(
        p.master_key.hex().encode(), "aes-128-cmac-96", *args
    )
    excluded = params(
        ProtocolId.TCP_AO, IntegId.HMAC_SHA1_96, 2, 8, (RkmpOptionId.TCP_AO_EXCLUDE_OPTIONS,)
    )
    assert not tcp_ao.mkt_from_row(tcp_ao.PROFILE.fill_row(excluded, LIFE)).include_options
    broken = dataclasses.replace(row, protocol_specific_info="send-id=2")
    with pytest.raises(InvalidRow):
        tcp_ao.mkt_from_row(broken)
    with pytest.raises(InvalidRow):
        tcp_ao.mkt_from_row(
            ospfv2.PROFILE.fill_row(params(ProtocolId.OSPFV2, IntegId.RKMP_HMAC_SHA1, 1), LIFE)
        )


def test_bfd_auth_types_and_isis_scope() -> None:
    assert bfd.auth_type(IntegId.RKMP_KEYED_MD5) is bfd.BfdAuthType.METICULOUS_KEYED_MD5
    assert bfd.auth_type(IntegId.RKMP_HMAC_SHA1) is bfd.BfdAuthType.METICULOUS_KEYED_SHA1
    assert isis.PROFILE.specific_info(params(ProtocolId.ISIS, IntegId.RKMP_HMAC_SHA1, 1)) == (
        "pdu=iih"
    )


def test_protocol_specific_info_encoding() -> None:
    items = {"send-id": "1", "recv-id": "2", "tcp-options": "exclude"}
    assert parse_info(format_info(items)) == items
    assert parse_info("") == {}
    with pytest.raises(ValueError):
        parse_info("send-id")
