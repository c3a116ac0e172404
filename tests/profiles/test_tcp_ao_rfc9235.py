"""RFC 9235 test vectors for the TCP-AO KDF (RFC 5926 §3.1) and MAC
(RFC 5925 §5.1, RFC 5926 §3.2): IPv4 and IPv6, HMAC-SHA-1-96 and
AES-128-CMAC-96, TCP options covered and omitted. ``pytest -k rfc9235``."""

from __future__ import annotations

import pytest

from rkmp_frr.profiles import tcp_ao
from rkmp_frr.profiles.tcp_ao_crypto import (
    TcpAoError,
    mac_input,
    parse_segment,
    segment_mac,
    verify_segment,
)

from .rfc9235_vectors import (
    CLIENT_KEY_ID,
    MASTER_KEY,
    SERVER_KEY_ID,
    VECTORS,
    Vector,
)

IDS = [v.section for v in VECTORS]
SYN, ACK = 0x02, 0x10


def _traffic_key(v: Vector) -> bytes:
    segment = parse_segment(bytes.fromhex(v.packet))
    return tcp_ao.traffic_key(
        MASTER_KEY,
        v.algorithm,
        segment.src,
        segment.dst,
        segment.sport,
        segment.dport,
        v.sisn,
        v.disn,
    )


def test_rfc9235_covers_every_case() -> None:
    # §4-§7: 2 IP versions x 2 algorithms x options covered/omitted x 4 segments.
    assert len({v.section for v in VECTORS}) == 32
    combos = {(v.ip_version, v.algorithm, v.include_options) for v in VECTORS}
    assert len(combos) == 8


@pytest.mark.parametrize("v", VECTORS, ids=IDS)
def test_rfc9235_packet_matches_connection_parameters(v: Vector) -> None:
    """§3.1: addresses, port 179, KeyIDs and the ISNs the section states."""
    segment = parse_segment(bytes.fromhex(v.packet))
    client, server = (
        ("10.11.12.13", "172.27.28.29") if v.ip_version == 4 else ("fd00::1", "fd00::2")
    )
    if v.from_client:
        assert (segment.src, segment.dst, segment.dport) == (client, server, 179)
        assert (segment.key_id, segment.rnext_key_id) == (CLIENT_KEY_ID, SERVER_KEY_ID)
    else:
        assert (segment.src, segment.dst, segment.sport) == (server, client, 179)
        assert (segment.key_id, segment.rnext_key_id) == (SERVER_KEY_ID, CLIENT_KEY_ID)
    if segment.flags & SYN:
        assert segment.seq == v.sisn
        assert segment.ack == (0 if v.syn_only else v.disn + 1)
    assert segment.received_mac.hex(" ") == v.mac


@pytest.mark.parametrize("v", VECTORS, ids=IDS)
def test_rfc9235_traffic_key(v: Vector) -> None:
    assert _traffic_key(v).hex(" ") == v.traffic_key


@pytest.mark.parametrize("v", VECTORS, ids=IDS)
def test_rfc9235_mac(v: Vector) -> None:
    packet = bytes.fromhex(v.packet)
    key = bytes.fromhex(v.traffic_key)
    assert (
        segment_mac(packet, key, v.algorithm, include_options=v.include_options).hex(" ") == v.mac
    )
    assert verify_segment(packet, key, v.algorithm, include_options=v.include_options)


@pytest.mark.parametrize("v", VECTORS, ids=IDS)
def test_rfc9235_mac_depends_on_option_coverage_key_and_sne(v: Vector) -> None:
    """The other option-coverage setting, another key or a non-zero SNE must
    not verify: the vectors would not catch a MAC that ignores them."""
    packet = bytes.fromhex(v.packet)
    key = bytes.fromhex(v.traffic_key)
    assert not verify_segment(packet, key, v.algorithm, include_options=not v.include_options)
    assert not verify_segment(
        packet, bytes(len(key)), v.algorithm, include_options=v.include_options
    )
    assert not verify_segment(packet, key, v.algorithm, include_options=v.include_options, sne=1)


@pytest.mark.parametrize("v", VECTORS[:1] + VECTORS[-1:], ids=["4.1.1", "7.2.4"])
def test_rfc9235_tampered_segment_fails(v: Vector) -> None:
    packet = bytearray(bytes.fromhex(v.packet))
    packet[-1] ^= 0x01  # last octet: payload or the MAC itself
    key = bytes.fromhex(v.traffic_key)
    assert not verify_segment(bytes(packet), key, v.algorithm, include_options=v.include_options)


def test_rfc9235_mac_input_zeroes_checksum_and_mac() -> None:
    v = VECTORS[0]  # §4.1.1
    segment = parse_segment(bytes.fromhex(v.packet))
    data = mac_input(segment, include_options=True)
    # SNE 0, 12-octet IPv4 pseudo-header, then the TCP header.
    tcp = data[4 + 12 :]
    assert tcp[16:18] == b"\x00\x00"
    assert tcp[segment.ao_offset + 4 : segment.ao_offset + segment.ao_length] == bytes(12)
    omitted = mac_input(segment, include_options=False)
    assert len(data) - len(omitted) == segment.ao_offset - 20  # the other options


def test_traffic_key_rejects_bad_parameters() -> None:
    with pytest.raises(TcpAoError):
        tcp_ao.traffic_key(MASTER_KEY, "hmac-md5", "10.0.0.1", "10.0.0.2", 1, 2, 3, 4)
    with pytest.raises(TcpAoError):
        tcp_ao.traffic_key(MASTER_KEY, "hmac-sha-1-96", "10.0.0.1", "fd00::2", 1, 2, 3, 4)
    with pytest.raises(TcpAoError):
        tcp_ao.traffic_key(MASTER_KEY, "hmac-sha-1-96", "10.0.0.1", "10.0.0.2", 70000, 2, 3, 4)


def test_aes_cmac_kdf_reduces_only_other_key_lengths() -> None:
    """RFC 5926 §3.1.1.2: a 16-octet master key is used as is, any other
    length is first reduced with AES-CMAC under the zero key; so a 10-octet
    key and its 16-octet reduction give the same traffic key."""
    from cryptography.hazmat.primitives.ciphers.algorithms import AES
    from cryptography.hazmat.primitives.cmac import CMAC

    reducer = CMAC(AES(bytes(16)))
    reducer.update(MASTER_KEY)
    reduced = reducer.finalize()
    args = ("10.11.12.13", "172.27.28.29", 0xC4FA, 179, 0x787A1DDF, 0)
    direct = tcp_ao.traffic_key(MASTER_KEY, "aes-128-cmac-96", *args)
    assert direct == tcp_ao.traffic_key(reduced, "aes-128-cmac-96", *args)
    assert direct.hex(" ") == VECTORS[8].traffic_key  # §5.1.1
