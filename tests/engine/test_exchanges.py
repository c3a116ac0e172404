"""CREATE_CHILD_SA and INFORMATIONAL exchanges on an established RKMP SA."""

from __future__ import annotations

import dataclasses

import pytest

from rkmp_frr.engine import (
    ChildPolicy,
    ChildSaCreated,
    ChildSaDeleted,
    ChildSaFailed,
    ChildSaRekeyed,
    DeleteReason,
    FailureReason,
    OnFailure,
    PeerAlive,
    PeerRestarted,
    RetransmitPolicy,
    RkmpSaDeleted,
    RkmpSaEstablished,
    RkmpSaFailed,
    RkmpSaRekeyed,
)
from rkmp_frr.wire.constants import ExchangeType, IntegId, KeId, ProtocolId

from .harness import (
    ADDR_A,
    ADDR_B,
    BFD,
    OSPFV2,
    TCP_AO,
    Network,
    Node,
    make_engine,
    pair,
    peer_policy,
)
from .test_establish import assert_same_children, assert_same_sa_keys

OSPF_PFS = ChildPolicy(
    ProtocolId.OSPFV2,
    integ=(IntegId.RKMP_HMAC_SHA2_256,),
    pfs_groups=(KeId.CURVE25519, KeId.ECP_256),
)


def established(**kwargs: object) -> tuple[Network, Node, Node]:
    net, a, b = pair(**kwargs)  # type: ignore[arg-type]
    a.engine.initiate(ADDR_B, net.now)
    net.settle()
    assert a.of_type(RkmpSaEstablished) and b.of_type(RkmpSaEstablished)
    return net, a, b


def child(node: Node, protocol: ProtocolId = ProtocolId.TCP_AO):  # type: ignore[no-untyped-def]
    peer = ADDR_B if node.address == ADDR_A else ADDR_A
    [found] = [c for c in node.engine.child_sas(peer) if c.ref.protocol == protocol]
    return found


def test_generate_another_child_sa() -> None:
    children = (TCP_AO, BFD)
    net, a, b = established(a_policy={"children": children}, b_policy={"children": children})
    b.engine.generate_sa(ADDR_A, ProtocolId.BFD, net.now)  # the responder asks this time
    net.settle()
    bfd = [e.child for e in b.of_type(ChildSaCreated) if e.child.ref.protocol == ProtocolId.BFD]
    assert [c.initiator for c in bfd] == [False, True]  # A's first, then B's own
    assert bfd[0].ref.local_key_id != bfd[1].ref.local_key_id
    assert_same_children(a, b)


@pytest.mark.parametrize("side", ["A", "B"])
def test_rekey_child(side: str) -> None:
    net, a, b = established()
    node = a if side == "A" else b
    old = child(node)
    peer = ADDR_B if node is a else ADDR_A
    node.engine.rekey_child(peer, ProtocolId.TCP_AO, old.ref.local_key_id, net.now)
    net.settle()
    for n in (a, b):
        [rekeyed] = n.of_type(ChildSaRekeyed)
        assert not n.of_type(ChildSaDeleted)
        assert rekeyed.new.ref != rekeyed.old
    new_a, new_b = child(a), child(b)
    assert new_a.master_key == new_b.master_key != old.master_key
    assert new_a.ref.local_key_id != a.of_type(ChildSaRekeyed)[0].old.local_key_id
    assert_same_children(a, b)


def test_rekey_child_with_pfs_and_invalid_ke_retry() -> None:
    responder_wants_ecp = ChildPolicy(
        ProtocolId.OSPFV2, integ=(IntegId.RKMP_HMAC_SHA2_256,), pfs_groups=(KeId.ECP_256,)
    )
    net, a, b = established(
        a_policy={"children": (OSPF_PFS,)}, b_policy={"children": (responder_wants_ecp,)}
    )
    first = child(a, ProtocolId.OSPFV2)
    assert first.pfs_group is None  # no KE in RKMP_SA_AUTH (RFC 7296 §1.2)
    a.engine.rekey_child(ADDR_B, ProtocolId.OSPFV2, first.ref.local_key_id, net.now)
    net.settle()
    new_a = child(a, ProtocolId.OSPFV2)
    assert new_a.pfs_group == KeId.ECP_256
    # x25519 was refused with INVALID_KE_PAYLOAD, then ecp256 was used.
    assert [p.exchange for p in net.sent].count(ExchangeType.CREATE_CHILD_SA) == 4
    assert_same_children(a, b)


def test_rekey_rkmp_sa_moves_the_children() -> None:
    net, a, b = established()
    before = child(a)
    [old_ref] = a.engine.rkmp_sas(ADDR_B)
    b.engine.rekey_rkmp_sa(ADDR_A, net.now)
    net.settle()
    for n in (a, b):
        [rekeyed] = n.of_type(RkmpSaRekeyed)
        assert (rekeyed.old.spi_i, rekeyed.old.spi_r) == (old_ref.spi_i, old_ref.spi_r)
        assert not n.of_type(RkmpSaDeleted) and not n.of_type(ChildSaDeleted)
    assert_same_sa_keys(a, b)
    [new_ref] = a.engine.rkmp_sas(ADDR_B)
    assert new_ref.spi_i != old_ref.spi_i
    assert child(a) == before
    # The children live on under the new SA: they can be rekeyed there.
    a.engine.rekey_child(ADDR_B, ProtocolId.TCP_AO, before.ref.local_key_id, net.now)
    net.settle()
    assert len(a.of_type(ChildSaRekeyed)) == 1 and len(b.of_type(ChildSaRekeyed)) == 1
    assert_same_children(a, b)


def test_timers_rekey_children_and_the_rkmp_sa() -> None:
    from rkmp_frr.engine import Lifetime

    short = ChildPolicy(
        ProtocolId.TCP_AO, integ=(IntegId.HMAC_SHA1_96,), lifetime=Lifetime(100.0, 10.0, 50.0)
    )
    policy = {
        "children": (short,),
        "rkmp_lifetime": Lifetime(250.0, 20.0, 100.0),
        "liveness_interval": 30.0,
    }
    net, a, b = established(a_policy=policy, b_policy=policy)
    net.run(1000.0)
    for n in (a, b):
        assert len(n.of_type(ChildSaRekeyed)) >= 8
        assert len(n.of_type(RkmpSaRekeyed)) >= 3
        assert not n.of_type(RkmpSaFailed) and not n.of_type(ChildSaDeleted)
    assert_same_sa_keys(a, b)
    assert_same_children(a, b)


def test_delete_child() -> None:
    net, a, b = established()
    doomed = child(a)
    a.engine.delete_child(ADDR_B, ProtocolId.TCP_AO, doomed.ref.local_key_id, net.now)
    net.settle()
    [deleted_a] = a.of_type(ChildSaDeleted)
    [deleted_b] = b.of_type(ChildSaDeleted)
    assert deleted_a.child == doomed.ref and deleted_a.reason is DeleteReason.LOCAL
    assert deleted_b.reason is DeleteReason.REMOTE
    assert deleted_b.child.local_key_id == doomed.ref.remote_key_id
    assert a.engine.child_sas(ADDR_B) == [] and b.engine.child_sas(ADDR_A) == []


def test_delete_rkmp_sa_keeps_children_until_their_lifetime() -> None:
    net, a, b = established()
    kept = child(a)
    b.engine.delete_rkmp_sa(ADDR_A, net.now)
    net.settle()
    [deleted_b] = b.of_type(RkmpSaDeleted)
    [deleted_a] = a.of_type(RkmpSaDeleted)
    assert deleted_b.reason is DeleteReason.LOCAL and deleted_a.reason is DeleteReason.REMOTE
    assert deleted_a.children == (kept.ref,)
    assert a.engine.rkmp_sas() == [] and b.engine.rkmp_sas() == []
    assert child(a) == kept  # draft-mahesh §3.3: not a failure
    net.run(kept.expires_at - net.now + 1)
    [expired] = a.of_type(ChildSaDeleted)
    assert expired.reason is DeleteReason.EXPIRED and expired.child == kept.ref
    assert a.engine.child_sas(ADDR_B) == []


def test_orphan_whose_delete_was_queued_still_expires_at_its_lifetime() -> None:
    # At its expiry the SA queues the child's Delete and sets its timer to
    # infinity; if the SA ends first, the orphan must still expire.
    net, a, b = established()
    kept = child(a)
    [sa] = a.engine.sas_of(ADDR_B)
    [held] = sa.children.values()
    held.expires = float("inf")
    b.engine.delete_rkmp_sa(ADDR_A, net.now)
    net.settle()
    net.run(kept.expires_at - net.now + 1)
    [expired] = a.of_type(ChildSaDeleted)
    assert expired.reason is DeleteReason.EXPIRED and expired.child == kept.ref


def test_new_rkmp_sa_child_replaces_an_orphan() -> None:
    net, a, b = established()
    orphan = child(a)
    a.engine.delete_rkmp_sa(ADDR_B, net.now)
    net.settle()
    a.engine.initiate(ADDR_B, net.now)
    net.settle()
    for n in (a, b):
        [_rekeyed] = n.of_type(ChildSaRekeyed)
        assert len(n.of_type(ChildSaCreated)) == 1  # only the first one
    assert a.of_type(ChildSaRekeyed)[0].old == orphan.ref
    assert_same_children(a, b)


def test_liveness_check() -> None:
    net, a, _b = established()
    a.engine.check_liveness(ADDR_B, net.now)
    net.settle()
    assert len(a.of_type(PeerAlive)) == 1
    assert ExchangeType.INFORMATIONAL in {p.exchange for p in net.sent[-2:]}


@pytest.mark.parametrize("on_failure", [OnFailure.REVOKE, OnFailure.KEEP])
def test_silent_peer_fails_within_the_liveness_budget(on_failure: OnFailure) -> None:
    retransmit = RetransmitPolicy(timeout=2.0, base=2.0, tries=3)
    net, a, _b = established(
        a_policy={"liveness_interval": 20.0, "on_failure": on_failure},
        a_config={"retransmit": retransmit},
    )
    kept = child(a)
    del net.nodes[ADDR_B]  # B goes silent
    start = net.now
    net.run_until(lambda: bool(a.of_type(RkmpSaFailed)), timeout=200.0)
    [failed] = a.of_type(RkmpSaFailed)
    assert failed.reason is FailureReason.LIVENESS_TIMEOUT
    assert failed.children == (kept.ref,) and failed.revoked == (on_failure is OnFailure.REVOKE)
    assert net.now <= start + 20.0 + retransmit.budget + 1.0
    revoked = a.of_type(ChildSaDeleted)
    if on_failure is OnFailure.REVOKE:
        assert [e.reason for e in revoked] == [DeleteReason.REVOKED]
        assert a.engine.child_sas(ADDR_B) == []
    else:
        assert revoked == [] and child(a) == kept


def test_silent_peer_at_initiation_fails_after_the_retransmission_budget() -> None:
    net = Network()
    a = net.add("A", make_engine(ADDR_A[0], peer_policy(ADDR_B), seed=3), ADDR_A)
    a.engine.initiate(ADDR_B, net.now)
    start = net.now
    net.run(400.0)
    [failed] = a.of_type(RkmpSaFailed)
    assert failed.reason is FailureReason.TIMEOUT
    requests = [p for p in net.sent if p.exchange == ExchangeType.IKE_SA_INIT]
    assert len(requests) == 1 + RetransmitPolicy().tries
    assert len({p.data for p in requests}) == 1  # byte-identical retransmissions
    assert a.engine.get_timer() is None
    del start


def test_symmetric_key_id_clash_retries_with_another_id() -> None:
    narrow = ChildPolicy(
        ProtocolId.OSPFV2, integ=(IntegId.RKMP_HMAC_SHA2_256,), key_ids=range(5, 7)
    )
    clashes = 0
    for seed in range(1, 9):
        net, a, b = pair(
            seed=seed,
            a_policy={"children": (TCP_AO, narrow)},
            b_policy={"children": (TCP_AO, OSPFV2)},
        )
        b.engine._external_key_ids = lambda peer, protocol: (
            [(5, 5)] if protocol == ProtocolId.OSPFV2 else []
        )
        a.engine.initiate(ADDR_B, net.now)
        net.settle()
        ospf = child(a, ProtocolId.OSPFV2)
        assert ospf.ref.local_key_id == ospf.ref.remote_key_id == 6
        assert_same_children(a, b)
        clashes += [p.exchange for p in net.sent].count(ExchangeType.CREATE_CHILD_SA) > 2
    assert clashes  # some seeds picked 5 first and had to retry


def test_no_free_key_id_fails_the_child() -> None:
    narrow = ChildPolicy(ProtocolId.BFD, integ=(IntegId.RKMP_KEYED_MD5,), key_ids=range(5, 6))
    net, a, b = pair(a_policy={"children": (narrow,)}, b_policy={"children": (BFD,)})
    b.engine._external_key_ids = lambda peer, protocol: [(5, 5)]
    a.engine.initiate(ADDR_B, net.now)
    net.settle()
    [failed] = a.of_type(ChildSaFailed)
    assert failed.reason in (FailureReason.NO_PROPOSAL_CHOSEN, FailureReason.KEY_IDS_EXHAUSTED)
    assert not a.of_type(ChildSaCreated) and not b.of_type(ChildSaCreated)


def test_tcp_ao_send_and_recv_ids() -> None:
    _net, a, b = established()
    ca, cb = child(a), child(b)
    assert ca.ref.send_id == cb.ref.recv_id and ca.ref.recv_id == cb.ref.send_id


def test_peer_restart_with_initial_contact() -> None:
    net, _a, b = established()
    stale = child(b)
    [stale_sa] = b.engine.rkmp_sas(ADDR_A)
    # A's sidecar restarts: a fresh engine, same configuration.
    fresh = make_engine(ADDR_A[0], peer_policy(ADDR_B), seed=99)
    a2 = net.add("A'", fresh, ADDR_A)
    a2.engine.initiate(ADDR_B, net.now)
    net.settle()
    [restarted] = b.of_type(PeerRestarted)
    assert restarted.stale == stale_sa and restarted.children == (stale.ref,)
    assert not b.of_type(RkmpSaFailed) and not b.of_type(ChildSaDeleted)
    # The child keys are replaced, not withdrawn (DESIGN.md §2).
    [replaced] = b.of_type(ChildSaRekeyed)
    assert replaced.old == stale.ref
    assert len(b.engine.rkmp_sas(ADDR_A)) == 1
    assert_same_sa_keys(a2, b)
    assert_same_children(a2, b)


def test_rkmp_sa_deleted_at_its_hard_lifetime_if_not_rekeyed() -> None:
    from rkmp_frr.engine import Lifetime

    no_time_to_rekey = {"rkmp_lifetime": Lifetime(100.0, 0.0, 0.0), "liveness_interval": None}
    net, a, b = established(a_policy=no_time_to_rekey)
    kept = child(a)
    net.run(101.0)
    [deleted_a] = a.of_type(RkmpSaDeleted)
    [deleted_b] = b.of_type(RkmpSaDeleted)
    assert deleted_a.reason is DeleteReason.EXPIRED and deleted_b.reason is DeleteReason.REMOTE
    assert not a.of_type(RkmpSaRekeyed) and not a.of_type(RkmpSaFailed)
    assert child(a) == kept and a.engine.rkmp_sas() == [] and b.engine.rkmp_sas() == []


def test_request_in_flight_on_a_stale_sa_moves_to_the_new_one() -> None:
    net, _a, b = established()
    # B asks for another child just as A's sidecar restarts: the request
    # goes unanswered on the stale SA and is sent again on the new one.
    del net.nodes[ADDR_A]
    b.engine.generate_sa(ADDR_A, ProtocolId.TCP_AO, net.now)
    net.run(1.0)
    fresh = net.add("A'", make_engine(ADDR_A[0], peer_policy(ADDR_B), seed=98), ADDR_A)
    fresh.engine.initiate(ADDR_B, net.now)
    net.settle()
    assert b.of_type(PeerRestarted) and not b.of_type(RkmpSaFailed)
    assert len(b.engine.child_sas(ADDR_A)) == 2
    assert_same_children(fresh, b)


def test_initiate_is_idempotent() -> None:
    net, a, _b = pair(a_policy={"children": (TCP_AO, BFD)}, b_policy={"children": (TCP_AO, BFD)})
    for _ in range(3):
        a.engine.initiate(ADDR_B, net.now)
    net.settle()
    a.engine.initiate(ADDR_B, net.now)
    net.settle()
    assert len(a.of_type(RkmpSaEstablished)) == 1
    assert sorted(c.ref.protocol for c in a.engine.child_sas(ADDR_B)) == [
        ProtocolId.TCP_AO,
        ProtocolId.BFD,
    ]


def test_reconfigure_keeps_existing_sas_and_applies_to_new_lookups() -> None:
    net, a, _b = established()
    [sa] = a.engine.sas_of(ADDR_B)
    old_policy = sa.policy
    renamed = dataclasses.replace(old_policy, name="renamed", liveness_interval=None)
    a.engine.reconfigure(dataclasses.replace(a.engine.config, peers=(renamed,)))
    assert a.engine.policy_for(ADDR_B[0]) == renamed  # the memo was dropped
    assert sa.policy is old_policy  # the SA keeps what it was made with
    a.engine.reconfigure(dataclasses.replace(a.engine.config, peers=()))
    assert a.engine.policy_for(ADDR_B[0]) is None
    a.engine.check_liveness(ADDR_B, net.now)  # the existing SA still works
    net.settle()
    assert len(a.of_type(PeerAlive)) == 1
