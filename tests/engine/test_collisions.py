"""Both sides acting at once (RFC 7296 §2.8.1, §2.8.2, §2.25): each race
ends with exactly one SA, the same on both sides."""

from __future__ import annotations

import pytest

from rkmp_frr.engine import (
    ChildPolicy,
    ChildRef,
    ChildSaCreated,
    ChildSaDeleted,
    ChildSaFailed,
    ChildSaRekeyed,
    RkmpSaDeleted,
    RkmpSaEstablished,
    RkmpSaFailed,
    RkmpSaRekeyed,
)
from rkmp_frr.engine.engine import CONTEST_WINDOW
from rkmp_frr.engine.state import SaState
from rkmp_frr.wire.constants import ExchangeType, IntegId, ProtocolId

from .harness import ADDR_A, ADDR_B, BFD, OSPFV2, TCP_AO, Network, Node, Packet, pair
from .test_establish import assert_same_children, assert_same_sa_keys

# Latency pairs: equal, and skewed either way, so each side is first to
# see the other's request in some runs.
DELAYS = [(0.005, 0.005), (0.001, 0.02), (0.02, 0.001), (0.05, 0.05)]


def key_history(node: Node) -> dict[ProtocolId, list[bytes]]:
    """The keys the key table was given, per protocol, in order (a
    ChildSaCreated, or the new key of a ChildSaRekeyed)."""
    history: dict[ProtocolId, list[bytes]] = {}
    for event in node.events:
        if isinstance(event, ChildSaCreated):
            history.setdefault(event.child.ref.protocol, []).append(event.child.master_key)
        elif isinstance(event, ChildSaRekeyed):
            history.setdefault(event.new.ref.protocol, []).append(event.new.master_key)
    return history


def key_table(node: Node) -> dict[ChildRef, bytes]:
    """The rows a key table fed with ``node``'s events would end with: a
    rekey replaces the row of the key it names, which must be there."""
    rows: dict[ChildRef, bytes] = {}
    for event in node.events:
        if isinstance(event, ChildSaCreated):
            rows[event.child.ref] = event.child.master_key
        elif isinstance(event, ChildSaRekeyed):
            assert event.old in rows, "a rekey of a key never reported"
            del rows[event.old]
            rows[event.new.ref] = event.new.master_key
        elif isinstance(event, ChildSaDeleted):
            rows.pop(event.child, None)
    return rows


def assert_one_key_per_protocol(a: Node, b: Node, protocols: set[ProtocolId]) -> None:
    """Both key tables end with exactly one key per protocol, the same
    ones, the engines' child SAs; and both got the same keys in the same
    order (no end sends a key the other never had)."""
    for node, peer in ((a, ADDR_B), (b, ADDR_A)):
        children = node.engine.child_sas(peer)
        assert sorted(c.ref.protocol for c in children) == sorted(protocols)
        table = key_table(node)
        assert sorted(table.values()) == sorted(c.master_key for c in children)
    assert key_history(a) == key_history(b)


def _skewed(net: Network, a_to_b: float, b_to_a: float) -> None:
    def delay(packet: Packet) -> float:
        return a_to_b if packet.src == ADDR_A else b_to_a

    net.latency = 0.0
    net.delay = delay


def _established(seed: int) -> tuple[Network, Node, Node]:
    net, a, b = pair(seed=seed)
    a.engine.initiate(ADDR_B, net.now)
    net.settle()
    return net, a, b


@pytest.mark.parametrize("delays", DELAYS)
@pytest.mark.parametrize("seed", range(4))
def test_simultaneous_initiation_ends_with_one_rkmp_sa(
    seed: int, delays: tuple[float, float]
) -> None:
    net, a, b = pair(seed=seed)
    _skewed(net, *delays)
    a.engine.initiate(ADDR_B, net.now)
    b.engine.initiate(ADDR_A, net.now)
    net.settle()
    net.run(60.0)
    for node in (a, b):
        assert not node.of_type(RkmpSaFailed)
        assert len(node.of_type(RkmpSaEstablished)) == 2
        [deleted] = node.of_type(RkmpSaDeleted)  # the redundant one
        assert deleted.children == ()
        assert not node.of_type(ChildSaDeleted)
        # Only the survivor's first child was reported: the loser's was
        # dropped before it reached the key table.
        assert len(node.of_type(ChildSaCreated)) == 1
        assert not node.of_type(ChildSaRekeyed)
    assert_same_sa_keys(a, b)  # exactly one each, the same one
    assert_same_children(a, b)
    assert_one_key_per_protocol(a, b, {ProtocolId.TCP_AO})
    for node in (a, b):  # nothing of the loser is left
        assert [len(sa.children) for sa in node.engine._sas.values()] == [1]
    # The survivor carries on: its children can be rekeyed.
    for child in a.engine.child_sas(ADDR_B):
        a.engine.rekey_child(ADDR_B, child.ref.protocol, child.ref.local_key_id, net.now)
    net.settle()
    assert_same_children(a, b)


@pytest.mark.parametrize("delays", DELAYS)
@pytest.mark.parametrize("seed", range(4))
def test_child_rekey_collision_ends_with_one_child(seed: int, delays: tuple[float, float]) -> None:
    net, a, b = _established(seed)
    _skewed(net, *delays)
    [ca] = a.engine.child_sas(ADDR_B)
    [cb] = b.engine.child_sas(ADDR_A)
    a.engine.rekey_child(ADDR_B, ProtocolId.TCP_AO, ca.ref.local_key_id, net.now)
    b.engine.rekey_child(ADDR_A, ProtocolId.TCP_AO, cb.ref.local_key_id, net.now)
    net.settle()
    net.run(60.0)
    for node, old in ((a, ca), (b, cb)):
        [rekeyed] = node.of_type(ChildSaRekeyed)
        assert rekeyed.old == old.ref
        assert not node.of_type(ChildSaDeleted)
        assert len(node.of_type(ChildSaCreated)) == 1  # only the original
    [new_a] = a.engine.child_sas(ADDR_B)
    [new_b] = b.engine.child_sas(ADDR_A)
    assert a.of_type(ChildSaRekeyed)[0].new == new_a
    assert b.of_type(ChildSaRekeyed)[0].new == new_b
    assert_same_children(a, b)
    # Nothing left over: only the survivor, on both sides.
    for node in (a, b):
        sas = node.engine._sas.values()
        assert sum(len(sa.children) for sa in sas) == 1


@pytest.mark.parametrize("delays", DELAYS)
@pytest.mark.parametrize("seed", range(4))
def test_rkmp_rekey_collision_ends_with_one_rkmp_sa(seed: int, delays: tuple[float, float]) -> None:
    net, a, b = _established(seed)
    _skewed(net, *delays)
    [old] = a.engine.rkmp_sas(ADDR_B)
    [child] = a.engine.child_sas(ADDR_B)
    a.engine.rekey_rkmp_sa(ADDR_B, net.now)
    b.engine.rekey_rkmp_sa(ADDR_A, net.now)
    net.settle()
    net.run(60.0)
    for node in (a, b):
        [rekeyed] = node.of_type(RkmpSaRekeyed)
        assert (rekeyed.old.spi_i, rekeyed.old.spi_r) == (old.spi_i, old.spi_r)
        assert not node.of_type(RkmpSaDeleted) and not node.of_type(RkmpSaFailed)
        assert len(node.engine._sas) == 1  # redundant and old SAs are gone
    assert_same_sa_keys(a, b)
    assert a.engine.child_sas(ADDR_B) == [child]
    assert_same_children(a, b)
    a.engine.check_liveness(ADDR_B, net.now)
    net.settle()


@pytest.mark.parametrize("seed", range(4))
def test_child_rekey_while_rkmp_rekey(seed: int) -> None:
    """One side rekeys a child while the other rekeys the RKMP SA."""
    net, a, b = _established(seed)
    [ca] = a.engine.child_sas(ADDR_B)
    a.engine.rekey_child(ADDR_B, ProtocolId.TCP_AO, ca.ref.local_key_id, net.now)
    b.engine.rekey_rkmp_sa(ADDR_A, net.now)
    net.settle()
    net.run(60.0)
    for node in (a, b):
        assert len(node.of_type(ChildSaRekeyed)) == 1
        assert len(node.of_type(RkmpSaRekeyed)) == 1
        assert len(node.engine._sas) == 1
    assert_same_sa_keys(a, b)
    assert_same_children(a, b)


@pytest.mark.parametrize("seed", range(4))
def test_delete_while_peer_rekeys_the_child(seed: int) -> None:
    net, a, b = _established(seed)
    [ca] = a.engine.child_sas(ADDR_B)
    [cb] = b.engine.child_sas(ADDR_A)
    a.engine.delete_child(ADDR_B, ProtocolId.TCP_AO, ca.ref.local_key_id, net.now)
    b.engine.rekey_child(ADDR_A, ProtocolId.TCP_AO, cb.ref.local_key_id, net.now)
    net.settle()
    net.run(60.0)
    # Whatever the order, both sides agree on what is left.
    assert_same_children(a, b)
    assert_same_sa_keys(a, b)


@pytest.mark.parametrize("delays", DELAYS)
@pytest.mark.parametrize("seed", range(3))
def test_rekey_collision_with_only_one_free_key_id(seed: int, delays: tuple[float, float]) -> None:
    """Both sides rekey an OSPF child whose key-ID space has room for one
    more ID: both offer it, so offers clash with the other's reservation
    (NO_PROPOSAL_CHOSEN) and rekeys are retried later, until one wins."""
    narrow = ChildPolicy(
        ProtocolId.OSPFV2, integ=(IntegId.RKMP_HMAC_SHA2_256,), key_ids=range(5, 7)
    )
    net, a, b = pair(
        seed=seed,
        a_policy={"children": (narrow,), "liveness_interval": None},
        b_policy={"children": (narrow,), "liveness_interval": None},
    )
    a.engine.initiate(ADDR_B, net.now)
    net.settle()
    _skewed(net, *delays)
    [ca] = a.engine.child_sas(ADDR_B)
    a.engine.rekey_child(ADDR_B, ProtocolId.OSPFV2, ca.ref.local_key_id, net.now)
    b.engine.rekey_child(ADDR_A, ProtocolId.OSPFV2, ca.ref.local_key_id, net.now)
    net.run(400.0)
    for node in (a, b):
        assert len(node.of_type(ChildSaRekeyed)) >= 1
        assert not node.of_type(ChildSaDeleted)
        assert not node.of_type(RkmpSaFailed)
    [new_a] = a.engine.child_sas(ADDR_B)
    assert new_a.ref.local_key_id != ca.ref.local_key_id
    assert_same_children(a, b)


@pytest.mark.parametrize("delays", DELAYS)
@pytest.mark.parametrize("seed", range(6))
def test_simultaneous_initiation_keeps_every_requested_child(
    seed: int, delays: tuple[float, float]
) -> None:
    """Requests queued or in flight on the redundant SA when it is deleted
    are carried over to the surviving one."""
    children = (TCP_AO, OSPFV2, BFD)
    net, a, b = pair(seed=seed, a_policy={"children": children}, b_policy={"children": children})
    _skewed(net, *delays)
    a.engine.initiate(ADDR_B, net.now)
    b.engine.initiate(ADDR_A, net.now)
    net.settle()
    net.run(60.0)
    for node, peer in ((a, ADDR_B), (b, ADDR_A)):
        assert {c.ref.protocol for c in node.engine.child_sas(peer)} == {
            ProtocolId.TCP_AO,
            ProtocolId.OSPFV2,
            ProtocolId.BFD,
        }
        assert not node.of_type(ChildSaFailed)
    assert_same_sa_keys(a, b)
    assert_same_children(a, b)
    assert_one_key_per_protocol(a, b, {ProtocolId.TCP_AO, ProtocolId.OSPFV2, ProtocolId.BFD})


# --- simultaneous initiation, finely timed ------------------------------------------------
#
# Two rkmpd that start their static peer at boot: real UDP takes ~0.1 ms,
# the two starts may be microseconds apart, either may come first, a busy
# end handles the other's RKMP_SA_AUTH late (after its own exchange moved
# on), and triggers or retries call ``initiate`` again meanwhile.

SWEEP_LATENCIES = [(0.0, 0.0), (0.0001, 0.0001), (0.0001, 0.0), (0.0001, 0.002)]
# B's start relative to A's (negative: B first).
SWEEP_OFFSETS = [0.0, 1e-5, -1e-5, 5e-5, -5e-5, 1e-4, -1e-4, 3e-4, -3e-4, 2e-3, -2e-3]
# Extra time before one end's RKMP_SA_AUTH request is handled.
SLOW_AUTH: list[tuple[str, float] | None] = [None, ("A", 0.001), ("B", 0.001)]
# When both ends call initiate again (after A's start).
REINITIATE = [(), (1e-4, 1e-3), (1.0,)]


def _timed(
    net: Network,
    latencies: tuple[float, float],
    slow_auth: tuple[str, float] | None,
) -> None:
    a_to_b, b_to_a = latencies
    slow_from = {"A": ADDR_A, "B": ADDR_B}[slow_auth[0]] if slow_auth else None

    def delay(packet: Packet) -> float:
        extra = 0.0
        if (
            slow_auth is not None
            and packet.src == slow_from
            and packet.exchange == ExchangeType.IKE_AUTH
            and not packet.is_response
        ):
            extra = slow_auth[1]
        return (a_to_b if packet.src == ADDR_A else b_to_a) + extra

    net.latency = 0.0
    net.delay = delay


def _simultaneous_start(
    latencies: tuple[float, float],
    slow_auth: tuple[str, float] | None,
    offset: float,
    reinitiate: tuple[float, ...],
    lose_first_init: bool = False,
) -> tuple[Network, Node, Node]:
    children = (TCP_AO, OSPFV2)
    policy = {"children": children, "liveness_interval": 1.0}
    net, a, b = pair(seed=7, a_policy=policy, b_policy=policy)
    _timed(net, latencies, slow_auth)
    if lose_first_init:  # the first datagram, an RKMP_SA_INIT: the peer was not listening yet
        net.drop_indices(0)
    a_start = net.now + max(0.0, -offset)
    b_start = net.now + max(0.0, offset)
    calls = [(a_start, a, ADDR_B), (b_start, b, ADDR_A)]
    for again in reinitiate:
        calls += [(a_start + again, a, ADDR_B), (b_start + again, b, ADDR_A)]
    for when, node, peer in sorted(calls, key=lambda call: call[0]):
        if when > net.now:
            net.run(when - net.now)
        node.engine.initiate(peer, net.now)
    net.run(10.0)  # several liveness intervals
    return net, a, b


def _assert_converged(net: Network, a: Node, b: Node) -> None:
    for node in (a, b):
        assert not node.of_type(RkmpSaFailed), [p.describe() for p in net.sent]
        assert not node.of_type(ChildSaDeleted)
        assert not node.of_type(ChildSaFailed)
        assert all(e.reason.value == "redundant" for e in node.of_type(RkmpSaDeleted))
    assert_same_sa_keys(a, b)  # one RKMP SA each, the same SPIs and keys
    assert_same_children(a, b)
    assert_one_key_per_protocol(a, b, {ProtocolId.TCP_AO, ProtocolId.OSPFV2})


@pytest.mark.parametrize("slow_auth", SLOW_AUTH)
@pytest.mark.parametrize("latencies", SWEEP_LATENCIES)
def test_simultaneous_initiation_timing_sweep(
    latencies: tuple[float, float], slow_auth: tuple[str, float] | None
) -> None:
    """Whatever the timing, both ends keep the same single RKMP SA and the
    same single child SA per protocol, with the same key history (so no end
    ever sends a key the other was never given), and nothing fails over
    several liveness intervals."""
    for offset in SWEEP_OFFSETS:
        for reinitiate in REINITIATE:
            net, a, b = _simultaneous_start(latencies, slow_auth, offset, reinitiate)
            _assert_converged(net, a, b)


@pytest.mark.parametrize("offset", [0.0, 1e-4, -1e-4, 0.01, -0.01])
def test_simultaneous_initiation_when_the_first_init_is_lost(offset: float) -> None:
    """The end that starts first sends into a closed port (the peer is not
    listening yet). Its SA, still waiting for an RKMP_SA_INIT response when
    the peer's SA is up, is given up rather than retransmitted into a late
    duplicate: one RKMP SA, one key per protocol, no rollover at start."""
    net, a, b = _simultaneous_start((0.0001, 0.0001), None, offset, (), lose_first_init=True)
    _assert_converged(net, a, b)
    inits = [p for p in net.sent if p.exchange == ExchangeType.IKE_SA_INIT and not p.is_response]
    assert len(inits) == 2  # the lost one and the peer's; none retransmitted
    for node in (a, b):
        assert len(node.of_type(RkmpSaEstablished)) == 1
        assert not node.of_type(RkmpSaDeleted)
        assert not node.of_type(ChildSaRekeyed)


def test_given_up_sa_whose_init_the_peer_answered() -> None:
    """Both initiate at once but A's RKMP_SA_INIT response is lost, so A
    gives its SA up when B's is up, while B still holds the half-open one
    (and holds back its children, waiting for an RKMP_SA_AUTH that never
    comes). The children are reported after CONTEST_WINDOW, not after the
    half-open timeout, and both ends end alike."""
    policy = {"children": (TCP_AO, OSPFV2)}
    net, a, b = pair(seed=3, a_policy=policy, b_policy=policy)
    net.drop = lambda p: (
        p.src == ADDR_B and p.exchange == ExchangeType.IKE_SA_INIT and (p.is_response)
    )
    a.engine.initiate(ADDR_B, net.now)
    b.engine.initiate(ADDR_A, net.now)
    net.run(1.0)
    assert [sa.state for sa in b.engine.sas_of(ADDR_A)].count(SaState.INIT_ANSWERED) == 1
    assert not b.engine.child_sas(ADDR_A)  # held back
    started = net.now - 1.0
    net.run(CONTEST_WINDOW)
    reported = [e for e in b.events if isinstance(e, ChildSaCreated)]
    assert reported and net.now - started < b.engine.config.dos.half_open_timeout
    net.run(60.0)
    _assert_converged(net, a, b)


@pytest.mark.parametrize("latencies", SWEEP_LATENCIES)
@pytest.mark.parametrize("kind", ["rkmp", "child"])
def test_rekey_collision_timing_sweep(kind: str, latencies: tuple[float, float]) -> None:
    """Both kinds of rekey collision, started microseconds apart either way
    over 0 to 2 ms latencies: one RKMP SA and one child per protocol, the
    same on both ends, with the same key history."""
    policy = {"children": (TCP_AO, OSPFV2), "liveness_interval": 1.0}
    for offset in SWEEP_OFFSETS:
        net, a, b = pair(seed=5, a_policy=policy, b_policy=policy)
        a.engine.initiate(ADDR_B, net.now)
        net.settle()
        _timed(net, latencies, None)
        first, second = (a, b) if offset >= 0 else (b, a)
        for node in (first, second):
            peer = ADDR_B if node is a else ADDR_A
            if kind == "rkmp":
                node.engine.rekey_rkmp_sa(peer, net.now)
            else:
                [ao] = [c for c in node.engine.child_sas(peer) if c.ref.protocol == TCP_AO.protocol]
                node.engine.rekey_child(peer, ao.ref.protocol, ao.ref.local_key_id, net.now)
            if node is first and offset:
                net.run(abs(offset))
        net.run(10.0)
        for node in (a, b):
            assert not node.of_type(RkmpSaFailed)
            assert not node.of_type(ChildSaFailed)
            assert not node.of_type(ChildSaDeleted)
            assert len(node.engine._sas) == 1  # the old and any redundant SA are gone
        assert_same_sa_keys(a, b)
        assert_same_children(a, b)
        assert_one_key_per_protocol(a, b, {ProtocolId.TCP_AO, ProtocolId.OSPFV2})
