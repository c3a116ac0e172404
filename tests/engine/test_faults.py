"""Loss, duplication and reordering: the outcome must not change.

A scenario (establishment with two children, a child rekey, an RKMP SA
rekey, a liveness check, a child delete) is run once on a perfect network
to count its datagrams; then once per datagram with that one datagram lost,
and with every datagram duplicated, and with datagrams reordered. Each run
must end with the same SAs and identical keys on both sides.
"""

from __future__ import annotations

import random

import pytest

from rkmp_frr.engine import (
    ChildPolicy,
    ChildSaDeleted,
    ChildSaRekeyed,
    DosPolicy,
    RetransmitPolicy,
    RkmpSaDeleted,
    RkmpSaFailed,
    RkmpSaRekeyed,
)
from rkmp_frr.engine.tasks.sa_auth import CONFIRM_FIRST_WAIT
from rkmp_frr.wire.constants import ExchangeType, IntegId, KeId, ProtocolId

from . import pki
from .harness import ADDR_A, ADDR_B, BFD, TCP_AO, Network, Node, Packet, pair
from .test_establish import assert_same_children, assert_same_sa_keys

CHILDREN = (TCP_AO, BFD)
TCP_AO_PFS = ChildPolicy(
    ProtocolId.TCP_AO, integ=(IntegId.HMAC_SHA1_96,), pfs_groups=(KeId.CURVE25519,)
)
# A short schedule keeps the runs quick in virtual time; the logic is the same.
RETRANSMIT = RetransmitPolicy(timeout=1.0, base=1.5, tries=5)

# Variants of the set-up: each runs the whole scenario under every loss.
VARIANTS: dict[str, dict[str, dict[str, object]]] = {
    "psk": {},
    "certificates": {
        "a_config": {"credential": pki.router(ADDR_A[0])},
        "b_config": {"credential": pki.router(ADDR_B[0])},
        "a_policy": {"remote_auth": pki.trust()},
        "b_policy": {"remote_auth": pki.trust()},
    },
    "childless": {"b_config": {"announce_rkmp": False}},
    "cookies": {"b_config": {"dos": DosPolicy(cookie_threshold=0)}},
    "pfs": {
        "a_policy": {"children": (TCP_AO_PFS, BFD)},
        "b_policy": {"children": (TCP_AO_PFS, BFD)},
    },
}


def _pair(
    seed: int = 5, retransmit: RetransmitPolicy = RETRANSMIT, variant: str = "psk"
) -> tuple[Network, Node, Node]:
    extra = VARIANTS[variant]
    sides: dict[str, dict[str, object]] = {}
    for side in ("a", "b"):
        sides[f"{side}_policy"] = {
            "children": CHILDREN,
            "liveness_interval": None,
            **extra.get(f"{side}_policy", {}),
        }
        sides[f"{side}_config"] = {"retransmit": retransmit, **extra.get(f"{side}_config", {})}
    return pair(seed=seed, **sides)  # type: ignore[arg-type]


def scenario(net: Network, a: Node, b: Node) -> None:
    a.engine.initiate(ADDR_B, net.now)
    net.settle()
    [tcp] = [c for c in b.engine.child_sas(ADDR_A) if c.ref.protocol == ProtocolId.TCP_AO]
    b.engine.rekey_child(ADDR_A, ProtocolId.TCP_AO, tcp.ref.local_key_id, net.now)
    net.settle()
    a.engine.rekey_rkmp_sa(ADDR_B, net.now)
    net.settle()
    b.engine.check_liveness(ADDR_A, net.now)
    net.settle()
    [bfd] = [c for c in a.engine.child_sas(ADDR_B) if c.ref.protocol == ProtocolId.BFD]
    a.engine.delete_child(ADDR_B, ProtocolId.BFD, bfd.ref.local_key_id, net.now)
    net.settle()
    net.run(60.0)  # let lingering timers run out


def check_outcome(a: Node, b: Node) -> None:
    for node in (a, b):
        assert not node.of_type(RkmpSaFailed)
        assert len(node.of_type(ChildSaRekeyed)) == 1
        assert len(node.of_type(RkmpSaRekeyed)) == 1
        assert len(node.of_type(ChildSaDeleted)) == 1
    assert_same_sa_keys(a, b)
    assert_same_children(a, b)
    assert [c.ref.protocol for c in a.engine.child_sas(ADDR_B)] == [ProtocolId.TCP_AO]


def _count(variant: str) -> int:
    net, a, b = _pair(variant=variant)
    scenario(net, a, b)
    check_outcome(a, b)
    return len(net.sent)


DATAGRAMS = {variant: _count(variant) for variant in VARIANTS}
CASES = [(variant, index) for variant, count in DATAGRAMS.items() for index in range(count)]


def test_perfect_network() -> None:
    assert all(count >= 16 for count in DATAGRAMS.values())


@pytest.mark.parametrize(("variant", "index"), CASES)
def test_losing_any_single_datagram_is_recovered(variant: str, index: int) -> None:
    net, a, b = _pair(variant=variant)
    net.drop_indices(index)
    scenario(net, a, b)
    assert len(net.dropped) == 1
    check_outcome(a, b)


def test_every_datagram_duplicated_is_harmless() -> None:
    net, a, b = _pair()
    net.duplicate = lambda packet: True
    scenario(net, a, b)
    check_outcome(a, b)
    assert len(net.delivered) >= 2 * DATAGRAMS["psk"] - 2


@pytest.mark.parametrize("seed", range(6))
def test_reordering_and_duplicates_are_harmless(seed: int) -> None:
    rng = random.Random(seed)
    net, a, b = _pair(seed)
    net.delay = lambda packet: rng.choice((0.0, 0.0, 0.3, 0.6))
    net.duplicate = lambda packet: rng.random() < 0.3
    net.duplicate_delay = 0.2
    scenario(net, a, b)
    check_outcome(a, b)


@pytest.mark.parametrize("seed", range(10))
def test_random_loss(seed: int) -> None:
    rng = random.Random(seed)
    # Enough retransmissions that 25 % loss cannot defeat an exchange here.
    net, a, b = _pair(seed, RetransmitPolicy(timeout=1.0, base=1.2, tries=12))
    net.drop = lambda packet: rng.random() < 0.25
    scenario(net, a, b)
    check_outcome(a, b)


def delete_scenario(net: Network, a: Node, b: Node) -> None:
    a.engine.initiate(ADDR_B, net.now)
    net.settle()
    b.engine.delete_rkmp_sa(ADDR_A, net.now)
    net.settle()


def _count_delete() -> int:
    net, a, b = _pair()
    delete_scenario(net, a, b)
    return len(net.sent)


@pytest.mark.parametrize("index", range(_count_delete()))
def test_rkmp_sa_delete_survives_any_single_loss(index: int) -> None:
    """Also the loss of the Delete's response: the peer has already closed
    the SA and answers the retransmission from its kept response."""
    net, a, b = _pair()
    net.drop_indices(index)
    delete_scenario(net, a, b)
    for node in (a, b):
        [deleted] = node.of_type(RkmpSaDeleted)
        assert len(deleted.children) == 2
        assert node.engine._sas == {}
        assert len(node.engine.child_sas(ADDR_A if node is b else ADDR_B)) == 2
    # Nothing waited for a retransmission budget to run out.
    assert net.now - net.sent[0].sent_at < RETRANSMIT.interval(0) + RETRANSMIT.interval(1)


def test_lost_confirmation_probe_is_resent_after_a_quarter_second() -> None:
    """The responder's confirming INFORMATIONAL races the initiator's check
    of the AUTH response (strongSwan drops it then): its first retry comes
    after CONFIRM_FIRST_WAIT, not after the policy's 4 s."""
    net, a, b = pair(seed=9)
    first_probe = [True]

    def drop_first_probe(packet: Packet) -> bool:
        is_probe = (
            packet.src == ADDR_B
            and packet.exchange == ExchangeType.INFORMATIONAL
            and not packet.is_response
        )
        if is_probe and first_probe[0]:
            first_probe[0] = False
            return True
        return False

    net.drop = drop_first_probe
    a.engine.initiate(ADDR_B, net.now)
    net.settle(timeout=30.0)
    probes = [
        p
        for p in net.sent
        if p.src == ADDR_B and p.exchange == ExchangeType.INFORMATIONAL and not p.is_response
    ]
    assert len(probes) == 2 and len(net.dropped) == 1
    assert probes[1].sent_at - probes[0].sent_at == pytest.approx(CONFIRM_FIRST_WAIT)
    assert_same_children(a, b)
