"""IKE SA authentication: signed octets, PSK AUTH and signature AUTH.

RFC 7296 §2.15 defines what each side authenticates (its first message,
the peer's nonce and a MAC of its own identity) and the shared-key MIC.
RFC 7427 adds the generic "Digital Signature" method (14), whose AUTH data
names its algorithm with a PKIX AlgorithmIdentifier, and the
SIGNATURE_HASH_ALGORITHMS notify; RFC 8420 adds EdDSA with the "Identity"
hash. RFC 4754 methods 9-11 (ECDSA, raw r|s) are kept for older peers.

Pure functions over bytes: no I/O, no clock.
"""

from __future__ import annotations

import hmac
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol, TypeAlias

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from rkmp_frr.crypto.errors import AuthenticationError, CryptoError
from rkmp_frr.crypto.prf import Prf
from rkmp_frr.wire.constants import AuthMethod, HashAlgorithm

SigningKey: TypeAlias = (
    ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
    | ec.EllipticCurvePrivateKey
    | rsa.RSAPrivateKey
)
VerifyingKey: TypeAlias = (
    ed25519.Ed25519PublicKey | ed448.Ed448PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey
)

# RFC 7296 §2.15: the pad is the 17 ASCII octets, no terminator.
KEY_PAD = b"Key Pad for IKEv2"

# RFC 8247 §3.2 puts RSA below 2048 bits out of use.
MIN_RSA_BITS = 2048


# ---------------------------------------------------------------------------
# Signed octets (RFC 7296 §2.15)
# ---------------------------------------------------------------------------


def id_payload_body(id_type: int, id_data: bytes) -> bytes:
    """RestOfInitIDPayload / RestOfRespIDPayload: the ID payload after its
    generic header, i.e. ``IDType | RESERVED(3) | data`` (RFC 7296 §2.15)."""
    if not 0 <= id_type <= 0xFF:
        raise CryptoError(f"ID type {id_type} does not fit one octet")
    return bytes((id_type, 0, 0, 0)) + id_data


def maced_id(prf: Prf, sk_p: bytes, id_type: int, id_data: bytes) -> bytes:
    """MACedIDForI = prf(SK_pi, RestOfInitIDPayload), likewise for R."""
    if not sk_p:
        raise CryptoError("SK_p is empty")
    return prf(sk_p, id_payload_body(id_type, id_data))


def signed_octets(
    prf: Prf,
    sk_p: bytes,
    first_message: bytes,
    peer_nonce: bytes,
    id_type: int,
    id_data: bytes,
) -> bytes:
    """The octets one side authenticates (RFC 7296 §2.15).

    Initiator: ``RealMessage1 | NonceRData | prf(SK_pi, IDi')``;
    responder: ``RealMessage2 | NonceIData | prf(SK_pr, IDr')``.

    ``first_message`` is this side's IKE_SA_INIT message exactly as sent,
    from the first octet of the IKE header to the last octet of the last
    payload (without the non-ESP marker on port 4500-style transports).
    ``peer_nonce`` is the other side's Nonce Data (the value only) and
    ``sk_p`` this side's SK_pi or SK_pr.
    """
    if not first_message:
        raise CryptoError("first message is empty")
    if not peer_nonce:
        raise CryptoError("peer nonce is empty")
    return first_message + peer_nonce + maced_id(prf, sk_p, id_type, id_data)


class IdentificationData(Protocol):
    """What the signed octets need from an ID payload;
    ``rkmp_frr.wire.IdPayload`` fits (structural typing keeps this module
    independent of the payload classes)."""

    @property
    def id_type(self) -> int: ...

    @property
    def data(self) -> bytes: ...


def signed_octets_for_id(
    prf: Prf,
    sk_p: bytes,
    first_message: bytes,
    peer_nonce: bytes,
    identification: IdentificationData,
) -> bytes:
    """``signed_octets`` taking the ID payload (IDi or IDr) itself."""
    return signed_octets(
        prf, sk_p, first_message, peer_nonce, identification.id_type, identification.data
    )


# ---------------------------------------------------------------------------
# Shared key MIC (RFC 7296 §2.15, Auth Method 2)
# ---------------------------------------------------------------------------


def compute_psk_auth(prf: Prf, shared_secret: bytes, octets: bytes) -> bytes:
    """AUTH = prf(prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>)."""
    if not shared_secret:
        raise CryptoError("shared secret is empty")
    return prf(prf(shared_secret, KEY_PAD), octets)


def verify_psk_auth(prf: Prf, shared_secret: bytes, octets: bytes, auth_data: bytes) -> None:
    """Check a peer's SHARED_KEY_MIC AUTH data; AuthenticationError if it
    does not match. The comparison takes the same time wherever it differs."""
    expected = compute_psk_auth(prf, shared_secret, octets)
    if not hmac.compare_digest(expected, auth_data):
        raise AuthenticationError("shared key AUTH does not match")


# ---------------------------------------------------------------------------
# Minimal DER (X.690) for AlgorithmIdentifier: enough to build and parse the
# RFC 7427 objects strictly (definite, minimal lengths; nothing left over).
# ---------------------------------------------------------------------------

_TAG_INTEGER = 0x02
_TAG_NULL = 0x05
_TAG_OID = 0x06
_TAG_SEQUENCE = 0x30
_TAG_CONTEXT_0 = 0xA0  # constructed, context-specific [n] = 0xA0 + n

_DER_NULL = bytes((_TAG_NULL, 0))


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes((length,))
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def _der_tlv(tag: int, content: bytes) -> bytes:
    return bytes((tag,)) + _der_length(len(content)) + content


def _der_oid(dotted: str) -> bytes:
    arcs = [int(arc) for arc in dotted.split(".")]
    first, second, *rest = arcs
    body = bytearray()
    for arc in [40 * first + second, *rest]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body += bytes(reversed(chunk))
    return _der_tlv(_TAG_OID, bytes(body))


def _der_integer(value: int) -> bytes:
    # Non-negative only; a leading zero keeps the sign bit clear.
    return _der_tlv(_TAG_INTEGER, value.to_bytes(value.bit_length() // 8 + 1, "big"))


class _DerError(ValueError):
    """Not strict DER, or not the shape expected."""


def _der_read(data: bytes, pos: int) -> tuple[int, bytes, int]:
    """One TLV at ``pos``: (tag, content, position after it)."""
    if pos + 2 > len(data):
        raise _DerError("truncated TLV")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise _DerError("multi-octet tags are not used here")
    first = data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4:
            raise _DerError("indefinite or oversized length")
        if pos + count > len(data):
            raise _DerError("truncated length")
        length = int.from_bytes(data[pos : pos + count], "big")
        if length < 0x80 or length < 1 << (8 * (count - 1)):
            raise _DerError("length not in minimal form")
        pos += count
    end = pos + length
    if end > len(data):
        raise _DerError("content runs past the end")
    return tag, data[pos:end], end


def _der_items(data: bytes) -> list[tuple[int, bytes]]:
    """All TLVs of a constructed value's content, in order."""
    items = []
    pos = 0
    while pos < len(data):
        tag, content, pos = _der_read(data, pos)
        items.append((tag, content))
    return items


def _der_single(data: bytes, tag: int) -> bytes:
    """The content of ``data``, which must be exactly one TLV of ``tag``."""
    got, content, end = _der_read(data, 0)
    if got != tag or end != len(data):
        raise _DerError(f"expected exactly one element of tag {tag:#x}")
    return content


def _der_decode_oid(content: bytes) -> str:
    if not content or content[-1] & 0x80:
        raise _DerError("bad OID")
    arcs: list[int] = []
    value = 0
    fresh = True
    for octet in content:
        if fresh and octet == 0x80:
            raise _DerError("OID arc not minimal")
        value = (value << 7) | (octet & 0x7F)
        fresh = not octet & 0x80
        if fresh:
            arcs.append(value)
            value = 0
    first = arcs[0]
    head = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    return ".".join(str(arc) for arc in head + arcs[1:])


def _der_decode_uint(content: bytes) -> int:
    if not content or content[0] & 0x80:
        raise _DerError("INTEGER empty or negative")
    if len(content) > 1 and content[0] == 0 and not content[1] & 0x80:
        raise _DerError("INTEGER not minimal")
    return int.from_bytes(content, "big")


def _parse_algorithm_identifier(der: bytes) -> tuple[str, bytes | None]:
    """(algorithm OID, encoded parameters or None when absent)."""
    items = _der_items(_der_single(der, _TAG_SEQUENCE))
    if not 1 <= len(items) <= 2 or items[0][0] != _TAG_OID:
        raise _DerError("not an AlgorithmIdentifier")
    params = _der_tlv(*items[1]) if len(items) == 2 else None
    return _der_decode_oid(items[0][1]), params


# ---------------------------------------------------------------------------
# Signature schemes (RFC 7427 §3, Appendix A; RFC 8420 Appendix A)
# ---------------------------------------------------------------------------

_OID_RSA_PSS = "1.2.840.113549.1.1.10"
_OID_MGF1 = "1.2.840.113549.1.1.8"
_OID_SHA1 = "1.3.14.3.2.26"
_HASH_OIDS: dict[str, str] = {  # RFC 5754 §2
    "sha256": "2.16.840.1.101.3.4.2.1",
    "sha384": "2.16.840.1.101.3.4.2.2",
    "sha512": "2.16.840.1.101.3.4.2.3",
}
_PSS_TRAILER_FIELD_BC = 1  # RFC 4055 §3.1: the only trailer defined


class _KeyKind(Enum):
    ED25519 = "Ed25519"
    ED448 = "Ed448"
    EC = "ECDSA"
    RSA = "RSA"


class _Padding(Enum):
    NONE = "none"
    PKCS1V15 = "PKCS#1 v1.5"
    PSS = "PSS"


@dataclass(frozen=True, slots=True)
class _SchemeInfo:
    key_kind: _KeyKind
    ike_hash: HashAlgorithm
    hash_name: str | None  # None: the algorithm signs the message itself
    oid: str
    padding: _Padding = _Padding.NONE


class SignatureScheme(Enum):
    """A signature algorithm usable with AUTH method 14 (RFC 7427)."""

    ED25519 = "ed25519"
    ED448 = "ed448"
    ECDSA_SHA256 = "ecdsa-with-sha256"
    ECDSA_SHA384 = "ecdsa-with-sha384"
    ECDSA_SHA512 = "ecdsa-with-sha512"
    RSA_PSS_SHA256 = "rsassa-pss-sha256"
    RSA_PSS_SHA384 = "rsassa-pss-sha384"
    RSA_PSS_SHA512 = "rsassa-pss-sha512"
    RSA_PKCS1_SHA256 = "sha256WithRSAEncryption"
    RSA_PKCS1_SHA384 = "sha384WithRSAEncryption"
    RSA_PKCS1_SHA512 = "sha512WithRSAEncryption"

    @property
    def ike_hash(self) -> HashAlgorithm:
        """Its entry in the SIGNATURE_HASH_ALGORITHMS registry (RFC 7427 §4)."""
        return _SCHEMES[self].ike_hash


_S = SignatureScheme
_SCHEMES: dict[SignatureScheme, _SchemeInfo] = {
    # RFC 8420 Appendix A / RFC 8410 §3: parameters absent.
    _S.ED25519: _SchemeInfo(_KeyKind.ED25519, HashAlgorithm.IDENTITY, None, "1.3.101.112"),
    _S.ED448: _SchemeInfo(_KeyKind.ED448, HashAlgorithm.IDENTITY, None, "1.3.101.113"),
    # RFC 7427 A.3 / RFC 5758 §3.2: parameters absent.
    _S.ECDSA_SHA256: _SchemeInfo(
        _KeyKind.EC, HashAlgorithm.SHA2_256, "sha256", "1.2.840.10045.4.3.2"
    ),
    _S.ECDSA_SHA384: _SchemeInfo(
        _KeyKind.EC, HashAlgorithm.SHA2_384, "sha384", "1.2.840.10045.4.3.3"
    ),
    _S.ECDSA_SHA512: _SchemeInfo(
        _KeyKind.EC, HashAlgorithm.SHA2_512, "sha512", "1.2.840.10045.4.3.4"
    ),
    # RFC 7427 A.4 / RFC 4055 §3.1: parameters spell out hash, MGF1 and salt.
    _S.RSA_PSS_SHA256: _SchemeInfo(
        _KeyKind.RSA, HashAlgorithm.SHA2_256, "sha256", _OID_RSA_PSS, _Padding.PSS
    ),
    _S.RSA_PSS_SHA384: _SchemeInfo(
        _KeyKind.RSA, HashAlgorithm.SHA2_384, "sha384", _OID_RSA_PSS, _Padding.PSS
    ),
    _S.RSA_PSS_SHA512: _SchemeInfo(
        _KeyKind.RSA, HashAlgorithm.SHA2_512, "sha512", _OID_RSA_PSS, _Padding.PSS
    ),
    # RFC 7427 A.1: parameters present and NULL.
    _S.RSA_PKCS1_SHA256: _SchemeInfo(
        _KeyKind.RSA, HashAlgorithm.SHA2_256, "sha256", "1.2.840.113549.1.1.11", _Padding.PKCS1V15
    ),
    _S.RSA_PKCS1_SHA384: _SchemeInfo(
        _KeyKind.RSA, HashAlgorithm.SHA2_384, "sha384", "1.2.840.113549.1.1.12", _Padding.PKCS1V15
    ),
    _S.RSA_PKCS1_SHA512: _SchemeInfo(
        _KeyKind.RSA, HashAlgorithm.SHA2_512, "sha512", "1.2.840.113549.1.1.13", _Padding.PKCS1V15
    ),
}

# Every scheme above; SHA-1 based ones are not implemented at all (RFC 8247).
DEFAULT_ALLOWED_SCHEMES: frozenset[SignatureScheme] = frozenset(SignatureScheme)

_HASHES: dict[str, hashes.HashAlgorithm] = {
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
}


def _hash_identifier(hash_name: str) -> bytes:
    # RFC 7427 A.4.3 writes the hash AlgorithmIdentifiers with NULL
    # parameters (RFC 4055 §2.1 allows both forms; receivers take both).
    return _der_tlv(_TAG_SEQUENCE, _der_oid(_HASH_OIDS[hash_name]) + _DER_NULL)


def _pss_salt_length(hash_name: str) -> int:
    # Salt as long as the hash output: RFC 7427 A.4.3 (32 for SHA-256),
    # which is what strongSwan and libreswan send.
    return _HASHES[hash_name].digest_size


def algorithm_identifier(scheme: SignatureScheme) -> bytes:
    """The DER AlgorithmIdentifier that names ``scheme`` in AUTH data."""
    info = _SCHEMES[scheme]
    oid = _der_oid(info.oid)
    if info.padding is _Padding.PKCS1V15:
        return _der_tlv(_TAG_SEQUENCE, oid + _DER_NULL)
    if info.padding is _Padding.PSS:
        assert info.hash_name is not None
        params = (
            _der_tlv(_TAG_CONTEXT_0, _hash_identifier(info.hash_name))
            + _der_tlv(
                _TAG_CONTEXT_0 + 1,
                _der_tlv(_TAG_SEQUENCE, _der_oid(_OID_MGF1) + _hash_identifier(info.hash_name)),
            )
            + _der_tlv(_TAG_CONTEXT_0 + 2, _der_integer(_pss_salt_length(info.hash_name)))
            # DER would leave out this DEFAULT value; RFC 7427 A.4.3 writes it.
            + _der_tlv(_TAG_CONTEXT_0 + 3, _der_integer(_PSS_TRAILER_FIELD_BC))
        )
        return _der_tlv(_TAG_SEQUENCE, oid + _der_tlv(_TAG_SEQUENCE, params))
    return _der_tlv(_TAG_SEQUENCE, oid)


def _parse_hash_identifier(der: bytes) -> str:
    """A hash AlgorithmIdentifier (NULL or absent parameters) -> hash name."""
    oid, params = _parse_algorithm_identifier(der)
    if params not in (None, _DER_NULL):
        raise _DerError("hash AlgorithmIdentifier with parameters")
    for name, hash_oid in _HASH_OIDS.items():
        if oid == hash_oid:
            return name
    if oid == _OID_SHA1:
        raise _DerError("SHA-1 is not accepted in RSASSA-PSS")
    raise _DerError(f"unknown hash {oid}")


def _parse_pss_params(params: bytes) -> SignatureScheme:
    """RSASSA-PSS-params (RFC 4055 §3.1) -> the scheme it names, if it is one
    we accept: SHA-2, MGF1 with the same hash, salt = hash length, trailer 1.
    The DEFAULT fields (SHA-1 based) are not accepted, so hash and MGF must
    be present; the trailer may be present or absent."""
    items = _der_items(_der_single(params, _TAG_SEQUENCE))
    tags = [tag for tag, _ in items]
    if tags != sorted(set(tags)):
        raise _DerError("RSASSA-PSS-params fields repeated or out of order")
    fields = dict(items)
    known = {_TAG_CONTEXT_0 + n for n in range(4)}
    if not set(fields) <= known:
        raise _DerError("unknown RSASSA-PSS-params field")
    if _TAG_CONTEXT_0 not in fields or _TAG_CONTEXT_0 + 1 not in fields:
        raise _DerError("RSASSA-PSS defaults (SHA-1) are not accepted")
    hash_name = _parse_hash_identifier(fields[_TAG_CONTEXT_0])
    mgf_oid, mgf_params = _parse_algorithm_identifier(fields[_TAG_CONTEXT_0 + 1])
    if mgf_oid != _OID_MGF1 or mgf_params is None:
        raise _DerError("mask generation function is not MGF1")
    if _parse_hash_identifier(mgf_params) != hash_name:
        raise _DerError("MGF1 hash differs from the message hash")
    if _TAG_CONTEXT_0 + 2 not in fields:
        raise _DerError("RSASSA-PSS default salt length (20) is not accepted")
    salt = _der_decode_uint(_der_single(fields[_TAG_CONTEXT_0 + 2], _TAG_INTEGER))
    if salt != _pss_salt_length(hash_name):
        raise _DerError(f"RSASSA-PSS salt length {salt} is not the hash length")
    if _TAG_CONTEXT_0 + 3 in fields:
        trailer = _der_decode_uint(_der_single(fields[_TAG_CONTEXT_0 + 3], _TAG_INTEGER))
        if trailer != _PSS_TRAILER_FIELD_BC:
            raise _DerError("RSASSA-PSS trailer field is not 1")
    for scheme, info in _SCHEMES.items():
        if info.padding is _Padding.PSS and info.hash_name == hash_name:
            return scheme
    raise _DerError("no RSASSA-PSS scheme for that hash")  # pragma: no cover


def scheme_from_algorithm_identifier(der: bytes) -> SignatureScheme:
    """The scheme a received AlgorithmIdentifier names; AuthenticationError
    if it is malformed or not one this module implements."""
    try:
        oid, params = _parse_algorithm_identifier(der)
        if oid == _OID_RSA_PSS:
            if params is None:
                raise _DerError("RSASSA-PSS without parameters")
            return _parse_pss_params(params)
        for scheme, info in _SCHEMES.items():
            if info.oid != oid:
                continue
            if info.padding is _Padding.PKCS1V15:
                # RFC 7427 A.1 requires NULL; some senders leave it out.
                if params not in (None, _DER_NULL):
                    raise _DerError("PKCS#1 v1.5 parameters must be NULL")
            elif params is not None:
                raise _DerError(f"{scheme.value} takes no parameters")
            return scheme
        raise _DerError(f"unknown signature algorithm {oid}")
    except _DerError as exc:
        raise AuthenticationError(f"unusable AlgorithmIdentifier: {exc}") from None


# ---------------------------------------------------------------------------
# Keys
# ---------------------------------------------------------------------------


def _key_kind(key: PrivateKeyTypes | PublicKeyTypes) -> _KeyKind | None:
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return _KeyKind.ED25519
    if isinstance(key, ed448.Ed448PrivateKey | ed448.Ed448PublicKey):
        return _KeyKind.ED448
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return _KeyKind.EC if isinstance(key.curve, _NIST_CURVES) else None
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return _KeyKind.RSA
    return None


_NIST_CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)

# Preferred hash per curve: the one of matching strength first.
_EC_PREFERENCE: dict[str, tuple[SignatureScheme, ...]] = {
    ec.SECP256R1.name: (_S.ECDSA_SHA256, _S.ECDSA_SHA384, _S.ECDSA_SHA512),
    ec.SECP384R1.name: (_S.ECDSA_SHA384, _S.ECDSA_SHA512, _S.ECDSA_SHA256),
    ec.SECP521R1.name: (_S.ECDSA_SHA512, _S.ECDSA_SHA384, _S.ECDSA_SHA256),
}
# PSS first (RFC 8247 §3.2: RSASSA-PSS is the MUST, v1.5 a MAY).
_RSA_PREFERENCE = (
    _S.RSA_PSS_SHA256,
    _S.RSA_PSS_SHA384,
    _S.RSA_PSS_SHA512,
    _S.RSA_PKCS1_SHA256,
    _S.RSA_PKCS1_SHA384,
    _S.RSA_PKCS1_SHA512,
)


def as_signing_key(key: PrivateKeyTypes) -> SigningKey:
    """``key`` narrowed to a type this module signs with; CryptoError
    otherwise (DSA, X25519, curves other than P-256/384/521, small RSA)."""
    if _key_kind(key) is None:
        raise CryptoError(f"unsupported private key type {type(key).__name__}")
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size < MIN_RSA_BITS:
        raise CryptoError(f"RSA key of {key.key_size} bits is below {MIN_RSA_BITS}")
    assert isinstance(
        key,
        ed25519.Ed25519PrivateKey
        | ed448.Ed448PrivateKey
        | ec.EllipticCurvePrivateKey
        | rsa.RSAPrivateKey,
    )
    return key


def as_verifying_key(key: PublicKeyTypes) -> VerifyingKey:
    """``key`` narrowed to a type this module verifies; AuthenticationError
    otherwise (a peer's certificate carries a key we cannot use)."""
    if _key_kind(key) is None:
        raise AuthenticationError(f"unsupported public key type {type(key).__name__}")
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        raise AuthenticationError(f"RSA key of {key.key_size} bits is below {MIN_RSA_BITS}")
    assert isinstance(
        key,
        ed25519.Ed25519PublicKey
        | ed448.Ed448PublicKey
        | ec.EllipticCurvePublicKey
        | rsa.RSAPublicKey,
    )
    return key


def schemes_for_key(
    key: SigningKey | VerifyingKey,
    allowed: Iterable[SignatureScheme] = DEFAULT_ALLOWED_SCHEMES,
) -> tuple[SignatureScheme, ...]:
    """The allowed schemes usable with ``key``, most preferred first."""
    allowed_set = frozenset(allowed)
    kind = _key_kind(key)
    if kind is _KeyKind.ED25519:
        order: tuple[SignatureScheme, ...] = (_S.ED25519,)
    elif kind is _KeyKind.ED448:
        order = (_S.ED448,)
    elif kind is _KeyKind.EC:
        assert isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey)
        order = _EC_PREFERENCE[key.curve.name]
    elif kind is _KeyKind.RSA:
        order = _RSA_PREFERENCE
    else:
        order = ()
    return tuple(scheme for scheme in order if scheme in allowed_set)


def supported_hash_algorithms(
    allowed: Iterable[SignatureScheme] = DEFAULT_ALLOWED_SCHEMES,
) -> tuple[HashAlgorithm, ...]:
    """What to announce in our SIGNATURE_HASH_ALGORITHMS notify: the hashes
    of every allowed scheme, in registry order."""
    return tuple(sorted({scheme.ike_hash for scheme in allowed}))


def choose_signature_scheme(
    key: SigningKey,
    peer_hashes: Iterable[int],
    allowed: Iterable[SignatureScheme] = DEFAULT_ALLOWED_SCHEMES,
) -> SignatureScheme:
    """The scheme to sign with: the most preferred one for ``key`` whose hash
    the peer announced (RFC 7427 §4: "a peer MUST pick one algorithm sent by
    the other peer"; RFC 8420 §2 likewise for Identity). AuthenticationError
    when there is none."""
    announced = set(peer_hashes)
    for scheme in schemes_for_key(key, allowed):
        if scheme.ike_hash in announced:
            return scheme
    raise AuthenticationError(
        f"no allowed signature scheme for a {type(key).__name__} uses a hash the peer supports"
    )


# ---------------------------------------------------------------------------
# AUTH method 14: Digital Signature (RFC 7427 §3)
# ---------------------------------------------------------------------------


def _pss(hash_name: str) -> padding.PSS:
    return padding.PSS(
        mgf=padding.MGF1(_HASHES[hash_name]), salt_length=_pss_salt_length(hash_name)
    )


def _raw_sign(key: SigningKey, scheme: SignatureScheme, octets: bytes) -> bytes:
    info = _SCHEMES[scheme]
    if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        return key.sign(octets)  # RFC 8420: pure EdDSA over the octets
    assert info.hash_name is not None
    digest = _HASHES[info.hash_name]
    if isinstance(key, ec.EllipticCurvePrivateKey):
        # DER Ecdsa-Sig-Value (RFC 3279 §2.2.3), as RFC 7427 carries it.
        return key.sign(octets, ec.ECDSA(digest))
    if info.padding is _Padding.PSS:
        return key.sign(octets, _pss(info.hash_name), digest)
    return key.sign(octets, padding.PKCS1v15(), digest)


def sign_auth(key: SigningKey, octets: bytes, scheme: SignatureScheme) -> bytes:
    """AUTH data for method 14: ``ASN.1 Length | AlgorithmIdentifier |
    Signature Value`` over the signed octets (RFC 7427 §3)."""
    if scheme not in schemes_for_key(as_signing_key(key), (scheme,)):
        raise CryptoError(f"{scheme.value} cannot be used with a {type(key).__name__}")
    identifier = algorithm_identifier(scheme)
    return bytes((len(identifier),)) + identifier + _raw_sign(key, scheme, octets)


def _raw_verify(
    key: VerifyingKey, scheme: SignatureScheme, signature: bytes, octets: bytes
) -> None:
    """Raises InvalidSignature (or ValueError on malformed input)."""
    info = _SCHEMES[scheme]
    if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        key.verify(signature, octets)
        return
    assert info.hash_name is not None
    digest = _HASHES[info.hash_name]
    if isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, octets, ec.ECDSA(digest))
    elif info.padding is _Padding.PSS:
        key.verify(signature, octets, _pss(info.hash_name), digest)
    else:
        key.verify(signature, octets, padding.PKCS1v15(), digest)


def split_signature_auth(auth_data: bytes) -> tuple[bytes, bytes]:
    """Method 14 AUTH data -> (AlgorithmIdentifier DER, signature value)."""
    if not auth_data:
        raise AuthenticationError("empty Digital Signature AUTH data")
    length = auth_data[0]
    if length == 0 or len(auth_data) <= 1 + length:
        raise AuthenticationError("Digital Signature AUTH data truncated")
    return auth_data[1 : 1 + length], auth_data[1 + length :]


def _check_signature(
    key: VerifyingKey, scheme: SignatureScheme, signature: bytes, octets: bytes
) -> None:
    try:
        _raw_verify(key, scheme, signature, octets)
    except (InvalidSignature, ValueError, UnsupportedAlgorithm):
        raise AuthenticationError(f"{scheme.value} signature does not verify") from None


def verify_digital_signature_auth(
    auth_data: bytes,
    octets: bytes,
    public_key: PublicKeyTypes,
    allowed: Iterable[SignatureScheme] = DEFAULT_ALLOWED_SCHEMES,
) -> SignatureScheme:
    """Verify method 14 AUTH data against the peer's key. The named algorithm
    must be one we allow and fit the key type. Returns the scheme used."""
    key = as_verifying_key(public_key)
    identifier, signature = split_signature_auth(auth_data)
    scheme = scheme_from_algorithm_identifier(identifier)
    if scheme not in frozenset(allowed):
        raise AuthenticationError(f"signature algorithm {scheme.value} is not allowed")
    if scheme not in schemes_for_key(key, (scheme,)):
        raise AuthenticationError(
            f"signature algorithm {scheme.value} does not fit a {type(key).__name__}"
        )
    _check_signature(key, scheme, signature, octets)
    return scheme


# ---------------------------------------------------------------------------
# AUTH methods 9/10/11: ECDSA with a fixed curve and hash (RFC 4754 §3, §7)
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _LegacyEcdsa:
    curve_name: str
    scheme: SignatureScheme
    coordinate_size: int  # r and s are each this many octets, big-endian


_LEGACY_ECDSA: dict[AuthMethod, _LegacyEcdsa] = {
    AuthMethod.ECDSA_SHA256_P256: _LegacyEcdsa(ec.SECP256R1.name, _S.ECDSA_SHA256, 32),
    AuthMethod.ECDSA_SHA384_P384: _LegacyEcdsa(ec.SECP384R1.name, _S.ECDSA_SHA384, 48),
    AuthMethod.ECDSA_SHA512_P521: _LegacyEcdsa(ec.SECP521R1.name, _S.ECDSA_SHA512, 66),
}


def legacy_ecdsa_method(key: SigningKey | VerifyingKey) -> AuthMethod | None:
    """The RFC 4754 method for an ECDSA key's curve, or None."""
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        for method, legacy in _LEGACY_ECDSA.items():
            if legacy.curve_name == key.curve.name:
                return method
    return None


def sign_ecdsa_legacy(key: SigningKey, octets: bytes) -> tuple[AuthMethod, bytes]:
    """(method, AUTH data) for a peer that did not announce RFC 7427: the
    ECDSA signature as ``r | s``, each padded to the curve size (RFC 4754 §7)."""
    method = legacy_ecdsa_method(key)
    if method is None or not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CryptoError(f"no RFC 4754 method for a {type(key).__name__}")
    legacy = _LEGACY_ECDSA[method]
    r, s = decode_dss_signature(_raw_sign(key, legacy.scheme, octets))
    size = legacy.coordinate_size
    return method, r.to_bytes(size, "big") + s.to_bytes(size, "big")


def _verify_ecdsa_legacy(
    method: AuthMethod, auth_data: bytes, octets: bytes, key: VerifyingKey
) -> SignatureScheme:
    legacy = _LEGACY_ECDSA[method]
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != legacy.curve_name:
        raise AuthenticationError(f"AUTH method {method.name} does not fit the peer's key")
    size = legacy.coordinate_size
    if len(auth_data) != 2 * size:
        raise AuthenticationError(f"{method.name} AUTH data is not {2 * size} octets")
    r = int.from_bytes(auth_data[:size], "big")
    s = int.from_bytes(auth_data[size:], "big")
    if r == 0 or s == 0:
        raise AuthenticationError(f"{method.name} signature does not verify")
    _check_signature(key, legacy.scheme, encode_dss_signature(r, s), octets)
    return legacy.scheme


# ---------------------------------------------------------------------------
# Dispatch on the AUTH payload's method
# ---------------------------------------------------------------------------


def verify_signature_auth(
    method: int,
    auth_data: bytes,
    octets: bytes,
    public_key: PublicKeyTypes,
    allowed: Iterable[SignatureScheme] = DEFAULT_ALLOWED_SCHEMES,
    *,
    allow_legacy_ecdsa: bool = True,
) -> SignatureScheme:
    """Verify a signature-based AUTH payload (method 14, or 9-11 when
    ``allow_legacy_ecdsa``); any other method -> AuthenticationError.
    The legacy methods are subject to ``allowed`` too."""
    allowed_set = frozenset(allowed)
    if method == AuthMethod.DIGITAL_SIGNATURE:
        return verify_digital_signature_auth(auth_data, octets, public_key, allowed_set)
    try:
        legacy = AuthMethod(method)
    except ValueError:
        legacy = None
    if allow_legacy_ecdsa and legacy in _LEGACY_ECDSA:
        assert legacy is not None
        if _LEGACY_ECDSA[legacy].scheme not in allowed_set:
            raise AuthenticationError(f"AUTH method {legacy.name} is not allowed")
        return _verify_ecdsa_legacy(legacy, auth_data, octets, as_verifying_key(public_key))
    raise AuthenticationError(f"AUTH method {method} is not an accepted signature method")


# ---------------------------------------------------------------------------
# SIGNATURE_HASH_ALGORITHMS notify data (RFC 7427 §4)
# ---------------------------------------------------------------------------


def encode_signature_hash_algorithms(algorithms: Iterable[int]) -> bytes:
    """Notify data: each hash ID as 2 octets, no padding."""
    values = list(algorithms)
    if any(not 0 <= value <= 0xFFFF for value in values):
        raise CryptoError("hash algorithm IDs are 16-bit values")
    return struct.pack(f">{len(values)}H", *values)


def parse_signature_hash_algorithms(data: bytes) -> tuple[HashAlgorithm, ...]:
    """The known hash algorithms a peer announced, in its order, without
    repeats; unknown IDs are skipped. CryptoError on an odd length."""
    if len(data) % 2:
        raise CryptoError("SIGNATURE_HASH_ALGORITHMS data has an odd length")
    seen: list[HashAlgorithm] = []
    for (value,) in struct.iter_unpack(">H", data):
        try:
            algorithm = HashAlgorithm(value)
        except ValueError:
            continue
        if algorithm not in seen:
            seen.append(algorithm)
    return tuple(seen)


__all__ = [
    "DEFAULT_ALLOWED_SCHEMES",
    "KEY_PAD",
    "MIN_RSA_BITS",
    "IdentificationData",
    "SignatureScheme",
    "SigningKey",
    "VerifyingKey",
    "algorithm_identifier",
    "as_signing_key",
    "as_verifying_key",
    "choose_signature_scheme",
    "compute_psk_auth",
    "encode_signature_hash_algorithms",
    "id_payload_body",
    "legacy_ecdsa_method",
    "maced_id",
    "parse_signature_hash_algorithms",
    "scheme_from_algorithm_identifier",
    "schemes_for_key",
    "sign_auth",
    "sign_ecdsa_legacy",
    "signed_octets",
    "signed_octets_for_id",
    "split_signature_auth",
    "supported_hash_algorithms",
    "verify_digital_signature_auth",
    "verify_psk_auth",
    "verify_signature_auth",
]
