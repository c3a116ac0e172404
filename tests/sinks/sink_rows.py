"""Key table rows for the sink renderers, made the way the daemon makes
them: a key profile fills the row from a child SA, and the key table's
rollover arithmetic gives the lifetimes."""

from __future__ import annotations

import dataclasses
import hashlib

from rkmp_frr.engine.events import ChildParams, ChildRef
from rkmp_frr.keytable.rollover import RolloverPolicy, end_predecessor, new_key_lifetimes
from rkmp_frr.keytable.row import ALL_INTERFACES, Direction, KeyRow, Lifetimes
from rkmp_frr.profiles import KEY_PROFILES
from rkmp_frr.wire.constants import IntegId, ProtocolId, RkmpOptionId

T0 = 1_750_000_000  # 2025-06-15 15:06:40 UTC
PEER = "192.0.2.1"
PEER_B = "192.0.2.2"
PEER6 = "2001:db8::1"
HITLESS = RolloverPolicy(send_delay=180, accept_grace=300)
IMMEDIATE = RolloverPolicy(send_delay=0, accept_grace=0)
DEFAULT_INTEG = {
    ProtocolId.TCP_MD5: IntegId.RKMP_KEYED_MD5,
    ProtocolId.TCP_AO: IntegId.HMAC_SHA1_96,
    ProtocolId.OSPFV2: IntegId.RKMP_HMAC_SHA2_256,
    ProtocolId.OSPFV3: IntegId.RKMP_HMAC_SHA2_256,
    ProtocolId.ISIS: IntegId.RKMP_HMAC_SHA2_256,
    ProtocolId.BFD: IntegId.RKMP_KEYED_MD5,
}


def master_key(*seed: object, octets: int) -> bytes:
    return hashlib.sha256(repr(seed).encode()).digest()[:octets]


def make_row(
    protocol: ProtocolId,
    key_id: int,
    lifetimes: Lifetimes,
    *,
    peer: str = PEER,
    remote_key_id: int | None = None,
    interfaces: frozenset[str] = ALL_INTERFACES,
    integ: IntegId | None = None,
    options: tuple[int, ...] = (),
) -> KeyRow:
    """The row the protocol's key profile makes for a child SA with
    ``peer`` whose key ID is ``key_id`` (TCP-AO: our SendID; the RecvID is
    ``remote_key_id``)."""
    profile = KEY_PROFILES[protocol]
    integ = integ if integ is not None else DEFAULT_INTEG[protocol]
    ref = ChildRef(
        (peer, 500), protocol, key_id, key_id if remote_key_id is None else remote_key_id
    )
    params = ChildParams(
        ref=ref,
        integ=integ,
        options=options,
        pfs_group=None,
        rekey_at=0.0,
        expires_at=0.0,
        initiator=True,
        master_key=master_key(protocol, peer, key_id, octets=profile.master_key_length(integ)),
    )
    return profile.fill_row(params, lifetimes, interfaces=interfaces)


def inserted(now: int, policy: RolloverPolicy = HITLESS, hard_end: int | None = None) -> Lifetimes:
    """A key entered at ``now`` (accepted now, sent after the send delay)."""
    return new_key_lifetimes(policy, now, hard_end)


def since(start: int) -> Lifetimes:
    """A key that has been in use since ``start``, with no end."""
    return new_key_lifetimes(IMMEDIATE, start, None)


def rekeyed(
    old: KeyRow, new: KeyRow, now: int, policy: RolloverPolicy = HITLESS
) -> tuple[KeyRow, KeyRow]:
    """``new`` entered at ``now`` replacing ``old`` (make-before-break)."""
    new = new.with_lifetimes(new_key_lifetimes(policy, now, None))
    old = old.with_lifetimes(
        end_predecessor(old.lifetimes, new.send_lifetime_start, policy.accept_grace)
    )
    return old, new


def with_direction(row: KeyRow, direction: Direction) -> KeyRow:
    return dataclasses.replace(row, direction=direction)


EXCLUDE_OPTIONS = (int(RkmpOptionId.TCP_AO_EXCLUDE_OPTIONS),)
