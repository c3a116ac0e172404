"""RKMP crypto: key exchange groups, algorithm suites and proposals, AUTH
(PSK and RFC 7427 signatures), X.509 chain validation,
the IKEv2 key schedule, SK payload protection and key logging.

Two entry points are called by scripts outside the project; their names and
signatures are fixed:

- ``derive_rkmp_keys(proposal, g_ir, ni, nr, spi_i, spi_r) -> RkmpKeys``
- ``decrypt_message(data, proposal, sk_e, sk_a) -> Message``

where ``proposal`` is a strongSwan-style string naming one suite, e.g.
``aes256gcm16-prfsha256-x25519``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from rkmp_frr.crypto import errors
from rkmp_frr.crypto.auth import (
    DEFAULT_ALLOWED_SCHEMES,
    SignatureScheme,
    SigningKey,
    VerifyingKey,
    choose_signature_scheme,
    compute_psk_auth,
    encode_signature_hash_algorithms,
    parse_signature_hash_algorithms,
    sign_auth,
    sign_ecdsa_legacy,
    signed_octets,
    signed_octets_for_id,
    supported_hash_algorithms,
    verify_psk_auth,
    verify_signature_auth,
)
from rkmp_frr.crypto.certs import (
    CertificateValidationError,
    ChainFailure,
    CredentialError,
    ValidatedChain,
    cas_matching_certreq,
    cert_payload_data,
    certificate_from_payload,
    certreq_data,
    identity_matches_certificate,
    load_certificate,
    load_certificates,
    load_private_key,
    validate_chain,
)
from rkmp_frr.crypto.dh import KeGroup, KeyExchange, Rng, available_ke_ids, get_ke_group
from rkmp_frr.crypto.errors import (
    AuthenticationError,
    CryptoError,
    IntegrityError,
    InvalidPublicValue,
    ProposalError,
)
from rkmp_frr.crypto.keylog import keylog_line
from rkmp_frr.crypto.keyschedule import (
    RkmpKeys,
    child_keymat,
    derive_keys,
    derive_rekeyed_keys,
    ike_keymat,
    keys_from_skeyseed,
    rekey_skeyseed,
    skeyseed,
)
from rkmp_frr.crypto.prf import Prf, get_prf
from rkmp_frr.crypto.proposals import (
    ChosenProposal,
    CryptoProposal,
    ProposalSyntaxError,
    check_response,
    parse_proposal,
    parse_proposals,
    parse_suite,
    proposals_to_wire,
    select_offer,
    select_proposal,
)
from rkmp_frr.crypto.protection import (
    SkCipher,
    open_aes_gcm,
    protect,
    seal_aes_gcm,
    unprotect,
)
from rkmp_frr.crypto.suites import CryptoSuite, EncrAlgorithm, IntegAlgorithm, KeAlgorithm
from rkmp_frr.wire import Header, Message, Payload


@lru_cache(maxsize=256)
def _suite_named(proposal: str) -> CryptoSuite:
    """``parse_suite`` once per proposal string (suites are immutable; a
    ProposalError is raised again each time, not kept)."""
    return parse_suite(proposal)


def derive_rkmp_keys(
    proposal: str, g_ir: bytes, ni: bytes, nr: bytes, spi_i: bytes, spi_r: bytes
) -> RkmpKeys:
    """The keys of an RKMP SA (RFC 7296 §2.14) for the suite named by
    ``proposal`` (one algorithm of each type)."""
    return derive_keys(_suite_named(proposal), g_ir, ni, nr, spi_i, spi_r)


def decrypt_message(data: bytes, proposal: str, sk_e: bytes, sk_a: bytes) -> Message:
    """Decode a datagram, check its ICV and decrypt its SK payload with the
    sender's keys. The result has the same header and, as payloads, the
    unencrypted ones before SK followed by SK's contents. Raises
    IntegrityError if it does not authenticate, MalformedMessage if it is
    malformed."""
    return unprotect(data, _suite_named(proposal), sk_e, sk_a)


def encrypt_message(
    header: Header,
    inner_payloads: Sequence[Payload],
    proposal: str,
    sk_e: bytes,
    sk_a: bytes,
    iv: bytes | None = None,
    *,
    rng: Rng | None = None,
    unencrypted: Sequence[Payload] = (),
) -> bytes:
    """The inverse of ``decrypt_message``: ``header, [unencrypted,]
    SK{inner_payloads}`` encoded and protected with the sender's keys. The IV
    is ``iv`` if given, else drawn from ``rng`` (default: the OS)."""
    return protect(
        header,
        inner_payloads,
        _suite_named(proposal),
        sk_e,
        sk_a,
        iv,
        rng=rng,
        unencrypted=unencrypted,
    )


__all__ = [
    "DEFAULT_ALLOWED_SCHEMES",
    "AuthenticationError",
    "CertificateValidationError",
    "ChainFailure",
    "ChosenProposal",
    "CredentialError",
    "CryptoError",
    "CryptoProposal",
    "CryptoSuite",
    "EncrAlgorithm",
    "IntegAlgorithm",
    "IntegrityError",
    "InvalidPublicValue",
    "KeAlgorithm",
    "KeGroup",
    "KeyExchange",
    "Prf",
    "ProposalError",
    "ProposalSyntaxError",
    "RkmpKeys",
    "Rng",
    "SignatureScheme",
    "SigningKey",
    "SkCipher",
    "ValidatedChain",
    "VerifyingKey",
    "available_ke_ids",
    "cas_matching_certreq",
    "cert_payload_data",
    "certificate_from_payload",
    "certreq_data",
    "check_response",
    "child_keymat",
    "choose_signature_scheme",
    "compute_psk_auth",
    "decrypt_message",
    "derive_keys",
    "derive_rekeyed_keys",
    "derive_rkmp_keys",
    "encode_signature_hash_algorithms",
    "encrypt_message",
    "errors",
    "get_ke_group",
    "get_prf",
    "identity_matches_certificate",
    "ike_keymat",
    "keylog_line",
    "keys_from_skeyseed",
    "load_certificate",
    "load_certificates",
    "load_private_key",
    "open_aes_gcm",
    "parse_proposal",
    "parse_proposals",
    "parse_signature_hash_algorithms",
    "parse_suite",
    "proposals_to_wire",
    "protect",
    "rekey_skeyseed",
    "seal_aes_gcm",
    "select_offer",
    "select_proposal",
    "sign_auth",
    "sign_ecdsa_legacy",
    "signed_octets",
    "signed_octets_for_id",
    "skeyseed",
    "supported_hash_algorithms",
    "unprotect",
    "validate_chain",
    "verify_psk_auth",
    "verify_signature_auth",
]
