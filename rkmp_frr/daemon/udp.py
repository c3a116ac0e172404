"""The daemon's UDP edge: one asyncio datagram endpoint per ``listen`` entry.

The engine speaks IKE messages without framing; this edge adds and strips
the 4-octet zero non-ESP marker on every port other than 500 (RFC 7296
§2.23, DESIGN.md §2 "Transport"), as strongSwan does, and drops unmarked
datagrams there (a zero marker distinguishes IKE from ESP-in-UDP, and a
lone 0xff octet is a NAT keepalive, RFC 3948 §2.3).

Which endpoint sends a datagram to a peer: the one the peer last reached
us on; before any contact, the endpoint whose address shares the longest
prefix with the peer's (on a router, the address on the neighbour's link;
a wildcard endpoint lets the kernel choose the source). Addresses are the
engine's ``(host, port)``; IPv6 scope and flow fields are dropped.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import ipaddress
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from rkmp_frr.engine.types import Address

log = logging.getLogger(__name__)

IKE_PORT = 500
NON_ESP_MARKER = b"\x00\x00\x00\x00"  # RFC 7296 §2.23
NAT_KEEPALIVE = b"\xff"  # RFC 3948 §2.3
RECEIVE_BUFFER = 4 * 1024 * 1024  # asked for; the kernel caps it at rmem_max

DatagramHandler = Callable[[bytes, Address, "UdpEndpoint"], None]
MAX_ROUTES = 65536  # remembered peer -> endpoint choices (sources can be spoofed)


def uses_marker(local_port: int) -> bool:
    """Messages on this port carry the non-ESP marker (RFC 7296 §2.23)."""
    return local_port != IKE_PORT


def frame(message: bytes, local_port: int) -> bytes:
    """What goes on the wire for ``message`` sent from ``local_port``."""
    return NON_ESP_MARKER + message if uses_marker(local_port) else message


def unframe(datagram: bytes, local_port: int) -> bytes | None:
    """The IKE message in ``datagram`` received on ``local_port``, or None
    for a datagram that is not one (unmarked, a keepalive)."""
    if not uses_marker(local_port):
        return datagram
    if len(datagram) <= len(NON_ESP_MARKER) or not datagram.startswith(NON_ESP_MARKER):
        return None
    return datagram[len(NON_ESP_MARKER) :]


def engine_address(sockaddr: tuple[object, ...]) -> Address:
    """An asyncio source address as the engine's ``(host, port)``."""
    host, port = str(sockaddr[0]), int(str(sockaddr[1]))
    if "%" in host:  # a scoped link-local address: the engine routes by host text
        host = host.split("%", 1)[0]
    return host, port


@dataclass(frozen=True, slots=True)
class EndpointStats:
    received: int
    sent: int
    dropped: int  # unframed, keepalives, send errors


class UdpEndpoint(asyncio.DatagramProtocol):
    """One bound UDP socket feeding ``handler`` with IKE messages."""

    def __init__(self, host: str, port: int, handler: DatagramHandler) -> None:
        self.host = host
        self.port = port  # the bound port (known after ``open``)
        self._handler = handler
        self._transport: asyncio.DatagramTransport | None = None
        self.received = 0
        self.sent = 0
        self.dropped = 0

    # --- asyncio callbacks ----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # CPython's selector transport does not subclass DatagramTransport.
        self._transport = cast(asyncio.DatagramTransport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            self.port = int(sock.getsockname()[1])

    def datagram_received(self, data: bytes, addr: tuple[object, ...]) -> None:
        message = unframe(data, self.port)
        if message is None:
            self.dropped += 1
            return
        self.received += 1
        self._handler(message, engine_address(addr), self)

    def error_received(self, exc: Exception) -> None:
        # ICMP errors (port unreachable while a peer is down) arrive here;
        # the engine's retransmissions deal with the loss.
        log.debug("udp %s: %s", self.label, exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    # --- use ------------------------------------------------------------------------

    @property
    def label(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def family(self) -> int:
        return socket.AF_INET6 if ":" in self.host else socket.AF_INET

    @property
    def open(self) -> bool:
        return self._transport is not None

    def send(self, message: bytes, addr: Address) -> None:
        if self._transport is None:
            self.dropped += 1
            return
        try:
            self._transport.sendto(frame(message, self.port), addr)
        except OSError as exc:  # e.g. no route: the engine retransmits or gives up
            self.dropped += 1
            log.debug("udp %s: cannot send to %s: %s", self.label, addr[0], exc)
            return
        self.sent += 1

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def stats(self) -> EndpointStats:
        return EndpointStats(self.received, self.sent, self.dropped)


async def open_endpoint(host: str, port: int, handler: DatagramHandler) -> UdpEndpoint:
    """Bind ``host``:``port`` (port 0: any free port) and start receiving."""
    loop = asyncio.get_running_loop()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    endpoint = UdpEndpoint(host, port, handler)
    await loop.create_datagram_endpoint(lambda: endpoint, sock=sock)
    return endpoint


def _parse(host: str) -> tuple[int, int] | None:
    """(IP version, address as an integer), or None for text that is not one."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    return address.version, int(address)


class EndpointSet:
    """The daemon's endpoints and the choice of one per destination.

    The longest-prefix choice uses, per IP version, the endpoints' addresses
    sorted as integers: the address sharing the longest prefix with a
    destination is next to the destination's place in that order, so one
    bisection finds it (a router with a thousand links must not scan them
    per datagram). Choices are remembered per peer.
    """

    def __init__(self) -> None:
        self._endpoints: list[UdpEndpoint] = []
        self._route: dict[Address, UdpEndpoint] = {}  # peer -> endpoint it last reached
        self._sorted: dict[int, list[tuple[int, int, UdpEndpoint]]] = {}  # version -> sorted
        self._wildcard: dict[int, UdpEndpoint] = {}  # version -> 0.0.0.0 / :: endpoint

    @property
    def endpoints(self) -> tuple[UdpEndpoint, ...]:
        return tuple(self._endpoints)

    def add(self, endpoint: UdpEndpoint) -> None:
        self._endpoints.append(endpoint)
        self._insert(len(self._endpoints) - 1, endpoint)

    def remove(self, endpoint: UdpEndpoint) -> None:
        endpoint.close()
        if endpoint in self._endpoints:
            self._endpoints.remove(endpoint)
        for peer in [p for p, e in self._route.items() if e is endpoint]:
            del self._route[peer]
        self._index()

    def _index(self) -> None:
        self._sorted = {}
        self._wildcard = {}
        for order, endpoint in enumerate(self._endpoints):
            self._insert(order, endpoint)

    def _insert(self, order: int, endpoint: UdpEndpoint) -> None:
        parsed = _parse(endpoint.host)
        if parsed is None:
            return
        version, value = parsed
        if value == 0:
            self._wildcard.setdefault(version, endpoint)
            return
        entries = self._sorted.setdefault(version, [])
        entries.insert(bisect.bisect_right(entries, (value, order)), (value, order, endpoint))

    def _remember(self, peer: Address, endpoint: UdpEndpoint) -> None:
        if len(self._route) >= MAX_ROUTES:
            del self._route[next(iter(self._route))]  # the oldest
        self._route[peer] = endpoint

    def heard(self, peer: Address, endpoint: UdpEndpoint) -> None:
        """``peer`` reached us on ``endpoint``: answer it from there."""
        if self._route.get(peer) is not endpoint:
            self._remember(peer, endpoint)

    def forget(self, peer: Address) -> None:
        self._route.pop(peer, None)

    def choose(self, peer: Address) -> UdpEndpoint | None:
        endpoint = self._route.get(peer)
        if endpoint is not None and endpoint.open:
            return endpoint
        best = self._longest_prefix(peer[0])
        if best is not None:
            self._remember(peer, best)
        return best

    def _longest_prefix(self, host: str) -> UdpEndpoint | None:
        parsed = _parse(host)
        if parsed is None:
            return None
        version, value = parsed
        entries = self._sorted.get(version, [])
        best: UdpEndpoint | None = None
        if entries:
            place = bisect.bisect_left(entries, (value, -1))
            bits = 32 if version == 4 else 128
            best_len = -1
            for candidate in entries[max(0, place - 1) : place + 1]:
                if not candidate[2].open:
                    continue
                length = bits - (candidate[0] ^ value).bit_length()
                if length > best_len:
                    best, best_len = candidate[2], length
            if best_len > 0 or version not in self._wildcard:
                return best
        wildcard = self._wildcard.get(version)
        if wildcard is not None and wildcard.open:
            return wildcard  # the kernel picks the source address
        return best

    def send(self, message: bytes, peer: Address) -> bool:
        endpoint = self.choose(peer)
        if endpoint is None:
            log.debug("no endpoint can reach %s", peer[0])
            return False
        endpoint.send(message, peer)
        return True

    def close(self) -> None:
        for endpoint in self._endpoints:
            endpoint.close()
        self._endpoints.clear()
        self._route.clear()
