"""Helpers for the configuration tests (no tests here): a valid base
configuration, files written into a temporary directory, a tiny PKI."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import NameOID

PSK = b"correct horse battery staple"

BASE = """\
[local]
id = "r1.example.net"
listen = ["10.0.0.1:500"]
state_dir = "state"
control_socket = "rkmpd.sock"
hooks_dir = "hooks.d"

[auth]
psk_file = "psk"

[rkmp]
proposals = ["aes256gcm16-prfsha256-x25519"]
rekey_time = "4h"
liveness_interval = "30s"

[[peer]]
name = "r2"
address = "10.0.0.2"
port = 500
id = "r2.example.net"
on_failure = "revoke"

  [[peer.protocol]]
  type = "ospfv2"
  interface = "eth0"
  algorithm = "hmac-sha-256"
  rekey_time = "24h"
"""


def write(directory: Path, name: str, data: str | bytes, mode: int = 0o600) -> Path:
    path = directory / name
    if isinstance(data, str):
        path.write_text(data)
    else:
        path.write_bytes(data)
    path.chmod(mode)
    return path


def setup_dir(directory: Path, config: str = BASE, psk: bytes = PSK + b"\n") -> Path:
    """``rkmpd.toml`` and a ``psk`` file in ``directory``; the config's path."""
    write(directory, "psk", psk)
    return write(directory, "rkmpd.toml", config, 0o644)


_NOT_BEFORE = datetime.datetime(2023, 1, 1, tzinfo=datetime.UTC)
_NOT_AFTER = datetime.datetime(2033, 1, 1, tzinfo=datetime.UTC)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ed25519.Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@dataclass(frozen=True)
class Pki:
    ca_cert: x509.Certificate
    cert: x509.Certificate
    key_pem: bytes
    other_key_pem: bytes  # a key that does not match ``cert``


def make_pki(dns_name: str = "r1.example.net") -> Pki:
    ca_key = ed25519.Ed25519PrivateKey.generate()
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("RKMP config test CA"))
        .issuer_name(_name("RKMP config test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_NOT_BEFORE)
        .not_valid_after(_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, None)
    )
    key = ed25519.Ed25519PrivateKey.generate()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(dns_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_NOT_BEFORE)
        .not_valid_after(_NOT_AFTER)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, None)
    )
    return Pki(ca_cert, cert, _key_pem(key), _key_pem(ed25519.Ed25519PrivateKey.generate()))


def write_pki(directory: Path, pki: Pki) -> None:
    """``r1.crt``, ``r1.key``, ``other.key`` and ``ca.crt`` in ``directory``."""
    write(directory, "r1.crt", _pem(pki.cert), 0o644)
    write(directory, "r1.key", pki.key_pem)
    write(directory, "other.key", pki.other_key_pem)
    write(directory, "ca.crt", _pem(pki.ca_cert), 0o644)


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)
