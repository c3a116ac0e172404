"""AUTH payload computation and verification (RFC 7296 §2.15, RFC 7427,
RFC 8420, RFC 4754)."""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Callable

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa, x25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from hypothesis import given, settings
from hypothesis import strategies as st

from rkmp_frr.crypto.auth import (
    DEFAULT_ALLOWED_SCHEMES,
    KEY_PAD,
    SignatureScheme,
    SigningKey,
    algorithm_identifier,
    as_signing_key,
    as_verifying_key,
    choose_signature_scheme,
    compute_psk_auth,
    encode_signature_hash_algorithms,
    id_payload_body,
    legacy_ecdsa_method,
    maced_id,
    parse_signature_hash_algorithms,
    scheme_from_algorithm_identifier,
    schemes_for_key,
    sign_auth,
    sign_ecdsa_legacy,
    signed_octets,
    signed_octets_for_id,
    split_signature_auth,
    supported_hash_algorithms,
    verify_digital_signature_auth,
    verify_psk_auth,
    verify_signature_auth,
)
from rkmp_frr.crypto.errors import AuthenticationError, CryptoError
from rkmp_frr.crypto.prf import get_prf
from rkmp_frr.wire import IdPayload
from rkmp_frr.wire.constants import AuthMethod, HashAlgorithm, IdType, PrfId

S = SignatureScheme
PRF256 = get_prf(PrfId.HMAC_SHA2_256)
PRF384 = get_prf(PrfId.HMAC_SHA2_384)

# A fixed exchange for the known-answer tests (synthetic bytes).
MESSAGE1 = bytes.fromhex("34c9e7c18886878500000000000000002120220800000000000000300000000400000000")
NONCE_R = bytes.fromhex("9206a04b26564cb1a0a1a2a3a4a5a6a7")
SK_PI = bytes(range(32))
ID_DATA = b"r1.example.net"
PSK = b"rkmp test secret"

# Computed independently with the OpenSSL 3.0 command line, step by step:
#   MACED = HMAC-SHA256(key=SK_PI, 02000000 | "r1.example.net")
#   K     = HMAC-SHA256(key="rkmp test secret", "Key Pad for IKEv2")
#   AUTH  = HMAC-SHA256(key=K, MESSAGE1 | NONCE_R | MACED)
# (`openssl dgst -sha256 -mac HMAC -macopt hexkey:...`; likewise -sha384).
OPENSSL_MACED_ID_SHA256 = "b1c4aece1b9779418d6e8113eee69a53d4b227f7bb7423a204e70f4821b63f16"
OPENSSL_PSK_PAD_KEY_SHA256 = "e950dedc5c8c2898d8b116c296124d2b58aa3d7119678533c1116a43e6fd1dac"
OPENSSL_AUTH_SHA256 = "8238a85752f23095a24cf031e7e583f191aa2eba8bba2a3230bc743b8ae7504b"
OPENSSL_AUTH_SHA384 = (
    "a68575bda43359afd1cfae8fe558f3dfc76a48ecad27a8a069ed044c0b1d11d8"
    "7001692021d0d6a8c219e510eca0081d"
)

# RFC 7427 Appendix A (and RFC 8420 Appendix A.1 for Ed25519/Ed448): the
# AlgorithmIdentifier objects as published, transcribed from the hex dumps.
RFC7427_A_1_1_SHA1_WITH_RSA = "300d 0609 2a86 4886 f70d 0101 0505 00"
RFC7427_A_1_2_SHA256_WITH_RSA = "300d 0609 2a86 4886 f70d 0101 0b05 00"
RFC7427_A_1_3_SHA384_WITH_RSA = "300d 0609 2a86 4886 f70d 0101 0c05 00"
RFC7427_A_1_4_SHA512_WITH_RSA = "300d 0609 2a86 4886 f70d 0101 0d05 00"
RFC7427_A_2_2_DSA_WITH_SHA256 = "300b 0609 6086 4801 6503 0403 02"
RFC7427_A_3_1_ECDSA_WITH_SHA1 = "3009 0607 2a86 48ce 3d04 01"
RFC7427_A_3_2_ECDSA_WITH_SHA256 = "300a 0608 2a86 48ce 3d04 0302"
RFC7427_A_3_3_ECDSA_WITH_SHA384 = "300a 0608 2a86 48ce 3d04 0303"
RFC7427_A_3_4_ECDSA_WITH_SHA512 = "300a 0608 2a86 48ce 3d04 0304"
RFC7427_A_4_1_PSS_EMPTY = "300d 0609 2a86 4886 f70d 0101 0a30 00"
RFC7427_A_4_2_PSS_DEFAULT = (
    "303e 0609 2a86 4886 f70d 0101 0a30 31a0 0b30 0906 052b 0e03 021a 0500 a118 3016"
    "0609 2a86 4886 f70d 0101 0830 0906 052b 0e03 021a 0500 a203 0201 14a3 0302 0101"
)
RFC7427_A_4_3_PSS_SHA256 = (
    "3046 0609 2a86 4886 f70d 0101 0a30 39a0 0f30 0d06 0960 8648 0165 0304 0201 0500"
    "a11c 301a 0609 2a86 4886 f70d 0101 0830 0d06 0960 8648 0165 0304 0201 0500 a203"
    "0201 20a3 0302 0101"
)
RFC8420_A_1_ED25519 = "3005 0603 2B65 70"
RFC8420_A_2_ED448 = "3005 0603 2B65 71"


def unhex(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


# ---------------------------------------------------------------------------
# Keys (generated once per session: RSA generation is the slow part)
# ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def keys() -> dict[str, SigningKey]:
    return {
        "ed25519": ed25519.Ed25519PrivateKey.generate(),
        "ed448": ed448.Ed448PrivateKey.generate(),
        "p256": ec.generate_private_key(ec.SECP256R1()),
        "p384": ec.generate_private_key(ec.SECP384R1()),
        "p521": ec.generate_private_key(ec.SECP521R1()),
        "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
    }


@pytest.fixture(scope="session")
def other_keys() -> dict[str, SigningKey]:
    """A second key of each type, for wrong-key tests."""
    return {
        "ed25519": ed25519.Ed25519PrivateKey.generate(),
        "ed448": ed448.Ed448PrivateKey.generate(),
        "p256": ec.generate_private_key(ec.SECP256R1()),
        "p384": ec.generate_private_key(ec.SECP384R1()),
        "p521": ec.generate_private_key(ec.SECP521R1()),
        "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
    }


# Every scheme with the key type it is used with.
SCHEME_KEYS = [
    (S.ED25519, "ed25519"),
    (S.ED448, "ed448"),
    (S.ECDSA_SHA256, "p256"),
    (S.ECDSA_SHA384, "p384"),
    (S.ECDSA_SHA512, "p521"),
    (S.ECDSA_SHA384, "p256"),  # hash and curve are independent in RFC 7427
    (S.RSA_PSS_SHA256, "rsa"),
    (S.RSA_PSS_SHA384, "rsa"),
    (S.RSA_PSS_SHA512, "rsa"),
    (S.RSA_PKCS1_SHA256, "rsa"),
    (S.RSA_PKCS1_SHA384, "rsa"),
    (S.RSA_PKCS1_SHA512, "rsa"),
]
SCHEME_IDS = [f"{scheme.name}-{key}" for scheme, key in SCHEME_KEYS]

OCTETS = MESSAGE1 + NONCE_R + bytes(32)


# ---------------------------------------------------------------------------
# Signed octets and PSK (RFC 7296 §2.15)
# ---------------------------------------------------------------------------


def test_id_payload_body_is_type_reserved_data() -> None:
    assert id_payload_body(IdType.ID_FQDN, b"a.b") == b"\x02\x00\x00\x00a.b"
    assert id_payload_body(IdType.ID_IPV4_ADDR, bytes((192, 0, 2, 1))) == bytes.fromhex(
        "01000000c0000201"
    )


def test_id_payload_body_rejects_type_over_one_octet() -> None:
    with pytest.raises(CryptoError):
        id_payload_body(256, b"x")


def test_signed_octets_match_independent_construction() -> None:
    # RealMessage1 | NonceRData | HMAC-SHA256(SK_pi, IDType | 000000 | data)
    rest_of_id = bytes((IdType.ID_FQDN, 0, 0, 0)) + ID_DATA
    expected = MESSAGE1 + NONCE_R + hmac.new(SK_PI, rest_of_id, hashlib.sha256).digest()
    got = signed_octets(PRF256, SK_PI, MESSAGE1, NONCE_R, IdType.ID_FQDN, ID_DATA)
    assert got == expected
    assert got[len(MESSAGE1) + len(NONCE_R) :].hex() == OPENSSL_MACED_ID_SHA256


@pytest.mark.parametrize(
    ("id_type", "id_data"),
    [(IdType.ID_FQDN, ID_DATA), (IdType.ID_IPV6_ADDR, bytes(16)), (IdType.ID_KEY_ID, b"k")],
)
def test_id_body_matches_wire_encoding(id_type: int, id_data: bytes) -> None:
    """RestOfIDPayload is the ID payload body the wire codec writes."""
    payload = IdPayload(id_type, id_data, initiator=True)
    assert id_payload_body(id_type, id_data) == payload.encode_body()
    assert signed_octets_for_id(PRF256, SK_PI, MESSAGE1, NONCE_R, payload) == signed_octets(
        PRF256, SK_PI, MESSAGE1, NONCE_R, id_type, id_data
    )


def test_maced_id_depends_on_key_type_and_data() -> None:
    base = maced_id(PRF256, SK_PI, IdType.ID_FQDN, ID_DATA)
    assert base != maced_id(PRF256, bytes(32), IdType.ID_FQDN, ID_DATA)
    assert base != maced_id(PRF256, SK_PI, IdType.ID_RFC822_ADDR, ID_DATA)
    assert base != maced_id(PRF256, SK_PI, IdType.ID_FQDN, ID_DATA + b".")


@pytest.mark.parametrize(
    ("sk_p", "message", "nonce"),
    [(b"", MESSAGE1, NONCE_R), (SK_PI, b"", NONCE_R), (SK_PI, MESSAGE1, b"")],
    ids=["no-sk_p", "no-message", "no-nonce"],
)
def test_signed_octets_reject_empty_inputs(sk_p: bytes, message: bytes, nonce: bytes) -> None:
    with pytest.raises(CryptoError):
        signed_octets(PRF256, sk_p, message, nonce, IdType.ID_FQDN, ID_DATA)


def test_psk_auth_step_by_step_sha256() -> None:
    octets = signed_octets(PRF256, SK_PI, MESSAGE1, NONCE_R, IdType.ID_FQDN, ID_DATA)
    # RFC 7296 §2.15, written out with the standard library:
    pad_key = hmac.new(PSK, b"Key Pad for IKEv2", hashlib.sha256).digest()
    assert pad_key.hex() == OPENSSL_PSK_PAD_KEY_SHA256
    expected = hmac.new(pad_key, octets, hashlib.sha256).digest()
    auth = compute_psk_auth(PRF256, PSK, octets)
    assert auth == expected
    assert auth.hex() == OPENSSL_AUTH_SHA256


def test_psk_auth_known_answer_sha384() -> None:
    octets = signed_octets(PRF384, SK_PI, MESSAGE1, NONCE_R, IdType.ID_FQDN, ID_DATA)
    assert compute_psk_auth(PRF384, PSK, octets).hex() == OPENSSL_AUTH_SHA384


def test_key_pad_is_the_17_ascii_octets() -> None:
    assert KEY_PAD == b"Key Pad for IKEv2"
    assert len(KEY_PAD) == 17


def test_verify_psk_auth_accepts_the_right_value() -> None:
    verify_psk_auth(PRF256, PSK, OCTETS, compute_psk_auth(PRF256, PSK, OCTETS))


@pytest.mark.parametrize(
    "mutate",
    [
        lambda a: a[:-1],
        lambda a: a + b"\x00",
        lambda a: b"",
        lambda a: bytes([a[0] ^ 1]) + a[1:],
        lambda a: a[:-1] + bytes([a[-1] ^ 0x80]),
    ],
    ids=["truncated", "extended", "empty", "first-bit", "last-bit"],
)
def test_verify_psk_auth_rejects_altered_auth(mutate: Callable[[bytes], bytes]) -> None:
    auth = compute_psk_auth(PRF256, PSK, OCTETS)
    with pytest.raises(AuthenticationError):
        verify_psk_auth(PRF256, PSK, OCTETS, mutate(auth))


def test_verify_psk_auth_rejects_wrong_secret_and_prf() -> None:
    auth = compute_psk_auth(PRF256, PSK, OCTETS)
    with pytest.raises(AuthenticationError):
        verify_psk_auth(PRF256, PSK + b"x", OCTETS, auth)
    with pytest.raises(AuthenticationError):
        verify_psk_auth(PRF384, PSK, OCTETS, auth)


def test_psk_rejects_empty_secret() -> None:
    with pytest.raises(CryptoError):
        compute_psk_auth(PRF256, b"", OCTETS)


@settings(max_examples=40, deadline=None)
@given(octets=st.binary(min_size=1, max_size=200), data=st.data())
def test_psk_any_octet_change_fails(octets: bytes, data: st.DataObject) -> None:
    auth = compute_psk_auth(PRF256, PSK, octets)
    index = data.draw(st.integers(0, len(octets) - 1))
    flip = data.draw(st.integers(1, 255))
    tampered = octets[:index] + bytes([octets[index] ^ flip]) + octets[index + 1 :]
    with pytest.raises(AuthenticationError):
        verify_psk_auth(PRF256, PSK, tampered, auth)


# ---------------------------------------------------------------------------
# AlgorithmIdentifier objects (RFC 7427 Appendix A, RFC 8420 Appendix A)
# ---------------------------------------------------------------------------

PUBLISHED_IDENTIFIERS = [
    (S.RSA_PKCS1_SHA256, RFC7427_A_1_2_SHA256_WITH_RSA),
    (S.RSA_PKCS1_SHA384, RFC7427_A_1_3_SHA384_WITH_RSA),
    (S.RSA_PKCS1_SHA512, RFC7427_A_1_4_SHA512_WITH_RSA),
    (S.ECDSA_SHA256, RFC7427_A_3_2_ECDSA_WITH_SHA256),
    (S.ECDSA_SHA384, RFC7427_A_3_3_ECDSA_WITH_SHA384),
    (S.ECDSA_SHA512, RFC7427_A_3_4_ECDSA_WITH_SHA512),
    (S.RSA_PSS_SHA256, RFC7427_A_4_3_PSS_SHA256),
    (S.ED25519, RFC8420_A_1_ED25519),
    (S.ED448, RFC8420_A_2_ED448),
]


@pytest.mark.parametrize(("scheme", "published"), PUBLISHED_IDENTIFIERS)
def test_encoder_produces_published_identifier(scheme: SignatureScheme, published: str) -> None:
    assert algorithm_identifier(scheme) == unhex(published)


@pytest.mark.parametrize(("scheme", "published"), PUBLISHED_IDENTIFIERS)
def test_recognizer_maps_published_identifier(scheme: SignatureScheme, published: str) -> None:
    assert scheme_from_algorithm_identifier(unhex(published)) is scheme


def test_published_lengths() -> None:
    # The lengths printed in RFC 7427 A.1.2, A.3.2, A.4.3 and RFC 8420 A.1.
    assert len(unhex(RFC7427_A_1_2_SHA256_WITH_RSA)) == 15
    assert len(unhex(RFC7427_A_3_2_ECDSA_WITH_SHA256)) == 12
    assert len(unhex(RFC7427_A_4_3_PSS_SHA256)) == 72
    assert len(unhex(RFC8420_A_1_ED25519)) == 7


@pytest.mark.parametrize(
    "published",
    [
        RFC7427_A_1_1_SHA1_WITH_RSA,
        RFC7427_A_2_2_DSA_WITH_SHA256,
        RFC7427_A_3_1_ECDSA_WITH_SHA1,
        RFC7427_A_4_1_PSS_EMPTY,
        RFC7427_A_4_2_PSS_DEFAULT,
    ],
    ids=["sha1WithRSA", "dsa-sha256", "ecdsa-sha1", "pss-empty", "pss-default-sha1"],
)
def test_recognizer_refuses_unsupported_published_identifiers(published: str) -> None:
    with pytest.raises(AuthenticationError):
        scheme_from_algorithm_identifier(unhex(published))


def _pss_params(
    hash_oid: bytes, mgf_hash_oid: bytes, salt: int, *, null: bool = True, trailer: bool = True
) -> bytes:
    """RSASSA-PSS AlgorithmIdentifier built by hand (DER, short lengths)."""

    def tlv(tag: int, body: bytes) -> bytes:
        assert len(body) < 0x80
        return bytes((tag, len(body))) + body

    def hash_id(oid: bytes) -> bytes:
        return tlv(0x30, tlv(0x06, oid) + (b"\x05\x00" if null else b""))

    mgf1 = tlv(0x06, bytes.fromhex("2a864886f70d010108"))
    fields = (
        tlv(0xA0, hash_id(hash_oid))
        + tlv(0xA1, tlv(0x30, mgf1 + hash_id(mgf_hash_oid)))
        + tlv(0xA2, tlv(0x02, bytes((salt,))))
        + (tlv(0xA3, tlv(0x02, b"\x01")) if trailer else b"")
    )
    return tlv(0x30, tlv(0x06, bytes.fromhex("2a864886f70d01010a")) + tlv(0x30, fields))


SHA256_OID = bytes.fromhex("608648016503040201")
SHA384_OID = bytes.fromhex("608648016503040202")


def test_hand_built_pss_matches_rfc_bytes() -> None:
    assert _pss_params(SHA256_OID, SHA256_OID, 32) == unhex(RFC7427_A_4_3_PSS_SHA256)


@pytest.mark.parametrize(
    ("null", "trailer"), [(False, True), (True, False), (False, False)], ids=str
)
def test_recognizer_accepts_equivalent_pss_encodings(null: bool, trailer: bool) -> None:
    # RFC 4055 §2.1: NULL or absent hash parameters; DER omits the default
    # trailer field.
    der = _pss_params(SHA256_OID, SHA256_OID, 32, null=null, trailer=trailer)
    assert scheme_from_algorithm_identifier(der) is S.RSA_PSS_SHA256


@pytest.mark.parametrize(
    "der",
    [
        _pss_params(SHA256_OID, SHA384_OID, 32),  # MGF1 hash differs
        _pss_params(SHA256_OID, SHA256_OID, 20),  # salt not the hash length
        _pss_params(SHA384_OID, SHA384_OID, 32),
        unhex(RFC7427_A_3_2_ECDSA_WITH_SHA256)[:-1],  # truncated
        unhex(RFC7427_A_3_2_ECDSA_WITH_SHA256) + b"\x00",  # trailing octet
        unhex("300b 0608 2a86 48ce 3d04 0302 0500"),  # wrong length byte: 0b for 0c
        unhex("300c 0608 2a86 48ce 3d04 0302 0500"),  # ECDSA with NULL parameters
        unhex("3081 0a06 082a 8648 ce3d 0403 02"),  # non-minimal length
        unhex("300f 0609 2a86 4886 f70d 0101 0b02 0101"),  # PKCS#1 with INTEGER params
        b"",
        b"\x30\x00",
    ],
    ids=[
        "mgf-hash",
        "salt",
        "salt384",
        "truncated",
        "trailing",
        "bad-length",
        "ecdsa-null",
        "non-minimal",
        "pkcs1-params",
        "empty",
        "empty-seq",
    ],
)
def test_recognizer_refuses_malformed_identifiers(der: bytes) -> None:
    with pytest.raises(AuthenticationError):
        scheme_from_algorithm_identifier(der)


# ---------------------------------------------------------------------------
# Method 14 sign / verify
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("scheme", "key_name"), SCHEME_KEYS, ids=SCHEME_IDS)
def test_sign_verify_round_trip(
    keys: dict[str, SigningKey], scheme: SignatureScheme, key_name: str
) -> None:
    key = keys[key_name]
    auth = sign_auth(key, OCTETS, scheme)
    identifier, signature = split_signature_auth(auth)
    assert auth[0] == len(identifier)
    assert identifier == algorithm_identifier(scheme)
    assert verify_digital_signature_auth(auth, OCTETS, key.public_key()) is scheme
    assert verify_signature_auth(14, auth, OCTETS, key.public_key()) is scheme
    assert signature


def test_signature_formats_checked_independently(keys: dict[str, SigningKey]) -> None:
    """The signature value is what each algorithm's own verifier expects:
    pure Ed25519 over the octets, DER ECDSA-Sig-Value, PSS with salt 32."""
    ed = keys["ed25519"]
    assert isinstance(ed, ed25519.Ed25519PrivateKey)
    _, sig = split_signature_auth(sign_auth(ed, OCTETS, S.ED25519))
    ed.public_key().verify(sig, OCTETS)

    p256 = keys["p256"]
    assert isinstance(p256, ec.EllipticCurvePrivateKey)
    _, sig = split_signature_auth(sign_auth(p256, OCTETS, S.ECDSA_SHA256))
    assert sig[0] == 0x30  # DER SEQUENCE { r, s }
    p256.public_key().verify(sig, OCTETS, ec.ECDSA(hashes.SHA256()))

    key = keys["rsa"]
    assert isinstance(key, rsa.RSAPrivateKey)
    _, sig = split_signature_auth(sign_auth(key, OCTETS, S.RSA_PSS_SHA256))
    assert len(sig) == 256
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    key.public_key().verify(sig, OCTETS, pss, hashes.SHA256())
    with pytest.raises(InvalidSignature):  # and not some other salt length
        key.public_key().verify(
            sig, OCTETS, padding.PSS(padding.MGF1(hashes.SHA256()), 20), hashes.SHA256()
        )


@pytest.mark.parametrize(("scheme", "key_name"), SCHEME_KEYS, ids=SCHEME_IDS)
def test_tampered_octets_fail(
    keys: dict[str, SigningKey], scheme: SignatureScheme, key_name: str
) -> None:
    key = keys[key_name]
    auth = sign_auth(key, OCTETS, scheme)
    for index in (0, len(MESSAGE1), len(OCTETS) - 1):
        tampered = bytearray(OCTETS)
        tampered[index] ^= 0x01
        with pytest.raises(AuthenticationError):
            verify_digital_signature_auth(auth, bytes(tampered), key.public_key())
    with pytest.raises(AuthenticationError):
        verify_digital_signature_auth(auth, OCTETS + b"\x00", key.public_key())


@settings(max_examples=30, deadline=None)
@given(index=st.integers(0, len(OCTETS) - 1), flip=st.integers(1, 255))
def test_ed25519_any_octet_change_fails(index: int, flip: int) -> None:
    key = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    auth = sign_auth(key, OCTETS, S.ED25519)
    tampered = bytearray(OCTETS)
    tampered[index] ^= flip
    with pytest.raises(AuthenticationError):
        verify_digital_signature_auth(auth, bytes(tampered), key.public_key())


@pytest.mark.parametrize(("scheme", "key_name"), SCHEME_KEYS, ids=SCHEME_IDS)
def test_wrong_key_fails(
    keys: dict[str, SigningKey],
    other_keys: dict[str, SigningKey],
    scheme: SignatureScheme,
    key_name: str,
) -> None:
    auth = sign_auth(keys[key_name], OCTETS, scheme)
    with pytest.raises(AuthenticationError):
        verify_digital_signature_auth(auth, OCTETS, other_keys[key_name].public_key())


@pytest.mark.parametrize(("scheme", "key_name"), SCHEME_KEYS, ids=SCHEME_IDS)
def test_tampered_signature_fails(
    keys: dict[str, SigningKey], scheme: SignatureScheme, key_name: str
) -> None:
    auth = bytearray(sign_auth(keys[key_name], OCTETS, scheme))
    auth[-1] ^= 0x01
    with pytest.raises(AuthenticationError):
        verify_digital_signature_auth(bytes(auth), OCTETS, keys[key_name].public_key())


def _swap_identifier(auth: bytes, scheme: SignatureScheme) -> bytes:
    _, signature = split_signature_auth(auth)
    identifier = algorithm_identifier(scheme)
    return bytes((len(identifier),)) + identifier + signature


@pytest.mark.parametrize(
    ("signed_as", "claimed", "key_name"),
    [
        (S.ECDSA_SHA256, S.ECDSA_SHA384, "p256"),  # other hash: signature fails
        (S.ECDSA_SHA256, S.ED25519, "p256"),  # other key type
        (S.ED25519, S.ED448, "ed25519"),
        (S.RSA_PSS_SHA256, S.RSA_PKCS1_SHA256, "rsa"),  # other padding
        (S.RSA_PKCS1_SHA256, S.RSA_PSS_SHA256, "rsa"),
        (S.RSA_PSS_SHA256, S.RSA_PSS_SHA384, "rsa"),
        (S.RSA_PSS_SHA256, S.ECDSA_SHA256, "rsa"),
    ],
)
def test_wrong_algorithm_identifier_fails(
    keys: dict[str, SigningKey],
    signed_as: SignatureScheme,
    claimed: SignatureScheme,
    key_name: str,
) -> None:
    auth = _swap_identifier(sign_auth(keys[key_name], OCTETS, signed_as), claimed)
    with pytest.raises(AuthenticationError):
        verify_digital_signature_auth(auth, OCTETS, keys[key_name].public_key())


@pytest.mark.parametrize(
    "published", [RFC7427_A_1_1_SHA1_WITH_RSA, RFC7427_A_4_2_PSS_DEFAULT], ids=["sha1", "pss-sha1"]
)
def test_sha1_identifiers_refused_even_with_valid_signature(
    keys: dict[str, SigningKey], published: str
) -> None:
    """A correct SHA-1 signature under an RFC 7427 SHA-1 identifier is still
    refused: the algorithm is not allowed, not merely mismatched."""
    key = keys["rsa"]
    assert isinstance(key, rsa.RSAPrivateKey)
    if published == RFC7427_A_1_1_SHA1_WITH_RSA:
        sig = key.sign(OCTETS, padding.PKCS1v15(), hashes.SHA1())
    else:
        sig = key.sign(OCTETS, padding.PSS(padding.MGF1(hashes.SHA1()), 20), hashes.SHA1())
    identifier = unhex(published)
    auth = bytes((len(identifier),)) + identifier + sig
    with pytest.raises(AuthenticationError):
        verify_digital_signature_auth(auth, OCTETS, key.public_key())


def test_truncated_auth_data_fails(keys: dict[str, SigningKey]) -> None:
    key = keys["p256"]
    auth = sign_auth(key, OCTETS, S.ECDSA_SHA256)
    length = auth[0]
    for bad in (
        b"",
        auth[:1],  # length only
        auth[: 1 + length],  # identifier, no signature
        auth[: 1 + length // 2],  # identifier cut short
        auth[:-1],  # signature cut short
        b"\x00" + auth[1:],  # zero ASN.1 length
        bytes((length + 1,)) + auth[1:],  # length one too long
        bytes((length - 1,)) + auth[1:],  # length one too short
    ):
        with pytest.raises(AuthenticationError):
            verify_digital_signature_auth(bad, OCTETS, key.public_key())


def test_disallowed_scheme_fails(keys: dict[str, SigningKey]) -> None:
    key = keys["rsa"]
    auth = sign_auth(key, OCTETS, S.RSA_PKCS1_SHA256)
    allowed = DEFAULT_ALLOWED_SCHEMES - {S.RSA_PKCS1_SHA256}
    with pytest.raises(AuthenticationError, match="not allowed"):
        verify_digital_signature_auth(auth, OCTETS, key.public_key(), allowed)


def test_sign_refuses_scheme_for_other_key_type(keys: dict[str, SigningKey]) -> None:
    with pytest.raises(CryptoError):
        sign_auth(keys["p256"], OCTETS, S.ED25519)
    with pytest.raises(CryptoError):
        sign_auth(keys["rsa"], OCTETS, S.ECDSA_SHA256)


def test_small_rsa_and_other_key_types_refused() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(CryptoError):
        as_signing_key(small)
    with pytest.raises(AuthenticationError):
        as_verifying_key(small.public_key())
    auth = b"\x0f" + algorithm_identifier(S.RSA_PKCS1_SHA256) + bytes(128)
    with pytest.raises(AuthenticationError):
        verify_digital_signature_auth(auth, OCTETS, small.public_key())
    with pytest.raises(AuthenticationError):
        as_verifying_key(x25519.X25519PrivateKey.generate().public_key())
    with pytest.raises(CryptoError):
        as_signing_key(ec.generate_private_key(ec.SECP256K1()))


# ---------------------------------------------------------------------------
# Legacy ECDSA methods 9-11 (RFC 4754)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key_name", "method", "size", "digest"),
    [
        ("p256", AuthMethod.ECDSA_SHA256_P256, 32, hashes.SHA256()),
        ("p384", AuthMethod.ECDSA_SHA384_P384, 48, hashes.SHA384()),
        ("p521", AuthMethod.ECDSA_SHA512_P521, 66, hashes.SHA512()),
    ],
)
def test_legacy_ecdsa_round_trip(
    keys: dict[str, SigningKey],
    key_name: str,
    method: AuthMethod,
    size: int,
    digest: hashes.HashAlgorithm,
) -> None:
    key = keys[key_name]
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert legacy_ecdsa_method(key) is method
    got_method, auth = sign_ecdsa_legacy(key, OCTETS)
    assert got_method is method
    assert len(auth) == 2 * size
    # Independent check: r | s back to DER, verified by the library itself.
    r, s = int.from_bytes(auth[:size], "big"), int.from_bytes(auth[size:], "big")
    key.public_key().verify(encode_dss_signature(r, s), OCTETS, ec.ECDSA(digest))
    verify_signature_auth(method, auth, OCTETS, key.public_key())
    tampered = bytearray(OCTETS)
    tampered[5] ^= 0x10
    with pytest.raises(AuthenticationError):
        verify_signature_auth(method, auth, bytes(tampered), key.public_key())


def test_legacy_ecdsa_refusals(keys: dict[str, SigningKey]) -> None:
    key = keys["p256"]
    _, auth = sign_ecdsa_legacy(key, OCTETS)
    public = key.public_key()
    with pytest.raises(AuthenticationError):  # method for another curve
        verify_signature_auth(AuthMethod.ECDSA_SHA384_P384, auth, OCTETS, public)
    with pytest.raises(AuthenticationError):  # wrong length
        verify_signature_auth(AuthMethod.ECDSA_SHA256_P256, auth[:-1], OCTETS, public)
    with pytest.raises(AuthenticationError):  # zero r and s
        verify_signature_auth(AuthMethod.ECDSA_SHA256_P256, bytes(64), OCTETS, public)
    with pytest.raises(AuthenticationError):  # turned off
        verify_signature_auth(
            AuthMethod.ECDSA_SHA256_P256, auth, OCTETS, public, allow_legacy_ecdsa=False
        )
    with pytest.raises(AuthenticationError):  # scheme not allowed
        verify_signature_auth(AuthMethod.ECDSA_SHA256_P256, auth, OCTETS, public, {S.ECDSA_SHA384})
    with pytest.raises(CryptoError):
        sign_ecdsa_legacy(keys["ed25519"], OCTETS)
    assert legacy_ecdsa_method(keys["rsa"]) is None


@pytest.mark.parametrize(
    "method", [AuthMethod.SHARED_KEY_MIC, AuthMethod.RSA_DIGITAL_SIGNATURE, 0, 201]
)
def test_other_methods_are_not_signature_methods(keys: dict[str, SigningKey], method: int) -> None:
    auth = sign_auth(keys["p256"], OCTETS, S.ECDSA_SHA256)
    with pytest.raises(AuthenticationError):
        verify_signature_auth(method, auth, OCTETS, keys["p256"].public_key())


# ---------------------------------------------------------------------------
# Choosing a scheme; SIGNATURE_HASH_ALGORITHMS (RFC 7427 §4, RFC 8420 §2)
# ---------------------------------------------------------------------------

ALL_HASHES = [HashAlgorithm.SHA2_256, HashAlgorithm.SHA2_384, HashAlgorithm.SHA2_512, 5]


@pytest.mark.parametrize(
    ("key_name", "peer", "expected"),
    [
        ("ed25519", ALL_HASHES, S.ED25519),
        ("ed448", [HashAlgorithm.IDENTITY], S.ED448),
        ("p256", ALL_HASHES, S.ECDSA_SHA256),
        ("p384", ALL_HASHES, S.ECDSA_SHA384),
        ("p521", ALL_HASHES, S.ECDSA_SHA512),
        ("p256", [HashAlgorithm.SHA2_512, HashAlgorithm.SHA2_384], S.ECDSA_SHA384),
        ("rsa", ALL_HASHES, S.RSA_PSS_SHA256),
        ("rsa", [HashAlgorithm.SHA2_512], S.RSA_PSS_SHA512),
    ],
)
def test_choose_signature_scheme(
    keys: dict[str, SigningKey], key_name: str, peer: list[int], expected: SignatureScheme
) -> None:
    assert choose_signature_scheme(keys[key_name], peer) is expected


def test_choose_respects_allowed_and_peer(keys: dict[str, SigningKey]) -> None:
    pkcs1_only = {S.RSA_PKCS1_SHA256}
    assert choose_signature_scheme(keys["rsa"], ALL_HASHES, pkcs1_only) is S.RSA_PKCS1_SHA256
    with pytest.raises(AuthenticationError):  # Ed25519 needs Identity (RFC 8420 §2)
        choose_signature_scheme(keys["ed25519"], [HashAlgorithm.SHA2_256])
    with pytest.raises(AuthenticationError):  # SHA-1 only
        choose_signature_scheme(keys["p256"], [HashAlgorithm.SHA1])
    with pytest.raises(AuthenticationError):  # nothing announced
        choose_signature_scheme(keys["rsa"], [])


def test_schemes_for_key_lists_only_fitting_schemes(keys: dict[str, SigningKey]) -> None:
    assert schemes_for_key(keys["ed25519"]) == (S.ED25519,)
    assert set(schemes_for_key(keys["p384"])) == {
        S.ECDSA_SHA256,
        S.ECDSA_SHA384,
        S.ECDSA_SHA512,
    }
    rsa_schemes = schemes_for_key(keys["rsa"].public_key())
    assert rsa_schemes[0] is S.RSA_PSS_SHA256
    assert len(rsa_schemes) == 6


def test_supported_hash_algorithms() -> None:
    assert supported_hash_algorithms() == (
        HashAlgorithm.SHA2_256,
        HashAlgorithm.SHA2_384,
        HashAlgorithm.SHA2_512,
        HashAlgorithm.IDENTITY,
    )
    assert supported_hash_algorithms({S.ED25519}) == (HashAlgorithm.IDENTITY,)


def test_hash_notify_encoding_is_2_octet_ids() -> None:
    data = encode_signature_hash_algorithms(supported_hash_algorithms())
    assert data == bytes.fromhex("0002000300040005")
    assert data == struct.pack(">4H", 2, 3, 4, 5)


def test_hash_notify_parsing() -> None:
    assert parse_signature_hash_algorithms(bytes.fromhex("0005000200020001")) == (
        HashAlgorithm.IDENTITY,
        HashAlgorithm.SHA2_256,
        HashAlgorithm.SHA1,
    )
    # Unknown IDs (here 0, 8 and 0x1234) are skipped, not fatal.
    assert parse_signature_hash_algorithms(bytes.fromhex("0000123400030008")) == (
        HashAlgorithm.SHA2_384,
    )
    assert parse_signature_hash_algorithms(b"") == ()
    with pytest.raises(CryptoError):
        parse_signature_hash_algorithms(b"\x00\x02\x00")
    with pytest.raises(CryptoError):
        encode_signature_hash_algorithms([0x10000])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from(list(HashAlgorithm)), unique=True))
def test_hash_notify_round_trip(algorithms: list[HashAlgorithm]) -> None:
    assert parse_signature_hash_algorithms(encode_signature_hash_algorithms(algorithms)) == tuple(
        algorithms
    )
