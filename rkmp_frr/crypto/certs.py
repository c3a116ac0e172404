"""X.509 credentials for certificate authentication.

Loading PEM/DER certificates and private keys from bytes (files are read at
the edges), CERT/CERTREQ payload data (RFC 7296 §3.6, §3.7), path building
and validation to a configured trust anchor (a profile of RFC 5280 §6: no
revocation, policies or name constraints), and matching the peer's IKE
identity against its certificate (RFC 4945 §3.1).

Pure functions: the validation time is an argument, never read here.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import NoReturn, TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtensionOID

from rkmp_frr.crypto.auth import SigningKey, VerifyingKey, as_signing_key, as_verifying_key
from rkmp_frr.crypto.errors import AuthenticationError, CryptoError
from rkmp_frr.wire.constants import CertEncoding, IdType

# A path longer than this (end entity and trust anchor included) is refused:
# it bounds the search and no sane router PKI is deeper.
DEFAULT_MAX_DEPTH = 8
# Issuer checks (each one a signature verification) the search may spend: a
# peer sending many cross-signed CAs must not buy exponential work.
DEFAULT_MAX_LINK_CHECKS = 32

# RFC 7296 §3.7: each CA is named by the SHA-1 hash of its public key.
CERTREQ_HASH_SIZE = hashlib.sha1().digest_size

_PEM_MARKER = b"-----BEGIN"


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


class CredentialError(CryptoError):
    """A certificate or key could not be loaded or is of an unusable type.
    The message names the problem, never the key material."""


class ChainFailure(Enum):
    """Why a certificate path did not validate."""

    MALFORMED = "malformed certificate"
    EXPIRED = "expired"
    NOT_YET_VALID = "not yet valid"
    UNKNOWN_ISSUER = "no trusted issuer"
    NOT_A_CA = "issuer is not a CA"
    KEY_USAGE = "key usage does not allow it"
    PATH_LENGTH = "path length constraint exceeded"
    BAD_SIGNATURE = "signature does not verify"
    WEAK_SIGNATURE = "signature uses a weak hash"
    UNHANDLED_CRITICAL_EXTENSION = "unhandled critical extension"
    TOO_DEEP = "path too long"
    LOOP = "path loops"
    SEARCH_LIMIT = "path search limit reached"


class CertificateValidationError(AuthenticationError):
    """A certificate path failed; ``failure`` says why, ``subject`` names the
    certificate it failed at (RFC 4514 string)."""

    def __init__(self, failure: ChainFailure, subject: str, detail: str) -> None:
        super().__init__(f"certificate '{subject}': {failure.value}: {detail}")
        self.failure = failure
        self.subject = subject
        self.detail = detail


# ---------------------------------------------------------------------------
# Loading (PEM or DER, from bytes)
# ---------------------------------------------------------------------------


def _is_pem(data: bytes) -> bool:
    return data.lstrip().startswith(_PEM_MARKER)


def load_certificates(data: bytes) -> tuple[x509.Certificate, ...]:
    """Every certificate in ``data``: a PEM bundle or one DER certificate."""
    try:
        if _is_pem(data):
            return tuple(x509.load_pem_x509_certificates(data))
        return (x509.load_der_x509_certificate(data),)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise CredentialError("not a PEM or DER X.509 certificate") from None


def load_certificate(data: bytes) -> x509.Certificate:
    """Exactly one certificate, PEM or DER."""
    certificates = load_certificates(data)
    if len(certificates) != 1:
        raise CredentialError(f"expected one certificate, found {len(certificates)}")
    return certificates[0]


def load_private_key(data: bytes, password: bytes | None = None) -> SigningKey:
    """A private key (PKCS#8 or the traditional formats, PEM or DER) of a
    type usable for AUTH signatures (Ed25519, Ed448, ECDSA P-256/384/521,
    RSA >= 2048 bits)."""
    try:
        if _is_pem(data):
            key = serialization.load_pem_private_key(data, password)
        else:
            key = serialization.load_der_private_key(data, password)
    except TypeError:
        # cryptography's signal for a missing or unneeded password.
        raise CredentialError("private key password missing or not expected") from None
    except (ValueError, UnsupportedAlgorithm):
        raise CredentialError("not a readable private key (or wrong password)") from None
    try:
        return as_signing_key(key)
    except CryptoError as exc:
        raise CredentialError(str(exc)) from None


def certificate_public_key(certificate: x509.Certificate) -> VerifyingKey:
    """The certificate's key, if it is one AUTH signatures can use."""
    try:
        return as_verifying_key(certificate.public_key())
    except (ValueError, UnsupportedAlgorithm):
        raise AuthenticationError(
            f"certificate '{_subject(certificate)}' has an unreadable public key"
        ) from None


def _subject(certificate: x509.Certificate) -> str:
    return certificate.subject.rfc4514_string() or "<empty subject>"


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def _spki(certificate: x509.Certificate) -> bytes:
    return certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


# ---------------------------------------------------------------------------
# CERT and CERTREQ payload data (RFC 7296 §3.6, §3.7)
# ---------------------------------------------------------------------------


def cert_payload_data(certificate: x509.Certificate) -> tuple[CertEncoding, bytes]:
    """(Cert Encoding, Certificate Data) for a CERT payload: encoding 4,
    "X.509 Certificate - Signature", carries the DER certificate."""
    return CertEncoding.X509_SIGNATURE, _der(certificate)


def certificate_from_payload(encoding: int, data: bytes) -> x509.Certificate:
    """The certificate a CERT payload carries; only encoding 4 is accepted
    (hash-and-URL would need fetching, the others are unspecified)."""
    if encoding != CertEncoding.X509_SIGNATURE:
        raise AuthenticationError(f"CERT encoding {encoding} is not supported")
    try:
        return x509.load_der_x509_certificate(data)
    except (ValueError, UnsupportedAlgorithm):
        raise AuthenticationError("CERT payload is not a DER X.509 certificate") from None


def certreq_data(cas: Iterable[x509.Certificate]) -> bytes:
    """CERTREQ Certification Authority data: the SHA-1 hashes of each CA's
    SubjectPublicKeyInfo, concatenated (RFC 7296 §3.7)."""
    return b"".join(hashlib.sha1(_spki(ca)).digest() for ca in cas)


def cas_matching_certreq(
    data: bytes, cas: Iterable[x509.Certificate]
) -> tuple[x509.Certificate, ...]:
    """The CAs among ``cas`` that a peer's CERTREQ names, in its order.
    CredentialError if the data is not a whole number of hashes."""
    if len(data) % CERTREQ_HASH_SIZE:
        raise CredentialError("CERTREQ data is not a list of SHA-1 hashes")
    by_hash: dict[bytes, x509.Certificate] = {}
    for ca in cas:
        by_hash.setdefault(hashlib.sha1(_spki(ca)).digest(), ca)
    wanted = (data[i : i + CERTREQ_HASH_SIZE] for i in range(0, len(data), CERTREQ_HASH_SIZE))
    matched: list[x509.Certificate] = []
    for digest in wanted:
        found = by_hash.get(digest)
        if found is not None and found not in matched:
            matched.append(found)
    return tuple(matched)


# ---------------------------------------------------------------------------
# Path validation
# ---------------------------------------------------------------------------

# Extensions whose meaning is enforced (or harmless to read) here; any other
# extension marked critical makes the certificate unusable (RFC 5280 §4.2).
_HANDLED_CRITICAL = frozenset(
    {
        ExtensionOID.BASIC_CONSTRAINTS,
        ExtensionOID.KEY_USAGE,
        ExtensionOID.EXTENDED_KEY_USAGE,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
        ExtensionOID.SUBJECT_KEY_IDENTIFIER,
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
    }
)

_WEAK_HASHES = (hashes.SHA1, hashes.MD5)


@dataclass(frozen=True, slots=True)
class ValidatedChain:
    """A path that validated: end entity first, trust anchor last (one
    certificate when the end entity is itself a configured anchor)."""

    certificates: tuple[x509.Certificate, ...]

    @property
    def end_entity(self) -> x509.Certificate:
        return self.certificates[0]

    @property
    def trust_anchor(self) -> x509.Certificate:
        return self.certificates[-1]

    @property
    def public_key(self) -> VerifyingKey:
        return certificate_public_key(self.end_entity)


def _fail(failure: ChainFailure, certificate: x509.Certificate, detail: str) -> NoReturn:
    raise CertificateValidationError(failure, _subject(certificate), detail)


def _as_certificate(item: x509.Certificate | bytes) -> x509.Certificate:
    if isinstance(item, x509.Certificate):
        return item
    try:
        return x509.load_der_x509_certificate(item)
    except (ValueError, UnsupportedAlgorithm):
        raise CertificateValidationError(
            ChainFailure.MALFORMED, "<unparsed>", "not a DER X.509 certificate"
        ) from None


_Ext = TypeVar("_Ext", bound=x509.ExtensionType)


def _extension(certificate: x509.Certificate, kind: type[_Ext]) -> _Ext | None:
    try:
        return certificate.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None
    except ValueError:  # duplicate or unparsable extensions
        _fail(ChainFailure.MALFORMED, certificate, "unparsable extensions")


def _check_validity(certificate: x509.Certificate, now: datetime) -> None:
    if now < certificate.not_valid_before_utc:
        _fail(
            ChainFailure.NOT_YET_VALID,
            certificate,
            f"valid from {certificate.not_valid_before_utc.isoformat()}",
        )
    if now > certificate.not_valid_after_utc:
        _fail(
            ChainFailure.EXPIRED,
            certificate,
            f"expired at {certificate.not_valid_after_utc.isoformat()}",
        )


def _check_critical_extensions(certificate: x509.Certificate) -> None:
    try:
        extensions = list(certificate.extensions)
    except ValueError:
        _fail(ChainFailure.MALFORMED, certificate, "unparsable extensions")
    for extension in extensions:
        if extension.critical and extension.oid not in _HANDLED_CRITICAL:
            _fail(
                ChainFailure.UNHANDLED_CRITICAL_EXTENSION,
                certificate,
                f"critical extension {extension.oid.dotted_string}",
            )


def _check_end_entity(certificate: x509.Certificate, now: datetime) -> None:
    _check_validity(certificate, now)
    _check_critical_extensions(certificate)
    usage = _extension(certificate, x509.KeyUsage)
    # RFC 4945 §5.1.3.2: when keyUsage is present it must allow signing.
    if usage is not None and not usage.digital_signature:
        _fail(ChainFailure.KEY_USAGE, certificate, "end entity lacks digitalSignature")


def _is_self_issued(certificate: x509.Certificate) -> bool:
    return certificate.subject == certificate.issuer


def _check_link(
    child: x509.Certificate,
    issuer: x509.Certificate,
    path: Sequence[x509.Certificate],
    now: datetime,
) -> None:
    """Can ``issuer`` vouch for ``child``, the last of ``path``?"""
    _check_validity(issuer, now)
    _check_critical_extensions(issuer)
    constraints = _extension(issuer, x509.BasicConstraints)
    if constraints is None or not constraints.ca:
        _fail(ChainFailure.NOT_A_CA, issuer, "basicConstraints cA is not set")
    usage = _extension(issuer, x509.KeyUsage)
    if usage is not None and not usage.key_cert_sign:
        _fail(ChainFailure.KEY_USAGE, issuer, "CA lacks keyCertSign")
    # RFC 5280 §4.2.1.9: pathLenConstraint counts the non-self-issued
    # intermediate CAs below this one (the end entity does not count).
    below = sum(1 for cert in path[1:] if not _is_self_issued(cert))
    if constraints.path_length is not None and below > constraints.path_length:
        _fail(
            ChainFailure.PATH_LENGTH,
            issuer,
            f"pathLenConstraint {constraints.path_length}, {below} CA(s) below it",
        )
    try:
        signature_hash = child.signature_hash_algorithm
    except UnsupportedAlgorithm:
        signature_hash = None
    if isinstance(signature_hash, _WEAK_HASHES):
        _fail(ChainFailure.WEAK_SIGNATURE, child, f"signed with {signature_hash.name}")
    try:
        child.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        _fail(
            ChainFailure.BAD_SIGNATURE,
            child,
            f"not signed by the key of '{_subject(issuer)}'",
        )


def _identity_key(certificate: x509.Certificate) -> tuple[bytes, bytes]:
    # Two certificates for the same subject and key are the same node of the
    # graph, whoever signed them: meeting it twice is a loop.
    return certificate.subject.public_bytes(), _spki(certificate)


@dataclass(slots=True)
class _Store:
    anchors: tuple[x509.Certificate, ...]
    anchor_ders: frozenset[bytes]
    intermediates: tuple[x509.Certificate, ...]
    now: datetime
    max_depth: int
    checks_left: int

    def issuers_of(self, certificate: x509.Certificate) -> list[x509.Certificate]:
        # Anchors first: the shortest path to trust is the one wanted.
        return [
            candidate
            for candidate in (*self.anchors, *self.intermediates)
            if candidate.subject == certificate.issuer
        ]


def _extend(store: _Store, path: list[x509.Certificate]) -> tuple[x509.Certificate, ...]:
    """Depth-first search from the last certificate of ``path`` up to an
    anchor; the first complete valid path wins."""
    current = path[-1]
    if _der(current) in store.anchor_ders:
        return tuple(path)
    if len(path) >= store.max_depth:
        _fail(ChainFailure.TOO_DEEP, current, f"no anchor within {store.max_depth} certificates")
    candidates = store.issuers_of(current)
    if not candidates:
        _fail(
            ChainFailure.UNKNOWN_ISSUER,
            current,
            f"issuer '{current.issuer.rfc4514_string()}' is not trusted",
        )
    seen = {_identity_key(cert) for cert in path}
    errors: list[CertificateValidationError] = []
    for issuer in candidates:
        if _identity_key(issuer) in seen:
            errors.append(
                CertificateValidationError(
                    ChainFailure.LOOP, _subject(issuer), "already on the path"
                )
            )
            continue
        if store.checks_left <= 0:
            _fail(ChainFailure.SEARCH_LIMIT, current, "too many candidate issuers")
        store.checks_left -= 1
        try:
            _check_link(current, issuer, path, store.now)
            return _extend(store, [*path, issuer])
        except CertificateValidationError as exc:
            errors.append(exc)
    # Report the first candidate's failure: it is the preferred route.
    raise errors[0]


def validate_chain(
    end_entity: x509.Certificate | bytes,
    intermediates: Iterable[x509.Certificate | bytes],
    trust_anchors: Iterable[x509.Certificate],
    now: datetime,
    *,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_link_checks: int = DEFAULT_MAX_LINK_CHECKS,
) -> ValidatedChain:
    """Build and check a path from the peer's certificate to one of
    ``trust_anchors`` at time ``now`` (timezone-aware). Checks: validity
    periods of every certificate (anchors too), each signature, cA and
    pathLenConstraint and keyCertSign (when keyUsage is present) for
    issuers, digitalSignature (when keyUsage is present) for the end entity,
    unhandled critical extensions, SHA-1/MD5 signatures, depth, loops, and
    the work spent searching (``max_link_checks`` issuer checks).
    CertificateValidationError (an AuthenticationError) on failure."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("validation time must be timezone-aware")
    if max_depth < 1:
        raise ValueError("max_depth must be at least 1")
    leaf = _as_certificate(end_entity)
    anchors = tuple(trust_anchors)
    store = _Store(
        anchors=anchors,
        anchor_ders=frozenset(_der(anchor) for anchor in anchors),
        intermediates=tuple(_as_certificate(item) for item in intermediates),
        now=now,
        max_depth=max_depth,
        checks_left=max_link_checks,
    )
    _check_end_entity(leaf, now)
    return ValidatedChain(_extend(store, [leaf]))


# ---------------------------------------------------------------------------
# Identity (RFC 4945 §3.1: the ID must be in the certificate)
# ---------------------------------------------------------------------------


def _alt_names(certificate: x509.Certificate) -> x509.SubjectAlternativeName | None:
    try:
        return certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return None


def _same_fqdn(a: str, b: str) -> bool:
    return a.rstrip(".").lower() == b.rstrip(".").lower()


def _same_rfc822(a: str, b: str) -> bool:
    # Local part as written, domain case-insensitive (RFC 5280 §4.2.1.6).
    local_a, _, domain_a = a.rpartition("@")
    local_b, _, domain_b = b.rpartition("@")
    return local_a == local_b and domain_a.lower() == domain_b.lower()


def identity_matches_certificate(id_type: int, id_data: bytes, cert: x509.Certificate) -> bool:
    """Does the peer's IKE identity appear in its certificate? ID_FQDN must
    be a subjectAltName dNSName, ID_IPV4_ADDR/ID_IPV6_ADDR an iPAddress,
    ID_RFC822_ADDR an rfc822Name, ID_DER_ASN1_DN the subject itself (same
    DER). Other ID types never match. No wildcards."""
    if id_type == IdType.ID_DER_ASN1_DN:
        return bool(id_data) and id_data == cert.subject.public_bytes()
    alt_names = _alt_names(cert)
    if alt_names is None:
        return False
    if id_type in (IdType.ID_IPV4_ADDR, IdType.ID_IPV6_ADDR):
        size = 4 if id_type == IdType.ID_IPV4_ADDR else 16
        if len(id_data) != size:
            return False
        address = ipaddress.ip_address(id_data)
        return address in alt_names.get_values_for_type(x509.IPAddress)
    try:
        text = id_data.decode("ascii")
    except UnicodeDecodeError:
        return False
    if not text:
        return False
    if id_type == IdType.ID_FQDN:
        return any(_same_fqdn(text, name) for name in alt_names.get_values_for_type(x509.DNSName))
    if id_type == IdType.ID_RFC822_ADDR:
        return any(
            _same_rfc822(text, name) for name in alt_names.get_values_for_type(x509.RFC822Name)
        )
    return False


__all__ = [
    "CERTREQ_HASH_SIZE",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_LINK_CHECKS",
    "CertificateValidationError",
    "ChainFailure",
    "CredentialError",
    "ValidatedChain",
    "cas_matching_certreq",
    "cert_payload_data",
    "certificate_from_payload",
    "certificate_public_key",
    "certreq_data",
    "identity_matches_certificate",
    "load_certificate",
    "load_certificates",
    "load_private_key",
    "validate_chain",
]
