"""IKE header (RFC 7296 §3.1) and the non-ESP marker (§2.23)."""

from __future__ import annotations

import pytest

from rkmp_frr.wire import (
    EncodeError,
    Header,
    MalformedMessage,
    Message,
    UnsupportedMajorVersion,
    add_non_esp_marker,
    decode_header,
    decode_message,
    encode_message,
    strip_non_esp_marker,
)
from rkmp_frr.wire.constants import ExchangeType, HeaderFlag

from . import ill_typed
from .vectors import hexbytes

# A header-only INFORMATIONAL response, written field by field.
EMPTY_RESPONSE = hexbytes(
    """
    0001020304050607 08090a0b0c0d0e0f   # SPIi, SPIr
    00                                  # Next Payload: none
    20                                  # MjVer 2, MnVer 0
    25                                  # INFORMATIONAL (37)
    20                                  # flags: R
    00000007                            # Message ID 7
    0000001c                            # Length 28
    """
)
EMPTY_RESPONSE_HEADER = Header(
    spi_i=bytes(range(8)),
    spi_r=bytes(range(8, 16)),
    exchange_type=ExchangeType.INFORMATIONAL,
    flags=HeaderFlag.RESPONSE,
    message_id=7,
)


def test_header_only_message_vector() -> None:
    message = Message(EMPTY_RESPONSE_HEADER, ())
    assert encode_message(message) == EMPTY_RESPONSE
    assert decode_message(EMPTY_RESPONSE) == message


def test_header_properties() -> None:
    assert EMPTY_RESPONSE_HEADER.is_response
    assert not EMPTY_RESPONSE_HEADER.is_initiator
    initiator = Header(bytes(8), bytes(8), 34, HeaderFlag.INITIATOR, 0)
    assert initiator.is_initiator and not initiator.is_response


def test_unknown_exchange_type_and_big_message_id_decode_as_ints() -> None:
    data = bytearray(EMPTY_RESPONSE)
    data[18] = 0xF0  # exchange type 240: not ours, still decoded
    data[20:24] = b"\xff\xff\xff\xff"
    message = decode_message(bytes(data))
    assert message.header.exchange_type == 240
    assert message.header.message_id == 0xFFFF_FFFF
    assert encode_message(message) == bytes(data)


def test_unused_flag_bits_are_kept_and_round_trip() -> None:
    data = bytearray(EMPTY_RESPONSE)
    data[19] = 0xE7  # R plus every unused bit
    message = decode_message(bytes(data))
    assert message.header.flags & HeaderFlag.RESPONSE
    assert not message.header.flags & HeaderFlag.INITIATOR
    assert int(message.header.flags) == 0xE7
    assert encode_message(message) == bytes(data)


def test_minor_version_is_kept() -> None:
    data = bytearray(EMPTY_RESPONSE)
    data[17] = 0x2F  # 2.15: RFC 7296 §3.1 says ignore the minor version
    message = decode_message(bytes(data))
    assert message.header.minor_version == 15
    assert encode_message(message) == bytes(data)


@pytest.mark.parametrize("version_octet", [0x10, 0x30, 0xF0, 0x00])
def test_other_major_versions_raise_with_the_header(version_octet: int) -> None:
    data = bytearray(EMPTY_RESPONSE)
    data[17] = version_octet
    with pytest.raises(UnsupportedMajorVersion) as info:
        decode_message(bytes(data))
    assert isinstance(info.value, MalformedMessage)
    assert info.value.header.major_version == version_octet >> 4
    assert info.value.header.message_id == 7
    assert info.value.offset == 17
    # The engine can still read the header to answer INVALID_MAJOR_VERSION,
    # and tests can build such a message.
    assert decode_header(bytes(data)) == info.value.header
    assert encode_message(Message(info.value.header, ())) == bytes(data)


@pytest.mark.parametrize("length", [0, 1, 27])
def test_shorter_than_a_header(length: int) -> None:
    with pytest.raises(MalformedMessage, match="shorter than the IKE header"):
        decode_message(EMPTY_RESPONSE[:length])


@pytest.mark.parametrize("declared", [0, 27, 29, 0xFFFF_FFFF])
def test_length_field_must_equal_datagram_length(declared: int) -> None:
    data = EMPTY_RESPONSE[:24] + declared.to_bytes(4, "big")
    with pytest.raises(MalformedMessage) as info:
        decode_message(data)
    assert info.value.offset == 24
    assert str(info.value) == (
        f"header length {declared} differs from datagram length 28 (at offset 24)"
    )


def test_trailing_octets_beyond_declared_length() -> None:
    with pytest.raises(MalformedMessage, match="differs from datagram length 29"):
        decode_message(EMPTY_RESPONSE + b"\x00")


def test_accepts_bytearray_and_memoryview() -> None:
    assert decode_message(bytearray(EMPTY_RESPONSE)).header == EMPTY_RESPONSE_HEADER
    assert decode_message(memoryview(EMPTY_RESPONSE)).header == EMPTY_RESPONSE_HEADER


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("spi_i", bytes(9)),
        ("spi_r", bytes(7)),
        ("spi_i", "abcdefgh"),
        ("exchange_type", 256),
        ("exchange_type", -1),
        ("flags", 256),
        ("message_id", 1 << 32),
        ("major_version", 16),
        ("minor_version", -1),
    ],
)
def test_encoding_an_invalid_header_raises(field: str, value: object) -> None:
    fields = {
        "spi_i": bytes(8),
        "spi_r": bytes(8),
        "exchange_type": 34,
        "flags": HeaderFlag.INITIATOR,
        "message_id": 0,
        field: value,
    }
    header = ill_typed.build(lambda: Header(**fields))  # type: ignore[arg-type]
    if header is None:  # compiled build: refused at construction
        return
    with pytest.raises(EncodeError, match=field):
        encode_message(Message(header, ()))


def test_encode_error_is_a_value_error() -> None:
    assert issubclass(EncodeError, ValueError)


def test_non_esp_marker_round_trip() -> None:
    marked = add_non_esp_marker(EMPTY_RESPONSE)
    assert marked == b"\x00\x00\x00\x00" + EMPTY_RESPONSE
    assert strip_non_esp_marker(marked) == EMPTY_RESPONSE


@pytest.mark.parametrize(
    "datagram",
    [b"", b"\x00\x00\x00", b"\xff", EMPTY_RESPONSE, b"\x00\x00\x00\x01" + EMPTY_RESPONSE],
)
def test_missing_non_esp_marker(datagram: bytes) -> None:
    # An ESP packet starts with a non-zero SPI; a NAT keepalive is one 0xff.
    with pytest.raises(MalformedMessage, match="non-ESP marker missing"):
        strip_non_esp_marker(datagram)
