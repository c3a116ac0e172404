"""A tiny pcap reader and writer: Ethernet / IPv4 / IPv6 / UDP only.

Enough to pull IKE datagrams out of a dumpcap capture and to write
hand-made packets for tshark, without scapy. Formats: the classic libpcap
file format (draft-ietf-opsawg-pcap), Ethernet II with optional 802.1Q tags,
IPv4 (RFC 791), IPv6 (RFC 8200), UDP (RFC 768). IP fragments are rejected
rather than silently dropped: no test here should produce them.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

PCAP_MAGIC_USEC = 0xA1B2C3D4
PCAP_MAGIC_NSEC = 0xA1B23C4D
PCAP_VERSION = (2, 4)
DEFAULT_SNAPLEN = 262144

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
ETHERTYPE_VLAN = (0x8100, 0x88A8)
IPPROTO_UDP = 17
UDP_HEADER_LENGTH = 8
IPV4_HEADER_LENGTH = 20
IPV6_HEADER_LENGTH = 40
# IPv6 extension headers we can step over (RFC 8200 §4): hop-by-hop,
# routing, destination options. Fragment (44) is refused.
IPV6_SKIPPABLE_EXTENSIONS = (0, 43, 60)
IPV6_FRAGMENT = 44


class LinkType(IntEnum):
    """LINKTYPE_* values (tcpdump.org link-layer header types)."""

    ETHERNET = 1
    RAW = 101
    LINUX_SLL = 113
    IPV4 = 228
    IPV6 = 229
    LINUX_SLL2 = 276


class PcapError(Exception):
    """The file or a packet in it is not something this reader handles."""


@dataclass(frozen=True, slots=True)
class PcapRecord:
    """One captured frame as stored in the file."""

    timestamp: float
    linktype: LinkType
    data: bytes
    original_length: int


@dataclass(frozen=True, slots=True)
class UdpDatagram:
    """A UDP datagram and the addresses it travelled between."""

    timestamp: float
    src: IPAddress
    dst: IPAddress
    sport: int
    dport: int
    payload: bytes


# --- reading -----------------------------------------------------------------


def read_pcap(path: Path, *, allow_truncated: bool = False) -> list[PcapRecord]:
    """Every record of a classic pcap file (either byte order, us or ns).

    `allow_truncated` ignores a partial last record (a file still being
    written); otherwise that is an error.
    """
    return list(iter_pcap(path.read_bytes(), allow_truncated=allow_truncated))


def iter_pcap(data: bytes, *, allow_truncated: bool = False) -> Iterator[PcapRecord]:
    if len(data) < 24:
        if allow_truncated:
            return
        raise PcapError("file shorter than the pcap global header")
    for endian in ("<", ">"):
        (magic,) = struct.unpack_from(endian + "I", data, 0)
        if magic in (PCAP_MAGIC_USEC, PCAP_MAGIC_NSEC):
            break
    else:
        raise PcapError(f"not a classic pcap file (magic {data[:4].hex()}); pcapng?")
    ts_divisor = 1e6 if magic == PCAP_MAGIC_USEC else 1e9
    _major, _minor, _zone, _sigfigs, _snaplen, network = struct.unpack_from(
        endian + "HHiIII", data, 4
    )
    # The low 16 bits are the link type; the upper bits carry FCS info.
    linktype = LinkType(network & 0xFFFF)
    offset = 24
    while offset < len(data):
        if offset + 16 > len(data):
            if allow_truncated:
                return
            raise PcapError("truncated record header")
        ts_sec, ts_frac, incl_len, orig_len = struct.unpack_from(endian + "IIII", data, offset)
        offset += 16
        if offset + incl_len > len(data):
            if allow_truncated:
                return
            raise PcapError("truncated record data")
        yield PcapRecord(
            timestamp=ts_sec + ts_frac / ts_divisor,
            linktype=linktype,
            data=data[offset : offset + incl_len],
            original_length=orig_len,
        )
        offset += incl_len


def _network_layer(record: PcapRecord) -> tuple[int, bytes]:
    """(ethertype, network-layer bytes) of a frame."""
    data = record.data
    if record.linktype is LinkType.ETHERNET:
        ethertype, offset = struct.unpack_from("!H", data, 12)[0], 14
        while ethertype in ETHERTYPE_VLAN:
            ethertype, offset = struct.unpack_from("!H", data, offset + 2)[0], offset + 4
        return ethertype, data[offset:]
    if record.linktype is LinkType.LINUX_SLL:
        return struct.unpack_from("!H", data, 14)[0], data[16:]
    if record.linktype is LinkType.LINUX_SLL2:
        return struct.unpack_from("!H", data, 0)[0], data[20:]
    if record.linktype in (LinkType.RAW, LinkType.IPV4, LinkType.IPV6):
        version = data[0] >> 4 if data else 0
        return (ETHERTYPE_IPV4 if version == 4 else ETHERTYPE_IPV6), data
    raise PcapError(f"unsupported link type {record.linktype!r}")


def _ipv4_udp(packet: bytes) -> tuple[IPAddress, IPAddress, bytes] | None:
    ihl = (packet[0] & 0x0F) * 4
    total_length, flags_fragment = struct.unpack_from("!H2xH", packet, 2)
    if flags_fragment & 0x3FFF:  # MF flag or a fragment offset
        raise PcapError("IPv4 fragment: reassembly is not supported")
    if packet[9] != IPPROTO_UDP:
        return None
    src = ipaddress.IPv4Address(packet[12:16])
    dst = ipaddress.IPv4Address(packet[16:20])
    return src, dst, packet[ihl:total_length]


def _ipv6_udp(packet: bytes) -> tuple[IPAddress, IPAddress, bytes] | None:
    (payload_length,) = struct.unpack_from("!H", packet, 4)
    next_header = packet[6]
    src = ipaddress.IPv6Address(packet[8:24])
    dst = ipaddress.IPv6Address(packet[24:40])
    rest = packet[IPV6_HEADER_LENGTH : IPV6_HEADER_LENGTH + payload_length]
    while next_header in IPV6_SKIPPABLE_EXTENSIONS:
        next_header, ext_len = rest[0], (rest[1] + 1) * 8
        rest = rest[ext_len:]
    if next_header == IPV6_FRAGMENT:
        raise PcapError("IPv6 fragment: reassembly is not supported")
    if next_header != IPPROTO_UDP:
        return None
    return src, dst, rest


def udp_datagram(record: PcapRecord) -> UdpDatagram | None:
    """The UDP datagram in a frame, or None for anything else."""
    ethertype, packet = _network_layer(record)
    if ethertype == ETHERTYPE_IPV4:
        found = _ipv4_udp(packet)
    elif ethertype == ETHERTYPE_IPV6:
        found = _ipv6_udp(packet)
    else:
        return None
    if found is None:
        return None
    src, dst, segment = found
    sport, dport, udp_length = struct.unpack_from("!HHH", segment, 0)
    if udp_length < UDP_HEADER_LENGTH or udp_length > len(segment):
        raise PcapError(f"bad UDP length {udp_length} (segment has {len(segment)} octets)")
    return UdpDatagram(
        timestamp=record.timestamp,
        src=src,
        dst=dst,
        sport=sport,
        dport=dport,
        payload=segment[UDP_HEADER_LENGTH:udp_length],
    )


def read_udp_datagrams(
    path: Path, ports: Sequence[int] | None = None, *, allow_truncated: bool = False
) -> list[UdpDatagram]:
    """UDP datagrams of a capture, optionally only those to or from `ports`."""
    out = []
    for record in read_pcap(path, allow_truncated=allow_truncated):
        datagram = udp_datagram(record)
        if datagram is None:
            continue
        if ports is None or datagram.sport in ports or datagram.dport in ports:
            out.append(datagram)
    return out


# --- writing -----------------------------------------------------------------


def internet_checksum(data: bytes) -> int:
    """RFC 1071 ones'-complement sum of 16-bit words."""
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _udp_segment(src: IPAddress, dst: IPAddress, sport: int, dport: int, payload: bytes) -> bytes:
    length = UDP_HEADER_LENGTH + len(payload)
    header = struct.pack("!HHHH", sport, dport, length, 0)
    if isinstance(src, ipaddress.IPv4Address):
        pseudo = src.packed + dst.packed + struct.pack("!BBH", 0, IPPROTO_UDP, length)
    else:
        pseudo = src.packed + dst.packed + struct.pack("!I3xB", length, IPPROTO_UDP)
    checksum = internet_checksum(pseudo + header + payload) or 0xFFFF  # RFC 768: 0 means none
    return struct.pack("!HHHH", sport, dport, length, checksum) + payload


def ipv4_udp_packet(
    src: ipaddress.IPv4Address,
    dst: ipaddress.IPv4Address,
    sport: int,
    dport: int,
    payload: bytes,
    *,
    ident: int = 0,
    ttl: int = 64,
) -> bytes:
    segment = _udp_segment(src, dst, sport, dport, payload)
    header = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,  # version 4, IHL 5
        0,
        IPV4_HEADER_LENGTH + len(segment),
        ident,
        0x4000,  # DF
        ttl,
        IPPROTO_UDP,
        0,
        src.packed,
        dst.packed,
    )
    checksum = internet_checksum(header)
    return header[:10] + struct.pack("!H", checksum) + header[12:] + segment


def ipv6_udp_packet(
    src: ipaddress.IPv6Address,
    dst: ipaddress.IPv6Address,
    sport: int,
    dport: int,
    payload: bytes,
    *,
    hop_limit: int = 64,
) -> bytes:
    segment = _udp_segment(src, dst, sport, dport, payload)
    header = struct.pack("!IHBB", 6 << 28, len(segment), IPPROTO_UDP, hop_limit)
    return header + src.packed + dst.packed + segment


def ethernet_frame(
    packet: bytes,
    *,
    src_mac: bytes = bytes.fromhex("020000000001"),
    dst_mac: bytes = bytes.fromhex("020000000002"),
) -> bytes:
    """Ethernet II framing; the ethertype follows the IP version nibble."""
    ethertype = ETHERTYPE_IPV4 if packet[0] >> 4 == 4 else ETHERTYPE_IPV6
    return dst_mac + src_mac + struct.pack("!H", ethertype) + packet


def udp_frame(datagram: UdpDatagram, *, ident: int = 0) -> bytes:
    """An Ethernet frame carrying `datagram` (IPv4 or IPv6 by its addresses)."""
    if isinstance(datagram.src, ipaddress.IPv4Address):
        assert isinstance(datagram.dst, ipaddress.IPv4Address)
        packet = ipv4_udp_packet(
            datagram.src,
            datagram.dst,
            datagram.sport,
            datagram.dport,
            datagram.payload,
            ident=ident,
        )
    else:
        assert isinstance(datagram.dst, ipaddress.IPv6Address)
        packet = ipv6_udp_packet(
            datagram.src, datagram.dst, datagram.sport, datagram.dport, datagram.payload
        )
    return ethernet_frame(packet)


def write_pcap(
    path: Path,
    frames: Iterable[tuple[float, bytes]],
    *,
    linktype: LinkType = LinkType.ETHERNET,
) -> None:
    """Write (timestamp, frame) pairs as a little-endian microsecond pcap."""
    out = bytearray(
        struct.pack("<IHHiIII", PCAP_MAGIC_USEC, *PCAP_VERSION, 0, 0, DEFAULT_SNAPLEN, linktype)
    )
    for timestamp, frame in frames:
        seconds = int(timestamp)
        micros = min(round((timestamp - seconds) * 1e6), 999_999)
        out += struct.pack("<IIII", seconds, micros, len(frame), len(frame)) + frame
    path.write_bytes(bytes(out))


def write_udp_pcap(path: Path, datagrams: Iterable[UdpDatagram]) -> None:
    """Write datagrams as Ethernet frames, numbering their IPv4 IDs."""
    write_pcap(
        path,
        ((d.timestamp, udp_frame(d, ident=i + 1)) for i, d in enumerate(datagrams)),
    )
