"""Events the engine reports to its user (the daemon, the key table, tests).

Frozen dataclasses, like h11's events: the engine appends them to a queue
and the caller drains it with ``Engine.next_event()``. Times (``rekey_at``,
``expires_at``) are on the caller's clock, the same ``now`` it passes in.
Key material is only in ``ChildSaCreated.master_key`` and
``ChildSaRekeyed.master_key`` and never in a repr.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from rkmp_frr.engine.types import Address
from rkmp_frr.wire.constants import ProtocolId


class FailureReason(Enum):
    """Why an RKMP SA or a child SA failed (what RP_revokeSA acts on)."""

    TIMEOUT = "timeout"  # retransmissions exhausted (RFC 7296 §2.4)
    LIVENESS_TIMEOUT = "liveness-timeout"  # no answer to a liveness check
    AUTHENTICATION_FAILED = "authentication-failed"
    NO_PROPOSAL_CHOSEN = "no-proposal-chosen"
    INVALID_KE_PAYLOAD = "invalid-ke-payload"
    INVALID_SYNTAX = "invalid-syntax"
    UNSUPPORTED_CRITICAL_PAYLOAD = "unsupported-critical-payload"
    TEMPORARY_FAILURE = "temporary-failure"
    PEER_ERROR = "peer-error"  # another error notify from the peer
    HALF_OPEN_TIMEOUT = "half-open-timeout"
    EXPIRED = "expired"  # hard lifetime reached without a rekey
    KEY_IDS_EXHAUSTED = "key-ids-exhausted"
    CHILD_SA_NOT_FOUND = "child-sa-not-found"


class DeleteReason(Enum):
    """Why an RKMP SA or child SA went away without failing."""

    LOCAL = "local"  # deleted through the API
    REMOTE = "remote"  # the peer sent a Delete
    REKEYED = "rekeyed"  # replaced by a rekey
    REDUNDANT = "redundant"  # lost a collision (RFC 7296 §2.8.1)
    REPLACED = "replaced"  # peer restarted (INITIAL_CONTACT)
    EXPIRED = "expired"  # hard lifetime reached
    REVOKED = "revoked"  # the RKMP SA failed and policy says revoke


@dataclass(frozen=True, slots=True)
class RkmpSaRef:
    """Names one RKMP SA: the peer and the two IKE SPIs."""

    peer: Address
    spi_i: bytes
    spi_r: bytes

    # Written out, same signature as the generated one: mypyc compiles it
    # into a native constructor (see rkmp_frr/build.py).
    def __init__(self, peer: Address, spi_i: bytes, spi_r: bytes) -> None:
        object.__setattr__(self, "peer", peer)
        object.__setattr__(self, "spi_i", spi_i)
        object.__setattr__(self, "spi_r", spi_r)


@dataclass(frozen=True, slots=True)
class ChildRef:
    """Names one routing-protocol SA with a peer.

    ``local_key_id`` is the ID this side chose (TCP-AO: our SendID);
    ``remote_key_id`` is the peer's (TCP-AO: our RecvID). They are equal for
    protocols with symmetric key IDs (DESIGN.md §2).
    """

    peer: Address
    protocol: ProtocolId
    local_key_id: int
    remote_key_id: int

    # Written out, same signature as the generated one: mypyc compiles it
    # into a native constructor (see rkmp_frr/build.py).
    def __init__(
        self,
        peer: Address,
        protocol: ProtocolId,
        local_key_id: int,
        remote_key_id: int,
    ) -> None:
        object.__setattr__(self, "peer", peer)
        object.__setattr__(self, "protocol", protocol)
        object.__setattr__(self, "local_key_id", local_key_id)
        object.__setattr__(self, "remote_key_id", remote_key_id)

    @property
    def send_id(self) -> int:
        return self.local_key_id

    @property
    def recv_id(self) -> int:
        return self.remote_key_id


@dataclass(frozen=True, slots=True)
class ChildParams:
    """What a routing protocol needs to use a child SA."""

    ref: ChildRef
    integ: int  # IntegId: the routing protocol's MAC
    options: tuple[int, ...]  # RkmpOptionId values
    pfs_group: int | None  # KeId used for PFS, if any
    rekey_at: float
    expires_at: float
    initiator: bool  # this side proposed the child SA
    master_key: bytes = field(repr=False)

    # Written out, same signature as the generated one: mypyc compiles it
    # into a native constructor (see rkmp_frr/build.py).
    def __init__(
        self,
        ref: ChildRef,
        integ: int,
        options: tuple[int, ...],
        pfs_group: int | None,
        rekey_at: float,
        expires_at: float,
        initiator: bool,
        master_key: bytes,
    ) -> None:
        object.__setattr__(self, "ref", ref)
        object.__setattr__(self, "integ", integ)
        object.__setattr__(self, "options", options)
        object.__setattr__(self, "pfs_group", pfs_group)
        object.__setattr__(self, "rekey_at", rekey_at)
        object.__setattr__(self, "expires_at", expires_at)
        object.__setattr__(self, "initiator", initiator)
        object.__setattr__(self, "master_key", master_key)

    @property
    def key_text(self) -> str:
        """The key as routing daemons take it: lower-case hex (DESIGN.md §2)."""
        return self.master_key.hex()


@dataclass(frozen=True, slots=True)
class RkmpSaEstablished:
    sa: RkmpSaRef
    initiator: bool
    local_identity: str
    remote_identity: str
    proposal: str

    # Written out, same signature as the generated one: mypyc compiles it
    # into a native constructor (see rkmp_frr/build.py).
    def __init__(
        self,
        sa: RkmpSaRef,
        initiator: bool,
        local_identity: str,
        remote_identity: str,
        proposal: str,
    ) -> None:
        object.__setattr__(self, "sa", sa)
        object.__setattr__(self, "initiator", initiator)
        object.__setattr__(self, "local_identity", local_identity)
        object.__setattr__(self, "remote_identity", remote_identity)
        object.__setattr__(self, "proposal", proposal)


@dataclass(frozen=True, slots=True)
class RkmpSaRekeyed:
    old: RkmpSaRef
    new: RkmpSaRef
    proposal: str


@dataclass(frozen=True, slots=True)
class RkmpSaFailed:
    """The RKMP SA failed: RP_revokeSA. ``children`` are revoked (each also
    gets a ChildSaDeleted with reason REVOKED) or kept, per ``revoked``."""

    sa: RkmpSaRef
    reason: FailureReason
    children: tuple[ChildRef, ...]
    revoked: bool


@dataclass(frozen=True, slots=True)
class RkmpSaDeleted:
    """An orderly delete (not a failure): the children stay until their own
    lifetime (draft-mahesh §3.3) or until a new child replaces them."""

    sa: RkmpSaRef
    reason: DeleteReason
    children: tuple[ChildRef, ...]


@dataclass(frozen=True, slots=True)
class ChildSaCreated:
    child: ChildParams

    # Written out, same signature as the generated one: mypyc compiles it
    # into a native constructor (see rkmp_frr/build.py).
    def __init__(self, child: ChildParams) -> None:
        object.__setattr__(self, "child", child)


@dataclass(frozen=True, slots=True)
class ChildSaRekeyed:
    """``old`` is replaced by ``new`` (make-before-break is the key
    table's job)."""

    old: ChildRef
    new: ChildParams


@dataclass(frozen=True, slots=True)
class ChildSaDeleted:
    child: ChildRef
    reason: DeleteReason


@dataclass(frozen=True, slots=True)
class ChildSaFailed:
    """A requested child SA could not be created or rekeyed."""

    peer: Address
    protocol: ProtocolId
    reason: FailureReason
    old: ChildRef | None = None  # set when a rekey failed


@dataclass(frozen=True, slots=True)
class PeerRestarted:
    """The peer sent INITIAL_CONTACT: the stale RKMP SA is gone without a
    failure; its children stay and are replaced by the next child SAs of
    the same protocol (reported as ChildSaRekeyed)."""

    stale: RkmpSaRef
    children: tuple[ChildRef, ...]


@dataclass(frozen=True, slots=True)
class PeerAlive:
    """A liveness check was answered."""

    sa: RkmpSaRef


Event = (
    RkmpSaEstablished
    | RkmpSaRekeyed
    | RkmpSaFailed
    | RkmpSaDeleted
    | ChildSaCreated
    | ChildSaRekeyed
    | ChildSaDeleted
    | ChildSaFailed
    | PeerRestarted
    | PeerAlive
)
