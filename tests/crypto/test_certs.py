"""X.509 loading, CERT/CERTREQ data, path validation and identity matching."""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, x25519
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import NameOID

from rkmp_frr.crypto.auth import (
    SignatureScheme,
    sign_auth,
    verify_digital_signature_auth,
)
from rkmp_frr.crypto.certs import (
    CERTREQ_HASH_SIZE,
    DEFAULT_MAX_LINK_CHECKS,
    CertificateValidationError,
    ChainFailure,
    CredentialError,
    cas_matching_certreq,
    cert_payload_data,
    certificate_from_payload,
    certificate_public_key,
    certreq_data,
    identity_matches_certificate,
    load_certificate,
    load_certificates,
    load_private_key,
    validate_chain,
)
from rkmp_frr.crypto.errors import AuthenticationError
from rkmp_frr.wire.constants import CertEncoding, IdType

NOW = datetime(2030, 6, 1, tzinfo=UTC)
START = datetime(2030, 1, 1, tzinfo=UTC)
END = datetime(2031, 1, 1, tzinfo=UTC)

KeyUsageFlags = dict[str, bool]
CA_USAGE: KeyUsageFlags = {"key_cert_sign": True, "crl_sign": True}
LEAF_USAGE: KeyUsageFlags = {"digital_signature": True}
_NO_USAGE = dict.fromkeys(
    [
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
        "encipher_only",
        "decipher_only",
    ],
    False,
)


def name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "rkmp test"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


@dataclass
class CertSpec:
    """What to put in a test certificate; issuer None = self-signed."""

    subject: str
    key: CertificateIssuerPrivateKeyTypes
    issuer: x509.Certificate | None = None
    issuer_key: CertificateIssuerPrivateKeyTypes | None = None
    ca: bool | None = None  # None: no basicConstraints at all
    path_length: int | None = None
    usage: KeyUsageFlags | None = None
    not_before: datetime = START
    not_after: datetime = END
    dns: Sequence[str] = ()
    ips: Sequence[str] = ()
    emails: Sequence[str] = ()
    critical_unknown: bool = False
    digest: hashes.SHA256 | hashes.SHA384 | hashes.SHA512 = field(default_factory=hashes.SHA256)
    pss: bool = False


def make_cert(spec: CertSpec) -> x509.Certificate:
    issuer_key = spec.issuer_key if spec.issuer_key is not None else spec.key
    issuer_name = spec.issuer.subject if spec.issuer is not None else name(spec.subject)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name(spec.subject))
        .issuer_name(issuer_name)
        .public_key(spec.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(spec.not_before)
        .not_valid_after(spec.not_after)
    )
    if spec.ca is not None:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=spec.ca, path_length=spec.path_length), critical=True
        )
    if spec.usage is not None:
        builder = builder.add_extension(x509.KeyUsage(**{**_NO_USAGE, **spec.usage}), critical=True)
    alt_names: list[x509.GeneralName] = [x509.DNSName(dns) for dns in spec.dns]
    alt_names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in spec.ips]
    alt_names += [x509.RFC822Name(email) for email in spec.emails]
    if alt_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
    if spec.critical_unknown:
        builder = builder.add_extension(
            x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x05\x00"),
            critical=True,
        )
    digest = None if isinstance(issuer_key, ed25519.Ed25519PrivateKey) else spec.digest
    if spec.pss:
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        return builder.sign(issuer_key, digest, rsa_padding=pss)
    return builder.sign(issuer_key, digest)


@dataclass(frozen=True)
class Pki:
    """Root (RSA-2048) -> intermediate (P-384, PSS-signed by the root) ->
    leaves (P-256, Ed25519, RSA), plus keys to build variants from."""

    root_key: rsa.RSAPrivateKey
    root: x509.Certificate
    inter_key: ec.EllipticCurvePrivateKey
    inter: x509.Certificate
    leaf_key: ec.EllipticCurvePrivateKey
    leaf: x509.Certificate
    ed_key: ed25519.Ed25519PrivateKey
    ed_leaf: x509.Certificate
    rsa_leaf: x509.Certificate
    other_root_key: ec.EllipticCurvePrivateKey
    other_root: x509.Certificate

    def leaf_spec(self, **changes: object) -> CertSpec:
        base = CertSpec(
            "r1.example.net",
            self.leaf_key,
            self.inter,
            self.inter_key,
            usage=LEAF_USAGE,
            dns=["r1.example.net"],
            ips=["192.0.2.1", "2001:db8::1"],
            emails=["ops@Example.NET"],
        )
        for key, value in changes.items():
            setattr(base, key, value)
        return base


@pytest.fixture(scope="session")
def pki() -> Pki:
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root = make_cert(CertSpec("Root CA", root_key, ca=True, path_length=1, usage=CA_USAGE))
    inter_key = ec.generate_private_key(ec.SECP384R1())
    inter = make_cert(
        CertSpec(
            "Intermediate CA",
            inter_key,
            root,
            root_key,
            ca=True,
            path_length=0,
            usage=CA_USAGE,
            pss=True,
        )
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = make_cert(
        CertSpec(
            "r1.example.net",
            leaf_key,
            inter,
            inter_key,
            usage=LEAF_USAGE,
            dns=["r1.example.net"],
            ips=["192.0.2.1", "2001:db8::1"],
            emails=["ops@Example.NET"],
            digest=hashes.SHA384(),
        )
    )
    ed_key = ed25519.Ed25519PrivateKey.generate()
    ed_leaf = make_cert(
        CertSpec("r2.example.net", ed_key, inter, inter_key, dns=["r2.example.net"])
    )
    rsa_leaf = make_cert(CertSpec("r3.example.net", root_key, inter, inter_key, usage=LEAF_USAGE))
    other_root_key = ec.generate_private_key(ec.SECP256R1())
    other_root = make_cert(CertSpec("Other Root", other_root_key, ca=True, usage=CA_USAGE))
    return Pki(
        root_key,
        root,
        inter_key,
        inter,
        leaf_key,
        leaf,
        ed_key,
        ed_leaf,
        rsa_leaf,
        other_root_key,
        other_root,
    )


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def failure_of(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    now: datetime = NOW,
    max_depth: int = 8,
    max_link_checks: int = DEFAULT_MAX_LINK_CHECKS,
) -> CertificateValidationError:
    with pytest.raises(CertificateValidationError) as info:
        validate_chain(
            leaf, intermediates, anchors, now, max_depth=max_depth, max_link_checks=max_link_checks
        )
    assert isinstance(info.value, AuthenticationError)
    return info.value


# ---------------------------------------------------------------------------
# Valid paths
# ---------------------------------------------------------------------------


def test_valid_chain(pki: Pki) -> None:
    chain = validate_chain(pki.leaf, [pki.inter], [pki.root], NOW)
    assert chain.certificates == (pki.leaf, pki.inter, pki.root)
    assert chain.end_entity == pki.leaf
    assert chain.trust_anchor == pki.root


def test_valid_chain_from_der_with_noise(pki: Pki) -> None:
    # Peer sends DER, in any order, with unrelated certificates mixed in.
    chain = validate_chain(
        der(pki.leaf), [der(pki.other_root), der(pki.inter)], [pki.other_root, pki.root], NOW
    )
    assert chain.certificates == (pki.leaf, pki.inter, pki.root)


@pytest.mark.parametrize("leaf_name", ["ed_leaf", "rsa_leaf"])
def test_valid_chain_other_key_types(pki: Pki, leaf_name: str) -> None:
    leaf = getattr(pki, leaf_name)
    assert validate_chain(leaf, [pki.inter], [pki.root], NOW).end_entity == leaf


def test_intermediate_as_anchor(pki: Pki) -> None:
    chain = validate_chain(pki.leaf, [], [pki.inter], NOW)
    assert chain.certificates == (pki.leaf, pki.inter)


def test_pinned_end_entity(pki: Pki) -> None:
    selfsigned = make_cert(CertSpec("pinned", pki.leaf_key, usage=LEAF_USAGE))
    assert validate_chain(selfsigned, [], [selfsigned], NOW).certificates == (selfsigned,)


def test_boundaries_of_validity_are_inclusive(pki: Pki) -> None:
    validate_chain(pki.leaf, [pki.inter], [pki.root], START)
    validate_chain(pki.leaf, [pki.inter], [pki.root], END)


def test_chain_key_verifies_an_auth_signature(pki: Pki) -> None:
    chain = validate_chain(pki.ed_leaf, [pki.inter], [pki.root], NOW)
    auth = sign_auth(pki.ed_key, b"octets", SignatureScheme.ED25519)
    assert verify_digital_signature_auth(auth, b"octets", chain.public_key) is (
        SignatureScheme.ED25519
    )
    with pytest.raises(AuthenticationError):
        verify_digital_signature_auth(auth, b"octets", certificate_public_key(pki.leaf))


# ---------------------------------------------------------------------------
# Failures
# ---------------------------------------------------------------------------


def test_expired_leaf(pki: Pki) -> None:
    leaf = make_cert(pki.leaf_spec(not_after=NOW - timedelta(seconds=1)))
    error = failure_of(leaf, [pki.inter], [pki.root])
    assert error.failure is ChainFailure.EXPIRED
    assert "r1.example.net" in error.subject
    assert "r1.example.net" in str(error)


def test_expired_at_now(pki: Pki) -> None:
    error = failure_of(pki.leaf, [pki.inter], [pki.root], now=END + timedelta(seconds=1))
    assert error.failure is ChainFailure.EXPIRED


def test_not_yet_valid_leaf(pki: Pki) -> None:
    leaf = make_cert(pki.leaf_spec(not_before=NOW + timedelta(days=1)))
    error = failure_of(leaf, [pki.inter], [pki.root])
    assert error.failure is ChainFailure.NOT_YET_VALID


def test_expired_intermediate(pki: Pki) -> None:
    inter = make_cert(
        CertSpec(
            "Intermediate CA",
            pki.inter_key,
            pki.root,
            pki.root_key,
            ca=True,
            usage=CA_USAGE,
            not_after=NOW - timedelta(days=1),
        )
    )
    error = failure_of(pki.leaf, [inter], [pki.root])
    assert error.failure is ChainFailure.EXPIRED
    assert "Intermediate CA" in error.subject


def test_expired_anchor(pki: Pki) -> None:
    root = make_cert(
        CertSpec(
            "Root CA",
            pki.root_key,
            ca=True,
            usage=CA_USAGE,
            not_after=NOW - timedelta(days=1),
        )
    )
    error = failure_of(pki.leaf, [pki.inter], [root])
    assert error.failure is ChainFailure.EXPIRED
    assert "Root CA" in error.subject


def test_unknown_ca(pki: Pki) -> None:
    error = failure_of(pki.leaf, [pki.inter], [pki.other_root])
    assert error.failure is ChainFailure.UNKNOWN_ISSUER
    assert "Intermediate CA" in error.subject  # the root is what is missing


def test_missing_intermediate(pki: Pki) -> None:
    error = failure_of(pki.leaf, [], [pki.root])
    assert error.failure is ChainFailure.UNKNOWN_ISSUER
    assert "r1.example.net" in error.subject


def test_no_anchors(pki: Pki) -> None:
    assert failure_of(pki.leaf, [pki.inter], []).failure is ChainFailure.UNKNOWN_ISSUER


@pytest.mark.parametrize("ca", [False, None], ids=["ca-false", "no-basic-constraints"])
def test_intermediate_without_ca_flag(pki: Pki, ca: bool | None) -> None:
    inter = make_cert(
        CertSpec("Intermediate CA", pki.inter_key, pki.root, pki.root_key, ca=ca, usage=CA_USAGE)
    )
    error = failure_of(pki.leaf, [inter], [pki.root])
    assert error.failure is ChainFailure.NOT_A_CA
    assert "Intermediate CA" in error.subject


def test_intermediate_without_key_cert_sign(pki: Pki) -> None:
    inter = make_cert(
        CertSpec(
            "Intermediate CA",
            pki.inter_key,
            pki.root,
            pki.root_key,
            ca=True,
            usage={"digital_signature": True, "crl_sign": True},
        )
    )
    error = failure_of(pki.leaf, [inter], [pki.root])
    assert error.failure is ChainFailure.KEY_USAGE
    assert "Intermediate CA" in error.subject


def test_leaf_without_digital_signature(pki: Pki) -> None:
    leaf = make_cert(pki.leaf_spec(usage={"key_encipherment": True}))
    error = failure_of(leaf, [pki.inter], [pki.root])
    assert error.failure is ChainFailure.KEY_USAGE
    assert "r1.example.net" in error.subject


def test_leaf_without_key_usage_is_fine(pki: Pki) -> None:
    leaf = make_cert(pki.leaf_spec(usage=None))
    validate_chain(leaf, [pki.inter], [pki.root], NOW)


def test_path_length_exceeded(pki: Pki) -> None:
    root = make_cert(CertSpec("Strict Root", pki.root_key, ca=True, path_length=0, usage=CA_USAGE))
    inter = make_cert(
        CertSpec("Intermediate CA", pki.inter_key, root, pki.root_key, ca=True, usage=CA_USAGE)
    )
    error = failure_of(pki.leaf, [inter], [root])
    assert error.failure is ChainFailure.PATH_LENGTH
    assert "Strict Root" in error.subject
    # The same root may issue end entities directly.
    direct = make_cert(pki.leaf_spec(issuer=root, issuer_key=pki.root_key))
    validate_chain(direct, [], [root], NOW)


def test_path_length_counts_every_intermediate(pki: Pki) -> None:
    # Root pathLen 1 with two CAs below it: too many.
    sub_key = ec.generate_private_key(ec.SECP256R1())
    sub = make_cert(CertSpec("Sub CA", sub_key, pki.inter, pki.inter_key, ca=True, usage=CA_USAGE))
    # pki.inter has pathLen 0, so it already refuses Sub CA; use a lax copy.
    lax_inter = make_cert(
        CertSpec("Intermediate CA", pki.inter_key, pki.root, pki.root_key, ca=True, usage=CA_USAGE)
    )
    leaf = make_cert(pki.leaf_spec(issuer=sub, issuer_key=sub_key))
    error = failure_of(leaf, [sub, lax_inter], [pki.root])
    assert error.failure is ChainFailure.PATH_LENGTH
    assert "Root CA" in error.subject
    error = failure_of(leaf, [sub, pki.inter], [pki.root])
    assert error.failure is ChainFailure.PATH_LENGTH
    assert "Intermediate CA" in error.subject


def test_self_signed_leaf_not_in_store(pki: Pki) -> None:
    selfsigned = make_cert(CertSpec("r1.example.net", pki.leaf_key, usage=LEAF_USAGE))
    error = failure_of(selfsigned, [], [pki.root])
    assert error.failure is ChainFailure.UNKNOWN_ISSUER
    # Sending it as its own intermediate does not help either.
    error = failure_of(selfsigned, [selfsigned], [pki.root])
    assert error.failure is ChainFailure.LOOP


def test_forged_signature(pki: Pki) -> None:
    # Names the real intermediate as issuer but is signed by another key.
    forger = ec.generate_private_key(ec.SECP384R1())
    leaf = make_cert(pki.leaf_spec(issuer_key=forger))
    error = failure_of(leaf, [pki.inter], [pki.root])
    assert error.failure is ChainFailure.BAD_SIGNATURE
    assert "r1.example.net" in error.subject


def test_impostor_anchor_with_same_name(pki: Pki) -> None:
    impostor = make_cert(CertSpec("Root CA", pki.other_root_key, ca=True, usage=CA_USAGE))
    error = failure_of(pki.leaf, [pki.inter], [impostor])
    assert error.failure is ChainFailure.BAD_SIGNATURE


def test_loop_between_cross_signed_cas(pki: Pki) -> None:
    key_a = ec.generate_private_key(ec.SECP256R1())
    key_b = ec.generate_private_key(ec.SECP256R1())
    b_stub = make_cert(CertSpec("CA B", key_b, ca=True, usage=CA_USAGE))
    a_by_b = make_cert(CertSpec("CA A", key_a, b_stub, key_b, ca=True, usage=CA_USAGE))
    b_by_a = make_cert(CertSpec("CA B", key_b, a_by_b, key_a, ca=True, usage=CA_USAGE))
    leaf = make_cert(pki.leaf_spec(issuer=a_by_b, issuer_key=key_a))
    error = failure_of(leaf, [a_by_b, b_by_a], [pki.root])
    assert error.failure is ChainFailure.LOOP


def test_search_work_is_bounded(pki: Pki) -> None:
    """Many same-named CAs that vouch for each other: every path dead-ends,
    and the search gives up after a fixed number of issuer checks instead
    of trying them all."""
    keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(3)]
    stubs = [make_cert(CertSpec("Mesh CA", key, ca=True, usage=CA_USAGE)) for key in keys]
    mesh = [
        make_cert(CertSpec("Mesh CA", subject_key, stub, issuer_key, ca=True, usage=CA_USAGE))
        for subject_key in keys
        for stub, issuer_key in zip(stubs, keys, strict=True)
        if subject_key is not issuer_key
    ]
    leaf = make_cert(pki.leaf_spec(issuer=stubs[0], issuer_key=keys[0]))
    error = failure_of(leaf, mesh, [pki.root], max_link_checks=4)
    assert error.failure is ChainFailure.SEARCH_LIMIT
    # With the default budget the same search ends with a real reason.
    assert failure_of(leaf, mesh, [pki.root]).failure is ChainFailure.LOOP


def test_depth_bound(pki: Pki) -> None:
    error = failure_of(pki.leaf, [pki.inter], [pki.root], max_depth=2)
    assert error.failure is ChainFailure.TOO_DEEP
    validate_chain(pki.leaf, [pki.inter], [pki.root], NOW, max_depth=3)


def test_unhandled_critical_extension(pki: Pki) -> None:
    leaf = make_cert(pki.leaf_spec(critical_unknown=True))
    error = failure_of(leaf, [pki.inter], [pki.root])
    assert error.failure is ChainFailure.UNHANDLED_CRITICAL_EXTENSION


def _der_tlv(tag: int, body: bytes) -> bytes:
    if len(body) < 0x80:
        return bytes((tag, len(body))) + body
    size = len(body).to_bytes((len(body).bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(size))) + size + body


def _resign_with_sha1(cert: x509.Certificate, key: rsa.RSAPrivateKey) -> x509.Certificate:
    """cryptography will not sign with SHA-1, so swap sha256WithRSAEncryption
    for sha1WithRSAEncryption (RFC 7427 A.1.2 / A.1.1, same length) in the
    TBS and sign it by hand."""
    sha256_rsa = bytes.fromhex("300d06092a864886f70d01010b0500")
    sha1_rsa = bytes.fromhex("300d06092a864886f70d0101050500")
    tbs = cert.tbs_certificate_bytes
    assert tbs.count(sha256_rsa) == 1
    tbs = tbs.replace(sha256_rsa, sha1_rsa)
    signature = key.sign(tbs, padding.PKCS1v15(), hashes.SHA1())
    body = tbs + sha1_rsa + _der_tlv(0x03, b"\x00" + signature)
    return x509.load_der_x509_certificate(_der_tlv(0x30, body))


def test_unhandled_critical_extension_on_intermediate(pki: Pki) -> None:
    spec = CertSpec(
        "Intermediate CA", pki.inter_key, pki.root, pki.root_key, ca=True, usage=CA_USAGE
    )
    spec.critical_unknown = True
    error = failure_of(pki.leaf, [make_cert(spec)], [pki.root])
    assert error.failure is ChainFailure.UNHANDLED_CRITICAL_EXTENSION
    assert "Intermediate CA" in error.subject


def test_sha1_signed_certificate_refused(pki: Pki) -> None:
    leaf = make_cert(pki.leaf_spec(issuer=pki.root, issuer_key=pki.root_key))
    validate_chain(leaf, [], [pki.root], NOW)  # the SHA-256 original is fine
    weak = _resign_with_sha1(leaf, pki.root_key)
    assert isinstance(weak.signature_hash_algorithm, hashes.SHA1)
    root_public = pki.root.public_key()
    assert isinstance(root_public, rsa.RSAPublicKey)
    root_public.verify(  # a genuine signature...
        weak.signature, weak.tbs_certificate_bytes, padding.PKCS1v15(), hashes.SHA1()
    )
    error = failure_of(weak, [], [pki.root])  # ...refused for its hash
    assert error.failure is ChainFailure.WEAK_SIGNATURE


def test_malformed_der(pki: Pki) -> None:
    error = failure_of(der(pki.leaf)[:-10], [pki.inter], [pki.root])  # type: ignore[arg-type]
    assert error.failure is ChainFailure.MALFORMED


def test_naive_time_refused(pki: Pki) -> None:
    with pytest.raises(ValueError):
        validate_chain(pki.leaf, [pki.inter], [pki.root], datetime(2030, 6, 1))


# ---------------------------------------------------------------------------
# Identity matching (RFC 4945 §3.1)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("id_type", "id_data", "expected"),
    [
        (IdType.ID_FQDN, b"r1.example.net", True),
        (IdType.ID_FQDN, b"R1.Example.NET", True),
        (IdType.ID_FQDN, b"r1.example.net.", True),
        (IdType.ID_FQDN, b"r2.example.net", False),
        (IdType.ID_FQDN, b"example.net", False),
        (IdType.ID_FQDN, b"", False),
        (IdType.ID_FQDN, "r1.exämple.net".encode(), False),
        (IdType.ID_IPV4_ADDR, bytes((192, 0, 2, 1)), True),
        (IdType.ID_IPV4_ADDR, bytes((192, 0, 2, 2)), False),
        (IdType.ID_IPV4_ADDR, bytes((192, 0, 2)), False),
        (IdType.ID_IPV6_ADDR, ipaddress.IPv6Address("2001:db8::1").packed, True),
        (IdType.ID_IPV6_ADDR, ipaddress.IPv6Address("2001:db8::2").packed, False),
        (IdType.ID_IPV4_ADDR, ipaddress.IPv6Address("2001:db8::1").packed, False),
        (IdType.ID_RFC822_ADDR, b"ops@example.net", True),
        (IdType.ID_RFC822_ADDR, b"Ops@example.net", False),
        (IdType.ID_RFC822_ADDR, b"noc@example.net", False),
        (IdType.ID_KEY_ID, b"r1.example.net", False),
        (IdType.ID_DER_ASN1_GN, b"r1.example.net", False),
    ],
)
def test_identity_matches_alt_names(pki: Pki, id_type: int, id_data: bytes, expected: bool) -> None:
    assert identity_matches_certificate(id_type, id_data, pki.leaf) is expected


def test_identity_dn(pki: Pki) -> None:
    assert identity_matches_certificate(
        IdType.ID_DER_ASN1_DN, pki.leaf.subject.public_bytes(), pki.leaf
    )
    assert not identity_matches_certificate(
        IdType.ID_DER_ASN1_DN, pki.inter.subject.public_bytes(), pki.leaf
    )
    assert not identity_matches_certificate(IdType.ID_DER_ASN1_DN, b"", pki.leaf)


def test_identity_needs_subject_alt_name(pki: Pki) -> None:
    # The CN says r3.example.net, but only subjectAltName counts.
    assert not identity_matches_certificate(IdType.ID_FQDN, b"r3.example.net", pki.rsa_leaf)


# ---------------------------------------------------------------------------
# CERT and CERTREQ data (RFC 7296 §3.6, §3.7)
# ---------------------------------------------------------------------------


def spki_sha1(cert: x509.Certificate) -> bytes:
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha1(spki).digest()


def test_certreq_data_is_spki_sha1_list(pki: Pki) -> None:
    data = certreq_data([pki.root, pki.other_root])
    assert data == spki_sha1(pki.root) + spki_sha1(pki.other_root)
    assert len(data) == 2 * CERTREQ_HASH_SIZE == 40
    assert certreq_data([]) == b""


def test_cas_matching_certreq(pki: Pki) -> None:
    unknown = bytes(20)
    data = spki_sha1(pki.other_root) + unknown + spki_sha1(pki.root) + spki_sha1(pki.root)
    assert cas_matching_certreq(data, [pki.root, pki.inter, pki.other_root]) == (
        pki.other_root,
        pki.root,
    )
    assert cas_matching_certreq(b"", [pki.root]) == ()
    with pytest.raises(CredentialError):
        cas_matching_certreq(data[:-1], [pki.root])


def test_cert_payload_round_trip(pki: Pki) -> None:
    encoding, data = cert_payload_data(pki.leaf)
    assert encoding is CertEncoding.X509_SIGNATURE
    assert int(encoding) == 4
    assert data == der(pki.leaf)
    assert certificate_from_payload(4, data) == pki.leaf
    with pytest.raises(AuthenticationError):
        certificate_from_payload(CertEncoding.HASH_URL_X509_CERT, data)
    with pytest.raises(AuthenticationError):
        certificate_from_payload(4, data[:-1])


# ---------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------


def test_load_certificates_pem_der_bundle(pki: Pki) -> None:
    pem = pki.leaf.public_bytes(serialization.Encoding.PEM)
    assert load_certificate(pem) == pki.leaf
    assert load_certificate(b"\n  " + pem) == pki.leaf
    assert load_certificate(der(pki.leaf)) == pki.leaf
    bundle = pem + pki.inter.public_bytes(serialization.Encoding.PEM)
    assert load_certificates(bundle) == (pki.leaf, pki.inter)
    with pytest.raises(CredentialError):
        load_certificate(bundle)
    for garbage in (b"", b"not a certificate", der(pki.leaf)[:50], b"-----BEGIN junk"):
        with pytest.raises(CredentialError):
            load_certificates(garbage)


def _pem(
    key: ec.EllipticCurvePrivateKey | x25519.X25519PrivateKey, password: bytes | None
) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def test_load_private_key_formats(pki: Pki) -> None:
    key = pki.leaf_key
    public = key.public_key().public_numbers()
    for data, password in (
        (_pem(key, None), None),
        (_pem(key, b"pw"), b"pw"),
        (
            key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            None,
        ),
        (
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            ),
            None,
        ),
    ):
        loaded = load_private_key(data, password)
        assert isinstance(loaded, ec.EllipticCurvePrivateKey)
        assert loaded.public_key().public_numbers() == public
    ed = load_private_key(
        pki.ed_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    assert isinstance(ed, ed25519.Ed25519PrivateKey)


def test_load_private_key_errors_do_not_leak_key(pki: Pki) -> None:
    encrypted = _pem(pki.leaf_key, b"secret-pw")
    plain = _pem(pki.leaf_key, None)
    body = plain.splitlines()[1].decode()
    cases: list[tuple[bytes, bytes | None]] = [
        (encrypted, None),  # password missing
        (encrypted, b"wrong"),  # wrong password
        (plain, b"unneeded"),  # password not expected
        (plain[:60], None),  # truncated
        (b"", None),
        (_pem(x25519.X25519PrivateKey.generate(), None), None),  # not a signing key
    ]
    for data, password in cases:
        with pytest.raises(CredentialError) as info:
            load_private_key(data, password)
        assert body not in str(info.value)
        assert "secret-pw" not in str(info.value)


def test_load_private_key_refuses_small_rsa() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = small.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(CredentialError):
        load_private_key(pem)
