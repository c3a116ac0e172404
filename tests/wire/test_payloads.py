"""Byte-exact vectors and error cases for each payload (RFC 7296 §3.4-3.13).

Each vector is the payload alone as a one-payload chain: generic header
(Next Payload 0, flags, Payload Length) then the body, per the RFC figures.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from rkmp_frr.build import is_compiled
from rkmp_frr.wire import (
    AuthPayload,
    CertPayload,
    CertReqPayload,
    DeletePayload,
    EncodeError,
    IdPayload,
    KePayload,
    MalformedMessage,
    NoncePayload,
    NotifyPayload,
    Payload,
    RawPayload,
    UnknownPayload,
    VendorIdPayload,
    decode_payloads,
    encode_payloads,
)
from rkmp_frr.wire.constants import (
    AuthMethod,
    CertEncoding,
    IdType,
    KeId,
    NotifyType,
    PayloadType,
    ProtocolId,
)

from . import ill_typed
from .vectors import X25519_PUBLIC, hexbytes

SHA1_OF_SPKI = bytes.fromhex("a9993e364706816aba3e25717850c26c9cd0d89d")  # SHA1("abc")

VECTORS: list[tuple[str, Payload, int, str]] = [
    (
        "KE x25519",
        KePayload(KeId.CURVE25519, X25519_PUBLIC),
        PayloadType.KE,
        "00 00 0028  001f 0000" + X25519_PUBLIC.hex(),
    ),
    (
        "KE empty data, unknown group",
        KePayload(0xFFFF, b""),
        PayloadType.KE,
        "00 00 0008  ffff 0000",
    ),
    (
        "IDi FQDN",
        IdPayload(IdType.ID_FQDN, b"r1.example.net", initiator=True),
        PayloadType.IDi,
        "00 00 0016  02 000000  72312e6578616d706c652e6e6574",
    ),
    (
        "IDr IPv4",
        IdPayload(IdType.ID_IPV4_ADDR, bytes([192, 0, 2, 1]), initiator=False),
        PayloadType.IDr,
        "00 00 000c  01 000000  c0000201",
    ),
    (
        "CERT X.509 signature",
        CertPayload(CertEncoding.X509_SIGNATURE, bytes.fromhex("3003020101")),
        PayloadType.CERT,
        "00 00 000a  04  3003020101",
    ),
    (
        "CERTREQ one CA hash",
        CertReqPayload(CertEncoding.X509_SIGNATURE, SHA1_OF_SPKI),
        PayloadType.CERTREQ,
        "00 00 0019  04" + SHA1_OF_SPKI.hex(),
    ),
    (
        "CERTREQ empty CA list",
        CertReqPayload(CertEncoding.X509_SIGNATURE, b""),
        PayloadType.CERTREQ,
        "00 00 0005  04",
    ),
    (
        "AUTH shared key MIC",
        AuthPayload(AuthMethod.SHARED_KEY_MIC, bytes(range(32))),
        PayloadType.AUTH,
        "00 00 0028  02 000000" + bytes(range(32)).hex(),
    ),
    (
        "Nonce 16 octets (minimum)",
        NoncePayload(bytes(range(16))),
        PayloadType.NONCE,
        "00 00 0014  000102030405060708090a0b0c0d0e0f",
    ),
    (
        "Notify RKMP_SUPPORTED",
        NotifyPayload(NotifyType.RKMP_SUPPORTED),
        PayloadType.NOTIFY,
        "00 00 0008  00 00 a000",
    ),
    (
        "Notify NO_PROPOSAL_CHOSEN (error)",
        NotifyPayload(NotifyType.NO_PROPOSAL_CHOSEN),
        PayloadType.NOTIFY,
        "00 00 0008  00 00 000e",
    ),
    (
        "Notify REKEY_SA for an ESP SA",
        NotifyPayload(NotifyType.REKEY_SA, ProtocolId.ESP, bytes.fromhex("12345678")),
        PayloadType.NOTIFY,
        "00 00 000c  03 04 4009  12345678",
    ),
    (
        "Notify REKEY_SA for an OSPFv3 SA (2-octet SPI)",
        NotifyPayload(NotifyType.REKEY_SA, ProtocolId.OSPFV3, b"\x01\x02"),
        PayloadType.NOTIFY,
        "00 00 000a  cc 02 4009  0102",
    ),
    (
        "Notify COOKIE with data",
        NotifyPayload(NotifyType.COOKIE, data=b"\xc0\x0c\x1e"),
        PayloadType.NOTIFY,
        "00 00 000b  00 00 4006  c00c1e",
    ),
    (
        "Notify with SPI empty but protocol set (ignored on receipt, kept)",
        NotifyPayload(NotifyType.INITIAL_CONTACT, ProtocolId.IKE),
        PayloadType.NOTIFY,
        "00 00 0008  01 00 4000",
    ),
    (
        "Delete the IKE SA",
        DeletePayload(ProtocolId.IKE, 0, ()),
        PayloadType.DELETE,
        "00 00 0008  01 00 0000",
    ),
    (
        "Delete two ESP SAs",
        DeletePayload(ProtocolId.ESP, 4, (b"\x11" * 4, b"\x22" * 4)),
        PayloadType.DELETE,
        "00 00 0010  03 04 0002  11111111 22222222",
    ),
    (
        "Delete two TCP-AO SAs (1-octet SPIs)",
        DeletePayload(ProtocolId.TCP_AO, 1, (b"\x05", b"\x06")),
        PayloadType.DELETE,
        "00 00 000a  c9 01 0002  05 06",
    ),
    (
        "Delete no ESP SA (count 0)",
        DeletePayload(ProtocolId.ESP, 4, ()),
        PayloadType.DELETE,
        "00 00 0008  03 04 0000",
    ),
    (
        "Vendor ID",
        VendorIdPayload(b"RKMP-FRR"),
        PayloadType.VENDOR_ID,
        "00 00 000c  524b4d502d465252",
    ),
    (
        "TSi kept raw (one IPv4 TS, all addresses and ports)",
        RawPayload(PayloadType.TSi, hexbytes("01000000 07 00 0010 0000 ffff 00000000 ffffffff")),
        PayloadType.TSi,
        "00 00 0018  01000000 07000010 0000ffff 00000000 ffffffff",
    ),
    (
        "EAP kept raw",
        RawPayload(PayloadType.EAP, b"\x01\x02\x00\x04"),
        PayloadType.EAP,
        "00 00 0008  01020004",
    ),
    (
        "unknown type 99, critical clear, kept",
        UnknownPayload(99, b"\xab\xcd"),
        99,
        "00 00 0006  abcd",
    ),
    (
        "critical bit on a known payload is kept",
        NotifyPayload(NotifyType.RKMP_SUPPORTED, critical=True),
        PayloadType.NOTIFY,
        "00 80 0008  00 00 a000",
    ),
]


@pytest.mark.parametrize(
    ("payload", "payload_type", "hex_text"),
    [v[1:] for v in VECTORS],
    ids=[v[0] for v in VECTORS],
)
def test_payload_vector(payload: Payload, payload_type: int, hex_text: str) -> None:
    wire = hexbytes(hex_text)
    assert payload.payload_type == payload_type
    assert encode_payloads([payload]) == (payload_type, wire)
    assert decode_payloads(payload_type, wire) == (payload,)


def test_chain_of_payloads_links_next_payload_fields() -> None:
    chain = hexbytes(
        """
        29 00 0008 00 00 a000   # Notify -> Notify
        2b 00 0008 00 00 4000   # Notify -> Vendor ID
        00 00 0005 ff           # Vendor ID, last
        """
    )
    payloads = (
        NotifyPayload(NotifyType.RKMP_SUPPORTED),
        NotifyPayload(NotifyType.INITIAL_CONTACT),
        VendorIdPayload(b"\xff"),
    )
    assert encode_payloads(payloads) == (PayloadType.NOTIFY, chain)
    assert decode_payloads(PayloadType.NOTIFY, chain) == payloads


def test_empty_chain() -> None:
    assert encode_payloads([]) == (0, b"")
    assert decode_payloads(0, b"") == ()


def test_payload_type_properties() -> None:
    assert IdPayload(1, b"1234", initiator=True).payload_type == PayloadType.IDi
    assert IdPayload(1, b"1234", initiator=False).payload_type == PayloadType.IDr
    assert NoncePayload(bytes(16)).payload_type == PayloadType.NONCE
    assert NotifyPayload(NotifyType.AUTHENTICATION_FAILED).is_error
    assert not NotifyPayload(NotifyType.RKMP_SUPPORTED).is_error


def _malformed(payload_type: int, hex_text: str) -> MalformedMessage:
    with pytest.raises(MalformedMessage) as info:
        decode_payloads(payload_type, hexbytes(hex_text))
    return info.value


@pytest.mark.parametrize(
    ("payload_type", "hex_text", "reason"),
    [
        (PayloadType.KE, "00 00 0007 001f00", "KE payload shorter"),
        (PayloadType.KE, "00 00 0008 001f 0001", "KE payload RESERVED"),
        (PayloadType.IDi, "00 00 0007 020000", "ID payload shorter"),
        (PayloadType.IDr, "00 00 0009 02 000100 61", "ID payload RESERVED"),
        (PayloadType.CERT, "00 00 0004", "CERT payload has no encoding"),
        (PayloadType.CERTREQ, "00 00 0004", "CERTREQ payload has no encoding"),
        (PayloadType.AUTH, "00 00 0006 0200", "AUTH payload shorter"),
        (PayloadType.AUTH, "00 00 0009 02 800000 00", "AUTH payload RESERVED"),
        (PayloadType.NONCE, "00 00 0013" + "00" * 15, "nonce of 15 octets"),
        (PayloadType.NONCE, "00 00 0105" + "00" * 257, "nonce of 257 octets"),
        (PayloadType.NOTIFY, "00 00 0007 000040", "Notify payload shorter"),
        (PayloadType.NOTIFY, "00 00 000b 03 04 4009 123456", "Notify SPI size 4 exceeds"),
        (PayloadType.NOTIFY, "00 00 000a 03 02 4009 1234", "SPI size 2 is invalid for protocol 3"),
        (PayloadType.NOTIFY, "00 00 0009 00 01 4009 12", "SPI size 1 is invalid for protocol 0"),
        (PayloadType.DELETE, "00 00 0007 010000", "Delete payload shorter"),
        (PayloadType.DELETE, "00 00 0008 01 08 0000", "IKE SA must have SPI size 0"),
        (PayloadType.DELETE, "00 00 0008 01 00 0001", "IKE SA must have SPI size 0"),
        (PayloadType.DELETE, "00 00 000c 03 04 0002 11111111", "announces 2 SPIs of 4"),
        (PayloadType.DELETE, "00 00 000d 03 04 0001 11111111 22", "announces 1 SPIs of 4"),
        (PayloadType.DELETE, "00 00 0008 63 00 0003", "SPIs of size 0"),
        (PayloadType.DELETE, "00 00 000a 03 02 0001 1111", "SPI size 2 is invalid"),
        (PayloadType.DELETE, "00 00 0409 63 01 0401" + "00" * 1025, "more than 1024 SPIs"),
    ],
)
def test_payload_body_errors(payload_type: int, hex_text: str, reason: str) -> None:
    error = _malformed(payload_type, hex_text)
    assert reason in error.reason
    assert 0 <= error.offset <= len(hexbytes(hex_text))


@pytest.mark.parametrize(
    "payload",
    [
        KePayload(0x10000, b""),
        IdPayload(256, b"x", initiator=True),
        CertPayload(-1, b""),
        CertReqPayload(4, b"\x00" * 65531),  # body 65532 > 65531
        NoncePayload(b"\x00" * 15),
        NoncePayload(b"\x00" * 257),
        NotifyPayload(0x10000),
        NotifyPayload(NotifyType.REKEY_SA, ProtocolId.ESP, b"\x00" * 8),
        NotifyPayload(NotifyType.REKEY_SA, 0, b"\x00"),
        DeletePayload(ProtocolId.IKE, 8, ()),
        DeletePayload(ProtocolId.ESP, 4, (b"\x00" * 5,)),
        DeletePayload(ProtocolId.ESP, 8, (b"\x00" * 8,)),
        DeletePayload(99, 0, (b"",)),
        RawPayload(PayloadType.NOTIFY, b""),
        UnknownPayload(PayloadType.NOTIFY, b""),
        UnknownPayload(0, b""),
        UnknownPayload(256, b""),
    ],
    ids=repr,
)
def test_encoding_invalid_payload_raises(payload: Payload) -> None:
    with pytest.raises(EncodeError):
        encode_payloads([payload])


@pytest.mark.parametrize(
    "factory",
    [
        lambda: KePayload(31, "not bytes"),  # type: ignore[arg-type]
        lambda: IdPayload(1, b"x", initiator=1),  # type: ignore[arg-type]
        lambda: AuthPayload(2, b"", critical=1),  # type: ignore[arg-type]
    ],
)
def test_encoding_ill_typed_payload_raises(factory: Callable[[], Payload]) -> None:
    payload = ill_typed.build(factory)
    if payload is None:  # compiled build: refused at construction
        return
    with pytest.raises(EncodeError):
        encode_payloads([payload])


def test_encoding_a_non_payload_raises() -> None:
    # A compiled build checks the declared element type when iterating.
    refused = TypeError if is_compiled() else EncodeError
    with pytest.raises(refused, match=r"not a payload|object expected; got str"):
        encode_payloads(["nonce"])  # type: ignore[list-item]


def test_max_body_length_encodes_and_decodes() -> None:
    payload = VendorIdPayload(b"\x00" * 65531)
    first, wire = encode_payloads([payload])
    assert wire[:4] == b"\x00\x00\xff\xff"
    assert decode_payloads(first, wire) == (payload,)
