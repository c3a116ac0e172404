"""Whole messages: header plus payload chain (RFC 7296 §3.1-3.2), and the
non-ESP marker used on ports other than 500 (RFC 7296 §2.23).

Contract
- ``decode_message`` returns a :class:`Message` or raises
  :class:`MalformedMessage` (with a reason and an offset) for any input;
  every length is checked against its enclosing length, counts are bounded
  and nothing recurses.
- ``encode_message(decode_message(b)) == b`` for every ``b`` that decodes,
  and ``decode_message(encode_message(m)) == m`` for every valid ``m``;
  ``encode_message`` raises :class:`EncodeError` for objects that are not
  valid. Two kinds of objects encode although they do not decode (so tests
  can send them to a peer): a header with a major version other than 2
  (decoding raises ``UnsupportedMajorVersion``) and an ``UnknownPayload``
  with its critical bit set (``UnsupportedCriticalPayload``).

Strictness: RESERVED fields and the 7 reserved bits of the generic payload
header must be zero. RFC 7296 says receivers ignore them; the codec rejects
them instead because it keeps no place for them, and accepting them would
make encoding lossy. Implementations send zeros. The header's unused flag
bits, by contrast, are kept in ``Header.flags`` and round-trip.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from struct import Struct
from typing import TypeVar

from rkmp_frr.wire._checks import UINT8_MAX
from rkmp_frr.wire._make import maker2
from rkmp_frr.wire.constants import (
    HEADER_LENGTH,
    IKE_MAJOR_VERSION,
    NON_ESP_MARKER,
    PAYLOAD_CRITICAL_FLAG,
    PayloadType,
)
from rkmp_frr.wire.errors import (
    EncodeError,
    MalformedMessage,
    UnsupportedCriticalPayload,
    UnsupportedMajorVersion,
)
from rkmp_frr.wire.header import BytesLike, Header, pack_header, unpack_header
from rkmp_frr.wire.payloads import (
    DECODERS,
    ENCRYPTED_PAYLOAD_TYPES,
    MAX_BODY_LENGTH,
    AuthPayload,
    CertPayload,
    CertReqPayload,
    DeletePayload,
    EncryptedFragmentPayload,
    EncryptedPayload,
    IdPayload,
    KePayload,
    NoncePayload,
    NotifyPayload,
    Payload,
    RawPayload,
    SaPayload,
    UnknownPayload,
    VendorIdPayload,
    decode_encrypted,
    decode_encrypted_fragment,
)

# Codec policy: payloads per chain (a message, or the inside of an SK).
MAX_PAYLOADS = 64

# Next Payload, C|RESERVED, Payload Length (RFC 7296 §3.2).
_GENERIC = Struct(">BBH")
_GENERIC_SIZE = _GENERIC.size
_RESERVED_BITS = 0xFF ^ PAYLOAD_CRITICAL_FLAG
_NEXT_PAYLOAD_OFFSET = 16  # in the IKE header (RFC 7296 §3.1)

_PAYLOAD_CLASSES = (
    SaPayload,
    KePayload,
    IdPayload,
    CertPayload,
    CertReqPayload,
    AuthPayload,
    NoncePayload,
    NotifyPayload,
    DeletePayload,
    VendorIdPayload,
    EncryptedPayload,
    EncryptedFragmentPayload,
    RawPayload,
    UnknownPayload,
)

_EXACT_PAYLOAD_CLASSES = frozenset(_PAYLOAD_CLASSES)

_P = TypeVar("_P")


@dataclass(frozen=True, slots=True)
class Message:
    """An RKMP/IKEv2 message: header and payloads in wire order."""

    header: Header
    payloads: tuple[Payload, ...]

    # Written out, same signature as the generated one: mypyc compiles it
    # into a native constructor (see rkmp_frr/build.py).
    def __init__(self, header: Header, payloads: tuple[Payload, ...]) -> None:
        object.__setattr__(self, "header", header)
        object.__setattr__(self, "payloads", payloads)

    def find(self, cls: type[_P]) -> _P | None:
        """The first payload of class ``cls``, or None."""
        for payload in self.payloads:
            if isinstance(payload, cls):
                return payload
        return None

    def find_all(self, cls: type[_P]) -> tuple[_P, ...]:
        """All payloads of class ``cls``, in order."""
        return tuple(p for p in self.payloads if isinstance(p, cls))

    @property
    def notifies(self) -> tuple[NotifyPayload, ...]:
        return self.find_all(NotifyPayload)

    def notify(self, notify_type: int) -> NotifyPayload | None:
        """The first Notify payload of ``notify_type``, or None."""
        for payload in self.payloads:
            if isinstance(payload, NotifyPayload) and payload.notify_type == notify_type:
                return payload
        return None

    @property
    def encrypted(self) -> EncryptedPayload | None:
        """The SK payload, if any (it is always the last one)."""
        return self.find(EncryptedPayload)


# --- decoding ---------------------------------------------------------------

make_message = maker2(Message, "header", "payloads")


def decode_message(data: BytesLike) -> Message:
    """Decode one datagram (without non-ESP marker) into a Message."""
    if type(data) is not bytes:
        data = bytes(data)
    header, next_payload = unpack_header(data)
    if header.major_version != IKE_MAJOR_VERSION:
        raise UnsupportedMajorVersion(header)
    payloads = _decode_chain(data, HEADER_LENGTH, next_payload, header, allow_encrypted=True)
    return make_message(header, payloads)


def decode_message_with_header(data: BytesLike, header: Header) -> Message:
    """``decode_message(data)`` for a caller that has ``decode_header(data)``
    already (e.g. to route the datagram): the header is not decoded again.
    ``header`` must be exactly that; the errors are decode_message's."""
    if type(data) is not bytes:
        data = bytes(data)
    if header.major_version != IKE_MAJOR_VERSION:
        raise UnsupportedMajorVersion(header)
    next_payload = data[_NEXT_PAYLOAD_OFFSET]
    payloads = _decode_chain(data, HEADER_LENGTH, next_payload, header, allow_encrypted=True)
    return make_message(header, payloads)


def decode_payloads(
    first_payload: int, data: BytesLike, offset: int = 0, *, header: Header | None = None
) -> tuple[Payload, ...]:
    """Decode a payload chain, e.g. the decrypted inside of an SK payload.

    ``first_payload`` is the type of the first payload (SK's Next Payload);
    ``offset`` only shifts the offsets in errors; ``header``, if given, is
    attached to ``UnsupportedCriticalPayload``. SK/SKF cannot be nested.
    """
    if not 0 <= first_payload <= UINT8_MAX:
        raise ValueError(f"first_payload {first_payload} is not a payload type")
    if type(data) is not bytes:
        data = bytes(data)
    try:
        return _decode_chain(data, 0, first_payload, header, allow_encrypted=False)
    except MalformedMessage as exc:
        exc._rebase(offset)
        raise


def _decode_chain(
    data: bytes, pos: int, next_type: int, header: Header | None, *, allow_encrypted: bool
) -> tuple[Payload, ...]:
    """Walk the chain from ``pos`` to the end of ``data`` (RFC 7296 §3.2)."""
    end = len(data)
    payloads: list[Payload] = []
    while next_type:
        if len(payloads) == MAX_PAYLOADS:
            raise MalformedMessage(f"more than {MAX_PAYLOADS} payloads", pos)
        if end - pos < _GENERIC_SIZE:
            raise MalformedMessage(
                f"payload type {next_type} expected but only {end - pos} octets remain", pos
            )
        following, flags, length = _GENERIC.unpack_from(data, pos)
        if flags & _RESERVED_BITS:
            raise MalformedMessage("generic payload header RESERVED bits are not zero", pos + 1)
        if length < _GENERIC_SIZE or length > end - pos:
            raise MalformedMessage(
                f"payload length {length} does not fit the {end - pos} octets left", pos + 2
            )
        critical = bool(flags & PAYLOAD_CRITICAL_FLAG)
        body_start = pos + _GENERIC_SIZE
        body_end = pos + length
        decoder = DECODERS.get(next_type)
        if decoder is not None:
            payloads.append(decoder(data, body_start, body_end, critical))
        elif next_type in ENCRYPTED_PAYLOAD_TYPES:
            # RFC 7296 §3.14 / RFC 7383 §2.5: SK and SKF are last; their Next
            # Payload names the first inner payload, so the chain ends here.
            if not allow_encrypted:
                raise MalformedMessage(f"payload type {next_type} inside an SK payload", pos)
            if body_end != end:
                raise MalformedMessage(
                    f"{end - body_end} octets after the encrypted payload, which must be last",
                    body_end,
                )
            if next_type == PayloadType.SK:
                payloads.append(decode_encrypted(data, body_start, body_end, critical, following))
            else:
                payloads.append(
                    decode_encrypted_fragment(data, body_start, body_end, critical, following)
                )
            return tuple(payloads)
        elif critical:
            raise UnsupportedCriticalPayload(next_type, pos, header)
        else:
            payloads.append(UnknownPayload(next_type, data[body_start:body_end]))
        pos = body_end
        next_type = following
    if pos != end:
        raise MalformedMessage(f"{end - pos} octets after the last payload", pos)
    return tuple(payloads)


# --- encoding ---------------------------------------------------------------


def encode_message(message: Message) -> bytes:
    """Encode a Message; the header's Next Payload and Length are derived."""
    first, body = _encode_chain(message.payloads, allow_encrypted=True)
    return pack_header(message.header, first, HEADER_LENGTH + len(body)) + body


def encode_payloads(payloads: Sequence[Payload]) -> tuple[int, bytes]:
    """Encode a payload chain (e.g. SK's plaintext): (first type, octets).

    The first type is 0 for an empty chain. SK/SKF cannot be nested.
    """
    return _encode_chain(payloads, allow_encrypted=False)


def _encode_chain(payloads: Sequence[Payload], *, allow_encrypted: bool) -> tuple[int, bytes]:
    count = len(payloads)
    if count > MAX_PAYLOADS:
        raise EncodeError(f"more than {MAX_PAYLOADS} payloads")
    if not count:
        return 0, b""
    # One pass: each payload is validated (encode_body) before its type goes
    # into the generic header of the payload before it (RFC 7296 §3.2).
    pack = _GENERIC.pack
    parts: list[bytes] = []
    first = 0
    previous: Payload | None = None
    previous_body = b""
    for index, payload in enumerate(payloads):
        if type(payload) not in _EXACT_PAYLOAD_CLASSES and not isinstance(
            payload, _PAYLOAD_CLASSES
        ):
            raise EncodeError(f"not a payload: {type(payload).__name__}")
        body = payload.encode_body()
        payload_type = payload.payload_type
        if len(body) > MAX_BODY_LENGTH:
            raise EncodeError(f"payload type {payload_type} body of {len(body)} octets")
        if payload_type in ENCRYPTED_PAYLOAD_TYPES:
            if not allow_encrypted:
                raise EncodeError("SK/SKF payload cannot be nested in an SK payload")
            if index != count - 1:
                raise EncodeError("SK/SKF payload must be the last payload")
        if previous is None:
            first = payload_type
        else:
            flags = PAYLOAD_CRITICAL_FLAG if previous.critical else 0
            parts.append(pack(payload_type, flags, len(previous_body) + _GENERIC_SIZE))
            parts.append(previous_body)
        previous, previous_body = payload, body
    assert previous is not None
    # SK/SKF's Next Payload names the first inner payload (RFC 7296 §3.14).
    if isinstance(previous, (EncryptedPayload, EncryptedFragmentPayload)):
        following = previous.first_payload
    else:
        following = 0
    flags = PAYLOAD_CRITICAL_FLAG if previous.critical else 0
    parts.append(pack(following, flags, len(previous_body) + _GENERIC_SIZE))
    parts.append(previous_body)
    return first, b"".join(parts)


# --- non-ESP marker (RFC 7296 §2.23, DESIGN.md §2) ----------------------------


def strip_non_esp_marker(datagram: BytesLike) -> bytes:
    """Remove the 4-octet zero marker that precedes IKE messages on ports
    other than 500. A datagram without it (ESP, a NAT keepalive) raises
    MalformedMessage."""
    if datagram[:4] != NON_ESP_MARKER:
        raise MalformedMessage("non-ESP marker missing", 0)
    return bytes(datagram[4:])


def add_non_esp_marker(message: bytes) -> bytes:
    """Prefix an encoded message with the non-ESP marker."""
    return NON_ESP_MARKER + message
