"""Engine events -> key table (DESIGN.md §2, "Lifetimes and rollover",
"Failure and revocation").

===================  =========================================================
event                what the table does
===================  =========================================================
ChildSaCreated       insert the child's row (a new key: accepted now, sent
                     after the send delay). If the table still has a key
                     being sent to that peer for that protocol (this sidecar
                     restarted and its engine forgot the child, whose key the
                     table kept), roll over from it instead.
ChildSaRekeyed       Keytable_rekeySA: the successor is added and the
                     predecessor is sent until the successor's send start and
                     accepted for the grace period after it.
ChildSaDeleted       LOCAL/REMOTE: Keytable_delete (a superseded row instead
                     ends by its rollover lifetimes); REVOKED: delete now;
                     REKEYED/REDUNDANT/REPLACED/EXPIRED: nothing (the row's
                     lifetimes already end it; expiry removes it).
RkmpSaFailed         revoked: RP_revokeSA (delete the SA's rows, notify);
                     kept: nothing, the keys live to their hard lifetime.
RkmpSaRekeyed        the rows move to the new RKMP SA (RFC 7296 §2.8).
RkmpSaEstablished    remembered, to link new rows to their RKMP SA.
RkmpSaDeleted,       nothing: an orderly end or a peer restart keeps the keys
PeerRestarted        (draft-mahesh §3.3; restarts never flap a session).
===================  =========================================================

Every call takes ``wall_now`` and ``mono_now`` (see ``keytable.clock``).
The profiles are passed in (``rkmp_frr.profiles.KEY_PROFILES``): the key
table does not import the layer that depends on it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Protocol

from rkmp_frr.engine.events import (
    ChildParams,
    ChildRef,
    ChildSaCreated,
    ChildSaDeleted,
    ChildSaRekeyed,
    DeleteReason,
    Event,
    FailureReason,
    RkmpSaDeleted,
    RkmpSaEstablished,
    RkmpSaFailed,
    RkmpSaRef,
    RkmpSaRekeyed,
)
from rkmp_frr.engine.types import Address
from rkmp_frr.keytable.changes import DeleteCause
from rkmp_frr.keytable.clock import DEFAULT_STEP_TOLERANCE, ClockMapping
from rkmp_frr.keytable.rollover import RolloverPolicy, new_key_lifetimes
from rkmp_frr.keytable.row import ALL_INTERFACES, KeyRow, Lifetimes, SaId
from rkmp_frr.keytable.store import KeyTableStore
from rkmp_frr.keytable.utc import UtcSeconds, utc_seconds
from rkmp_frr.wire.constants import ProtocolId

log = logging.getLogger(__name__)

# Deletes after which the row stays until its lifetimes end.
_ROW_OUTLIVES = frozenset(
    {DeleteReason.REKEYED, DeleteReason.REDUNDANT, DeleteReason.REPLACED, DeleteReason.EXPIRED}
)


class RowFiller(Protocol):
    """What the wiring needs of a routing-protocol key profile."""

    @property
    def hitless(self) -> bool: ...

    @property
    def rollover(self) -> RolloverPolicy: ...

    def fill_row(
        self,
        params: ChildParams,
        lifetimes: Lifetimes,
        *,
        rkmp_sa: RkmpSaRef | None = ...,
        interfaces: frozenset[str] = ...,
    ) -> KeyRow: ...


def _all_interfaces(child: ChildRef) -> frozenset[str]:
    return ALL_INTERFACES


RolloverLookup = Callable[[str, ProtocolId], RolloverPolicy | None]
"""Rollover timing for (peer address, protocol); None: the profile's."""


def _as_lookup(
    rollover: Mapping[ProtocolId, RolloverPolicy] | RolloverLookup | None,
) -> RolloverLookup:
    if rollover is None:
        return lambda _peer, _protocol: None
    if callable(rollover):
        return rollover
    table = dict(rollover)
    return lambda _peer, protocol: table.get(protocol)


class KeyTableWiring:
    """Applies engine events to a :class:`KeyTableStore`."""

    def __init__(
        self,
        store: KeyTableStore,
        profiles: Mapping[ProtocolId, RowFiller],
        *,
        rollover: Mapping[ProtocolId, RolloverPolicy] | RolloverLookup | None = None,
        interfaces: Callable[[ChildRef], frozenset[str]] = _all_interfaces,
        step_tolerance: float = DEFAULT_STEP_TOLERANCE,
    ) -> None:
        self.store = store
        self.profiles = profiles
        self._rollover = _as_lookup(rollover)
        self._interfaces = interfaces
        self.clock = ClockMapping(step_tolerance)
        self._rkmp_sa: dict[Address, RkmpSaRef] = {}

    def rollover_for(self, peer: str, protocol: ProtocolId) -> RolloverPolicy:
        """The configured timing for ``protocol`` with ``peer`` (a per-peer
        setting wins over a per-protocol one), else the profile's."""
        policy = self._rollover(peer, protocol)
        return policy if policy is not None else self.profiles[protocol].rollover

    # --- entry points ---------------------------------------------------------------

    def handle(self, event: Event, *, wall_now: float, mono_now: float) -> None:
        """Apply one engine event, at ``wall_now`` / ``mono_now``."""
        self._follow_clock(wall_now, mono_now)
        now = utc_seconds(wall_now)
        match event:
            case RkmpSaEstablished(sa=sa):
                self._rkmp_sa[sa.peer] = sa
            case RkmpSaRekeyed(old=old, new=new):
                self.store.relink(old, new)
                self._rkmp_sa[new.peer] = new
            case RkmpSaDeleted(sa=sa):
                self._forget(sa)
            case RkmpSaFailed(sa=sa, reason=reason, children=children, revoked=revoked):
                self._forget(sa)
                if revoked:
                    self.RP_revokeSA(sa, children, reason)
            case ChildSaCreated(child=params):
                self._install(params, None, now, wall_now, mono_now)
            case ChildSaRekeyed(old=old, new=params):
                self._install(params, old, now, wall_now, mono_now)
            case ChildSaDeleted(child=child, reason=reason):
                self._child_deleted(child, reason)
            case _:
                pass  # PeerRestarted, RkmpSaEstablished's kin, ChildSaFailed, PeerAlive

    def tick(self, *, wall_now: float, mono_now: float) -> tuple[KeyRow, ...]:
        """Periodic upkeep: follow a clock step, drop dead rows."""
        self._follow_clock(wall_now, mono_now)
        return self.store.expire(utc_seconds(wall_now))

    def RP_revokeSA(  # the seed's name
        self,
        sa: RkmpSaRef,
        children: Iterable[ChildRef] = (),
        failure: FailureReason | None = None,
    ) -> tuple[KeyRow, ...]:
        """The RKMP SA failed: delete its rows (and its children's) at once
        and tell the sinks (RowsDeleted, cause REVOKED) so the routing
        daemon stops using the keys and revoke hooks run."""
        rows = self.store.revoke(sa, children, failure)
        log.warning(
            "RKMP SA with %s failed (%s): %d key(s) revoked",
            sa.peer[0],
            failure.value if failure else "revoked",
            len(rows),
        )
        return rows

    # --- details --------------------------------------------------------------------

    def _follow_clock(self, wall_now: float, mono_now: float) -> None:
        step = self.clock.observe(wall_now, mono_now)
        if step:
            rows = self.store.shift_lifetimes(step)
            log.warning(
                "wall clock stepped by %+d s: %d key lifetimes moved with it", step, len(rows)
            )

    def _forget(self, sa: RkmpSaRef) -> None:
        if self._rkmp_sa.get(sa.peer) == sa:
            del self._rkmp_sa[sa.peer]

    def _predecessor(
        self, replaces: ChildRef | None, protocol: ProtocolId, peer: str, now: UtcSeconds
    ) -> SaId | None:
        """The row a new key takes over from: the rekeyed child's, else the
        newest row for this peer and protocol that is still to be sent and
        not yet replaced (a key this table kept across a restart)."""
        if replaces is not None:
            sa = SaId.of_child(replaces)
            if self.store.get(sa) is not None:
                return sa
        live = [
            row
            for row in self.store.Keytable_getSA(protocol, peer)
            if row.direction.sends
            and row.send_lifetime_end >= now
            and (row.link is None or row.link.superseded_by is None)
        ]
        if not live:
            return None
        newest = max(live, key=lambda row: (row.send_lifetime_start, row.spi))
        return SaId(protocol, peer, newest.spi)

    def _install(
        self,
        params: ChildParams,
        replaces: ChildRef | None,
        now: UtcSeconds,
        wall_now: float,
        mono_now: float,
    ) -> None:
        ref = params.ref
        profile = self.profiles.get(ref.protocol)
        if profile is None:
            log.error("no key profile for %s: its child SA's key is not stored", ref.protocol.name)
            return
        peer = ref.peer[0]
        policy = self.rollover_for(peer, ref.protocol)
        hard_end = ClockMapping.to_utc(params.expires_at, wall_now, mono_now)
        predecessor = self._predecessor(replaces, ref.protocol, peer, now)
        if predecessor is not None and predecessor.spi == ref.local_key_id:
            # One key ID cannot name two overlapping keys: switch at once.
            log.warning(
                "%s key %d with %s replaced by a key with the same ID: not hitless",
                ref.protocol.name,
                ref.local_key_id,
                peer,
            )
            predecessor = None
        if predecessor is None:
            # Nothing to break before making: a first key is sent at once, or
            # the session would go unkeyed for the whole send delay.
            policy = replace(policy, send_delay=0)
        row = profile.fill_row(
            params,
            new_key_lifetimes(policy, now, hard_end),
            rkmp_sa=self._rkmp_sa.get(ref.peer),
            interfaces=self._interfaces(ref),
        )
        if predecessor is None:
            self.store.Keytable_insertSA(row, replace_existing=True)
            return
        self.store.Keytable_rekeySA(predecessor, row, policy.accept_grace, replace_existing=True)
        if not profile.hitless:
            log.warning(
                "%s key change with %s: the protocol holds one key, its session resets",
                ref.protocol.name,
                peer,
            )

    def _child_deleted(self, child: ChildRef, reason: DeleteReason) -> None:
        if reason in _ROW_OUTLIVES:
            return
        sa = SaId.of_child(child)
        if reason is DeleteReason.REVOKED:
            self.store.Keytable_delete(sa.protocol, sa.spi, sa.peer, cause=DeleteCause.REVOKED)
            return
        row = self.store.get(sa)
        if row is not None and row.link is not None and row.link.superseded_by is not None:
            return  # a rekeyed row ends by its rollover lifetimes, not at once
        self.store.Keytable_delete(sa.protocol, sa.spi, sa.peer)
