"""One row of the key table: RFC 7210 §2's fields, and where the key came from.

A row is one long-lived key. Its fields are exactly RFC 7210 §2's, under
their snake_case names; lifetimes are whole UTC seconds (rendered as
``YYYYmmddHHMMSSZ`` by :meth:`KeyRow.rfc7210_fields`). The table adds:

- ``spi``: the number the seed's operations name the row by, unique per
  (protocol, peer). For rows made by RKMP it is the child SA's local key ID
  (DESIGN.md §2: the SPI carries the key ID).
- ``link``: the RKMP SA and child SA that produced the row (``None`` for a
  row entered by hand), and the SPI of the row that replaced it, if any.

The key is lower-case hex text (RFC 7210 §5.2); ``repr`` masks it and no
exception names it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum

from rkmp_frr.engine.events import ChildRef, RkmpSaRef
from rkmp_frr.keytable.errors import InvalidRow
from rkmp_frr.keytable.protocols import protocol_name
from rkmp_frr.keytable.utc import BEGINNING, FOREVER, UtcSeconds, format_utc
from rkmp_frr.wire.constants import ProtocolId

ALL = "all"
ALL_INTERFACES: frozenset[str] = frozenset({ALL})
_HEX = frozenset("0123456789abcdef")


class Direction(Enum):
    """RFC 7210 §2 Direction."""

    IN = "in"
    OUT = "out"
    BOTH = "both"
    DISABLED = "disabled"

    @property
    def sends(self) -> bool:
        return self in (Direction.OUT, Direction.BOTH)

    @property
    def accepts(self) -> bool:
        return self in (Direction.IN, Direction.BOTH)


@dataclass(frozen=True, slots=True)
class SaId:
    """How the seed's operations name a row: (protocol, peer, SPI)."""

    protocol: ProtocolId
    peer: str
    spi: int

    @classmethod
    def of_child(cls, child: ChildRef) -> SaId:
        return cls(child.protocol, child.peer[0], child.local_key_id)


@dataclass(frozen=True, slots=True)
class RowLink:
    """The SAs behind a row: the child SA (always) and its RKMP SA (when
    known), and the SPI of the row that took over from this one."""

    child: ChildRef
    rkmp_sa: RkmpSaRef | None = None
    superseded_by: int | None = None


@dataclass(frozen=True, slots=True)
class Lifetimes:
    """The four RFC 7210 §2 lifetime fields; both intervals are closed
    (RFC 7210 §3: Start <= now <= End)."""

    send_start: UtcSeconds
    send_end: UtcSeconds
    accept_start: UtcSeconds
    accept_end: UtcSeconds

    def sending(self, now: UtcSeconds) -> bool:
        return self.send_start <= now <= self.send_end

    def accepting(self, now: UtcSeconds) -> bool:
        return self.accept_start <= now <= self.accept_end

    def dead(self, now: UtcSeconds) -> bool:
        """Neither sent nor accepted at ``now`` or ever after."""
        return now > self.send_end and now > self.accept_end

    def shifted(self, delta: int) -> Lifetimes:
        """Every finite boundary moved by ``delta`` seconds (FOREVER and
        the beginning of time stay put)."""

        def move(t: UtcSeconds) -> UtcSeconds:
            if t in (FOREVER, BEGINNING):
                return t
            return max(BEGINNING, min(FOREVER - 1, t + delta))

        return Lifetimes(
            move(self.send_start),
            move(self.send_end),
            move(self.accept_start),
            move(self.accept_end),
        )


@dataclass(frozen=True, slots=True, repr=False)
class KeyRow:
    """One RFC 7210 key table row (§2), plus the table's ``spi`` and ``link``."""

    admin_key_name: str
    local_key_name: str
    peer_key_name: str
    peers: frozenset[str]
    interfaces: frozenset[str]
    protocol: ProtocolId
    protocol_specific_info: str
    kdf: str
    alg_id: str
    key: str  # lower-case hex, never in repr or errors
    direction: Direction
    send_lifetime_start: UtcSeconds
    send_lifetime_end: UtcSeconds
    accept_lifetime_start: UtcSeconds
    accept_lifetime_end: UtcSeconds
    spi: int
    link: RowLink | None = None

    def __post_init__(self) -> None:
        _check_row(self)

    def __repr__(self) -> str:
        fields = ", ".join(
            f"{f.name}=<{len(self.key) // 2} octets>"
            if f.name == "key"
            else f"{f.name}={getattr(self, f.name)!r}"
            for f in dataclasses.fields(self)
        )
        return f"KeyRow({fields})"

    __str__ = __repr__

    @property
    def lifetimes(self) -> Lifetimes:
        return Lifetimes(
            self.send_lifetime_start,
            self.send_lifetime_end,
            self.accept_lifetime_start,
            self.accept_lifetime_end,
        )

    def with_lifetimes(self, lifetimes: Lifetimes) -> KeyRow:
        return dataclasses.replace(
            self,
            send_lifetime_start=lifetimes.send_start,
            send_lifetime_end=lifetimes.send_end,
            accept_lifetime_start=lifetimes.accept_start,
            accept_lifetime_end=lifetimes.accept_end,
        )

    def with_link(self, link: RowLink | None) -> KeyRow:
        return dataclasses.replace(self, link=link)

    def sa_ids(self) -> tuple[SaId, ...]:
        return tuple(SaId(self.protocol, peer, self.spi) for peer in sorted(self.peers))

    @property
    def key_bytes(self) -> bytes:
        return bytes.fromhex(self.key)

    def rfc7210_fields(self) -> Mapping[str, str]:
        """The row as RFC 7210 §2 text, under the RFC's field names. The
        Key is in it: show it only where keys may be shown."""
        return {
            "AdminKeyName": self.admin_key_name,
            "LocalKeyName": self.local_key_name,
            "PeerKeyName": self.peer_key_name,
            "Peers": join_set(self.peers),
            "Interfaces": join_set(self.interfaces),
            "Protocol": protocol_name(self.protocol),
            "ProtocolSpecificInfo": self.protocol_specific_info,
            "KDF": self.kdf,
            "AlgID": self.alg_id,
            "Key": self.key,
            "Direction": self.direction.value,
            "SendLifetimeStart": format_utc(self.send_lifetime_start),
            "SendLifeTimeEnd": format_utc(self.send_lifetime_end),
            "AcceptLifeTimeStart": format_utc(self.accept_lifetime_start),
            "AcceptLifeTimeEnd": format_utc(self.accept_lifetime_end),
        }


def join_set(items: Iterable[str]) -> str:
    """A set of names as one canonical string (sorted, space separated)."""
    return " ".join(sorted(items))


def split_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _check_name_set(name: str, items: frozenset[str]) -> None:
    if not items:
        raise InvalidRow(f"{name} is empty")
    for item in items:
        if not item or any(c.isspace() for c in item):
            raise InvalidRow(f"{name} member {item!r} is empty or has white space")


def _check_row(row: KeyRow) -> None:
    if not row.admin_key_name:
        raise InvalidRow("AdminKeyName is empty")
    protocol_name(row.protocol)  # a routing protocol
    _check_name_set("Peers", row.peers)
    _check_name_set("Interfaces", row.interfaces)
    if ALL in row.interfaces and len(row.interfaces) > 1:
        raise InvalidRow('Interfaces mixes "all" with interface names')
    # RFC 7210 §2 / §5.2: lower-case hex, whole octets. The message must not
    # quote the key.
    if not row.key or len(row.key) % 2 or not _HEX.issuperset(row.key):
        raise InvalidRow("Key is not lower-case hex of whole octets")
    for start, end, what in (
        (row.send_lifetime_start, row.send_lifetime_end, "Send"),
        (row.accept_lifetime_start, row.accept_lifetime_end, "Accept"),
    ):
        if not BEGINNING <= start <= FOREVER or not BEGINNING <= end <= FOREVER:
            raise InvalidRow(f"{what} lifetime outside the representable range")
    if not 0 < row.spi <= 0xFFFF_FFFF:
        raise InvalidRow("SPI must be 1..2^32-1 (0 names all rows of a protocol)")
