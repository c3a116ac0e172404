"""Error handling (RFC 7296 §2.21) and what must be dropped without a
state change (§2.1-§2.3)."""

from __future__ import annotations

from rkmp_frr.engine import (
    ChildSaCreated,
    DosPolicy,
    RkmpSaEstablished,
    RkmpSaFailed,
    RkmpSaRekeyed,
)
from rkmp_frr.engine.rkmp_sa import RkmpSa
from rkmp_frr.engine.routing_proposals import build_child_proposal
from rkmp_frr.wire import (
    Header,
    Message,
    NoncePayload,
    NotifyPayload,
    SaPayload,
    UnknownPayload,
    decode_message,
    encode_message,
)
from rkmp_frr.wire.constants import ExchangeType, HeaderFlag, NotifyType, ProtocolId

from .harness import ADDR_A, ADDR_B, Network, Node, pair
from .test_exchanges import established


def _sa(node: Node) -> RkmpSa:
    [sa] = [s for s in node.engine._sas.values() if s.usable]
    return sa


def _request(sa: RkmpSa, exchange: int, payloads: tuple, message_id: int | None = None) -> bytes:  # type: ignore[type-arg]
    mid = sa.next_request_id if message_id is None else message_id
    return sa.seal(sa.header(exchange, mid, response=False), payloads)


def _deliver(net: Network, src: Node, dst: Node, data: bytes) -> list[bytes]:
    """Hand ``data`` to ``dst`` as if from ``src``; what ``dst`` answers."""
    dst.engine.receive_datagram(data, src.address, net.now)
    return [d for d, addr in dst.engine.datagrams_to_send() if addr == src.address]


def test_half_open_sa_times_out_silently() -> None:
    net, a, b = pair(b_config={"dos": DosPolicy(half_open_timeout=10.0)})
    net.drop = lambda packet: packet.exchange == ExchangeType.IKE_AUTH
    a.engine.initiate(ADDR_B, net.now)
    net.run(5.0)
    assert len(b.engine._sas) == 1 and b.engine._half_open_total == 1
    net.run(6.0)
    assert b.engine._sas == {} and b.engine._half_open_total == 0
    assert b.events == []


def test_unauthenticated_and_out_of_window_requests_change_nothing() -> None:
    net, a, b = established()
    sa_a, sa_b = _sa(a), _sa(b)
    expected = sa_b.expected_request_id
    forged = bytearray(_request(sa_a, ExchangeType.INFORMATIONAL, ()))
    forged[-1] ^= 1
    assert _deliver(net, a, b, bytes(forged)) == []
    ahead = _request(sa_a, ExchangeType.INFORMATIONAL, (), message_id=expected + 3)
    assert _deliver(net, a, b, ahead) == []
    behind = _request(sa_a, ExchangeType.INFORMATIONAL, (), message_id=expected - 1)
    assert _deliver(net, a, b, behind) == []  # not the cached request: dropped
    assert sa_b.expected_request_id == expected
    # The SA is unharmed.
    a.engine.check_liveness(ADDR_B, net.now)
    net.settle()
    assert sa_b.expected_request_id == expected + 1


def test_retransmitted_request_gets_the_cached_response() -> None:
    net, a, b = established()
    a.engine.generate_sa(ADDR_B, ProtocolId.TCP_AO, net.now)
    net.settle()
    request = next(
        p for p in net.sent if p.exchange == ExchangeType.CREATE_CHILD_SA and not p.is_response
    )
    response = next(
        p for p in net.sent if p.exchange == ExchangeType.CREATE_CHILD_SA and p.is_response
    )
    children = len(b.engine.child_sas(ADDR_A))
    assert _deliver(net, a, b, request.data) == [response.data]
    assert len(b.engine.child_sas(ADDR_A)) == children
    # A late duplicate of the response is ignored by A as well.
    a.engine.receive_datagram(response.data, ADDR_B, net.now)
    assert a.engine.datagrams_to_send() == [] and a.engine.next_event() is None


def test_unknown_spi_and_garbage_are_dropped() -> None:
    net, a, b = established()
    sa_a = _sa(a)
    stray = bytearray(_request(sa_a, ExchangeType.INFORMATIONAL, ()))
    stray[8:16] = b"\x99" * 8  # an SPIr nobody has
    assert _deliver(net, a, b, bytes(stray)) == []
    assert _deliver(net, a, b, b"\x00" * 10) == []
    assert _deliver(net, a, b, b"") == []


def test_unsupported_critical_payload() -> None:
    net, a, b = established()
    sa_a = _sa(a)
    weird = UnknownPayload(200, b"?", critical=True)
    answers = _deliver(net, a, b, _request(sa_a, ExchangeType.INFORMATIONAL, (weird,)))
    [answer] = answers
    assert sa_a.inbound is not None
    notify = sa_a.inbound.open(answer).payloads
    assert notify == (NotifyPayload(NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD, data=bytes((200,))),)
    # Also in an unencrypted RKMP_SA_INIT (RFC 7296 §2.5).
    header = Header(b"\x42" * 8, bytes(8), ExchangeType.IKE_SA_INIT, HeaderFlag.INITIATOR, 0)
    init = encode_message(Message(header, (weird, NoncePayload(b"n" * 32))))
    [reply] = _deliver(net, a, b, init)
    found = decode_message(reply).notify(NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD)
    assert found is not None and found.data == bytes((200,))


def test_invalid_syntax_for_a_child_request_without_nonce() -> None:
    net, a, b = established()
    sa_a = _sa(a)
    offer = build_child_proposal(sa_a.policy.children[0], 9, None)
    request = _request(sa_a, ExchangeType.CREATE_CHILD_SA, (SaPayload((offer,)),))
    [answer] = _deliver(net, a, b, request)
    assert sa_a.inbound is not None
    assert sa_a.inbound.open(answer).payloads == (NotifyPayload(NotifyType.INVALID_SYNTAX),)
    assert len(b.engine.child_sas(ADDR_A)) == 1


def test_invalid_major_version_answered() -> None:
    net, a, b = pair()
    header = Header(
        b"\x42" * 8, bytes(8), ExchangeType.IKE_SA_INIT, HeaderFlag.INITIATOR, 0, major_version=3
    )
    [reply] = _deliver(net, a, b, encode_message(Message(header, ())))
    message = decode_message(reply)
    assert message.header.major_version == 2
    assert message.notify(NotifyType.INVALID_MAJOR_VERSION) is not None


def test_temporary_failure_while_rkmp_sa_is_rekeyed() -> None:
    net, a, b = established()
    a.engine.rekey_rkmp_sa(ADDR_B, net.now)
    b.engine.generate_sa(ADDR_A, ProtocolId.TCP_AO, net.now)
    net.settle()
    for node in (a, b):
        assert len(node.of_type(RkmpSaRekeyed)) == 1
        assert len(node.of_type(ChildSaCreated)) == 2
        assert not node.of_type(RkmpSaFailed)
    assert len(a.engine.child_sas(ADDR_B)) == 2
    assert len(a.of_type(RkmpSaEstablished)) == 1
    # Each request met the other's exchange in flight, got TEMPORARY_FAILURE
    # (RFC 7296 §2.25.2) and was retried a few seconds later.
    for node in (a, b):
        requests = [
            p
            for p in net.sent
            if p.src == node.address
            and p.exchange == ExchangeType.CREATE_CHILD_SA
            and not p.is_response
        ]
        assert len(requests) == 2
