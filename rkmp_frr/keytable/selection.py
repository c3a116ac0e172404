"""RFC 7210 §3 key selection, as pure functions over rows.

The caller gives the instant (``now``, whole UTC seconds); nothing here
reads a clock. The SQLite store narrows rows to a protocol and peer with
its indexes and then applies exactly these rules.
"""

from __future__ import annotations

from collections.abc import Iterable

from rkmp_frr.keytable.row import ALL, KeyRow
from rkmp_frr.keytable.utc import UtcSeconds
from rkmp_frr.wire.constants import ProtocolId


def _interface_matches(row: KeyRow, interface: str | None) -> bool:
    # RFC 7210 §3 (3): only when the protocol names an interface.
    return interface is None or ALL in row.interfaces or interface in row.interfaces


def send_candidates(
    rows: Iterable[KeyRow],
    protocol: ProtocolId,
    peer: str,
    now: UtcSeconds,
    interface: str | None = None,
) -> list[KeyRow]:
    """Every row RFC 7210 §3 allows for sending at ``now``: Peers includes
    the peer, the Protocol matches, the Interfaces match, Direction is "out"
    or "both", SendLifetimeStart <= now <= SendLifeTimeEnd. Best first."""
    found = [
        row
        for row in rows
        if peer in row.peers
        and row.protocol == protocol
        and _interface_matches(row, interface)
        and row.direction.sends
        and row.send_lifetime_start <= now <= row.send_lifetime_end
    ]
    # RFC 7210 §3: prefer the most recent SendLifetimeStart, so overlapping
    # keys roll over to the newest. Ties (not made by RKMP) go to the later
    # AcceptLifetimeStart, then the higher SPI, so the choice is stable.
    found.sort(key=lambda r: (r.send_lifetime_start, r.accept_lifetime_start, r.spi), reverse=True)
    return found


def select_send_key(
    rows: Iterable[KeyRow],
    protocol: ProtocolId,
    peer: str,
    now: UtcSeconds,
    interface: str | None = None,
) -> KeyRow | None:
    """The key to send with (RFC 7210 §3), or None."""
    found = send_candidates(rows, protocol, peer, now, interface)
    return found[0] if found else None


def select_receive_key(
    rows: Iterable[KeyRow],
    protocol: ProtocolId,
    peer: str,
    local_key_name: str,
    now: UtcSeconds,
    interface: str | None = None,
) -> KeyRow | None:
    """The key to check a received message with (RFC 7210 §3): Peers
    includes the peer, the Protocol matches, the Interfaces match,
    Direction is "in" or "both", LocalKeyName is the message's key name,
    AcceptLifeTimeStart <= now <= AcceptLifeTimeEnd. RFC 7210 expects one
    such row; if there are more, the most recently accepted one wins."""
    found = [
        row
        for row in rows
        if peer in row.peers
        and row.protocol == protocol
        and _interface_matches(row, interface)
        and row.direction.accepts
        and row.local_key_name == local_key_name
        and row.accept_lifetime_start <= now <= row.accept_lifetime_end
    ]
    if not found:
        return None
    return max(found, key=lambda r: (r.accept_lifetime_start, r.send_lifetime_start, r.spi))


def accepted_keys(
    rows: Iterable[KeyRow],
    protocol: ProtocolId,
    peer: str,
    now: UtcSeconds,
    interface: str | None = None,
) -> list[KeyRow]:
    """Every row a receiver accepts at ``now``, whatever its key name (what
    a routing daemon's configuration must hold)."""
    return [
        row
        for row in rows
        if peer in row.peers
        and row.protocol == protocol
        and _interface_matches(row, interface)
        and row.direction.accepts
        and row.accept_lifetime_start <= now <= row.accept_lifetime_end
    ]
