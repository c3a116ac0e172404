"""Both sides acting at once (RFC 7296 §2.8.1, §2.8.2, §2.25): each race
ends with exactly one SA, the same on both sides."""

from __future__ import annotations

import pytest

from rkmp_frr.engine import (
    ChildPolicy,
    ChildSaCreated,
    ChildSaDeleted,
    ChildSaFailed,
    ChildSaRekeyed,
    RkmpSaDeleted,
    RkmpSaEstablished,
    RkmpSaFailed,
    RkmpSaRekeyed,
)
from rkmp_frr.wire.constants import IntegId, ProtocolId

from .harness import ADDR_A, ADDR_B, BFD, OSPFV2, TCP_AO, Network, Node, Packet, pair
from .test_establish import assert_same_children, assert_same_sa_keys

# Latency pairs: equal, and skewed either way, so each side is first to
# see the other's request in some runs.
DELAYS = [(0.005, 0.005), (0.001, 0.02), (0.02, 0.001), (0.05, 0.05)]


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
    assert_same_sa_keys(a, b)  # exactly one each, the same one
    assert_same_children(a, b)  # both first children moved to it
    assert len(a.engine.child_sas(ADDR_B)) == 2
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
