"""Whole messages and payload chains (RFC 7296 §3.1-3.2, §3.14; RFC 7383)."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from rkmp_frr.wire import (
    MAX_PAYLOADS,
    AuthPayload,
    EncodeError,
    EncryptedFragmentPayload,
    EncryptedPayload,
    Header,
    IdPayload,
    KePayload,
    MalformedMessage,
    Message,
    NoncePayload,
    NotifyPayload,
    Proposal,
    SaPayload,
    Transform,
    TransformAttribute,
    UnknownPayload,
    UnsupportedCriticalPayload,
    UnsupportedMajorVersion,
    VendorIdPayload,
    decode_header,
    decode_message,
    decode_payloads,
    encode_message,
    encode_payloads,
)
from rkmp_frr.wire.constants import (
    AuthMethod,
    EncrId,
    ExchangeType,
    HeaderFlag,
    IdType,
    IntegId,
    KeId,
    NotifyType,
    PayloadType,
    PrfId,
    ProtocolId,
    RkmpOptionId,
    TransformType,
)
from rkmp_frr.wire.message import decode_message_with_header

from .vectors import (
    CAPTURED,
    CAPTURED_INFORMATIONAL_REQUEST,
    CAPTURED_INFORMATIONAL_RESPONSE,
    CAPTURED_SA_INIT_REQUEST,
    CAPTURED_SA_INIT_RESPONSE,
    NONCE_I,
    RKMP_SA_AUTH_INNER,
    RKMP_SA_INIT_REQUEST,
    X25519_PUBLIC,
    hexbytes,
)

SPI_I = bytes.fromhex("0123456789abcdef")
SPI_R = bytes.fromhex("fedcba9876543210")

RKMP_SA_INIT = Message(
    Header(SPI_I, bytes(8), ExchangeType.RKMP_SA_INIT, HeaderFlag.INITIATOR, 0),
    (
        SaPayload(
            (
                Proposal(
                    1,
                    ProtocolId.IKE,
                    b"",
                    (
                        Transform(
                            TransformType.ENCR, EncrId.AES_CBC, (TransformAttribute(14, 256),)
                        ),
                        Transform(TransformType.PRF, PrfId.HMAC_SHA2_256),
                        Transform(TransformType.INTEG, IntegId.HMAC_SHA2_256_128),
                        Transform(TransformType.KE, KeId.CURVE25519),
                    ),
                ),
            )
        ),
        KePayload(KeId.CURVE25519, X25519_PUBLIC),
        NoncePayload(NONCE_I),
        NotifyPayload(NotifyType.RKMP_SUPPORTED),
    ),
)


def test_rkmp_sa_init_request_vector() -> None:
    assert encode_message(RKMP_SA_INIT) == RKMP_SA_INIT_REQUEST
    assert decode_message(RKMP_SA_INIT_REQUEST) == RKMP_SA_INIT


def test_message_helpers() -> None:
    message = RKMP_SA_INIT
    assert message.find(KePayload) == KePayload(KeId.CURVE25519, X25519_PUBLIC)
    assert message.find(AuthPayload) is None
    assert message.find_all(NoncePayload) == (NoncePayload(NONCE_I),)
    assert message.notifies == (NotifyPayload(NotifyType.RKMP_SUPPORTED),)
    assert message.notify(NotifyType.RKMP_SUPPORTED) is not None
    assert message.notify(NotifyType.COOKIE) is None
    assert message.encrypted is None


def test_rkmp_sa_auth_inner_chain_vector() -> None:
    inner = (
        IdPayload(IdType.ID_FQDN, b"r1.example.net", initiator=True),
        AuthPayload(AuthMethod.SHARED_KEY_MIC, b"\x5a" * 32),
        SaPayload(
            (
                Proposal(
                    1,
                    ProtocolId.TCP_AO,
                    b"\x05",
                    (
                        Transform(TransformType.INTEG, IntegId.AES_CMAC_96),
                        Transform(TransformType.RKMP_OPTIONS, RkmpOptionId.TCP_AO_INCLUDE_OPTIONS),
                    ),
                ),
            )
        ),
    )
    assert encode_payloads(inner) == (PayloadType.IDi, RKMP_SA_AUTH_INNER)
    assert decode_payloads(PayloadType.IDi, RKMP_SA_AUTH_INNER) == inner


def test_sk_message_vector() -> None:
    # HDR(next SK), SK(next IDi, IV|ciphertext|ICV opaque).
    wire = hexbytes(
        """
        0123456789abcdef fedcba9876543210 2e 20 23 08 00000001 00000028
        23 00 000c 0102030405060708
        """
    )
    message = Message(
        Header(SPI_I, SPI_R, ExchangeType.IKE_AUTH, HeaderFlag.INITIATOR, 1),
        (EncryptedPayload(PayloadType.IDi, bytes(range(1, 9))),),
    )
    assert encode_message(message) == wire
    assert decode_message(wire) == message
    assert message.encrypted == message.payloads[0]


def test_empty_sk_liveness_check() -> None:
    # INFORMATIONAL with an SK whose Next Payload is 0: nothing inside.
    message = Message(
        Header(SPI_I, SPI_R, ExchangeType.INFORMATIONAL, HeaderFlag.INITIATOR, 5),
        (EncryptedPayload(0, b"\x00" * 32),),
    )
    wire = encode_message(message)
    assert wire[28:32] == bytes.fromhex("00000024")
    assert decode_message(wire) == message


def test_skf_vector() -> None:
    wire = hexbytes(
        """
        0123456789abcdef fedcba9876543210 35 20 23 08 00000001 00000028
        23 00 000c 0001 0003 abcdef01       # SKF -> IDi, fragment 1 of 3
        """
    )
    message = Message(
        Header(SPI_I, SPI_R, ExchangeType.IKE_AUTH, HeaderFlag.INITIATOR, 1),
        (EncryptedFragmentPayload(1, 3, PayloadType.IDi, bytes.fromhex("abcdef01")),),
    )
    assert encode_message(message) == wire
    assert decode_message(wire) == message


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("23 00 000c 0002 0003 abcdef01", "SKF fragment 2 has Next Payload 35"),
        ("00 00 000c 0004 0003 abcdef01", "SKF fragment number 4 of 3"),
        ("00 00 000c 0000 0003 abcdef01", "SKF fragment number 0 of 3"),
        ("00 00 000c 0000 0000 abcdef01", "SKF fragment number 0 of 0"),
        ("00 00 0007 000100", "SKF payload shorter"),
    ],
)
def test_skf_errors(body: str, reason: str) -> None:
    payload = hexbytes(body)
    wire = (
        hexbytes("0123456789abcdef fedcba9876543210 35 20 23 08 00000001")
        + (28 + len(payload)).to_bytes(4, "big")
        + payload
    )
    with pytest.raises(MalformedMessage, match=reason):
        decode_message(wire)


def test_captured_ike_sa_init_request() -> None:
    message = decode_message(CAPTURED_SA_INIT_REQUEST)
    assert message.header.exchange_type == ExchangeType.IKE_SA_INIT
    assert message.header.is_initiator and not message.header.is_response
    assert message.header.spi_r == bytes(8)
    sa = message.payloads[0]
    assert sa == SaPayload(
        (
            Proposal(
                1,
                ProtocolId.IKE,
                b"",
                (
                    Transform(
                        TransformType.ENCR, EncrId.AES_CCM_12, (TransformAttribute(14, 128),)
                    ),
                    Transform(TransformType.PRF, PrfId.HMAC_SHA2_256),
                    Transform(TransformType.KE, KeId.ECP_256),
                ),
            ),
        )
    )
    ke = message.find(KePayload)
    assert ke is not None and ke.group == KeId.ECP_256 and len(ke.data) == 64
    assert [n.notify_type for n in message.notifies] == [
        NotifyType.NAT_DETECTION_SOURCE_IP,
        NotifyType.NAT_DETECTION_DESTINATION_IP,
        NotifyType.SIGNATURE_HASH_ALGORITHMS,
    ]
    signature_hashes = message.notify(NotifyType.SIGNATURE_HASH_ALGORITHMS)
    assert signature_hashes is not None and signature_hashes.data == bytes.fromhex(
        "0001000200030004"
    )


def test_captured_ike_sa_init_response() -> None:
    message = decode_message(CAPTURED_SA_INIT_RESPONSE)
    assert message.header.is_response
    assert message.header.spi_r == bytes.fromhex("d9fe2ab22dac23ac")
    assert message.notify(NotifyType.MULTIPLE_AUTH_SUPPORTED) is not None
    nonce = message.find(NoncePayload)
    assert nonce is not None and len(nonce.data) == 32


def test_captured_informational_exchange() -> None:
    request = decode_message(CAPTURED_INFORMATIONAL_REQUEST)
    assert request.header.exchange_type == ExchangeType.INFORMATIONAL
    assert request.header.message_id == 2
    assert request.payloads == (
        EncryptedPayload(PayloadType.DELETE, CAPTURED_INFORMATIONAL_REQUEST[32:]),
    )
    response = decode_message(CAPTURED_INFORMATIONAL_RESPONSE)
    assert response.payloads == (EncryptedPayload(0, CAPTURED_INFORMATIONAL_RESPONSE[32:]),)


@pytest.mark.parametrize("wire", CAPTURED, ids=["init-req", "init-resp", "info-req", "info-resp"])
def test_captured_messages_re_encode_exactly(wire: bytes) -> None:
    assert encode_message(decode_message(wire)) == wire


# --- chain structure --------------------------------------------------------

HDR_FIELDS = "0123456789abcdef fedcba9876543210"


def message_wire(next_payload: int, body: str, exchange: int = 0x25) -> bytes:
    payloads = hexbytes(body)
    return (
        hexbytes(HDR_FIELDS)
        + bytes([next_payload, 0x20, exchange, 0x08])
        + bytes(4)
        + (28 + len(payloads)).to_bytes(4, "big")
        + payloads
    )


@pytest.mark.parametrize(
    ("next_payload", "body", "reason", "offset"),
    [
        (0, "00", "1 octets after the last payload", 28),
        (41, "", "payload type 41 expected but only 0 octets remain", 28),
        (41, "00 00 00", "payload type 41 expected but only 3 octets remain", 28),
        (41, "00 00 0003 00", "payload length 3 does not fit", 30),
        (41, "00 00 0009 00 00 a000", "payload length 9 does not fit the 8 octets", 30),
        (41, "00 01 0008 00 00 a000", "RESERVED bits are not zero", 29),
        (41, "00 40 0008 00 00 a000", "RESERVED bits are not zero", 29),
        (41, "29 00 0008 00 00 a000", "payload type 41 expected but only 0", 36),
        (41, "00 00 0008 00 00 a000 00000000", "4 octets after the last payload", 36),
        (46, "29 00 0005 00  29 00 0008 00 00 a000", "8 octets after the encrypted payload", 33),
        (53, "00 00 0008 0001 0001  00 00 0004", "4 octets after the encrypted payload", 36),
    ],
)
def test_chain_errors(next_payload: int, body: str, reason: str, offset: int) -> None:
    with pytest.raises(MalformedMessage) as info:
        decode_message(message_wire(next_payload, body))
    assert reason in info.value.reason
    assert info.value.offset == offset
    assert not isinstance(info.value, UnsupportedCriticalPayload)


def test_unknown_critical_payload_raises_with_type_and_header() -> None:
    wire = message_wire(41, "63 00 0008 00 00 a000  00 80 0006 abcd", exchange=0x22)
    with pytest.raises(UnsupportedCriticalPayload) as info:
        decode_message(wire)
    error = info.value
    assert isinstance(error, MalformedMessage)
    assert error.payload_type == 99
    assert error.offset == 36
    assert error.header is not None
    assert error.header.spi_i == SPI_I
    assert error.header.exchange_type == ExchangeType.IKE_SA_INIT
    assert str(error) == "unsupported critical payload type 99 (at offset 36)"


def test_unknown_noncritical_payload_is_kept() -> None:
    wire = message_wire(41, "63 00 0008 00 00 a000  00 00 0006 abcd")
    message = decode_message(wire)
    assert message.payloads == (
        NotifyPayload(NotifyType.RKMP_SUPPORTED),
        UnknownPayload(99, b"\xab\xcd"),
    )
    assert encode_message(message) == wire


def test_unknown_critical_payload_can_be_encoded_for_tests() -> None:
    message = Message(
        Header(SPI_I, SPI_R, 37, HeaderFlag.INITIATOR, 0),
        (UnknownPayload(99, b"", critical=True),),
    )
    with pytest.raises(UnsupportedCriticalPayload):
        decode_message(encode_message(message))


def test_payload_count_bound() -> None:
    at_limit = Message(
        Header(SPI_I, SPI_R, 37, HeaderFlag.INITIATOR, 0),
        (VendorIdPayload(b""),) * MAX_PAYLOADS,
    )
    assert decode_message(encode_message(at_limit)) == at_limit
    over = "2b 00 0004 " * MAX_PAYLOADS + "00 00 0004"
    with pytest.raises(MalformedMessage, match=f"more than {MAX_PAYLOADS} payloads") as info:
        decode_message(message_wire(43, over))
    assert info.value.offset == 28 + 4 * MAX_PAYLOADS
    with pytest.raises(EncodeError, match="more than"):
        encode_message(Message(at_limit.header, (VendorIdPayload(b""),) * (MAX_PAYLOADS + 1)))


def test_decode_payloads_shifts_offsets() -> None:
    chain = hexbytes("29 00 0008 00 00 a000  00 00 0003")
    with pytest.raises(MalformedMessage) as info:
        decode_payloads(PayloadType.NOTIFY, chain, offset=100)
    assert info.value.offset == 110
    assert str(info.value).endswith("(at offset 110)")


def test_decode_payloads_critical_unknown_carries_given_header() -> None:
    header = Header(SPI_I, SPI_R, 35, HeaderFlag.INITIATOR, 1)
    with pytest.raises(UnsupportedCriticalPayload) as info:
        decode_payloads(99, hexbytes("00 80 0004"), offset=32, header=header)
    assert info.value.header == header
    assert info.value.offset == 32
    with pytest.raises(UnsupportedCriticalPayload) as info:
        decode_payloads(99, hexbytes("00 80 0004"))
    assert info.value.header is None


def test_sk_cannot_be_nested() -> None:
    with pytest.raises(MalformedMessage, match="inside an SK payload"):
        decode_payloads(PayloadType.SK, hexbytes("00 00 0004"))
    with pytest.raises(EncodeError, match="nested"):
        encode_payloads([EncryptedPayload(0, b"")])


def test_decode_payloads_rejects_impossible_first_type() -> None:
    with pytest.raises(ValueError):
        decode_payloads(256, b"")


def test_sk_must_be_last_when_encoding() -> None:
    header = Header(SPI_I, SPI_R, 35, HeaderFlag.INITIATOR, 1)
    with pytest.raises(EncodeError, match="must be the last"):
        encode_message(
            Message(header, (EncryptedPayload(35, b""), NotifyPayload(NotifyType.COOKIE)))
        )
    with pytest.raises(EncodeError):
        encode_message(Message(header, (EncryptedFragmentPayload(2, 3, 35, b""),)))


def test_errors_pickle() -> None:
    header = Header(SPI_I, SPI_R, 35, HeaderFlag.INITIATOR, 1)
    for error in (
        MalformedMessage("bad", 3),
        UnsupportedCriticalPayload(99, 40, header),
    ):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error)
        assert str(copy) == str(error)


def _fields_of(obj: object) -> list[object]:
    """Every field value of a (nested) wire dataclass; AttributeError if a
    slot was never set."""
    values: list[object] = []
    for item in dataclasses.fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, item.name)
        values.append(value)
        children = value if isinstance(value, tuple) else (value,)
        for child in children:
            if dataclasses.is_dataclass(child):
                values += _fields_of(child)
    return values


@pytest.mark.parametrize("wire", CAPTURED, ids=["init-req", "init-resp", "info-req", "info-resp"])
def test_decoded_objects_are_whole_dataclasses(wire: bytes) -> None:
    # The decoder builds objects without __init__ (wire/_make.py): every
    # field must still be set and the objects must equal rebuilt ones.
    message = decode_message(wire)
    _fields_of(message)
    rebuilt = Message(
        dataclasses.replace(message.header),
        tuple(dataclasses.replace(payload) for payload in message.payloads),
    )
    assert rebuilt == message and hash(rebuilt.header) == hash(message.header)
    assert repr(rebuilt) == repr(message)
    with pytest.raises(dataclasses.FrozenInstanceError):
        message.header.message_id = 5  # type: ignore[misc]


def test_decoded_inner_payloads_are_whole_dataclasses() -> None:
    inner = (
        IdPayload(IdType.ID_FQDN, b"r1.example.net", True),
        AuthPayload(AuthMethod.SHARED_KEY_MIC, b"a" * 32),
        NotifyPayload(NotifyType.INITIAL_CONTACT),
        NotifyPayload(NotifyType.REKEY_SA, ProtocolId.ESP, b"\x01\x02\x03\x04", b"d"),
        KePayload(KeId.CURVE25519, b"k" * 32, critical=True),
        NoncePayload(b"n" * 32),
    )
    first, data = encode_payloads(inner)
    decoded = decode_payloads(first, data)
    _fields_of(Message(Header(SPI_I, SPI_R, 35, HeaderFlag.INITIATOR, 1), decoded))
    assert decoded == inner
    assert [repr(p) for p in decoded] == [repr(dataclasses.replace(p)) for p in decoded]


@pytest.mark.parametrize("wire", CAPTURED, ids=["init-req", "init-resp", "info-req", "info-resp"])
def test_decode_with_a_header_decoded_already(wire: bytes) -> None:
    header = decode_header(wire)
    assert decode_message_with_header(wire, header) == decode_message(wire)
    bad = bytearray(wire)
    bad[29] = 0x01  # RESERVED bit of the first payload's generic header
    with pytest.raises(MalformedMessage) as with_header:
        decode_message_with_header(bytes(bad), header)
    with pytest.raises(MalformedMessage) as alone:
        decode_message(bytes(bad))
    assert with_header.value.args == alone.value.args
    version_3 = dataclasses.replace(header, major_version=3)
    with pytest.raises(UnsupportedMajorVersion):
        decode_message_with_header(wire, version_3)
