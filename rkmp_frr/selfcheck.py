"""Self-check of the wire codec and crypto layers: both halves of an
RKMP_SA_INIT + RKMP_SA_AUTH exchange, in one process, for every suite.

It is the README's main command until the daemon exists. Each side only
sees the other's bytes: the initiator encodes, the responder decodes,
selects, derives and answers, and so on, so any asymmetry between the two
directions of the codec or the key schedule shows up as a failure. No key
material is printed.
"""

from __future__ import annotations

import secrets
import sys
from dataclasses import dataclass
from typing import TypeVar

from rkmp_frr.crypto import (
    AuthenticationError,
    CryptoError,
    CryptoProposal,
    CryptoSuite,
    RkmpKeys,
    check_response,
    decrypt_message,
    derive_keys,
    encrypt_message,
    get_ke_group,
    parse_proposal,
    select_offer,
)
from rkmp_frr.crypto.auth import compute_psk_auth, signed_octets_for_id, verify_psk_auth
from rkmp_frr.wire import (
    AuthPayload,
    Header,
    Identity,
    IdPayload,
    KePayload,
    MalformedMessage,
    Message,
    NoncePayload,
    NotifyPayload,
    SaPayload,
    decode_message,
    encode_message,
)
from rkmp_frr.wire.constants import AuthMethod, ExchangeType, HeaderFlag, NotifyType

SUITES = (
    "aes256gcm16-prfsha256-x25519",
    "aes128gcm16-prfsha384-ecp384",
    "aes256-sha256-ecp256",
    "aes192-sha384-x448",
    "aes128-sha512-ecp521",
    "aes256-sha256-modp2048",
)
NONCE_SIZE = 32
_P = TypeVar("_P")


class SelfCheckError(Exception):
    """The two halves of an exchange disagreed."""


@dataclass(frozen=True)
class SaInit:
    """What one RKMP_SA_INIT exchange leaves behind, as bytes and keys."""

    request: bytes
    response: bytes
    suite: CryptoSuite
    keys_i: RkmpKeys
    keys_r: RkmpKeys
    spi_i: bytes
    spi_r: bytes
    ni: bytes
    nr: bytes


def _init_message(
    spi_i: bytes, spi_r: bytes, response: bool, sa: SaPayload, ke: KePayload, nonce: bytes
) -> bytes:
    flags = HeaderFlag.RESPONSE if response else HeaderFlag.INITIATOR
    header = Header(spi_i, spi_r, ExchangeType.RKMP_SA_INIT, flags, 0)
    rkmp = NotifyPayload(NotifyType.RKMP_SUPPORTED)
    return encode_message(Message(header, (sa, ke, NoncePayload(nonce), rkmp)))


def _one(message: Message, cls: type[_P]) -> _P:
    payload = message.find(cls)
    if payload is None:
        raise SelfCheckError(f"{cls.__name__} missing from the peer's message")
    return payload


def run_sa_init(proposal: str) -> SaInit:
    """RFC 7296 §1.2 IKE_SA_INIT, as RKMP_SA_INIT (DESIGN.md §2)."""
    ours = [parse_proposal(proposal)]
    group = get_ke_group(ours[0].ke[0].ke_id)
    spi_i, ni, dh_i = secrets.token_bytes(8), secrets.token_bytes(NONCE_SIZE), group.generate()
    request = _init_message(
        spi_i,
        bytes(8),
        False,
        SaPayload((ours[0].to_wire(),)),
        KePayload(group.ke_id, dh_i.public_bytes),
        ni,
    )

    # Responder: sees only the request bytes.
    seen = decode_message(request)
    ke_i = _one(seen, KePayload)
    chosen = select_offer(ours, _one(seen, SaPayload).proposals, prefer_ke=ke_i.group)
    if chosen is None:
        raise SelfCheckError("responder chose no proposal")
    dh_r = get_ke_group(ke_i.group).generate()
    spi_r, nr = secrets.token_bytes(8), secrets.token_bytes(NONCE_SIZE)
    keys_r = derive_keys(
        chosen.suite, dh_r.shared_secret(ke_i.data), _one(seen, NoncePayload).data, nr, spi_i, spi_r
    )
    response = _init_message(
        spi_i,
        spi_r,
        True,
        SaPayload((chosen.to_wire(),)),
        KePayload(ke_i.group, dh_r.public_bytes),
        nr,
    )

    # Initiator: sees only the response bytes.
    answer = decode_message(response)
    suite = check_response(ours, _one(answer, SaPayload).proposals[0])
    g_ir = dh_i.shared_secret(_one(answer, KePayload).data)
    keys_i = derive_keys(
        suite, g_ir, ni, _one(answer, NoncePayload).data, spi_i, answer.header.spi_r
    )
    return SaInit(request, response, suite, keys_i, keys_r, spi_i, spi_r, ni, nr)


def auth_request(init: SaInit, psk: bytes, identity: Identity, message_id: int = 1) -> bytes:
    """The initiator's RKMP_SA_AUTH: SK{IDi, AUTH} (RFC 7296 §2.15 PSK)."""
    id_payload = identity.to_payload(initiator=True)
    octets = signed_octets_for_id(
        init.suite.prf, init.keys_i.sk_pi, init.request, init.nr, id_payload
    )
    auth = AuthPayload(AuthMethod.SHARED_KEY_MIC, compute_psk_auth(init.suite.prf, psk, octets))
    header = Header(
        init.spi_i, init.spi_r, ExchangeType.RKMP_SA_AUTH, HeaderFlag.INITIATOR, message_id
    )
    return encrypt_message(
        header,
        (id_payload, auth),
        str(CryptoProposal.from_suite(init.suite)),
        init.keys_i.sk_ei,
        init.keys_i.sk_ai,
    )


def verify_auth_request(init: SaInit, psk: bytes, datagram: bytes) -> Identity:
    """The responder's side: decrypt with SK_ei/SK_ai, check AUTH."""
    proposal = str(CryptoProposal.from_suite(init.suite))
    message = decrypt_message(datagram, proposal, init.keys_r.sk_ei, init.keys_r.sk_ai)
    id_payload = _one(message, IdPayload)
    octets = signed_octets_for_id(
        init.suite.prf, init.keys_r.sk_pi, init.request, init.nr, id_payload
    )
    verify_psk_auth(init.suite.prf, psk, octets, _one(message, AuthPayload).data)
    return Identity.from_payload(id_payload)


def check_suite(proposal: str) -> str:
    """One full round for a suite; a line of the report, or an exception."""
    init = run_sa_init(proposal)
    if init.keys_i != init.keys_r:
        raise SelfCheckError("initiator and responder derived different keys")
    psk = secrets.token_bytes(32)
    identity = Identity.from_text("r1.example.net")
    datagram = auth_request(init, psk, identity)
    if verify_auth_request(init, psk, datagram) != identity:
        raise SelfCheckError("identity changed in transit")
    try:
        verify_auth_request(init, secrets.token_bytes(32), datagram)
    except AuthenticationError:
        pass
    else:
        raise SelfCheckError("a wrong PSK was accepted")
    return (
        f"{proposal:32} ok  SA_INIT {len(init.request)}/{len(init.response)} B, "
        f"SA_AUTH {len(datagram)} B, keys agree, wrong PSK refused"
    )


def main() -> int:
    failures = 0
    print("rkmp-frr self-check: RKMP_SA_INIT + RKMP_SA_AUTH (PSK) per suite")
    for proposal in SUITES:
        try:
            print("  " + check_suite(proposal))
        except (SelfCheckError, CryptoError, MalformedMessage) as error:
            failures += 1
            print(f"  {proposal:32} FAILED: {error}")
    print(f"{len(SUITES) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
