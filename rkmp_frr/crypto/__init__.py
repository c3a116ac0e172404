"""RKMP crypto core: key exchange groups, algorithm suites and proposals,
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

from rkmp_frr.crypto import errors
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
from rkmp_frr.crypto.protection import open_aes_gcm, protect, seal_aes_gcm, unprotect
from rkmp_frr.crypto.suites import CryptoSuite, EncrAlgorithm, IntegAlgorithm, KeAlgorithm
from rkmp_frr.wire import Header, Message, Payload

# --- AUTH and certificates ---------------------------------------------------
# rkmp_frr.crypto.auth and rkmp_frr.crypto.certs are written by another
# engineer; their public names are re-exported here once they are settled.
# Until then import them from their modules (this package does not load them).
# -----------------------------------------------------------------------------


def derive_rkmp_keys(
    proposal: str, g_ir: bytes, ni: bytes, nr: bytes, spi_i: bytes, spi_r: bytes
) -> RkmpKeys:
    """The keys of an RKMP SA (RFC 7296 §2.14) for the suite named by
    ``proposal`` (one algorithm of each type)."""
    return derive_keys(parse_suite(proposal), g_ir, ni, nr, spi_i, spi_r)


def decrypt_message(data: bytes, proposal: str, sk_e: bytes, sk_a: bytes) -> Message:
    """Decode a datagram, check its ICV and decrypt its SK payload with the
    sender's keys. The result has the same header and, as payloads, the
    unencrypted ones before SK followed by SK's contents. Raises
    IntegrityError if it does not authenticate, MalformedMessage if it is
    malformed."""
    return unprotect(data, parse_suite(proposal), sk_e, sk_a)


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
        parse_suite(proposal),
        sk_e,
        sk_a,
        iv,
        rng=rng,
        unencrypted=unencrypted,
    )


__all__ = [
    "AuthenticationError",
    "ChosenProposal",
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
    "available_ke_ids",
    "check_response",
    "child_keymat",
    "decrypt_message",
    "derive_keys",
    "derive_rekeyed_keys",
    "derive_rkmp_keys",
    "encrypt_message",
    "errors",
    "get_ke_group",
    "get_prf",
    "ike_keymat",
    "keylog_line",
    "keys_from_skeyseed",
    "open_aes_gcm",
    "parse_proposal",
    "parse_proposals",
    "parse_suite",
    "proposals_to_wire",
    "protect",
    "rekey_skeyseed",
    "seal_aes_gcm",
    "select_offer",
    "select_proposal",
    "skeyseed",
    "unprotect",
]
