"""SA payload: proposals, transforms, attributes (RFC 7296 §3.3)."""

from __future__ import annotations

import pytest

from rkmp_frr.wire import (
    EncodeError,
    MalformedMessage,
    Proposal,
    SaPayload,
    Transform,
    TransformAttribute,
    decode_payloads,
    encode_payloads,
)
from rkmp_frr.wire import sa as sa_module
from rkmp_frr.wire.constants import (
    EncrId,
    EsnId,
    IntegId,
    KeId,
    PayloadType,
    PrfId,
    ProtocolId,
    TransformAttributeType,
    TransformType,
)
from rkmp_frr.wire.sa import MAX_ATTRIBUTES, MAX_PROPOSALS, MAX_TRANSFORMS

from .vectors import hexbytes

KEY_LENGTH = TransformAttributeType.KEY_LENGTH


def key_length(bits: int) -> tuple[TransformAttribute, ...]:
    return (TransformAttribute(KEY_LENGTH, bits),)


IKE_SA = SaPayload(
    (
        Proposal(
            1,
            ProtocolId.IKE,
            b"",
            (
                Transform(TransformType.ENCR, EncrId.AES_CBC, key_length(256)),
                Transform(TransformType.PRF, PrfId.HMAC_SHA2_256),
                Transform(TransformType.INTEG, IntegId.HMAC_SHA2_256_128),
                Transform(TransformType.KE, KeId.CURVE25519),
            ),
        ),
    )
)
IKE_SA_WIRE = hexbytes(
    """
    00 00 0030                          # SA, len 48
    00 00 002c 01 01 00 04              # last proposal, len 44, #1, IKE, no SPI, 4 transforms
      03 00 000c 01 00 000c 800e 0100   # ENCR AES_CBC, KEY_LENGTH 256 (TV)
      03 00 0008 02 00 0005             # PRF HMAC_SHA2_256
      03 00 0008 03 00 000c             # INTEG HMAC_SHA2_256_128
      00 00 0008 04 00 001f             # KE 25519, last transform
    """
)

ESP_SPI = bytes.fromhex("c0ffee01")
ESP_SA = SaPayload(
    (
        Proposal(
            1,
            ProtocolId.ESP,
            ESP_SPI,
            (
                Transform(TransformType.ENCR, EncrId.AES_GCM_16, key_length(256)),
                Transform(TransformType.ESN, EsnId.NO_ESN),
            ),
        ),
        Proposal(
            2,
            ProtocolId.ESP,
            ESP_SPI,
            (
                Transform(TransformType.ENCR, EncrId.AES_CBC, key_length(128)),
                Transform(TransformType.INTEG, IntegId.HMAC_SHA2_256_128),
                Transform(TransformType.ESN, EsnId.NO_ESN),
            ),
        ),
    )
)
ESP_SA_WIRE = hexbytes(
    """
    00 00 004c                          # SA, len 76
    02 00 0020 01 03 04 02 c0ffee01     # more proposals, len 32, #1, ESP, SPI size 4, 2 transforms
      03 00 000c 01 00 0014 800e 0100   # ENCR AES_GCM_16, 256 bits
      00 00 0008 05 00 0000             # ESN none, last
    00 00 0028 02 03 04 03 c0ffee01     # last proposal, len 40, #2, ESP, SPI size 4, 3 transforms
      03 00 000c 01 00 000c 800e 0080   # ENCR AES_CBC, 128 bits
      03 00 0008 03 00 000c             # INTEG HMAC_SHA2_256_128
      00 00 0008 05 00 0000             # ESN none, last
    """
)

# TCP-MD5 routing SA (Protocol ID 202, 1-octet SPI) with a private-use
# transform carrying a TLV attribute.
TLV_SA = SaPayload(
    (
        Proposal(
            1,
            ProtocolId.TCP_MD5,
            b"\x07",
            (Transform(TransformType.RKMP_OPTIONS, 1, (TransformAttribute(1, b"abc"),)),),
        ),
    )
)
TLV_SA_WIRE = hexbytes(
    """
    00 00 001c                          # SA, len 28
    00 00 0018 01 ca 01 01 07           # len 24, #1, TCP_MD5, SPI size 1, 1 transform, SPI 07
      00 00 000f f1 00 0001             # type 241, id 1, len 15
        0001 0003 616263                # AF clear: TLV, type 1, length 3, "abc"
    """
)

# A responder's SA: one proposal keeping the number it accepted (§3.3.1).
ANSWER_SA = SaPayload(
    (Proposal(3, ProtocolId.ESP, ESP_SPI, (Transform(TransformType.ENCR, EncrId.NULL),)),)
)
ANSWER_SA_WIRE = hexbytes("00 00 0018  00 00 0014 03 03 04 01 c0ffee01  00 00 0008 01 00 000b")


@pytest.mark.parametrize(
    ("payload", "wire"),
    [
        (IKE_SA, IKE_SA_WIRE),
        (ESP_SA, ESP_SA_WIRE),
        (TLV_SA, TLV_SA_WIRE),
        (ANSWER_SA, ANSWER_SA_WIRE),
    ],
    ids=["ike", "esp-two-proposals", "tlv-attribute", "answer-number-3"],
)
def test_sa_vectors(payload: SaPayload, wire: bytes) -> None:
    assert encode_payloads([payload]) == (PayloadType.SA, wire)
    assert decode_payloads(PayloadType.SA, wire) == (payload,)


def test_key_length_property() -> None:
    encr = IKE_SA.proposals[0].transforms[0]
    assert encr.key_length == 256
    assert IKE_SA.proposals[0].transforms[1].key_length is None
    # A TLV attribute of type 14 is not a (TV) key length.
    assert Transform(1, 12, (TransformAttribute(KEY_LENGTH, b"\x01\x00"),)).key_length is None


def patched(wire: bytes, offset: int, new: str) -> bytes:
    """``wire`` with the octets at ``offset`` replaced by hex ``new``."""
    octets = bytes.fromhex(new)
    return wire[:offset] + octets + wire[offset + len(octets) :]


# Offsets into ESP_SA_WIRE: proposal 1 header at 4, its transforms at 16 and
# 28; proposal 2 header at 36, its transforms at 48, 60, 68.
SA_ERRORS: list[tuple[str, bytes, str, int]] = [
    ("empty SA", hexbytes("00 00 0004"), "SA proposal header truncated", 4),
    ("last substruc 1", patched(ESP_SA_WIRE, 4, "01"), "Last Substruc 1 is not 0 or 2", 4),
    ("first proposal marked last", patched(ESP_SA_WIRE, 4, "00"), "after the last SA proposal", 36),
    ("last proposal marked more", patched(ESP_SA_WIRE, 36, "02"), "marked not last", 76),
    ("proposal RESERVED", patched(ESP_SA_WIRE, 5, "01"), "proposal RESERVED", 5),
    (
        "proposal length too big",
        patched(ESP_SA_WIRE, 6, "0049"),
        "SA proposal length 73 exceeds",
        6,
    ),
    ("proposal length < SPI", patched(ESP_SA_WIRE, 6, "000b"), "too short for its SPI", 6),
    ("proposal numbers 1, 3", patched(ESP_SA_WIRE, 40, "03"), "SA proposal 2 has number 3", 40),
    ("proposal numbers 2, 2", patched(ESP_SA_WIRE, 8, "02"), "SA proposal 1 has number 2", 8),
    ("ESP SPI size 8", patched(ESP_SA_WIRE, 10, "08"), "SPI size 8 is invalid for protocol 3", 10),
    ("IKE SPI size 4", patched(ESP_SA_WIRE, 9, "01"), "SPI size 4 is invalid for protocol 1", 10),
    ("no transforms", patched(ESP_SA_WIRE, 11, "00"), "has no transforms", 11),
    ("3 announced, 2 present", patched(ESP_SA_WIRE, 11, "03"), "transform 2 of 3 has Last", 28),
    ("1 announced, 2 present", patched(ESP_SA_WIRE, 11, "01"), "transform 1 of 1 has Last", 16),
    ("last transform marked more", patched(ESP_SA_WIRE, 28, "03"), "transform 2 of 2 has Last", 28),
    ("transform RESERVED 1", patched(ESP_SA_WIRE, 17, "01"), "transform RESERVED", 16),
    ("transform RESERVED 2", patched(ESP_SA_WIRE, 21, "01"), "transform RESERVED", 16),
    ("transform length 7", patched(ESP_SA_WIRE, 18, "0007"), "transform length 7", 18),
    ("transform length too big", patched(ESP_SA_WIRE, 18, "0015"), "transform length 21", 18),
    (
        "transform shorter: 2 octets left",
        patched(ESP_SA_WIRE, 18, "000a"),
        "attribute truncated",
        24,
    ),
    ("TLV length exceeds transform", patched(TLV_SA_WIRE, 23, "0004"), "attribute length 4", 23),
    (
        "transforms exceed proposal",
        hexbytes("00 00 001c 00 00 0014 01 01 00 02 03 00 0008 01 00 000c 00 00 0008 02 00 0005"),
        "announces 2 transforms but holds 1",
        20,
    ),
    ("lone proposal number 0", patched(ANSWER_SA_WIRE, 8, "00"), "SA proposal 1 has number 0", 8),
]


@pytest.mark.parametrize(
    ("wire", "reason", "offset"), [e[1:] for e in SA_ERRORS], ids=[e[0] for e in SA_ERRORS]
)
def test_sa_structure_errors(wire: bytes, reason: str, offset: int) -> None:
    with pytest.raises(MalformedMessage) as info:
        decode_payloads(PayloadType.SA, wire)
    assert reason in info.value.reason
    assert info.value.offset == offset


def _sa_wire(proposal_count: int, transform_count: int, attribute_count: int) -> bytes:
    attributes = bytes.fromhex("800e0080") * attribute_count
    transform = (
        bytes.fromhex("0000")
        + (8 + len(attributes)).to_bytes(2, "big")
        + bytes.fromhex("01000014")
        + attributes
    )
    transforms = b"".join(
        (b"\x03" if i < transform_count - 1 else b"\x00") + transform[1:]
        for i in range(transform_count)
    )
    proposals = b"".join(
        (b"\x02" if n < proposal_count else b"\x00")
        + b"\x00"
        + (8 + len(transforms)).to_bytes(2, "big")
        + bytes([n, 99, 0, transform_count])
        + transforms
        for n in range(1, proposal_count + 1)
    )
    return b"\x00\x00" + (4 + len(proposals)).to_bytes(2, "big") + proposals


def test_count_bounds_are_enforced() -> None:
    decode_payloads(PayloadType.SA, _sa_wire(MAX_PROPOSALS, 1, 0))
    decode_payloads(PayloadType.SA, _sa_wire(1, MAX_TRANSFORMS, 0))
    decode_payloads(PayloadType.SA, _sa_wire(1, 1, MAX_ATTRIBUTES))
    with pytest.raises(MalformedMessage, match=f"more than {MAX_PROPOSALS} proposals"):
        decode_payloads(PayloadType.SA, _sa_wire(MAX_PROPOSALS + 1, 1, 0))
    with pytest.raises(MalformedMessage, match=f"more than {MAX_TRANSFORMS} transforms"):
        decode_payloads(PayloadType.SA, _sa_wire(1, MAX_TRANSFORMS + 1, 0))
    with pytest.raises(MalformedMessage, match=f"more than {MAX_ATTRIBUTES} attributes"):
        decode_payloads(PayloadType.SA, _sa_wire(1, 1, MAX_ATTRIBUTES + 1))


def test_unknown_protocol_and_transform_numbers_decode() -> None:
    # Protocol 99 (unknown: any SPI size), transform type 200, id 60000.
    wire = hexbytes("00 00 001b  00 00 0017 01 63 03 01 aabbcc  00 00 000c c8 00 ea60 0001 0000")
    (sa,) = decode_payloads(PayloadType.SA, wire)
    assert sa == SaPayload(
        (Proposal(1, 99, b"\xaa\xbb\xcc", (Transform(200, 60000, (TransformAttribute(1, b""),)),)),)
    )


ONE_TRANSFORM = (Transform(TransformType.ENCR, EncrId.AES_CBC),)


@pytest.mark.parametrize(
    "payload",
    [
        SaPayload(()),
        SaPayload((Proposal(1, 1, b"", ONE_TRANSFORM), Proposal(3, 1, b"", ONE_TRANSFORM))),
        SaPayload((Proposal(2, 1, b"", ONE_TRANSFORM), Proposal(2, 1, b"", ONE_TRANSFORM))),
        SaPayload((Proposal(0, 1, b"", ONE_TRANSFORM),)),
        SaPayload((Proposal(1, 3, b"\x00" * 8, ONE_TRANSFORM),)),
        SaPayload((Proposal(1, 201, b"\x00\x00", ONE_TRANSFORM),)),
        SaPayload((Proposal(1, 256, b"", ONE_TRANSFORM),)),
        SaPayload((Proposal(1, 1, b"", ()),)),
        SaPayload((Proposal(1, 1, b"", (Transform(256, 1),)),)),
        SaPayload((Proposal(1, 1, b"", (Transform(1, 0x10000),)),)),
        SaPayload((Proposal(1, 1, b"", (Transform(1, 1, (TransformAttribute(0x8000, 1),)),)),)),
        SaPayload((Proposal(1, 1, b"", (Transform(1, 1, (TransformAttribute(14, 0x10000),)),)),)),
        SaPayload((Proposal(1, 1, b"", (Transform(1, 1, (TransformAttribute(14, -1),)),)),)),
        SaPayload(
            (Proposal(1, 1, b"", (Transform(1, 1, (TransformAttribute(1, b"\x00" * 0x10000),)),)),)
        ),
        SaPayload((Proposal(1, 1, b"", (Transform(1, 1, key_length(128) * 17),)),)),
        SaPayload((Proposal(1, 1, b"", ONE_TRANSFORM * 129),)),
        SaPayload(tuple(Proposal(n, 1, b"", ONE_TRANSFORM) for n in range(1, 66))),
    ],
    ids=lambda p: repr(p)[:80],
)
def test_encoding_invalid_sa_raises(payload: SaPayload) -> None:
    with pytest.raises(EncodeError):
        encode_payloads([payload])


def test_identical_sa_bodies_decode_to_one_cached_object() -> None:
    first = decode_payloads(PayloadType.SA, IKE_SA_WIRE)[0]
    again = decode_payloads(PayloadType.SA, bytes(IKE_SA_WIRE))[0]
    assert first == IKE_SA and again is first  # immutable: sharing is safe
    critical = bytearray(IKE_SA_WIRE)
    critical[1] = 0x80
    flagged = decode_payloads(PayloadType.SA, bytes(critical))[0]
    assert (
        isinstance(flagged, SaPayload)
        and flagged.critical
        and flagged.proposals == (IKE_SA.proposals)
    )
    assert not first.critical  # the cached object is not the critical one


def test_sa_cache_stays_bounded_and_errors_are_not_cached() -> None:
    for number in range(1, 2 * sa_module._CACHE_ENTRIES):
        wire = bytearray(IKE_SA_WIRE)
        wire[8] = number % 256 or 1  # proposal number of a lone proposal
        wire[18] = number // 256  # ENCR transform ID, high octet
        decode_payloads(PayloadType.SA, bytes(wire))
        assert len(sa_module._decoded) <= sa_module._CACHE_ENTRIES
    bad = bytearray(IKE_SA_WIRE)
    bad[5] = 1  # proposal RESERVED
    for _ in range(2):
        with pytest.raises(MalformedMessage, match="RESERVED"):
            decode_payloads(PayloadType.SA, bytes(bad))
