"""Make-before-break across a rekey, on two key tables (DESIGN.md §2).

Two routers A and B, each with its own wall clock (skewed) and its own
monotonic clock, rekey a TCP-AO child SA at real time T. The responder B
completes the exchange at T, the initiator A ``spread`` seconds later (a
lost response and a retransmission). At every instant, whatever key each
side selects for sending (RFC 7210 §3), the other side must accept it under
the key ID it carries; both must accept the new key before either sends it;
and the old key must stay accepted until each side's grace period ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from keytable_rows import key_hex

from rkmp_frr.engine.events import ChildParams, ChildRef, ChildSaCreated, ChildSaRekeyed
from rkmp_frr.keytable.row import KeyRow, SaId
from rkmp_frr.keytable.store import KeyTableStore
from rkmp_frr.keytable.utc import utc_seconds
from rkmp_frr.keytable.wiring import KeyTableWiring
from rkmp_frr.profiles import KEY_PROFILES
from rkmp_frr.profiles.base import HITLESS_ROLLOVER
from rkmp_frr.wire.constants import IntegId, ProtocolId

AO = ProtocolId.TCP_AO
CREATED = 1000.0
T = 4000.0  # the rekey, before the old child SA's hard lifetime
LIFETIME = 3960.0  # child SA hard lifetime
DELAY, GRACE = HITLESS_ROLLOVER.send_delay, HITLESS_ROLLOVER.accept_grace


@dataclass
class Side:
    address: str
    wall_skew: float  # wall clock = real time + skew
    mono_offset: float  # monotonic clock = real time + offset
    store: KeyTableStore = field(default_factory=KeyTableStore.open_memory)

    def __post_init__(self) -> None:
        self.wiring = KeyTableWiring(self.store, KEY_PROFILES)

    def wall(self, real: float) -> float:
        return real + self.wall_skew

    def now(self, real: float) -> int:
        return utc_seconds(self.wall(real))

    def params(
        self, peer: Side, send_id: int, recv_id: int, created: float, seed: int
    ) -> ChildParams:
        return ChildParams(
            ref=ChildRef((peer.address, 500), AO, send_id, recv_id),
            integ=IntegId.HMAC_SHA1_96,
            options=(),
            pfs_group=None,
            rekey_at=created + 3600 + self.mono_offset,
            expires_at=created + LIFETIME + self.mono_offset,
            initiator=send_id < 5,
            master_key=bytes.fromhex(key_hex(seed)),
        )

    def handle(self, event: ChildSaCreated | ChildSaRekeyed, real: float) -> None:
        self.wiring.handle(event, wall_now=self.wall(real), mono_now=real + self.mono_offset)

    def sending(self, peer: Side, real: float) -> KeyRow | None:
        return self.store.select_send_key(AO, peer.address, self.now(real))

    def accepts(self, peer: Side, key_id: str, real: float) -> KeyRow | None:
        return self.store.select_receive_key(AO, peer.address, key_id, self.now(real))


def rekey_pair(spread: float) -> tuple[Side, Side]:
    """A (initiator, SendIDs 1 then 2) and B (SendIDs 7 then 8); the old
    child is made at CREATED, the rekey completes on B at T and on A at
    T + spread."""
    a = Side("192.0.2.1", wall_skew=3.4, mono_offset=77_000.25)
    b = Side("192.0.2.2", wall_skew=-2.7, mono_offset=123.5)
    b.handle(ChildSaCreated(b.params(a, 7, 1, CREATED, seed=1)), CREATED)
    a.handle(ChildSaCreated(a.params(b, 1, 7, CREATED + 0.2, seed=1)), CREATED + 0.2)
    b.handle(ChildSaRekeyed(ChildRef((a.address, 500), AO, 7, 1), b.params(a, 8, 2, T, 2)), T)
    old_a = ChildRef((b.address, 500), AO, 1, 7)
    a.handle(ChildSaRekeyed(old_a, a.params(b, 2, 8, T + spread, seed=2)), T + spread)
    return a, b


def instants(a: Side, b: Side, start: float, end: float) -> list[float]:
    """Real times to look at: around every lifetime boundary on either side
    (selection changes only there), and a 7-second stride in between."""
    times = {start + 7.0 * i for i in range(int((end - start) / 7.0) + 1)}
    for side in (a, b):
        for row in side.store.rows():
            life = row.lifetimes
            for t in (life.send_start, life.send_end, life.accept_start, life.accept_end):
                real = t - side.wall_skew
                times.update(real + d for d in (-1.0, -0.5, 0.0, 0.5, 1.0, 1.5))
    return sorted(t for t in times if start <= t <= end)


def violations(a: Side, b: Side, start: float, end: float) -> list[str]:
    """Instants where a key one side sends is not accepted by the other."""
    found = []
    for real in instants(a, b, start, end):
        for sender, receiver in ((a, b), (b, a)):
            key = sender.sending(receiver, real)
            if key is None:
                found.append(f"{real}: {sender.address} has no key to send")
                continue
            # On the wire the key is named by the sender's SendID (PeerKeyName).
            accepted = receiver.accepts(sender, key.peer_key_name, real)
            if accepted is None or accepted.key != key.key:
                found.append(f"{real}: {receiver.address} rejects key {key.peer_key_name}")
    return found


@pytest.mark.parametrize("spread", [0.0, 1.0, 30.0, DELAY - 5.0])
def test_make_before_break_timeline(spread: float) -> None:
    a, b = rekey_pair(spread)
    assert violations(a, b, CREATED + DELAY + 1, T + spread + DELAY + GRACE + 60) == []

    new_a = a.store.get(SaId(AO, b.address, 2))
    new_b = b.store.get(SaId(AO, a.address, 8))
    old_a = a.store.get(SaId(AO, b.address, 1))
    old_b = b.store.get(SaId(AO, a.address, 7))
    assert new_a and new_b and old_a and old_b
    # The new key: both accept it (real time) before either sends it.
    accept_from = max(
        new_a.accept_lifetime_start - a.wall_skew, new_b.accept_lifetime_start - b.wall_skew
    )
    send_from = min(
        new_a.send_lifetime_start - a.wall_skew, new_b.send_lifetime_start - b.wall_skew
    )
    assert accept_from < send_from
    # The old key: not sent from the new key's send start on, and accepted
    # until exactly the grace period after it, on each side.
    for side, old, new in ((a, old_a, new_a), (b, old_b, new_b)):
        assert old.send_lifetime_end == new.send_lifetime_start
        assert old.accept_lifetime_end == new.send_lifetime_start + GRACE
        end_real = old.accept_lifetime_end - side.wall_skew
        peer = b if side is a else a
        assert side.accepts(peer, old.local_key_name, end_real) is not None
        assert side.accepts(peer, old.local_key_name, end_real + 1) is None
    # Before the rekey each side sends the old key, after it the new one.
    assert a.sending(b, T - 1) == old_a and a.sending(b, T + spread + DELAY + 1) == new_a
    assert b.sending(a, T - 1) == old_b and b.sending(a, T + DELAY + 1) == new_b


def test_make_before_break_breaks_when_the_exchange_outlasts_the_send_delay() -> None:
    """The check above can fail: if A completes the rekey more than the
    send delay after B, B sends the new key while A does not know it yet."""
    a, b = rekey_pair(spread=DELAY + 20)
    found = violations(a, b, T, T + DELAY + 30)
    assert found and all(f"{a.address} rejects" in v for v in found)
