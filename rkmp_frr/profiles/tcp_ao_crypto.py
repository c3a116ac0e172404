"""TCP-AO traffic keys and MACs (RFC 5925 §5, RFC 5926 §3).

Pure functions over bytes: the RFC 5926 §3.1.1 KDF that turns a master key
and a connection's context into a traffic key, the RFC 5926 §3.2 MACs, and
the RFC 5925 §5.1 MAC input built from an IPv4 or IPv6 packet carrying a
TCP segment with a TCP-AO option. RFC 9235 has test vectors for all of it.

The key table does not need traffic keys (routing daemons and the kernel
derive them); they are here so that the key material RKMP produces can be
checked end to end against captured segments and against RFC 9235.
"""

from __future__ import annotations

import hmac
import ipaddress
import struct
from dataclasses import dataclass, field
from enum import Enum

from cryptography.hazmat.primitives.ciphers.algorithms import AES
from cryptography.hazmat.primitives.cmac import CMAC

TCP_AO_OPTION_KIND = 29  # RFC 5925 §2.2
TCP_AO_OPTION_HEADER = 4  # Kind, Length, KeyID, RNextKeyID
_IPPROTO_TCP = 6
_KDF_LABEL = b"TCP-AO"  # RFC 5926 §3.1.1: without a terminating zero (RFC 9235 §8.3)
_MAC_LENGTH = 12  # both RFC 5926 MACs are truncated to 96 bits (§3.2)
_AES_BLOCK = 16


class TcpAoError(ValueError):
    """A packet or parameter TCP-AO cannot work with (never carries key material)."""


class TcpAoAlgorithm(Enum):
    """The KDF/MAC pairs: RFC 5926's two mandatory ones, and HMAC-SHA-256
    with the same KDF construction (not in RFC 5926, but what Linux and BIRD
    offer as ``hmac(sha256)`` / ``hmac sha256``; no RFC test vectors)."""

    HMAC_SHA_1_96 = "hmac-sha-1-96"
    AES_128_CMAC_96 = "aes-128-cmac-96"
    HMAC_SHA_256_128 = "hmac-sha-256-128"

    @classmethod
    def parse(cls, name: str) -> TcpAoAlgorithm:
        try:
            return cls(name.lower())
        except ValueError:
            raise TcpAoError(f"unknown TCP-AO algorithm {name!r}") from None


# Output length L of the KDF in bits (RFC 5926 §3.1.1), i.e. the traffic key size.
_KDF_BITS = {
    TcpAoAlgorithm.HMAC_SHA_1_96: 160,
    TcpAoAlgorithm.AES_128_CMAC_96: 128,
    TcpAoAlgorithm.HMAC_SHA_256_128: 256,
}
_HASH = {
    TcpAoAlgorithm.HMAC_SHA_1_96: "sha1",
    TcpAoAlgorithm.HMAC_SHA_256_128: "sha256",
}


def _cmac(key: bytes, data: bytes) -> bytes:
    mac = CMAC(AES(key))
    mac.update(data)
    return mac.finalize()


def _packed_address(address: str) -> bytes:
    try:
        return ipaddress.ip_address(address).packed
    except ValueError:
        raise TcpAoError("not an IP address") from None


def kdf_context(src: str, dst: str, sport: int, dport: int, sisn: int, disn: int) -> bytes:
    """RFC 5925 §5.2: source and destination address, source and
    destination port, source and destination ISN, in network byte order.
    SYN segments use 0 for the ISN not yet known."""
    source, destination = _packed_address(src), _packed_address(dst)
    if len(source) != len(destination):
        raise TcpAoError("source and destination are of different IP versions")
    if not (0 <= sport <= 0xFFFF and 0 <= dport <= 0xFFFF):
        raise TcpAoError("TCP port out of range")
    if not (0 <= sisn <= 0xFFFF_FFFF and 0 <= disn <= 0xFFFF_FFFF):
        raise TcpAoError("ISN out of range")
    return source + destination + struct.pack("!HHII", sport, dport, sisn, disn)


def kdf(master_key: bytes, algorithm: TcpAoAlgorithm, context: bytes) -> bytes:
    """RFC 5926 §3.1.1: Traffic_Key = PRF(K, i || Label || Context || L)
    with i = 1; one iteration is enough for every algorithm here."""
    bits = _KDF_BITS[algorithm]
    data = b"\x01" + _KDF_LABEL + context + bits.to_bytes(2, "big")
    if algorithm is TcpAoAlgorithm.AES_128_CMAC_96:
        # RFC 5926 §3.1.1.2: a master key of another length than 128 bits
        # is first reduced with AES-CMAC under the all-zero key.
        key = master_key if len(master_key) == _AES_BLOCK else _cmac(bytes(_AES_BLOCK), master_key)
        return _cmac(key, data)
    return hmac.digest(master_key, data, _HASH[algorithm])[: bits // 8]


def traffic_key(
    master_key: bytes,
    algorithm: str,
    src: str,
    dst: str,
    sport: int,
    dport: int,
    sisn: int,
    disn: int,
) -> bytes:
    """The traffic key for segments from ``src``:``sport`` to ``dst``:``dport``.

    ``algorithm`` is ``"hmac-sha-1-96"`` or ``"aes-128-cmac-96"`` (RFC 5926)
    or ``"hmac-sha-256-128"``. For the four keys of a connection
    (RFC 5925 §5.2): Send_SYN uses (local ISN, 0), Receive_SYN (remote ISN, 0)
    with the addresses swapped, and the "other" keys both ISNs.
    """
    alg = TcpAoAlgorithm.parse(algorithm)
    return kdf(master_key, alg, kdf_context(src, dst, sport, dport, sisn, disn))


def mac(key: bytes, algorithm: str | TcpAoAlgorithm, message: bytes) -> bytes:
    """RFC 5926 §3.2: HMAC-SHA-1-96 / AES-128-CMAC-96 (and HMAC-SHA-256-128)
    of ``message`` under a traffic key; the first 96 bits are the MAC."""
    alg = algorithm if isinstance(algorithm, TcpAoAlgorithm) else TcpAoAlgorithm.parse(algorithm)
    if alg is TcpAoAlgorithm.AES_128_CMAC_96:
        if len(key) != _AES_BLOCK:
            raise TcpAoError("AES-128-CMAC-96 needs a 128-bit traffic key")
        return _cmac(key, message)[:_MAC_LENGTH]
    # HMAC-SHA-256-128 truncates to 128 bits (RFC 4868 style); SHA-1 to 96.
    length = 16 if alg is TcpAoAlgorithm.HMAC_SHA_256_128 else _MAC_LENGTH
    return hmac.digest(key, message, _HASH[alg])[:length]


# --- segments ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TcpAoSegment:
    """An IP packet's TCP segment, split the way RFC 5925 §5.1 needs it."""

    pseudo_header: bytes  # RFC 793 / RFC 8200 §8.1 checksum pseudo-header
    tcp_header: bytes  # with options; checksum and TCP-AO MAC as on the wire
    payload: bytes
    ao_offset: int  # where the TCP-AO option starts in tcp_header
    ao_length: int
    key_id: int
    rnext_key_id: int
    received_mac: bytes = field(repr=False)
    src: str
    dst: str
    sport: int
    dport: int
    seq: int
    ack: int
    flags: int


def _split_ip(packet: bytes) -> tuple[bytes, str, str, bytes]:
    """(pseudo-header, source, destination, TCP segment) of an IPv4 or IPv6
    packet without IPv6 extension headers."""
    if not packet:
        raise TcpAoError("empty packet")
    version = packet[0] >> 4
    if version == 4:
        if len(packet) < 20:
            raise TcpAoError("truncated IPv4 header")
        ihl = (packet[0] & 0x0F) * 4
        total = int.from_bytes(packet[2:4], "big")
        if ihl < 20 or total < ihl or total > len(packet) or packet[9] != _IPPROTO_TCP:
            raise TcpAoError("not a well-formed IPv4/TCP packet")
        segment = packet[ihl:total]
        src, dst = packet[12:16], packet[16:20]
        pseudo = src + dst + struct.pack("!BBH", 0, _IPPROTO_TCP, len(segment))
    elif version == 6:
        if len(packet) < 40:
            raise TcpAoError("truncated IPv6 header")
        length = int.from_bytes(packet[4:6], "big")
        if packet[6] != _IPPROTO_TCP or 40 + length > len(packet):
            raise TcpAoError("not an IPv6/TCP packet without extension headers")
        segment = packet[40 : 40 + length]
        src, dst = packet[8:24], packet[24:40]
        pseudo = src + dst + struct.pack("!I3xB", len(segment), _IPPROTO_TCP)
    else:
        raise TcpAoError("neither IPv4 nor IPv6")
    return (
        pseudo,
        str(ipaddress.ip_address(src)),
        str(ipaddress.ip_address(dst)),
        segment,
    )


def _find_ao_option(options: bytes) -> tuple[int, int]:
    """Offset (within the options) and length of the TCP-AO option."""
    i = 0
    while i < len(options):
        kind = options[i]
        if kind == 0:  # End of Option List
            break
        if kind == 1:  # NOP
            i += 1
            continue
        if i + 1 >= len(options) or options[i + 1] < 2 or i + options[i + 1] > len(options):
            raise TcpAoError("malformed TCP options")
        length = options[i + 1]
        if kind == TCP_AO_OPTION_KIND:
            if length <= TCP_AO_OPTION_HEADER:
                raise TcpAoError("TCP-AO option without a MAC")
            return i, length
        i += length
    raise TcpAoError("no TCP-AO option")


def parse_segment(packet: bytes) -> TcpAoSegment:
    """Split an IPv4/IPv6 packet whose TCP segment carries TCP-AO."""
    pseudo, src, dst, segment = _split_ip(packet)
    if len(segment) < 20:
        raise TcpAoError("truncated TCP header")
    offset = (segment[12] >> 4) * 4
    if offset < 20 or offset > len(segment):
        raise TcpAoError("bad TCP data offset")
    header = segment[:offset]
    ao_at, ao_len = _find_ao_option(header[20:])
    ao_at += 20
    sport, dport, seq, ack = struct.unpack("!HHII", header[:12])
    return TcpAoSegment(
        pseudo_header=pseudo,
        tcp_header=header,
        payload=segment[offset:],
        ao_offset=ao_at,
        ao_length=ao_len,
        key_id=header[ao_at + 2],
        rnext_key_id=header[ao_at + 3],
        received_mac=header[ao_at + TCP_AO_OPTION_HEADER : ao_at + ao_len],
        src=src,
        dst=dst,
        sport=sport,
        dport=dport,
        seq=seq,
        ack=ack,
        flags=header[13],
    )


def mac_input(segment: TcpAoSegment, *, include_options: bool, sne: int = 0) -> bytes:
    """RFC 5925 §5.1: SNE, pseudo-header, TCP header with the checksum and
    the TCP-AO MAC zeroed (other options left out, not zeroed, when the MKT
    excludes them; the Data Offset stays as sent), then the payload."""
    header = bytearray(segment.tcp_header)
    header[16:18] = b"\x00\x00"  # checksum
    mac_at = segment.ao_offset + TCP_AO_OPTION_HEADER
    header[mac_at : segment.ao_offset + segment.ao_length] = bytes(
        segment.ao_length - TCP_AO_OPTION_HEADER
    )
    if not include_options:
        ao = header[segment.ao_offset : segment.ao_offset + segment.ao_length]
        header = header[:20] + ao
    return sne.to_bytes(4, "big") + segment.pseudo_header + bytes(header) + segment.payload


def segment_mac(
    packet: bytes,
    key: bytes,
    algorithm: str | TcpAoAlgorithm,
    *,
    include_options: bool,
    sne: int = 0,
) -> bytes:
    """The MAC a sender puts into this packet's TCP-AO option."""
    segment = parse_segment(packet)
    return mac(key, algorithm, mac_input(segment, include_options=include_options, sne=sne))


def verify_segment(
    packet: bytes,
    key: bytes,
    algorithm: str | TcpAoAlgorithm,
    *,
    include_options: bool,
    sne: int = 0,
) -> bool:
    """Whether the packet's TCP-AO MAC is right (constant-time compare)."""
    segment = parse_segment(packet)
    expected = mac(key, algorithm, mac_input(segment, include_options=include_options, sne=sne))
    return hmac.compare_digest(expected, segment.received_mac)
