"""IKE messages out of captured UDP datagrams, and a header peek.

The peek reads only the fixed IKE header (RFC 7296 §3.1); it lets the
harness group datagrams by SA before (and independently of) the project's
codec. Tests decode with the project's codec.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

from integration.harness.pcap import UdpDatagram

IKE_PORT = 500
NAT_T_PORT = 4500
NON_ESP_MARKER = b"\x00\x00\x00\x00"  # RFC 7296 §2.23 / RFC 3948 §2.2
NAT_KEEPALIVE = b"\xff"  # RFC 3948 §2.3
IKE_HEADER = struct.Struct("!8s8sBBBBII")

FLAG_INITIATOR = 0x08
FLAG_RESPONSE = 0x20


@dataclass(frozen=True, slots=True)
class IkeHeaderPeek:
    spi_i: bytes
    spi_r: bytes
    next_payload: int
    version: int
    exchange_type: int
    flags: int
    message_id: int
    length: int

    @property
    def is_response(self) -> bool:
        return bool(self.flags & FLAG_RESPONSE)

    @property
    def from_initiator(self) -> bool:
        return bool(self.flags & FLAG_INITIATOR)


def peek_header(message: bytes) -> IkeHeaderPeek:
    spi_i, spi_r, next_payload, version, exchange, flags, msg_id, length = IKE_HEADER.unpack_from(
        message, 0
    )
    return IkeHeaderPeek(spi_i, spi_r, next_payload, version, exchange, flags, msg_id, length)


@dataclass(frozen=True, slots=True)
class IkeDatagram:
    """A captured datagram that carries one IKE message."""

    datagram: UdpDatagram
    message: bytes

    @property
    def header(self) -> IkeHeaderPeek:
        return peek_header(self.message)


def ike_message(datagram: UdpDatagram) -> bytes | None:
    """The IKE message in a datagram, or None (ESP, keepalive, other port).

    Port 500 to 500 carries IKE as is; any other IKE port pair prefixes the
    non-ESP marker, and a non-zero start there is ESP (RFC 7296 §2.23).
    """
    ports = {datagram.sport, datagram.dport}
    if not ports & {IKE_PORT, NAT_T_PORT}:
        return None
    payload = datagram.payload
    if datagram.sport == IKE_PORT and datagram.dport == IKE_PORT:
        return payload if len(payload) >= IKE_HEADER.size else None
    if payload == NAT_KEEPALIVE or not payload.startswith(NON_ESP_MARKER):
        return None
    return payload[len(NON_ESP_MARKER) :]


def ike_datagrams(datagrams: Iterable[UdpDatagram]) -> list[IkeDatagram]:
    out = []
    for datagram in datagrams:
        message = ike_message(datagram)
        if message is not None:
            out.append(IkeDatagram(datagram, message))
    return out


def spi_pairs_in_order(messages: Iterable[IkeDatagram]) -> list[tuple[bytes, bytes]]:
    """Distinct complete (SPIi, SPIr) pairs in order of first appearance.

    The IKE_SA_INIT request (SPIr zero) is skipped: its SA is the pair of
    its response.
    """
    seen: list[tuple[bytes, bytes]] = []
    for message in messages:
        header = message.header
        pair = (header.spi_i, header.spi_r)
        if header.spi_r != bytes(8) and pair not in seen:
            seen.append(pair)
    return seen
