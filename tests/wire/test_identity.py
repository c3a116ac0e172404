"""Identity: ID payload data with a text form (RFC 7296 §3.5)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rkmp_frr.build import is_compiled
from rkmp_frr.wire import Identity, IdPayload, MalformedMessage
from rkmp_frr.wire.constants import IdType

# DER of the Name "CN=r1" (SEQUENCE { SET { SEQUENCE { OID 2.5.4.3, UTF8String "r1" } } }).
DN_CN_R1 = bytes.fromhex("300d310b300906035504030c027231")


@pytest.mark.parametrize(
    ("text", "id_type", "data"),
    [
        ("192.0.2.1", IdType.ID_IPV4_ADDR, bytes([192, 0, 2, 1])),
        ("2001:db8::1", IdType.ID_IPV6_ADDR, bytes.fromhex("20010db8000000000000000000000001")),
        ("r1.example.net", IdType.ID_FQDN, b"r1.example.net"),
        ("user@example.net", IdType.ID_RFC822_ADDR, b"user@example.net"),
        ("keyid:0a0b", IdType.ID_KEY_ID, b"\x0a\x0b"),
        ("dn:" + DN_CN_R1.hex(), IdType.ID_DER_ASN1_DN, DN_CN_R1),
        ("fqdn:192.0.2.1", IdType.ID_FQDN, b"192.0.2.1"),
        ("fqdn:a@b", IdType.ID_FQDN, b"a@b"),
        ("fqdn:keyid:00", IdType.ID_FQDN, b"keyid:00"),
        ("rfc822:postmaster", IdType.ID_RFC822_ADDR, b"postmaster"),
    ],
)
def test_text_forms(text: str, id_type: IdType, data: bytes) -> None:
    identity = Identity.from_text(text)
    assert identity == Identity(id_type, data)
    assert identity.to_text() == text
    assert str(identity) == text


def test_ipv6_text_is_canonical() -> None:
    identity = Identity.from_text("2001:0DB8:0:0::1")
    assert identity.to_text() == "2001:db8::1"


def test_der_dn_from_bytes() -> None:
    identity = Identity.from_der_dn(DN_CN_R1)
    assert identity.id_type == IdType.ID_DER_ASN1_DN
    assert Identity.from_text(identity.to_text()) == identity


@pytest.mark.parametrize("initiator", [True, False])
def test_payload_round_trip(initiator: bool) -> None:
    identity = Identity.from_text("r1.example.net")
    payload = identity.to_payload(initiator)
    assert payload == IdPayload(IdType.ID_FQDN, b"r1.example.net", initiator)
    assert Identity.from_payload(payload) == identity


@pytest.mark.parametrize(
    "text",
    [
        "",
        "keyid:",
        "keyid:0g",
        "dn:",
        "dn:00",
        "fe80::1%eth0",
        "r1 example",
        "rôuter.example",
        "fqdn:",
        "tab\there",
    ],
)
def test_invalid_text(text: str) -> None:
    with pytest.raises(ValueError):
        Identity.from_text(text)


@pytest.mark.parametrize(
    ("id_type", "data"),
    [
        (IdType.ID_IPV4_ADDR, b"\x01\x02\x03"),
        (IdType.ID_IPV6_ADDR, b"\x00" * 4),
        (IdType.ID_FQDN, "r\u00f4uter".encode()),  # not ASCII: never a UnicodeError
        (IdType.ID_FQDN, b"with space"),
        (IdType.ID_FQDN, b"nul\x00"),
        (IdType.ID_RFC822_ADDR, b"\xff@x"),
        (IdType.ID_FQDN, b""),
        (IdType.ID_KEY_ID, b""),
        (IdType.ID_DER_ASN1_DN, b"\x31\x00"),  # a SET, not a SEQUENCE
        (IdType.ID_DER_ASN1_DN, b"\x30\x80\x00\x00"),  # indefinite length
        (IdType.ID_DER_ASN1_DN, b"\x30\x81\x01\x00"),  # long form for a short length
        (IdType.ID_DER_ASN1_DN, b"\x30\x82\x00\x01\x00"),  # leading zero length octet
        (IdType.ID_DER_ASN1_DN, b"\x30\x03\x00"),  # length beyond the data
        (IdType.ID_DER_ASN1_DN, b"\x30\x00\x00"),  # data after the SEQUENCE
        (IdType.ID_DER_ASN1_GN, b"\x30\x00"),  # unsupported type
        (77, b"x"),
    ],
)
def test_bad_payload_data_is_malformed(id_type: int, data: bytes) -> None:
    with pytest.raises(MalformedMessage):
        Identity.from_payload(IdPayload(id_type, data, initiator=True))
    # A compiled build refuses an int that is not an IdType in the constructor.
    refused = TypeError if is_compiled() and not isinstance(id_type, IdType) else ValueError
    with pytest.raises(refused):
        Identity(id_type, data)  # type: ignore[arg-type]


def test_long_form_der_length() -> None:
    der = b"\x30\x81\x80" + b"\x00" * 0x80
    assert Identity.from_der_dn(der).data == der


identities = st.one_of(
    st.builds(Identity, st.just(IdType.ID_IPV4_ADDR), st.binary(min_size=4, max_size=4)),
    st.builds(Identity, st.just(IdType.ID_IPV6_ADDR), st.binary(min_size=16, max_size=16)),
    st.builds(
        Identity,
        st.sampled_from([IdType.ID_FQDN, IdType.ID_RFC822_ADDR]),
        st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1).map(str.encode),
    ),
    st.builds(Identity, st.just(IdType.ID_KEY_ID), st.binary(min_size=1, max_size=32)),
    st.builds(
        Identity,
        st.just(IdType.ID_DER_ASN1_DN),
        st.binary(max_size=300).map(
            lambda body: (
                b"\x30"
                + (
                    bytes([len(body)])
                    if len(body) < 0x80
                    else bytes([0x80 | 2]) + len(body).to_bytes(2, "big")
                    if len(body) > 0xFF
                    else bytes([0x81, len(body)])
                )
                + body
            )
        ),
    ),
)


@settings(max_examples=300, deadline=None)
@given(identities)
def test_identity_text_and_payload_round_trip(identity: Identity) -> None:
    assert Identity.from_text(identity.to_text()) == identity
    assert Identity.from_payload(identity.to_payload(True)) == identity


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 255), st.binary(max_size=40))
def test_from_payload_only_raises_malformed(id_type: int, data: bytes) -> None:
    try:
        identity = Identity.from_payload(IdPayload(id_type, data, initiator=False))
    except MalformedMessage:
        return
    assert Identity.from_text(identity.to_text()) == identity
