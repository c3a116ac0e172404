"""A tiny PKI for engine tests: a CA and end-entity certificates whose
subjectAltName carries the router's IP address (its RKMP identity)."""

from __future__ import annotations

import datetime
import ipaddress
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from rkmp_frr.engine import CertCredential, CertTrust

NOT_BEFORE = datetime.datetime(2023, 1, 1, tzinfo=datetime.UTC)
NOT_AFTER = datetime.datetime(2033, 1, 1, tzinfo=datetime.UTC)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@cache
def ca(name: str) -> tuple[ed25519.Ed25519PrivateKey, x509.Certificate]:
    key = ed25519.Ed25519PrivateKey.generate()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(_name(name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, None)
    )
    return key, cert


@cache
def router(address: str, ca_name: str = "RKMP test CA", curve: bool = False) -> CertCredential:
    """A credential for ``address`` signed by ``ca_name``; an ECDSA P-256
    key if ``curve``, else Ed25519."""
    ca_key, ca_cert = ca(ca_name)
    key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
    key = ec.generate_private_key(ec.SECP256R1()) if curve else ed25519.Ed25519PrivateKey.generate()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(address))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(address))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, None)
    )
    return CertCredential(key, (cert.public_bytes(serialization.Encoding.DER),))


def trust(ca_name: str = "RKMP test CA") -> CertTrust:
    return CertTrust((ca(ca_name)[1].public_bytes(serialization.Encoding.DER),))
