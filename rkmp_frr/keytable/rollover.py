"""Make-before-break rollover arithmetic (DESIGN.md §2, "Lifetimes and
rollover"), pure and in whole UTC seconds.

A new key is accepted from ``now`` and sent from ``now + send_delay``; the
key it replaces stops being sent at that same instant (the newer
SendLifetimeStart wins RFC 7210 §3 selection there) and stays accepted for
``accept_grace`` seconds more. Each side of a rekey applies this to its
own clock when the exchange completes there, so as long as the exchange
finishes on both sides within ``send_delay`` (its retransmission budget),
each side accepts the new key before the other sends it, and as long as it
finishes within ``accept_grace``, the old key is accepted for as long as
the other side may still send it.

A key whose child SA is never rekeyed ends ``hard_expiry`` seconds after
the child SA's hard lifetime, also when no delete reaches the table
(e.g. the sidecar was down).
"""

from __future__ import annotations

from dataclasses import dataclass

from rkmp_frr.keytable.row import Lifetimes
from rkmp_frr.keytable.utc import FOREVER, UtcSeconds


@dataclass(frozen=True, slots=True)
class RolloverPolicy:
    """Per-protocol rollover timing, in seconds.

    ``send_delay = accept_grace = 0`` is right for a protocol that cannot
    hold two keys (TCP-MD5): the switch is immediate and the session resets.
    """

    send_delay: int = 30
    accept_grace: int = 60
    hard_expiry: int = 0

    def __post_init__(self) -> None:
        if self.send_delay < 0 or self.accept_grace < 0 or self.hard_expiry < 0:
            raise ValueError("rollover times must not be negative")


def new_key_lifetimes(
    policy: RolloverPolicy, now: UtcSeconds, hard_end: UtcSeconds | None
) -> Lifetimes:
    """Lifetimes of a key entered at ``now`` whose child SA's hard lifetime
    ends at ``hard_end`` (None: no end)."""
    end = FOREVER if hard_end is None else min(FOREVER, hard_end + policy.hard_expiry)
    send_start = min(now + policy.send_delay, end)
    return Lifetimes(send_start=send_start, send_end=end, accept_start=now, accept_end=end)


def end_predecessor(
    old: Lifetimes, successor_send_start: UtcSeconds, accept_grace: int
) -> Lifetimes:
    """The replaced key's lifetimes: sent until the successor's send start,
    accepted ``accept_grace`` seconds longer. Never lengthens a lifetime."""
    return Lifetimes(
        send_start=old.send_start,
        send_end=min(old.send_end, successor_send_start),
        accept_start=old.accept_start,
        accept_end=min(old.accept_end, successor_send_start + accept_grace),
    )
