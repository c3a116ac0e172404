"""The IKE header (RFC 7296 §3.1).

``Next Payload`` and ``Length`` are not fields of :class:`Header`: they
describe the payload chain and the datagram, so the encoder derives them and
the decoder checks them (the length must equal the datagram length exactly).

Flags: the unused flag bits "MUST be sent as zero and MUST be ignored on
receipt" (§3.1). They are kept in ``flags`` (``HeaderFlag`` keeps unknown
bits) so that encoding stays the exact inverse of decoding; test flags with
``&``, never with ``==``.
"""

from __future__ import annotations

from dataclasses import dataclass
from struct import Struct
from struct import error as StructError
from typing import TypeAlias

from rkmp_frr.wire._checks import UINT8_MAX, UINT32_MAX, check_bytes, check_uint
from rkmp_frr.wire._make import native_constructor, slot_setter
from rkmp_frr.wire.constants import (
    HEADER_LENGTH,
    IKE_MAJOR_VERSION,
    IKE_MINOR_VERSION,
    IKE_SPI_LENGTH,
    HeaderFlag,
)
from rkmp_frr.wire.errors import MalformedMessage

# SPIi, SPIr, Next Payload, MjVer|MnVer, Exchange Type, Flags, Message ID, Length.
_HEADER = Struct(">8s8sBBBBII")
assert _HEADER.size == HEADER_LENGTH

# HeaderFlag(n) is slow-ish; all 256 values are precomputed for decoding.
_FLAGS: tuple[HeaderFlag, ...] = tuple(HeaderFlag(n) for n in range(256))
# Flag tests on plain ints: IntFlag's own operators are Python code.
_RESPONSE = int(HeaderFlag.RESPONSE)
_INITIATOR = int(HeaderFlag.INITIATOR)

NIBBLE_MAX = 0x0F

# What the decoders accept; they copy it to bytes once.
BytesLike: TypeAlias = bytes | bytearray | memoryview


@dataclass(frozen=True, slots=True)
class Header:
    """IKE header fields that carry information (RFC 7296 §3.1)."""

    spi_i: bytes
    spi_r: bytes
    exchange_type: int
    flags: HeaderFlag
    message_id: int
    major_version: int = IKE_MAJOR_VERSION
    minor_version: int = IKE_MINOR_VERSION

    # Written out, same signature as the generated one: mypyc compiles it
    # into a native constructor (see rkmp_frr/build.py).
    def __init__(
        self,
        spi_i: bytes,
        spi_r: bytes,
        exchange_type: int,
        flags: HeaderFlag,
        message_id: int,
        major_version: int = IKE_MAJOR_VERSION,
        minor_version: int = IKE_MINOR_VERSION,
    ) -> None:
        object.__setattr__(self, "spi_i", spi_i)
        object.__setattr__(self, "spi_r", spi_r)
        object.__setattr__(self, "exchange_type", exchange_type)
        object.__setattr__(self, "flags", flags)
        object.__setattr__(self, "message_id", message_id)
        object.__setattr__(self, "major_version", major_version)
        object.__setattr__(self, "minor_version", minor_version)

    @property
    def is_response(self) -> bool:
        return bool(int(self.flags) & _RESPONSE)

    @property
    def is_initiator(self) -> bool:
        """The sender is the original initiator of the IKE SA."""
        return bool(int(self.flags) & _INITIATOR)

    def __reduce__(
        self,
    ) -> tuple[type[Header], tuple[bytes, bytes, int, HeaderFlag, int, int, int]]:
        # Pickled through the constructor (decoding errors carry a header): a
        # class compiled by mypyc lacks the state methods slots=True adds.
        return (
            Header,
            (
                self.spi_i,
                self.spi_r,
                self.exchange_type,
                self.flags,
                self.message_id,
                self.major_version,
                self.minor_version,
            ),
        )


_new = Header.__new__  # see _make: the allocator a compiled class accepts
_NATIVE = native_constructor(
    Header,
    ("spi_i", "spi_r", "exchange_type", "flags", "message_id", "major_version", "minor_version"),
)
_set_spi_i = slot_setter(Header, "spi_i")
_set_spi_r = slot_setter(Header, "spi_r")
_set_exchange_type = slot_setter(Header, "exchange_type")
_set_flags = slot_setter(Header, "flags")
_set_message_id = slot_setter(Header, "message_id")
_set_major = slot_setter(Header, "major_version")
_set_minor = slot_setter(Header, "minor_version")


def make_header(
    spi_i: bytes,
    spi_r: bytes,
    exchange_type: int,
    flags: HeaderFlag,
    message_id: int,
    major_version: int,
    minor_version: int,
) -> Header:
    """``Header(...)`` for values the codec produced itself: the same object
    at half the cost of the dataclass constructor (slots set directly);
    compiled, the constructor itself is faster (see _make)."""
    if _NATIVE:
        return Header(spi_i, spi_r, exchange_type, flags, message_id, major_version, minor_version)
    header: Header = _new(Header)
    _set_spi_i(header, spi_i)
    _set_spi_r(header, spi_r)
    _set_exchange_type(header, exchange_type)
    _set_flags(header, flags)
    _set_message_id(header, message_id)
    _set_major(header, major_version)
    _set_minor(header, minor_version)
    return header


def unpack_header(data: bytes) -> tuple[Header, int]:
    """Decode the header of a whole datagram; return it and its Next Payload.

    Checks the datagram is at least a header long and that the Length field
    equals the datagram length. The major version is *not* checked here.
    """
    if len(data) < HEADER_LENGTH:
        raise MalformedMessage(
            f"message of {len(data)} octets is shorter than the IKE header", len(data)
        )
    spi_i, spi_r, next_payload, version, exchange, flags, message_id, length = _HEADER.unpack_from(
        data, 0
    )
    if length != len(data):
        raise MalformedMessage(
            f"header length {length} differs from datagram length {len(data)}", 24
        )
    header = make_header(
        spi_i, spi_r, exchange, _FLAGS[flags], message_id, version >> 4, version & NIBBLE_MAX
    )
    return header, next_payload


def decode_header(data: BytesLike) -> Header:
    """Decode only the header of a datagram (any major version).

    Useful to address an error response to a message whose payloads did not
    decode, e.g. INVALID_MAJOR_VERSION.
    """
    return unpack_header(bytes(data))[0]


def pack_header(header: Header, next_payload: int, length: int) -> bytes:
    """Encode ``header`` with the derived Next Payload and Length fields."""
    spi_i, spi_r = header.spi_i, header.spi_r
    major, minor = header.major_version, header.minor_version
    exchange, flags, message_id = header.exchange_type, header.flags, header.message_id
    # Fast path for well-typed headers: struct checks the integer ranges
    # (B: 0..255, I: 0..2**32-1); anything else takes the checked path below,
    # which names the bad field.
    if (
        type(spi_i) is bytes
        and type(spi_r) is bytes
        and len(spi_i) == IKE_SPI_LENGTH
        and len(spi_r) == IKE_SPI_LENGTH
        and type(major) is int
        and type(minor) is int
        and 0 <= major <= NIBBLE_MAX
        and 0 <= minor <= NIBBLE_MAX
        and isinstance(exchange, int)
        and isinstance(flags, int)
        and isinstance(message_id, int)
        and isinstance(length, int)
    ):
        try:
            return _HEADER.pack(
                spi_i, spi_r, next_payload, major << 4 | minor, exchange, flags, message_id, length
            )
        except StructError:
            pass
    return _pack_header_checked(header, next_payload, length)


def _pack_header_checked(header: Header, next_payload: int, length: int) -> bytes:
    try:
        flags = int(header.flags)
    except (TypeError, ValueError):
        flags = -1
    return _HEADER.pack(
        check_bytes("Header.spi_i", header.spi_i, IKE_SPI_LENGTH, IKE_SPI_LENGTH),
        check_bytes("Header.spi_r", header.spi_r, IKE_SPI_LENGTH, IKE_SPI_LENGTH),
        next_payload,
        check_uint("Header.major_version", header.major_version, NIBBLE_MAX) << 4
        | check_uint("Header.minor_version", header.minor_version, NIBBLE_MAX),
        check_uint("Header.exchange_type", header.exchange_type, UINT8_MAX),
        check_uint("Header.flags", flags, UINT8_MAX),
        check_uint("Header.message_id", header.message_id, UINT32_MAX),
        check_uint("message length", length, UINT32_MAX),
    )
