"""What every routing-protocol key profile declares, and how it fills a row.

The wire facts of a routing protocol (Protocol ID, SPI size, whether key
IDs are symmetric, the key-ID space, the MACs it may use, the master-key
length) are the engine's :class:`~rkmp_frr.engine.routing_proposals.RoutingProfile`;
a key profile refers to it and adds the key table side: the RFC 7210 names
of those MACs (AlgID) and KDFs, how the key names and ProtocolSpecificInfo
are written, whether rollover is hitless, the default rollover timing, and
whether the protocol needs the Interfaces field (RFC 7210 §4).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from rkmp_frr.engine.events import ChildParams, ChildRef, RkmpSaRef
from rkmp_frr.engine.routing_proposals import RoutingProfile
from rkmp_frr.keytable.errors import InvalidRow
from rkmp_frr.keytable.protocols import protocol_name
from rkmp_frr.keytable.rollover import RolloverPolicy
from rkmp_frr.keytable.row import ALL_INTERFACES, Direction, KeyRow, Lifetimes, RowLink
from rkmp_frr.wire.constants import IntegId, ProtocolId

KDF_NONE = "none"  # RFC 7210 §8.2: the key is used directly

# Default make-before-break timing for protocols that hold several keys.
# The send delay must exceed the time between the two sides completing one
# exchange, bounded by the engine's retransmission budget (RetransmitPolicy:
# about 165 s with the defaults); the grace covers the same spread.
HITLESS_ROLLOVER = RolloverPolicy(send_delay=180, accept_grace=300, hard_expiry=0)
# A protocol that holds one key switches at once (and its session resets).
IMMEDIATE_ROLLOVER = RolloverPolicy(send_delay=0, accept_grace=0, hard_expiry=0)


@dataclass(frozen=True, slots=True)
class Algorithm:
    """A MAC as the key table names it: RFC 7210 §2 AlgID and KDF."""

    alg_id: str
    kdf: str = KDF_NONE


def format_info(items: Mapping[str, str]) -> str:
    """ProtocolSpecificInfo as ``name=value`` pairs joined by ``;`` (RFC
    7210 leaves the encoding to each protocol; this one is ours)."""
    return ";".join(f"{name}={value}" for name, value in items.items())


def parse_info(text: str) -> dict[str, str]:
    if not text:
        return {}
    items: dict[str, str] = {}
    for part in text.split(";"):
        name, sep, value = part.partition("=")
        if not sep or not name:
            raise ValueError(f"malformed ProtocolSpecificInfo item {part!r}")
        items[name] = value
    return items


def _no_info(params: ChildParams) -> str:
    return ""


@dataclass(frozen=True, slots=True)
class KeyProfile:
    """One routing protocol's key profile (see the module docstring)."""

    routing: RoutingProfile
    algorithms: Mapping[IntegId, Algorithm]
    hitless: bool
    rollover: RolloverPolicy
    interfaces_required: bool
    key_names_on_wire: bool = True  # False: the protocol sends no key ID (TCP-MD5)
    specific_info: Callable[[ChildParams], str] = field(default=_no_info)
    note: str = ""

    def __post_init__(self) -> None:
        # The allowed MACs are the engine's; a profile only names them.
        if set(self.algorithms) != set(self.routing.integ):
            raise ValueError(
                f"{self.name}: AlgID table does not match the engine's INTEG transforms"
            )
        if not self.hitless and (self.rollover.send_delay or self.rollover.accept_grace):
            raise ValueError(f"{self.name}: a protocol with one key cannot overlap keys")

    @property
    def protocol(self) -> ProtocolId:
        return self.routing.protocol

    @property
    def name(self) -> str:
        """The RFC 7210 Protocol field."""
        return protocol_name(self.routing.protocol)

    @property
    def spi_size(self) -> int:
        return self.routing.spi_size

    def master_key_length(self, integ: int) -> int:
        return self.routing.master_key_length(integ)

    def algorithm(self, integ: int) -> Algorithm:
        try:
            return self.algorithms[IntegId(integ)]
        except (ValueError, KeyError):
            raise InvalidRow(f"{self.name} cannot use INTEG transform {integ}") from None

    def key_name(self, key_id: int) -> str:
        """RFC 7210 §5.1: lower-case hex, padded to the key ID field's width."""
        if key_id not in self.routing.key_ids:
            raise InvalidRow(f"{self.name} key ID {key_id} outside {self.routing.key_ids}")
        return f"{key_id:0{2 * self.spi_size}x}"

    def key_names(self, ref: ChildRef) -> tuple[str, str]:
        """(LocalKeyName, PeerKeyName): the ID in messages we receive (the
        peer's, e.g. TCP-AO RecvID) and the one we send (ours, SendID)."""
        if not self.key_names_on_wire:
            return "", ""
        if self.routing.symmetric and ref.local_key_id != ref.remote_key_id:
            raise InvalidRow(f"{self.name} key IDs must be equal both ways")
        return self.key_name(ref.remote_key_id), self.key_name(ref.local_key_id)

    def admin_key_name(self, ref: ChildRef) -> str:
        width = 2 * self.spi_size
        return f"rkmp/{self.name}/{ref.peer[0]}/{ref.local_key_id:0{width}x}"

    def fill_row(
        self,
        params: ChildParams,
        lifetimes: Lifetimes,
        *,
        rkmp_sa: RkmpSaRef | None = None,
        interfaces: frozenset[str] = ALL_INTERFACES,
    ) -> KeyRow:
        """The row for a child SA: one key, used both ways, with the peer's
        address as Peers and the lifetimes the rollover policy gave."""
        ref = params.ref
        if ref.protocol != self.protocol:
            raise InvalidRow(f"a {ref.protocol.name} child SA given to the {self.name} profile")
        algorithm = self.algorithm(params.integ)
        if len(params.master_key) != self.master_key_length(params.integ):
            raise InvalidRow(f"{self.name} master key has the wrong length")
        local_name, peer_name = self.key_names(ref)
        return KeyRow(
            admin_key_name=self.admin_key_name(ref),
            local_key_name=local_name,
            peer_key_name=peer_name,
            peers=frozenset({ref.peer[0]}),
            interfaces=interfaces,
            protocol=self.protocol,
            protocol_specific_info=self.specific_info(params),
            kdf=algorithm.kdf,
            alg_id=algorithm.alg_id,
            key=params.key_text,  # DESIGN.md §2: the lower-case hex of the master key
            direction=Direction.BOTH,
            send_lifetime_start=lifetimes.send_start,
            send_lifetime_end=lifetimes.send_end,
            accept_lifetime_start=lifetimes.accept_start,
            accept_lifetime_end=lifetimes.accept_end,
            spi=ref.local_key_id,
            link=RowLink(ref, rkmp_sa),
        )
