"""Payload types other than SA (RFC 7296 §3.4-3.14, RFC 7383 §2.5).

Every payload class is a frozen dataclass with a keyword-only ``critical``
flag (the generic header's critical bit, kept so that encoding is the exact
inverse of decoding; RFC 7296 §3.2 says a receiver that knows the type
ignores it), a ``payload_type`` and an ``encode_body()`` giving the octets
after the generic payload header. Numeric fields are plain ints: values
outside the project's enums decode fine and the engine decides about them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from struct import Struct
from typing import TypeAlias

from rkmp_frr.wire._checks import (
    UINT8_MAX,
    UINT16_MAX,
    check_bool,
    check_bytes,
    check_uint,
)
from rkmp_frr.wire._make import maker2, maker3, maker4, maker5
from rkmp_frr.wire.constants import (
    GENERIC_PAYLOAD_HEADER_LENGTH,
    NONCE_MAX_LENGTH,
    NONCE_MIN_LENGTH,
    NOTIFY_ERROR_MAX,
    PayloadType,
    ProtocolId,
)
from rkmp_frr.wire.errors import EncodeError, MalformedMessage
from rkmp_frr.wire.sa import (
    Proposal,
    SaPayload,
    Transform,
    TransformAttribute,
    decode_sa,
    spi_size_allowed,
)

# Largest body a payload can have: its Payload Length field is 16 bits and
# counts the 4-octet generic header too.
MAX_BODY_LENGTH = UINT16_MAX - GENERIC_PAYLOAD_HEADER_LENGTH
# Codec policy: SPIs per Delete payload (bounds the objects one datagram makes).
MAX_DELETE_SPIS = 1024

_U8 = Struct(">B")
_U8_U8_U16 = Struct(">BBH")
_U16_U16 = Struct(">HH")
# Data after a 4-octet fixed part (KE, ID, AUTH, SKF, Notify without SPI).
_MAX_DATA_AFTER_4 = MAX_BODY_LENGTH - 4

# Encoding: each ``encode_body`` first tries a fast path for well-typed
# values (exact bytes, ints in range, bool flags) and otherwise runs the
# checked path, which accepts the same inputs and names what is wrong. Both
# produce the same octets.


def _check_data(name: str, value: object, fixed: int = 0) -> bytes:
    return check_bytes(name, value, MAX_BODY_LENGTH - fixed)


@dataclass(frozen=True, slots=True)
class KePayload:
    """Key Exchange (RFC 7296 §3.4): group number and public value."""

    @property
    def payload_type(self) -> int:
        return PayloadType.KE

    group: int
    data: bytes
    critical: bool = False

    # Written out, same signature as the generated one: mypyc compiles it
    # into a native constructor (see rkmp_frr/build.py).
    def __init__(self, group: int, data: bytes, critical: bool = False) -> None:
        object.__setattr__(self, "group", group)
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "critical", critical)

    def encode_body(self) -> bytes:
        group, data = self.group, self.data
        if (
            type(data) is bytes
            and len(data) <= _MAX_DATA_AFTER_4
            and type(self.critical) is bool
            and isinstance(group, int)
            and 0 <= group <= UINT16_MAX
        ):
            return _U16_U16.pack(group, 0) + data
        check_bool("KePayload.critical", self.critical)
        group = check_uint("KePayload.group", group, UINT16_MAX)
        return _U16_U16.pack(group, 0) + _check_data("KePayload.data", data, 4)


@dataclass(frozen=True, slots=True)
class IdPayload:
    """Identification (RFC 7296 §3.5): IDi (35) if ``initiator`` else IDr
    (36). ``data`` is kept raw (AUTH is computed over it); ``Identity``
    interprets it."""

    id_type: int
    data: bytes
    initiator: bool
    critical: bool = False

    # Written out, same signature as the generated one: mypyc compiles it
    # into a native constructor (see rkmp_frr/build.py).
    def __init__(self, id_type: int, data: bytes, initiator: bool, critical: bool = False) -> None:
        object.__setattr__(self, "id_type", id_type)
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "initiator", initiator)
        object.__setattr__(self, "critical", critical)

    @property
    def payload_type(self) -> int:
        return PayloadType.IDi if self.initiator else PayloadType.IDr

    def encode_body(self) -> bytes:
        id_type, data = self.id_type, self.data
        if (
            type(data) is bytes
            and len(data) <= _MAX_DATA_AFTER_4
            and type(self.critical) is bool
            and type(self.initiator) is bool
            and isinstance(id_type, int)
            and 0 <= id_type <= UINT8_MAX
        ):
            return _U8_U8_U16.pack(id_type, 0, 0) + data
        check_bool("IdPayload.critical", self.critical)
        check_bool("IdPayload.initiator", self.initiator)
        id_type = check_uint("IdPayload.id_type", id_type, UINT8_MAX)
        return _U8_U8_U16.pack(id_type, 0, 0) + _check_data("IdPayload.data", data, 4)


@dataclass(frozen=True, slots=True)
class CertPayload:
    """Certificate (RFC 7296 §3.6)."""

    @property
    def payload_type(self) -> int:
        return PayloadType.CERT

    encoding: int
    data: bytes
    critical: bool = False

    def encode_body(self) -> bytes:
        check_bool("CertPayload.critical", self.critical)
        encoding = check_uint("CertPayload.encoding", self.encoding, UINT8_MAX)
        return _U8.pack(encoding) + _check_data("CertPayload.data", self.data, 1)


@dataclass(frozen=True, slots=True)
class CertReqPayload:
    """Certificate Request (RFC 7296 §3.7); ``data`` is the CA field."""

    @property
    def payload_type(self) -> int:
        return PayloadType.CERTREQ

    encoding: int
    data: bytes
    critical: bool = False

    def encode_body(self) -> bytes:
        check_bool("CertReqPayload.critical", self.critical)
        encoding = check_uint("CertReqPayload.encoding", self.encoding, UINT8_MAX)
        return _U8.pack(encoding) + _check_data("CertReqPayload.data", self.data, 1)


@dataclass(frozen=True, slots=True)
class AuthPayload:
    """Authentication (RFC 7296 §3.8)."""

    @property
    def payload_type(self) -> int:
        return PayloadType.AUTH

    method: int
    data: bytes
    critical: bool = False

    # Written out, same signature as the generated one: mypyc compiles it
    # into a native constructor (see rkmp_frr/build.py).
    def __init__(self, method: int, data: bytes, critical: bool = False) -> None:
        object.__setattr__(self, "method", method)
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "critical", critical)

    def encode_body(self) -> bytes:
        method, data = self.method, self.data
        if (
            type(data) is bytes
            and len(data) <= _MAX_DATA_AFTER_4
            and type(self.critical) is bool
            and isinstance(method, int)
            and 0 <= method <= UINT8_MAX
        ):
            return _U8_U8_U16.pack(method, 0, 0) + data
        check_bool("AuthPayload.critical", self.critical)
        method = check_uint("AuthPayload.method", method, UINT8_MAX)
        return _U8_U8_U16.pack(method, 0, 0) + _check_data("AuthPayload.data", data, 4)


@dataclass(frozen=True, slots=True)
class NoncePayload:
    """Nonce (RFC 7296 §3.9): 16..256 octets."""

    @property
    def payload_type(self) -> int:
        return PayloadType.NONCE

    data: bytes
    critical: bool = False

    # Written out, same signature as the generated one: mypyc compiles it
    # into a native constructor (see rkmp_frr/build.py).
    def __init__(self, data: bytes, critical: bool = False) -> None:
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "critical", critical)

    def encode_body(self) -> bytes:
        data = self.data
        if (
            type(data) is bytes
            and NONCE_MIN_LENGTH <= len(data) <= NONCE_MAX_LENGTH
            and type(self.critical) is bool
        ):
            return data
        check_bool("NoncePayload.critical", self.critical)
        return check_bytes("NoncePayload.data", data, NONCE_MAX_LENGTH, NONCE_MIN_LENGTH)


@dataclass(frozen=True, slots=True)
class NotifyPayload:
    """Notify (RFC 7296 §3.10). ``spi`` is empty for notifications about the
    IKE SA; ``protocol_id`` is then meaningless (sent as 0, ignored)."""

    @property
    def payload_type(self) -> int:
        return PayloadType.NOTIFY

    notify_type: int
    protocol_id: int = 0
    spi: bytes = b""
    data: bytes = b""
    critical: bool = False

    # Written out, same signature as the generated one: mypyc compiles it
    # into a native constructor (see rkmp_frr/build.py).
    def __init__(
        self,
        notify_type: int,
        protocol_id: int = 0,
        spi: bytes = b"",
        data: bytes = b"",
        critical: bool = False,
    ) -> None:
        object.__setattr__(self, "notify_type", notify_type)
        object.__setattr__(self, "protocol_id", protocol_id)
        object.__setattr__(self, "spi", spi)
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "critical", critical)

    @property
    def is_error(self) -> bool:
        """RFC 7296 §3.10.1: types below 16384 are errors."""
        return self.notify_type <= NOTIFY_ERROR_MAX

    def encode_body(self) -> bytes:
        notify_type, protocol_id, spi, data = (
            self.notify_type,
            self.protocol_id,
            self.spi,
            self.data,
        )
        if (
            spi == b""  # about the IKE SA: any protocol ID (§3.10)
            and type(spi) is bytes
            and type(data) is bytes
            and len(data) <= _MAX_DATA_AFTER_4
            and type(self.critical) is bool
            and isinstance(protocol_id, int)
            and isinstance(notify_type, int)
            and 0 <= protocol_id <= UINT8_MAX
            and 0 <= notify_type <= UINT16_MAX
        ):
            return _U8_U8_U16.pack(protocol_id, 0, notify_type) + data
        return self._encode_checked()

    def _encode_checked(self) -> bytes:
        check_bool("NotifyPayload.critical", self.critical)
        protocol_id = check_uint("NotifyPayload.protocol_id", self.protocol_id, UINT8_MAX)
        spi = check_bytes("NotifyPayload.spi", self.spi, UINT8_MAX)
        if not _notify_spi_size_allowed(protocol_id, len(spi)):
            raise EncodeError(f"notify SPI size {len(spi)} is invalid for protocol {protocol_id}")
        notify_type = check_uint("NotifyPayload.notify_type", self.notify_type, UINT16_MAX)
        data = _check_data("NotifyPayload.data", self.data, 4 + len(spi))
        return _U8_U8_U16.pack(protocol_id, len(spi), notify_type) + spi + data


def _notify_spi_size_allowed(protocol_id: int, spi_size: int) -> bool:
    """§3.10: an empty SPI is always allowed; otherwise it must suit the
    protocol, and protocol 0 (none) cannot have one."""
    if spi_size == 0:
        return True
    return protocol_id != ProtocolId.NONE and spi_size_allowed(protocol_id, spi_size)


@dataclass(frozen=True, slots=True)
class DeletePayload:
    """Delete (RFC 7296 §3.11). ``spi_size`` is explicit so that an empty
    list still says which SPI size it has; every SPI has that size. For the
    IKE SA the size is 0 and the list is empty."""

    @property
    def payload_type(self) -> int:
        return PayloadType.DELETE

    protocol_id: int
    spi_size: int
    spis: tuple[bytes, ...]
    critical: bool = False

    def encode_body(self) -> bytes:
        check_bool("DeletePayload.critical", self.critical)
        protocol_id = check_uint("DeletePayload.protocol_id", self.protocol_id, UINT8_MAX)
        spi_size = check_uint("DeletePayload.spi_size", self.spi_size, UINT8_MAX)
        problem = _delete_problem(protocol_id, spi_size, len(self.spis))
        if problem:
            raise EncodeError(problem)
        spis = b"".join(
            check_bytes("DeletePayload.spis[]", spi, spi_size, spi_size) for spi in self.spis
        )
        if len(spis) > MAX_BODY_LENGTH - 4:
            raise EncodeError("Delete payload SPI list too long")  # 1024 SPIs of 255 octets
        return _U8_U8_U16.pack(protocol_id, spi_size, len(self.spis)) + spis


def _delete_problem(protocol_id: int, spi_size: int, count: int) -> str | None:
    """§3.11: size 0 for IKE (no SPIs: they are in the header), the
    protocol's size otherwise; SPIs of size 0 cannot be counted."""
    if protocol_id == ProtocolId.IKE:
        if spi_size or count:
            return "Delete for the IKE SA must have SPI size 0 and no SPIs"
        return None
    if spi_size == 0 and count:
        return "Delete payload lists SPIs of size 0"
    if count > MAX_DELETE_SPIS:
        return f"Delete payload lists more than {MAX_DELETE_SPIS} SPIs"
    if count and not spi_size_allowed(protocol_id, spi_size):
        return f"Delete SPI size {spi_size} is invalid for protocol {protocol_id}"
    return None


@dataclass(frozen=True, slots=True)
class VendorIdPayload:
    """Vendor ID (RFC 7296 §3.12)."""

    @property
    def payload_type(self) -> int:
        return PayloadType.VENDOR_ID

    data: bytes
    critical: bool = False

    def encode_body(self) -> bytes:
        check_bool("VendorIdPayload.critical", self.critical)
        return _check_data("VendorIdPayload.data", self.data)


@dataclass(frozen=True, slots=True)
class EncryptedPayload:
    """Encrypted and Authenticated, SK (RFC 7296 §3.14).

    ``first_payload`` is the Next Payload field of SK's own generic header:
    the type of the first inner payload (0 for an empty SK, e.g. a liveness
    check). ``data`` = IV | ciphertext | ICV, opaque to the codec. SK must be
    the last payload of a message.
    """

    @property
    def payload_type(self) -> int:
        return PayloadType.SK

    first_payload: int
    data: bytes
    critical: bool = False

    # Written out, same signature as the generated one: mypyc compiles it
    # into a native constructor (see rkmp_frr/build.py).
    def __init__(self, first_payload: int, data: bytes, critical: bool = False) -> None:
        object.__setattr__(self, "first_payload", first_payload)
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "critical", critical)

    def encode_body(self) -> bytes:
        first, data = self.first_payload, self.data
        if (
            type(data) is bytes
            and len(data) <= MAX_BODY_LENGTH
            and type(self.critical) is bool
            and isinstance(first, int)
            and 0 <= first <= UINT8_MAX
        ):
            return data
        check_bool("EncryptedPayload.critical", self.critical)
        check_uint("EncryptedPayload.first_payload", first, UINT8_MAX)
        return _check_data("EncryptedPayload.data", data)


@dataclass(frozen=True, slots=True)
class EncryptedFragmentPayload:
    """Encrypted Fragment, SKF (RFC 7383 §2.5).

    Fragment numbers run 1..total; ``first_payload`` is the type of the first
    inner payload in fragment 1 and must be 0 in the others. ``data`` = IV |
    ciphertext | ICV, opaque. SKF must be the last payload of a message.
    """

    @property
    def payload_type(self) -> int:
        return PayloadType.SKF

    fragment_number: int
    total_fragments: int
    first_payload: int
    data: bytes
    critical: bool = False

    def encode_body(self) -> bytes:
        check_bool("EncryptedFragmentPayload.critical", self.critical)
        check_uint("EncryptedFragmentPayload.first_payload", self.first_payload, UINT8_MAX)
        total = check_uint(
            "EncryptedFragmentPayload.total_fragments", self.total_fragments, UINT16_MAX, 1
        )
        number = check_uint(
            "EncryptedFragmentPayload.fragment_number", self.fragment_number, total, 1
        )
        if number > 1 and self.first_payload:
            raise EncodeError("only fragment 1 may name a first inner payload")
        data = _check_data("EncryptedFragmentPayload.data", self.data, 4)
        return _U16_U16.pack(number, total) + data


@dataclass(frozen=True, slots=True)
class RawPayload:
    """A known IKEv2 payload RKMP does not use (TSi, TSr, CP, EAP), kept
    opaque so that it round-trips."""

    payload_type: int
    data: bytes
    critical: bool = False

    def encode_body(self) -> bytes:
        check_bool("RawPayload.critical", self.critical)
        if self.payload_type not in RAW_PAYLOAD_TYPES:
            raise EncodeError(f"RawPayload cannot have type {self.payload_type!r}")
        return _check_data("RawPayload.data", self.data)


@dataclass(frozen=True, slots=True)
class UnknownPayload:
    """A payload of a type the codec does not know.

    With the critical bit clear it is kept (RFC 7296 §2.5 lets the receiver
    skip it; keeping it makes encoding the exact inverse of decoding). With
    the critical bit set, decoding raises ``UnsupportedCriticalPayload``
    instead; encoding such an object is allowed, to test peers with it.
    """

    payload_type: int
    data: bytes
    critical: bool = False

    def encode_body(self) -> bytes:
        check_bool("UnknownPayload.critical", self.critical)
        check_uint("UnknownPayload.payload_type", self.payload_type, UINT8_MAX, 1)
        if self.payload_type in KNOWN_PAYLOAD_TYPES:
            raise EncodeError(f"payload type {self.payload_type} is known, not UnknownPayload")
        return _check_data("UnknownPayload.data", self.data)


Payload: TypeAlias = (
    SaPayload
    | KePayload
    | IdPayload
    | CertPayload
    | CertReqPayload
    | AuthPayload
    | NoncePayload
    | NotifyPayload
    | DeletePayload
    | VendorIdPayload
    | EncryptedPayload
    | EncryptedFragmentPayload
    | RawPayload
    | UnknownPayload
)

RAW_PAYLOAD_TYPES = frozenset({PayloadType.TSi, PayloadType.TSr, PayloadType.CP, PayloadType.EAP})
# Payloads that end the chain: their Next Payload names the first inner one.
ENCRYPTED_PAYLOAD_TYPES = frozenset({PayloadType.SK, PayloadType.SKF})


# --- decoders: (datagram, body start, body end, critical) -> payload ---------
# Offsets are absolute so that errors point into the datagram. Objects are
# made with the ``_make`` constructors: the values are checked right here.

_make_ke = maker3(KePayload, "group", "data", "critical")
_make_id = maker4(IdPayload, "id_type", "data", "initiator", "critical")
_make_auth = maker3(AuthPayload, "method", "data", "critical")
_make_nonce = maker2(NoncePayload, "data", "critical")
_make_notify = maker5(NotifyPayload, "notify_type", "protocol_id", "spi", "data", "critical")
_make_encrypted = maker3(EncryptedPayload, "first_payload", "data", "critical")

Decoder: TypeAlias = Callable[[bytes, int, int, bool], Payload]


def _decode_ke(data: bytes, start: int, end: int, critical: bool) -> KePayload:
    if end - start < 4:
        raise MalformedMessage("KE payload shorter than 4 octets", start)
    group, reserved = _U16_U16.unpack_from(data, start)
    if reserved:
        raise MalformedMessage("KE payload RESERVED field is not zero", start + 2)
    return _make_ke(group, data[start + 4 : end], critical)


def _id_decoder(initiator: bool) -> Decoder:
    def decode(data: bytes, start: int, end: int, critical: bool) -> IdPayload:
        if end - start < 4:
            raise MalformedMessage("ID payload shorter than 4 octets", start)
        id_type, reserved1, reserved2 = _U8_U8_U16.unpack_from(data, start)
        if reserved1 or reserved2:
            raise MalformedMessage("ID payload RESERVED field is not zero", start + 1)
        return _make_id(id_type, data[start + 4 : end], initiator, critical)

    return decode


def _decode_cert(data: bytes, start: int, end: int, critical: bool) -> CertPayload:
    if end == start:
        raise MalformedMessage("CERT payload has no encoding octet", start)
    return CertPayload(data[start], data[start + 1 : end], critical=critical)


def _decode_certreq(data: bytes, start: int, end: int, critical: bool) -> CertReqPayload:
    if end == start:
        raise MalformedMessage("CERTREQ payload has no encoding octet", start)
    return CertReqPayload(data[start], data[start + 1 : end], critical=critical)


def _decode_auth(data: bytes, start: int, end: int, critical: bool) -> AuthPayload:
    if end - start < 4:
        raise MalformedMessage("AUTH payload shorter than 4 octets", start)
    method, reserved1, reserved2 = _U8_U8_U16.unpack_from(data, start)
    if reserved1 or reserved2:
        raise MalformedMessage("AUTH payload RESERVED field is not zero", start + 1)
    return _make_auth(method, data[start + 4 : end], critical)


def _decode_nonce(data: bytes, start: int, end: int, critical: bool) -> NoncePayload:
    if not NONCE_MIN_LENGTH <= end - start <= NONCE_MAX_LENGTH:
        raise MalformedMessage(
            f"nonce of {end - start} octets is outside {NONCE_MIN_LENGTH}..{NONCE_MAX_LENGTH}",
            start,
        )
    return _make_nonce(data[start:end], critical)


def _decode_notify(data: bytes, start: int, end: int, critical: bool) -> NotifyPayload:
    if end - start < 4:
        raise MalformedMessage("Notify payload shorter than 4 octets", start)
    protocol_id, spi_size, notify_type = _U8_U8_U16.unpack_from(data, start)
    if not spi_size:  # about the IKE SA, the common case
        return _make_notify(notify_type, protocol_id, b"", data[start + 4 : end], critical)
    spi_end = start + 4 + spi_size
    if spi_end > end:
        raise MalformedMessage(f"Notify SPI size {spi_size} exceeds payload", start + 1)
    if not _notify_spi_size_allowed(protocol_id, spi_size):
        raise MalformedMessage(
            f"Notify SPI size {spi_size} is invalid for protocol {protocol_id}", start + 1
        )
    return _make_notify(
        notify_type, protocol_id, data[start + 4 : spi_end], data[spi_end:end], critical
    )


def _decode_delete(data: bytes, start: int, end: int, critical: bool) -> DeletePayload:
    if end - start < 4:
        raise MalformedMessage("Delete payload shorter than 4 octets", start)
    protocol_id, spi_size, count = _U8_U8_U16.unpack_from(data, start)
    problem = _delete_problem(protocol_id, spi_size, count)
    if problem:
        raise MalformedMessage(problem, start)
    spis_start = start + 4
    if count * spi_size != end - spis_start:
        raise MalformedMessage(
            f"Delete payload announces {count} SPIs of {spi_size} octets "
            f"but carries {end - spis_start} octets",
            start + 2,
        )
    spis: tuple[bytes, ...] = ()
    if spi_size:  # size 0 lists no SPIs (checked above); range() needs a step
        spis = tuple(data[pos : pos + spi_size] for pos in range(spis_start, end, spi_size))
    return DeletePayload(protocol_id, spi_size, spis, critical=critical)


def _decode_vendor_id(data: bytes, start: int, end: int, critical: bool) -> VendorIdPayload:
    return VendorIdPayload(data[start:end], critical=critical)


def _raw_decoder(payload_type: int) -> Decoder:
    def decode(data: bytes, start: int, end: int, critical: bool) -> RawPayload:
        return RawPayload(payload_type, data[start:end], critical=critical)

    return decode


def decode_encrypted(
    data: bytes, start: int, end: int, critical: bool, next_payload: int
) -> EncryptedPayload:
    """SK body; ``next_payload`` is its generic header's Next Payload."""
    return _make_encrypted(next_payload, data[start:end], critical)


def decode_encrypted_fragment(
    data: bytes, start: int, end: int, critical: bool, next_payload: int
) -> EncryptedFragmentPayload:
    """SKF body (RFC 7383 §2.5)."""
    if end - start < 4:
        raise MalformedMessage("SKF payload shorter than 4 octets", start)
    number, total = _U16_U16.unpack_from(data, start)
    if total == 0 or not 1 <= number <= total:
        raise MalformedMessage(f"SKF fragment number {number} of {total}", start)
    if number > 1 and next_payload:
        raise MalformedMessage(
            f"SKF fragment {number} has Next Payload {next_payload}, expected 0", start - 4
        )
    return EncryptedFragmentPayload(
        number, total, next_payload, data[start + 4 : end], critical=critical
    )


DECODERS: dict[int, Decoder] = {
    PayloadType.SA: decode_sa,
    PayloadType.KE: _decode_ke,
    PayloadType.IDi: _id_decoder(initiator=True),
    PayloadType.IDr: _id_decoder(initiator=False),
    PayloadType.CERT: _decode_cert,
    PayloadType.CERTREQ: _decode_certreq,
    PayloadType.AUTH: _decode_auth,
    PayloadType.NONCE: _decode_nonce,
    PayloadType.NOTIFY: _decode_notify,
    PayloadType.DELETE: _decode_delete,
    PayloadType.VENDOR_ID: _decode_vendor_id,
    **{t: _raw_decoder(int(t)) for t in RAW_PAYLOAD_TYPES},
}

KNOWN_PAYLOAD_TYPES = frozenset(DECODERS) | ENCRYPTED_PAYLOAD_TYPES

__all__ = [
    "AuthPayload",
    "CertPayload",
    "CertReqPayload",
    "DeletePayload",
    "EncryptedFragmentPayload",
    "EncryptedPayload",
    "IdPayload",
    "KePayload",
    "NoncePayload",
    "NotifyPayload",
    "Payload",
    "Proposal",
    "RawPayload",
    "SaPayload",
    "Transform",
    "TransformAttribute",
    "UnknownPayload",
    "VendorIdPayload",
]
