"""``initiate`` called again while the handshake is under way.

The daemon calls ``Engine.initiate`` on every netlink neighbour-up (and on
reload, and for a static peer's retry); a neighbour-up can come at any
point of a handshake. Whatever the point, on either side, with the call
for every protocol or for one, both ends must end up with exactly one
child SA per protocol and the same keys: the in-flight RKMP_SA_AUTH
already carries the first child, and a CREATE_CHILD_SA in flight the next.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest

from rkmp_frr.engine import ChildPolicy, ChildSaCreated, ChildSaDeleted, RkmpSaEstablished
from rkmp_frr.engine.state import SaState
from rkmp_frr.engine.tasks.create_child import CreateChildTask
from rkmp_frr.wire.constants import ExchangeType, ProtocolId

from .harness import ADDR_A, ADDR_B, BFD, TCP_AO, Network, Node, Packet, pair
from .test_establish import _sa, assert_same_children, assert_same_sa_keys

Point = Callable[[Network, Node, Node], bool]


def _sent(net: Network, exchange: ExchangeType, *, response: bool, src: Node) -> bool:
    return any(_is(p, exchange, response, src) for p in net.sent)


def _is(packet: Packet, exchange: ExchangeType, response: bool, src: Node) -> bool:
    return (
        packet.src == src.address and packet.exchange == exchange and packet.is_response == response
    )


def _sa_state(node: Node, peer: tuple[str, int]) -> SaState | None:
    """The state of the node's only RKMP SA with ``peer``, if any."""
    sas = node.engine.sas_of(peer)
    return sas[0].state if len(sas) == 1 else None


# Points of the handshake A (initiator) -> B; each is reached just after the
# datagram named was sent, before it is delivered (latency 5 ms per hop).
POINTS: dict[str, Point] = {
    # A's RKMP_SA_INIT request is on the wire; B knows nothing yet.
    "init-sent": lambda net, a, b: _sent(net, ExchangeType.IKE_SA_INIT, response=False, src=a),
    # B answered RKMP_SA_INIT (B half-open), A has not seen it.
    "init-answered": lambda net, a, b: _sent(net, ExchangeType.IKE_SA_INIT, response=True, src=b),
    # A's RKMP_SA_AUTH with SAi2 (the first child) is in flight.
    "auth-in-flight": lambda net, a, b: _sent(net, ExchangeType.IKE_AUTH, response=False, src=a),
    # B authenticated A and answered; B holds its child until confirmed.
    "auth-answered": lambda net, a, b: _sent(net, ExchangeType.IKE_AUTH, response=True, src=b),
    # A is up and answered B's empty INFORMATIONAL (its first authenticated
    # message after AUTH); B, still holding its child, has not seen it.
    "confirmation-pending": lambda net, a, b: (
        _sa_state(a, ADDR_B) is SaState.ESTABLISHED
        and _sa_state(b, ADDR_A) is SaState.UNCONFIRMED
        and _sent(net, ExchangeType.INFORMATIONAL, response=True, src=a)
    ),
    # Both ends up, first child reported on both.
    "established": lambda net, a, b: bool(
        a.of_type(RkmpSaEstablished) and b.of_type(RkmpSaEstablished) and net.idle()
    ),
}

CHILD_SETS: dict[str, tuple[ChildPolicy, ...]] = {
    "tcp-ao": (TCP_AO,),
    "tcp-ao+bfd": (TCP_AO, BFD),  # the second child comes by CREATE_CHILD_SA
}


def _run_to(net: Network, a: Node, b: Node, point: str) -> None:
    net.run_until(lambda: POINTS[point](net, a, b), timeout=10.0)


def _assert_one_child_per_protocol(
    node: Node, peer: tuple[str, int], wanted: set[ProtocolId]
) -> None:
    live = Counter(c.ref.protocol for c in node.engine.child_sas(peer))
    assert live == Counter(wanted), f"{node.name} holds {dict(live)}"
    created = Counter(e.child.ref.protocol for e in node.of_type(ChildSaCreated))
    assert created == Counter(wanted), f"{node.name} created {dict(created)}"
    assert not node.of_type(ChildSaDeleted)


@pytest.mark.parametrize("children", list(CHILD_SETS), ids=list(CHILD_SETS))
@pytest.mark.parametrize("per_protocol", [False, True], ids=["all", "per-protocol"])
@pytest.mark.parametrize("side", ["A", "B"])
@pytest.mark.parametrize("point", list(POINTS))
def test_initiate_again_mid_handshake(
    point: str, side: str, per_protocol: bool, children: str
) -> None:
    policies = CHILD_SETS[children]
    wanted = {c.protocol for c in policies}
    net, a, b = pair(a_policy={"children": policies}, b_policy={"children": policies})
    a.engine.initiate(ADDR_B, net.now)
    _run_to(net, a, b, point)
    node, peer = (a, ADDR_B) if side == "A" else (b, ADDR_A)
    if per_protocol:
        for policy in policies:  # one neighbour event per protocol
            node.engine.initiate(peer, net.now, [policy.protocol])
    else:
        node.engine.initiate(peer, net.now)
    node.engine.initiate(peer, net.now)  # and a duplicate event
    net.settle()
    for n, p in ((a, ADDR_B), (b, ADDR_A)):
        assert len(n.engine.rkmp_sas(p)) == 1
        _assert_one_child_per_protocol(n, p, wanted)
    assert_same_sa_keys(a, b)
    assert_same_children(a, b)


@pytest.mark.parametrize("side", ["A", "B"])
@pytest.mark.parametrize("point", list(POINTS))
def test_generate_sa_mid_handshake(point: str, side: str) -> None:
    """RKMP_generateSA (``generate_sa``, the control socket's generate-sa)
    while the RKMP SA is being set up joins the child SA the handshake
    makes; once our side is up it asks for a new one, by design."""
    policies = (TCP_AO, BFD)
    net, a, b = pair(a_policy={"children": policies}, b_policy={"children": policies})
    a.engine.initiate(ADDR_B, net.now)
    _run_to(net, a, b, point)
    node, peer = (a, ADDR_B) if side == "A" else (b, ADDR_A)
    up = bool(node.engine.rkmp_sas(peer))
    node.engine.generate_sa(peer, ProtocolId.TCP_AO, net.now)
    node.engine.generate_sa(peer, ProtocolId.TCP_AO, net.now)  # asked twice
    node.engine.generate_sa(peer, ProtocolId.BFD, net.now)
    net.settle()
    wanted = Counter({ProtocolId.TCP_AO: 1, ProtocolId.BFD: 1})
    if up:
        wanted.update({ProtocolId.TCP_AO: 2, ProtocolId.BFD: 1})
    for n, p in ((a, ADDR_B), (b, ADDR_A)):
        assert len(n.engine.rkmp_sas(p)) == 1
        assert Counter(c.ref.protocol for c in n.engine.child_sas(p)) == wanted
        assert not n.of_type(ChildSaDeleted)
    assert_same_sa_keys(a, b)
    assert_same_children(a, b)


def test_generate_sa_is_answered_by_the_handshake_child() -> None:
    """The ChildSaCreated the control socket waits for: the first child,
    made by RKMP_SA_AUTH, answers a generate-sa given while it was in flight."""
    net, a, b = pair()
    a.engine.initiate(ADDR_B, net.now)
    _run_to(net, a, b, "auth-in-flight")
    a.engine.initiate(ADDR_B, net.now)  # counts the child the AUTH carries
    [sa] = a.engine.sas_of(ADDR_B)
    assert not [t for t in sa.tasks() if isinstance(t, CreateChildTask)]
    a.engine.generate_sa(ADDR_B, ProtocolId.TCP_AO, net.now)
    net.settle()
    [created] = a.of_type(ChildSaCreated)
    assert created.child.ref.protocol == ProtocolId.TCP_AO
    child_requests = [p for p in net.sent if _is(p, ExchangeType.CREATE_CHILD_SA, False, a)]
    assert child_requests == []  # no CREATE_CHILD_SA was needed


@pytest.mark.parametrize("point", list(POINTS))
def test_initiate_again_on_both_sides(point: str) -> None:
    """A neighbour-up seen by both routers at the same point."""
    policies = (TCP_AO, BFD)
    net, a, b = pair(a_policy={"children": policies}, b_policy={"children": policies})
    a.engine.initiate(ADDR_B, net.now)
    _run_to(net, a, b, point)
    a.engine.initiate(ADDR_B, net.now)
    b.engine.initiate(ADDR_A, net.now)
    net.settle()
    for n, p in ((a, ADDR_B), (b, ADDR_A)):
        assert len(n.engine.rkmp_sas(p)) == 1
        _assert_one_child_per_protocol(n, p, {ProtocolId.TCP_AO, ProtocolId.BFD})
    assert_same_sa_keys(a, b)
    assert_same_children(a, b)


def test_points_are_reached_in_order() -> None:
    """The points above are distinct states of one handshake (the tests
    would prove little if two of them coincided)."""
    net, a, b = pair()
    a.engine.initiate(ADDR_B, net.now)
    seen: list[tuple[SaState | None, SaState | None]] = []
    for point in POINTS:
        _run_to(net, a, b, point)
        seen.append((_sa_state(a, ADDR_B), _sa_state(b, ADDR_A)))
    assert seen == [
        (SaState.INIT_SENT, None),
        (SaState.INIT_SENT, SaState.INIT_ANSWERED),
        (SaState.AUTH_SENT, SaState.INIT_ANSWERED),
        (SaState.AUTH_SENT, SaState.UNCONFIRMED),
        (SaState.ESTABLISHED, SaState.UNCONFIRMED),
        (SaState.ESTABLISHED, SaState.ESTABLISHED),
    ]
    [ref] = a.engine.rkmp_sas(ADDR_B)
    assert _sa(a.engine, ref.spi_i, ref.spi_r).state is SaState.ESTABLISHED
