"""Engine events -> key table."""

from __future__ import annotations

import logging

import pytest
from keytable_rows import PEER, SA, child_params

from rkmp_frr.engine.events import (
    ChildParams,
    ChildRef,
    ChildSaCreated,
    ChildSaDeleted,
    ChildSaFailed,
    ChildSaRekeyed,
    DeleteReason,
    FailureReason,
    PeerAlive,
    PeerRestarted,
    RkmpSaDeleted,
    RkmpSaEstablished,
    RkmpSaFailed,
    RkmpSaRef,
    RkmpSaRekeyed,
)
from rkmp_frr.keytable.changes import (
    Change,
    DeleteCause,
    LifetimesShifted,
    RowInserted,
    RowRekeyed,
    RowsDeleted,
)
from rkmp_frr.keytable.rollover import RolloverPolicy
from rkmp_frr.keytable.row import Lifetimes, RowLink, SaId
from rkmp_frr.keytable.store import KeyTableStore
from rkmp_frr.keytable.wiring import KeyTableWiring
from rkmp_frr.profiles import KEY_PROFILES
from rkmp_frr.wire.constants import IntegId, ProtocolId

OSPF = ProtocolId.OSPFV2
POLICY = RolloverPolicy(send_delay=30, accept_grace=60, hard_expiry=10)
# The caller's clocks: wall = real + WALL, mono = real + MONO.
WALL, MONO = 1_700_000_000.0, 50.0


class Rig:
    def __init__(self, store: KeyTableStore | None = None, **kw: object) -> None:
        self.store = store or KeyTableStore.open_memory()
        kw.setdefault("rollover", {OSPF: POLICY})
        self.wiring = KeyTableWiring(
            self.store,
            KEY_PROFILES,
            **kw,  # type: ignore[arg-type]
        )
        self.changes: list[Change] = []
        self.store.subscribe(self.changes.append)

    def at(self, real: float, event: object, wall_step: float = 0.0) -> None:
        self.wiring.handle(
            event,  # type: ignore[arg-type]
            wall_now=real + WALL + wall_step,
            mono_now=real + MONO,
        )

    def params(self, key_id: int, created: float, **kw: object) -> ChildParams:
        return child_params(key_id, expires_at=created + MONO + 3960.0, **kw)  # type: ignore[arg-type]


def ref(key_id: int, protocol: ProtocolId = OSPF) -> ChildRef:
    return ChildRef((PEER, 500), protocol, key_id, key_id)


W = int(WALL)


def test_first_key_is_sent_at_once_until_the_hard_lifetime() -> None:
    rig = Rig()
    rig.at(0, RkmpSaEstablished(SA, True, "a", "b", "p"))
    params = rig.params(5, created=100.0)
    rig.at(100.0, ChildSaCreated(params))
    (row,) = rig.store.rows()
    # No predecessor to keep sending meanwhile, so no send delay: accepted
    # and sent now, both until the hard lifetime (expires_at on the
    # monotonic clock, converted) plus the hard expiry.
    end = W + 100 + 3960 + 10
    assert row.lifetimes == Lifetimes(W + 100, end, W + 100, end)
    assert row.key == params.master_key.hex()
    assert row.link == RowLink(params.ref, SA)
    assert (row.local_key_name, row.peer_key_name, row.spi) == ("05", "05", 5)
    assert rig.changes == [RowInserted(row)]


def test_child_rekeyed_rekeys_the_row() -> None:
    rig = Rig()
    rig.at(100.0, ChildSaCreated(rig.params(5, 100.0)))
    rig.at(3700.0, ChildSaRekeyed(ref(5), rig.params(6, 3700.0)))
    old = rig.store.get(SaId(OSPF, PEER, 5))
    new = rig.store.get(SaId(OSPF, PEER, 6))
    assert old and new
    assert new.accept_lifetime_start == W + 3700
    assert new.send_lifetime_start == W + 3730
    assert old.send_lifetime_end == W + 3730
    assert old.accept_lifetime_end == W + 3730 + 60
    assert old.link and old.link.superseded_by == 6
    assert isinstance(rig.changes[-1], RowRekeyed)


def test_rollover_timing_can_depend_on_the_peer() -> None:
    other = "192.0.2.99"
    slow = RolloverPolicy(send_delay=500, accept_grace=900, hard_expiry=0)

    def lookup(peer: str, protocol: ProtocolId) -> RolloverPolicy | None:
        return slow if peer == PEER else None

    rig = Rig(rollover=lookup)
    assert rig.wiring.rollover_for(PEER, OSPF) == slow
    assert rig.wiring.rollover_for(other, OSPF) == KEY_PROFILES[OSPF].rollover
    rig.at(100.0, ChildSaCreated(rig.params(5, 100.0)))
    rig.at(3000.0, ChildSaRekeyed(ref(5), rig.params(6, 3000.0)))
    old, new = rig.store.get(SaId(OSPF, PEER, 5)), rig.store.get(SaId(OSPF, PEER, 6))
    assert old and new
    assert new.send_lifetime_start == W + 3000 + 500
    assert old.send_lifetime_end == W + 3000 + 500
    # The grace would run to 3000 + 500 + 900; the old key's own hard
    # lifetime (100 + 3960) ends it first.
    assert old.accept_lifetime_end == W + 100 + 3960


def test_rekey_of_a_row_the_table_lost_inserts_and_still_rolls_over() -> None:
    rig = Rig()
    rig.at(100.0, ChildSaCreated(rig.params(5, 100.0)))
    rig.store.Keytable_delete(OSPF, 5)
    rig.at(3700.0, ChildSaRekeyed(ref(5), rig.params(6, 3700.0)))
    assert [r.spi for r in rig.store.rows()] == [6]
    # With nothing left to send meanwhile, the successor is sent at once.
    assert rig.store.rows()[0].send_lifetime_start == W + 3700


@pytest.mark.parametrize("reason", [DeleteReason.LOCAL, DeleteReason.REMOTE])
def test_child_deleted_deletes_the_row(reason: DeleteReason) -> None:
    rig = Rig()
    rig.at(100.0, ChildSaCreated(rig.params(5, 100.0)))
    rig.at(200.0, ChildSaDeleted(ref(5), reason))
    assert rig.store.rows() == ()
    assert isinstance(rig.changes[-1], RowsDeleted)
    assert rig.changes[-1].cause is DeleteCause.DELETED


@pytest.mark.parametrize(
    "reason",
    [DeleteReason.REKEYED, DeleteReason.REDUNDANT, DeleteReason.REPLACED, DeleteReason.EXPIRED],
)
def test_child_deleted_for_these_reasons_leaves_the_row_to_its_lifetimes(
    reason: DeleteReason,
) -> None:
    rig = Rig()
    rig.at(100.0, ChildSaCreated(rig.params(5, 100.0)))
    rig.at(200.0, ChildSaDeleted(ref(5), reason))
    assert len(rig.store.rows()) == 1


def test_delete_of_a_superseded_child_keeps_its_grace_period() -> None:
    rig = Rig()
    rig.at(100.0, ChildSaCreated(rig.params(5, 100.0)))
    rig.at(3700.0, ChildSaRekeyed(ref(5), rig.params(6, 3700.0)))
    rig.at(3701.0, ChildSaDeleted(ref(5), DeleteReason.REMOTE))  # the peer's Delete
    assert rig.store.select_receive_key(OSPF, PEER, "05", W + 3730 + 60) is not None
    # ... and expiry removes it once both lifetimes are over.
    assert [r.spi for r in rig.wiring.tick(wall_now=WALL + 3791, mono_now=MONO + 3791)] == [5]


def test_revoked_child_goes_at_once() -> None:
    rig = Rig()
    rig.at(100.0, ChildSaCreated(rig.params(5, 100.0)))
    rig.at(3700.0, ChildSaRekeyed(ref(5), rig.params(6, 3700.0)))
    rig.at(3701.0, ChildSaDeleted(ref(5), DeleteReason.REVOKED))
    assert [r.spi for r in rig.store.rows()] == [6]


def test_rkmp_sa_failure_revokes_its_rows_and_notifies() -> None:
    rig = Rig()
    rig.at(0.0, RkmpSaEstablished(SA, True, "a", "b", "p"))
    rig.at(100.0, ChildSaCreated(rig.params(5, 100.0)))
    bfd = child_params(9, protocol=ProtocolId.BFD, integ=IntegId.RKMP_KEYED_MD5, key_octets=8)
    rig.at(100.0, ChildSaCreated(bfd))
    other = child_params(5, peer="192.0.2.99")
    rig.at(100.0, ChildSaCreated(other))
    failed = RkmpSaFailed(SA, FailureReason.LIVENESS_TIMEOUT, (ref(5), bfd.ref), revoked=True)
    rig.at(500.0, failed)
    rig.at(500.0, ChildSaDeleted(ref(5), DeleteReason.REVOKED))  # the engine also says so
    assert [r.peers for r in rig.store.rows()] == [frozenset({"192.0.2.99"})]
    revoked = [c for c in rig.changes if isinstance(c, RowsDeleted)]
    assert len(revoked) == 1
    assert revoked[0].cause is DeleteCause.REVOKED
    assert revoked[0].rkmp_sa == SA and revoked[0].failure is FailureReason.LIVENESS_TIMEOUT
    assert sorted(r.spi for r in revoked[0].rows) == [5, 9]


def test_rkmp_sa_failure_with_keep_policy_keeps_rows() -> None:
    rig = Rig()
    rig.at(0.0, RkmpSaEstablished(SA, True, "a", "b", "p"))
    rig.at(100.0, ChildSaCreated(rig.params(5, 100.0)))
    rig.at(500.0, RkmpSaFailed(SA, FailureReason.TIMEOUT, (ref(5),), revoked=False))
    assert len(rig.store.rows()) == 1


def test_rkmp_rekey_moves_the_links_and_orderly_ends_keep_keys() -> None:
    rig = Rig()
    rig.at(0.0, RkmpSaEstablished(SA, True, "a", "b", "p"))
    rig.at(100.0, ChildSaCreated(rig.params(5, 100.0)))
    new_sa = RkmpSaRef((PEER, 500), b"\x31" * 8, b"\x32" * 8)
    rig.at(200.0, RkmpSaRekeyed(SA, new_sa, "p"))
    rig.at(201.0, RkmpSaDeleted(SA, DeleteReason.REKEYED, ()))
    rig.at(300.0, ChildSaCreated(rig.params(7, 300.0)))
    assert [r.link.rkmp_sa for r in rig.store.rows() if r.link] == [new_sa, new_sa]
    rig.at(400.0, PeerRestarted(new_sa, (ref(7),)))
    rig.at(400.0, RkmpSaDeleted(new_sa, DeleteReason.REPLACED, (ref(7),)))
    assert len(rig.store.rows()) == 2
    rig.at(400.0, ChildSaFailed((PEER, 500), OSPF, FailureReason.NO_PROPOSAL_CHOSEN))
    rig.at(400.0, PeerAlive(new_sa))
    assert len(rig.store.rows()) == 2


def test_restarted_sidecar_rolls_over_from_the_persisted_key() -> None:
    """After this sidecar restarts, its engine reports the first child SA as
    created; the table still has the old key, so it rolls over from it."""
    store = KeyTableStore.open_memory()
    Rig(store).at(100.0, ChildSaCreated(child_params(5, expires_at=MONO + 4060.0)))
    rig = Rig(store)  # a new engine and wiring over the same table
    rig.at(1000.0, ChildSaCreated(rig.params(6, 1000.0)))
    old = store.get(SaId(OSPF, PEER, 5))
    assert old and old.send_lifetime_end == W + 1030 and old.accept_lifetime_end == W + 1090
    assert store.select_send_key(OSPF, PEER, W + 1029) == old


def test_same_key_id_after_restart_replaces_the_key(caplog: pytest.LogCaptureFixture) -> None:
    store = KeyTableStore.open_memory()
    Rig(store).at(100.0, ChildSaCreated(rig_params := child_params(5, expires_at=4060.0 + MONO)))
    rig = Rig(store)
    with caplog.at_level(logging.WARNING):
        rig.at(1000.0, ChildSaCreated(rig.params(5, 1000.0, seed="new")))
    (row,) = store.rows()
    assert row.key != rig_params.master_key.hex()
    assert "not hitless" in caplog.text
    assert [type(c) for c in rig.changes] == [RowsDeleted, RowInserted]


def test_tcp_md5_switches_at_once_and_says_the_session_resets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rig = Rig()
    md5 = ProtocolId.TCP_MD5
    first = child_params(1, protocol=md5, integ=IntegId.RKMP_KEYED_MD5, expires_at=MONO + 4060.0)
    rig.at(100.0, ChildSaCreated(first))
    second = child_params(2, protocol=md5, integ=IntegId.RKMP_KEYED_MD5, expires_at=MONO + 7660.0)
    with caplog.at_level(logging.WARNING):
        rig.at(3700.0, ChildSaRekeyed(first.ref, second))
    old = rig.store.get(SaId(md5, PEER, 1))
    new = rig.store.get(SaId(md5, PEER, 2))
    assert old and new
    assert new.send_lifetime_start == new.accept_lifetime_start == W + 3700
    assert old.send_lifetime_end == old.accept_lifetime_end == W + 3700
    assert "session resets" in caplog.text


def test_protocol_without_profile_is_logged_not_stored(caplog: pytest.LogCaptureFixture) -> None:
    store = KeyTableStore.open_memory()
    without_ipsec = dict(KEY_PROFILES)
    del without_ipsec[ProtocolId.OSPFV3_IPSEC]
    wiring = KeyTableWiring(store, without_ipsec)
    ipsec = child_params(0x1000, protocol=ProtocolId.OSPFV3_IPSEC, integ=IntegId.HMAC_SHA1_96)
    with caplog.at_level(logging.ERROR):
        wiring.handle(ChildSaCreated(ipsec), wall_now=WALL + 1.0, mono_now=MONO + 1.0)
    assert store.rows() == () and "no key profile" in caplog.text


def test_wall_clock_step_moves_lifetimes_with_it() -> None:
    rig = Rig()
    rig.at(100.0, ChildSaCreated(rig.params(5, 100.0)))
    before = rig.store.rows()[0]
    # The wall clock steps back 1 h between two events; 1 s of slew is not a step.
    rig.at(150.0, PeerAlive(SA), wall_step=1.0)
    assert rig.store.rows() == (before,)
    rig.at(200.0, PeerAlive(SA), wall_step=-3600.0)
    after = rig.store.rows()[0]
    assert after.lifetimes == before.lifetimes.shifted(-3601)
    assert isinstance(rig.changes[-1], LifetimesShifted) and rig.changes[-1].delta == -3601
    # Still sent from when it was entered, in real time: real 100 = wall W + 100 - 3601.
    assert rig.store.select_send_key(OSPF, PEER, W + 100 - 3601) == after
    assert rig.store.select_send_key(OSPF, PEER, W + 99 - 3601) is None


def test_interfaces_hook() -> None:
    rig = Rig(interfaces=lambda child: frozenset({"eth3"}))
    rig.at(100.0, ChildSaCreated(rig.params(5, 100.0)))
    assert rig.store.rows()[0].interfaces == {"eth3"}


def test_restart_during_a_pending_rollover_takes_over_from_the_pending_key() -> None:
    """Restarted between a rekey and the new key's send start: the next key
    takes over from that pending key, not from the one it replaces, and
    some key is sendable at every instant."""
    store = KeyTableStore.open_memory()
    before = Rig(store)
    before.at(100.0, ChildSaCreated(before.params(5, 100.0)))
    before.at(3700.0, ChildSaRekeyed(ref(5), before.params(6, 3700.0)))
    rig = Rig(store)
    rig.at(3710.0, ChildSaCreated(rig.params(7, 3710.0)))
    pending = store.get(SaId(OSPF, PEER, 6))
    assert pending and pending.link and pending.link.superseded_by == 7
    assert pending.send_lifetime_end == W + 3740
    sent = [store.select_send_key(OSPF, PEER, W + t) for t in range(3650, 3800)]
    assert all(sent)
    assert [r.spi for r in sent if r] == [5] * 80 + [6] * 10 + [7] * 60
