"""What every exchange task shares (strongSwan's ``task_t``, loosely).

A task is one exchange this side initiates: it builds the request, and
handles the response, a lost response (retransmissions spent) or the SA
going away first. Responding to the peer's requests is done by plain
functions in the same modules (``respond``).
"""

from __future__ import annotations

import struct
from functools import cache
from typing import TYPE_CHECKING

from rkmp_frr.engine.events import FailureReason
from rkmp_frr.engine.state import USABLE, SaState
from rkmp_frr.wire import Header, Message, NotifyPayload, Payload, encode_message
from rkmp_frr.wire.constants import ExchangeType, NotifyType

if TYPE_CHECKING:
    from rkmp_frr.engine.rkmp_sa import RkmpSa


class Task:
    """Base class: an INFORMATIONAL-like encrypted exchange."""

    exchange: ExchangeType = ExchangeType.INFORMATIONAL
    encrypted = True
    allowed_states: frozenset[SaState] = USABLE
    # Moves to the successor RKMP SA if this one is rekeyed before it runs.
    migratable = True
    # A shorter wait before the first retransmission than the policy's, for
    # requests a peer may drop while they race its own processing.
    first_wait: float | None = None

    def build(self, sa: RkmpSa, now: float) -> tuple[Payload, ...] | None:
        """The request payloads, or None if the task has become pointless."""
        raise NotImplementedError

    def encode(self, header: Header, payloads: tuple[Payload, ...]) -> bytes:
        """The request as sent when ``encrypted`` is False."""
        return encode_message(Message(header, payloads))

    def sent(self, sa: RkmpSa, datagram: bytes) -> None:
        """The request went out as ``datagram`` (first transmission)."""

    def on_response(self, sa: RkmpSa, message: Message, datagram: bytes, now: float) -> bool:
        """Handle the response. Return False to ignore it as if it had not
        arrived (only for unauthenticated RKMP_SA_INIT responses)."""
        raise NotImplementedError

    def on_timeout(self, sa: RkmpSa, now: float) -> None:
        """Retransmissions spent without a response: the RKMP SA failed
        (RFC 7296 §2.4)."""
        sa.fail(FailureReason.TIMEOUT, now)

    def on_abort(self, sa: RkmpSa, now: float) -> None:
        """The RKMP SA closed before this task could complete."""


def notify(
    notify_type: NotifyType, data: bytes = b"", protocol_id: int = 0, spi: bytes = b""
) -> NotifyPayload:
    if not (data or protocol_id or spi):
        return _bare_notify(notify_type)
    return NotifyPayload(notify_type, protocol_id, spi, data)


@cache
def _bare_notify(notify_type: NotifyType) -> NotifyPayload:
    """Payloads are immutable: one object per notify type without data."""
    return NotifyPayload(notify_type)


def error_notify(message: Message) -> NotifyPayload | None:
    """The first error notify of a response (RFC 7296 §3.10.1), if any."""
    for payload in message.payloads:
        if isinstance(payload, NotifyPayload) and payload.is_error:
            return payload
    return None


_REASONS = {
    NotifyType.AUTHENTICATION_FAILED: FailureReason.AUTHENTICATION_FAILED,
    NotifyType.NO_PROPOSAL_CHOSEN: FailureReason.NO_PROPOSAL_CHOSEN,
    NotifyType.INVALID_KE_PAYLOAD: FailureReason.INVALID_KE_PAYLOAD,
    NotifyType.INVALID_SYNTAX: FailureReason.INVALID_SYNTAX,
    NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD: FailureReason.UNSUPPORTED_CRITICAL_PAYLOAD,
    NotifyType.TEMPORARY_FAILURE: FailureReason.TEMPORARY_FAILURE,
    NotifyType.CHILD_SA_NOT_FOUND: FailureReason.CHILD_SA_NOT_FOUND,
}


def reason_for(notify_type: int) -> FailureReason:
    try:
        return _REASONS[NotifyType(notify_type)]
    except (ValueError, KeyError):
        return FailureReason.PEER_ERROR


def ke_group_data(group: int) -> bytes:
    """INVALID_KE_PAYLOAD notify data: the accepted group, 2 octets
    (RFC 7296 §3.10.1)."""
    return struct.pack(">H", group)


def parse_ke_group_data(data: bytes) -> int | None:
    if len(data) != 2:
        return None
    value: int = struct.unpack(">H", data)[0]
    return value
