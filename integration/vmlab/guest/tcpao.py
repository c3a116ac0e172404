"""TCP-AO (RFC 5925) keys on a Python socket, through Linux's setsockopt.

`struct tcp_ao_add` of include/uapi/linux/tcp.h (Linux 6.7+):
sockaddr_storage addr (128), char alg_name[64], s32 ifindex,
u32 set_current:1/set_rnext:1/reserved:30, u16 reserved2, u8 prefix,
u8 sndid, u8 rcvid, u8 maclen, u8 keyflags, u8 keylen, u8 key[80];
aligned(8), 288 octets.
"""

from __future__ import annotations

import socket
import struct

TCP_AO_ADD_KEY = 38
TCP_AO_MAXKEYLEN = 80
_TCP_AO_ADD = struct.Struct("=128s64siIHBBBBBB80s")


def sockaddr_in(address: str, port: int = 0) -> bytes:
    """A struct sockaddr_in in a sockaddr_storage (family in host order)."""
    raw = struct.pack("=H", socket.AF_INET) + struct.pack("!H", port)
    return (raw + socket.inet_aton(address)).ljust(128, b"\0")


def tcp_ao_add(
    peer: str,
    secret: bytes,
    *,
    send_id: int,
    recv_id: int,
    algorithm: str = "hmac(sha256)",
    mac_length: int = 12,
    prefix: int = 32,
) -> bytes:
    """The setsockopt value adding one master key tuple for `peer`/`prefix`."""
    if len(secret) > TCP_AO_MAXKEYLEN:
        raise ValueError("TCP-AO key longer than 80 octets")
    return _TCP_AO_ADD.pack(
        sockaddr_in(peer), algorithm.encode(), 0, 0, 0,
        prefix, send_id, recv_id, mac_length, 0, len(secret), secret,
    )  # fmt: skip


def add_key(sock: socket.socket, peer: str, secret: bytes, *, send_id: int, recv_id: int) -> None:
    """Add an HMAC-SHA-256 master key for `peer` to `sock` (before connect/listen)."""
    sock.setsockopt(
        socket.IPPROTO_TCP, TCP_AO_ADD_KEY,
        tcp_ao_add(peer, secret, send_id=send_id, recv_id=recv_id),
    )  # fmt: skip
