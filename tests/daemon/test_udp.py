"""The UDP edge: non-ESP marker framing (RFC 7296 §2.23), address
normalisation, endpoint choice, and real sockets on loopback."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Coroutine
from typing import Any

from rkmp_frr.daemon.udp import (
    NON_ESP_MARKER,
    EndpointSet,
    UdpEndpoint,
    engine_address,
    frame,
    open_endpoint,
    unframe,
)
from rkmp_frr.engine.types import Address

IKE = bytes(range(28))  # stands for an IKE message


def run(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(coro)


def test_marker_only_off_port_500() -> None:
    assert frame(IKE, 500) == IKE
    assert frame(IKE, 4500) == NON_ESP_MARKER + IKE
    assert unframe(IKE, 500) == IKE
    assert unframe(NON_ESP_MARKER + IKE, 4500) == IKE
    assert unframe(NON_ESP_MARKER + IKE, 12345) == IKE


def test_unmarked_datagrams_and_keepalives_are_dropped_off_port_500() -> None:
    assert unframe(IKE, 4500) is None  # ESP-in-UDP would start with a non-zero SPI
    assert unframe(b"\xff", 4500) is None  # NAT keepalive, RFC 3948
    assert unframe(NON_ESP_MARKER, 4500) is None  # a marker and nothing else
    assert unframe(b"", 4500) is None


def test_engine_address_drops_scope_and_flow() -> None:
    assert engine_address(("192.0.2.1", 500)) == ("192.0.2.1", 500)
    assert engine_address(("fe80::1%eth0", 500, 0, 2)) == ("fe80::1", 500)


def _endpoint(host: str) -> UdpEndpoint:
    endpoint = UdpEndpoint(host, 500, lambda data, addr, ep: None)

    class _Open:
        def sendto(self, data: bytes, addr: Address) -> None:
            pass

        def close(self) -> None:
            pass

    endpoint._transport = _Open()  # type: ignore[assignment]
    return endpoint


def test_endpoint_choice_prefers_the_link_then_what_the_peer_used() -> None:
    endpoints = EndpointSet()
    link_a, link_b, v6 = _endpoint("10.0.0.1"), _endpoint("10.0.1.1"), _endpoint("2001:db8::1")
    for endpoint in (link_a, link_b, v6):
        endpoints.add(endpoint)
    assert endpoints.choose(("10.0.1.2", 500)) is link_b
    assert endpoints.choose(("10.0.0.2", 500)) is link_a
    assert endpoints.choose(("2001:db8::2", 500)) is v6
    endpoints.heard(("10.0.1.2", 500), link_a)
    assert endpoints.choose(("10.0.1.2", 500)) is link_a
    endpoints.remove(link_a)
    assert endpoints.choose(("10.0.1.2", 500)) is link_b
    only_v4 = EndpointSet()
    only_v4.add(_endpoint("0.0.0.0"))
    assert only_v4.choose(("192.0.2.9", 500)) is not None  # the wildcard serves any IPv4 peer
    assert only_v4.choose(("2001:db8::2", 500)) is None  # but no IPv6 one
    empty = EndpointSet()
    assert empty.choose(("10.0.0.2", 500)) is None
    assert not empty.send(IKE, ("10.0.0.2", 500))


def test_real_sockets_frame_and_unframe() -> None:
    async def main() -> None:
        got: list[tuple[bytes, Address]] = []
        endpoint = await open_endpoint("127.0.0.1", 0, lambda d, a, e: got.append((d, a)))
        try:
            assert endpoint.port != 0
            raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            raw.bind(("127.0.0.1", 0))
            raw.setblocking(False)
            raw_addr = raw.getsockname()
            raw.sendto(NON_ESP_MARKER + IKE, ("127.0.0.1", endpoint.port))
            raw.sendto(IKE, ("127.0.0.1", endpoint.port))  # unmarked: dropped
            endpoint.send(IKE, raw_addr)
            loop = asyncio.get_running_loop()
            on_wire = await asyncio.wait_for(loop.sock_recv(raw, 100), 5)
            raw.close()
            for _ in range(100):
                if got and endpoint.dropped:
                    break
                await asyncio.sleep(0.01)
            assert on_wire == NON_ESP_MARKER + IKE
            assert got == [(IKE, ("127.0.0.1", raw_addr[1]))]
            assert endpoint.stats().dropped == 1 and endpoint.stats().sent == 1
        finally:
            endpoint.close()

    run(main())


def test_longest_prefix_choice_matches_a_scan_over_many_links() -> None:
    import ipaddress
    import random

    rng = random.Random(5)
    hosts = sorted(
        {f"10.{rng.randrange(4)}.{rng.randrange(256)}.{rng.randrange(1, 255)}" for _ in range(300)}
    )
    endpoints = EndpointSet()
    by_host = {host: _endpoint(host) for host in hosts}
    for endpoint in by_host.values():
        endpoints.add(endpoint)
    values = [int(ipaddress.ip_address(h)) for h in hosts]
    for _ in range(200):
        peer = f"10.{rng.randrange(4)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        value = int(ipaddress.ip_address(peer))
        best = max(32 - (v ^ value).bit_length() for v in values)
        chosen = endpoints.choose((peer, 500))
        assert chosen is not None
        assert 32 - (int(ipaddress.ip_address(chosen.host)) ^ value).bit_length() == best
    # a /30 per neighbour, as on a router with many point-to-point links
    links = EndpointSet()
    for i in range(1000):
        links.add(_endpoint(str(ipaddress.ip_address(0x7F400000 + 4 * i + 1))))
    for i in (0, 1, 517, 999):
        peer = str(ipaddress.ip_address(0x7F400000 + 4 * i + 2))
        chosen = links.choose((peer, 500))
        assert chosen is not None and chosen.host == str(
            ipaddress.ip_address(0x7F400000 + 4 * i + 1)
        )
