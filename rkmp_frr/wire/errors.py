"""Typed errors of the wire codec.

Decoding raises exactly one family, :class:`MalformedMessage`, for any byte
string that is not a well-formed message, so callers need one ``except``
clause. Encoding an object that could not be decoded back to itself raises
:class:`EncodeError`, a :class:`ValueError`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rkmp_frr.wire.header import Header


class MalformedMessage(Exception):
    """The bytes are not a well-formed RKMP/IKEv2 message.

    ``offset`` is where the problem was found, in octets from the start of
    the datagram (or of the buffer given to ``decode_payloads``, shifted by
    its ``offset`` argument). The engine answers with INVALID_SYNTAX or
    drops the message (RFC 7296 §2.21.1).
    """

    reason: str
    offset: int

    def __init__(self, reason: str, offset: int) -> None:
        super().__init__(reason, offset)
        self.reason = reason
        self.offset = offset

    def __str__(self) -> str:
        return f"{self.reason} (at offset {self.offset})"

    def _rebase(self, delta: int) -> None:
        """Shift the offset, for decoders working inside a larger buffer.
        (``args`` keep the constructor's values; pickling restores the
        shifted offset from ``__dict__``.)"""
        self.offset = self.offset + delta


class UnsupportedCriticalPayload(MalformedMessage):
    """A payload of an unknown type has its critical bit set.

    RFC 7296 §2.5: the message is rejected and a request is answered with
    UNSUPPORTED_CRITICAL_PAYLOAD carrying the one-octet ``payload_type``.
    ``header`` is the decoded header so the engine can address its answer;
    it is None only when raised by ``decode_payloads`` without a header.
    """

    payload_type: int
    header: Header | None

    def __init__(self, payload_type: int, offset: int, header: Header | None) -> None:
        MalformedMessage.__init__(self, f"unsupported critical payload type {payload_type}", offset)
        self.args = (payload_type, offset, header)
        self.payload_type = payload_type
        self.header = header


class UnsupportedMajorVersion(MalformedMessage):
    """The header's major version is not 2.

    RFC 7296 §3.1/§2.5: a higher version is answered with
    INVALID_MAJOR_VERSION (the engine decides); the payloads are not decoded
    because their format belongs to that other version.
    """

    header: Header

    def __init__(self, header: Header, offset: int = 17) -> None:
        MalformedMessage.__init__(self, f"unsupported major version {header.major_version}", offset)
        self.args = (header, offset)
        self.header = header


class EncodeError(ValueError):
    """The object cannot be encoded: a field is out of range, a length does
    not fit its field, or the wire form would not decode back to the same
    object (so encode stays the exact inverse of decode)."""
