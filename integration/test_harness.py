"""Checks of the integration harness itself (pcap, charon log parser, netns).

The pure parts run anywhere; the namespace parts need root like every
other integration test.
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
from pathlib import Path

import pytest

from integration.harness.capture import start_capture
from integration.harness.ike import ike_message
from integration.harness.netns import NETNS_RUN_DIR, Link, NamespacePool, two_node_network
from integration.harness.pcap import (
    IPV4_HEADER_LENGTH,
    UdpDatagram,
    internet_checksum,
    ipv4_udp_packet,
    read_pcap,
    read_udp_datagrams,
    write_udp_pcap,
)
from integration.harness.process import start_process, wait_until
from integration.harness.requirements import missing_programs
from integration.harness.skips import require_netns
from integration.harness.strongswan import parse_hex_dumps, parse_ike_key_sets

V4_A, V4_B = ipaddress.IPv4Address("10.250.0.1"), ipaddress.IPv4Address("10.250.0.2")
V6_A, V6_B = ipaddress.IPv6Address("fd00:726b::1"), ipaddress.IPv6Address("fd00:726b::2")


# --- pcap ----------------------------------------------------------------------


def test_harness_pcap_roundtrip(tmp_path: Path) -> None:
    written = [
        UdpDatagram(1000.25, V4_A, V4_B, 500, 500, b"\x01" * 41),
        UdpDatagram(1000.5, V6_B, V6_A, 4500, 4500, b"\x00\x00\x00\x00" + b"\x02" * 30),
        UdpDatagram(1001.0, V4_B, V4_A, 500, 500, b""),
    ]
    path = tmp_path / "x.pcap"
    write_udp_pcap(path, written)
    assert read_udp_datagrams(path) == written
    assert len(read_pcap(path)) == 3
    # A file cut inside the last record reads as the complete ones only.
    path.write_bytes(path.read_bytes()[:-5])
    assert len(read_udp_datagrams(path, allow_truncated=True)) == 2


def test_harness_ipv4_checksums() -> None:
    packet = ipv4_udp_packet(V4_A, V4_B, 500, 500, b"abc")
    assert internet_checksum(packet[:IPV4_HEADER_LENGTH]) == 0
    # UDP: sum over pseudo-header + segment is 0 when the checksum is right.
    segment = packet[IPV4_HEADER_LENGTH:]
    pseudo = V4_A.packed + V4_B.packed + bytes((0, 17)) + len(segment).to_bytes(2, "big")
    assert internet_checksum(pseudo + segment) == 0
    assert internet_checksum(b"\x45\x00") != 0


def test_harness_ike_message_extraction() -> None:
    ike = bytes(28)
    assert ike_message(UdpDatagram(0, V4_A, V4_B, 500, 500, ike)) == ike
    assert ike_message(UdpDatagram(0, V4_A, V4_B, 4500, 4500, bytes(4) + ike)) == ike
    assert ike_message(UdpDatagram(0, V4_A, V4_B, 4500, 4500, b"\xff")) is None  # keepalive
    assert ike_message(UdpDatagram(0, V4_A, V4_B, 4500, 4500, b"\x01" * 40)) is None  # ESP
    assert ike_message(UdpDatagram(0, V4_A, V4_B, 53, 53, ike)) is None


# --- charon log parsing ------------------------------------------------------------


def _dump(thread: int, label: str, data: bytes) -> list[str]:
    """Lines in the layout of charon's `%B` chunk dumps."""
    lines = [f"1700000000 {thread:02d}[IKE] {label} => {len(data)} bytes @ 0x7f00dead0000"]
    for offset in range(0, len(data), 16):
        chunk = data[offset : offset + 16]
        hexes = " ".join(f"{b:02X}" for b in chunk)
        lines.append(f"1700000000 {thread:02d}[IKE] {offset:4d}: {hexes:<47}  {'.' * len(chunk)}")
    return lines


def test_harness_charon_key_log_parser() -> None:
    keys = {label: bytes(range(n, n + size)) for n, (label, size) in enumerate([
        ("shared Diffie Hellman secret", 32), ("SKEYSEED", 32), ("Sk_d secret", 32),
        ("Sk_ei secret", 36), ("Sk_er secret", 36), ("Sk_pi secret", 32), ("Sk_pr secret", 32),
    ])}  # fmt: skip
    a = [line for label, data in keys.items() for line in _dump(12, label, data)]
    b = _dump(7, "octets = message + nonce + prf(Sk_px, IDx')", b"\xaa" * 20)
    # Another thread's dump interleaved line by line must not disturb thread 12.
    merged = [a[0], b[0], a[1], b[1], a[2], b[2], *a[3:]]
    merged.insert(5, "1700000000 05[NET] sending packet: from 10.0.0.1[500] to 10.0.0.2[500]")
    text = "\n".join(merged) + "\n"
    dumps = parse_hex_dumps(text)
    assert [d.data for d in dumps if d.thread == 7] == [b"\xaa" * 20]
    (parsed,) = parse_ike_key_sets(text)
    assert parsed.g_ir == keys["shared Diffie Hellman secret"]
    assert parsed.keys.sk_ei == keys["Sk_ei secret"] and len(parsed.keys.sk_ei) == 36
    assert parsed.keys.sk_pr == keys["Sk_pr secret"]
    assert parsed.keys.sk_ai == parsed.keys.sk_ar == b""  # AEAD: charon logs no SK_a
    assert keys["SKEYSEED"].hex() not in repr(parsed)


def test_harness_charon_key_log_parser_rejects_short_dump() -> None:
    lines = _dump(3, "SKEYSEED", bytes(32))
    with pytest.raises(ValueError, match="SKEYSEED"):
        parse_hex_dumps("\n".join(lines[:-1]))  # 16 of 32 octets


# --- namespaces, processes, capture ---------------------------------------------------


def _udp_roundtrip(link: Link, work: Path) -> bytes:
    """Send one datagram left -> right; return what the receiver got."""
    received = work / "received"
    ready = work / "ready"
    receiver = start_process(
        "udp-receiver",
        [sys.executable, "-c", (
            "import socket, sys\n"
            "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            f"s.bind(('{link.right.address}', 5999))\n"
            "open(sys.argv[2], 'w').close()\n"
            "data, _ = s.recvfrom(2048)\n"
            "open(sys.argv[1], 'wb').write(data)\n"
        ), str(received), str(ready)],
        log_path=work / "receiver.log",
        netns=link.right.ns.name,
    )  # fmt: skip
    try:
        wait_until(ready.exists, timeout=10, what="receiver bound", diagnostics=receiver.log_tail)
        link.left.ns.run([sys.executable, "-c", (
            "import socket\n"
            "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            f"s.sendto(b'rkmp harness', ('{link.right.address}', 5999))\n"
        )])  # fmt: skip
        wait_until(received.exists, timeout=10, what="datagram", diagnostics=receiver.log_tail)
        receiver.popen.wait(10)
    finally:
        receiver.stop()
    return received.read_bytes()


def test_harness_veth_link_and_cleanup(tmp_path: Path) -> None:
    require_netns()
    with two_node_network() as link:
        names = (link.left.ns.name, link.right.ns.name)
        assert all((NETNS_RUN_DIR / n).exists() for n in names)
        assert _udp_roundtrip(link, tmp_path) == b"rkmp harness"
        # The host namespace has no interface of ours.
        host = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True)
        assert not any(n in host.stdout for n in names)
    assert not any((NETNS_RUN_DIR / n).exists() for n in names)


def test_harness_capture_on_veth(two_nodes: Link, work_dir: Path) -> None:
    if missing_programs("dumpcap"):
        pytest.skip("dumpcap not found")
    link = two_nodes
    pcap = work_dir / "cap.pcap"
    capture = start_capture(
        link.left.ns, link.left.ifname, "udp port 5999", pcap, work_dir / "dumpcap.log"
    )
    try:
        _udp_roundtrip(link, work_dir)
        capture.wait_for_datagrams(1)
    finally:
        capture.stop()
    (datagram,) = read_udp_datagrams(pcap)
    assert (datagram.src, datagram.dst, datagram.dport) == (V4_A, V4_B, 5999)
    assert datagram.payload == b"rkmp harness"


def test_harness_netns_pool(netns_pool: NamespacePool) -> None:
    ns = netns_pool.create("pool")
    assert ns.name.startswith(f"rkmpt-{os.getpid()}-")
    assert "lo" in ns.ip("-o", "link", "show", "up").stdout
    netns_pool.close()
    assert not (NETNS_RUN_DIR / ns.name).exists()
