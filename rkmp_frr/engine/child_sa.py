"""The engine's record of one routing-protocol (child) SA."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from rkmp_frr.engine.events import ChildParams, ChildRef
from rkmp_frr.engine.policy import ChildPolicy
from rkmp_frr.wire.constants import ProtocolId


class ChildState(Enum):
    ACTIVE = "active"
    REKEYING = "rekeying"  # our rekey exchange for it is out
    REKEYED = "rekeyed"  # replaced by a newer child SA; its Delete is pending
    REDUNDANT = "redundant"  # lost a rekey collision (RFC 7296 §2.8.1), never reported
    DELETING = "deleting"  # our Delete for it is out

    __hash__ = object.__hash__  # as SaState's: identity, in C


# States whose key IDs are still taken.
LIVE = frozenset(ChildState)


@dataclass(slots=True, eq=False)
class ChildSa:
    """A child SA: its parameters (with the master key), its policy, the
    nonces of the exchange that made it (for collision resolution), and
    whether its creation has been reported yet."""

    params: ChildParams
    policy: ChildPolicy
    nonces: tuple[bytes, bytes]
    state: ChildState = ChildState.ACTIVE
    reported: bool = True
    # A child created while its RKMP SA was unconfirmed, or in a rekey
    # collision, waits here with the event that will announce it.
    rekeys: ChildRef | None = None  # the child this one replaces, if a rekey
    # While our rekey of this child is out: the child the peer's colliding
    # rekey of it created (RFC 7296 §2.8.1), decided when ours completes.
    rival: ChildSa | None = None
    # Made, but not reported yet: waits until no other RKMP SA with the peer
    # is being authenticated (Engine.settle_children).
    announce_pending: bool = False
    # Made on an RKMP SA that lost a simultaneous-initiation tie-break: it
    # gives way to a child of the same protocol made on the survivor.
    from_duplicate: bool = False
    rekey_due: float = field(default=0.0)
    expires: float = field(default=0.0)

    def __post_init__(self) -> None:
        self.rekey_due = self.params.rekey_at
        self.expires = self.params.expires_at

    @property
    def ref(self) -> ChildRef:
        return self.params.ref

    @property
    def protocol(self) -> ProtocolId:
        return self.params.ref.protocol

    @property
    def key(self) -> tuple[ProtocolId, int]:
        return self.params.ref.protocol, self.params.ref.local_key_id

    @property
    def lowest_nonce(self) -> bytes:
        return min(self.nonces)
