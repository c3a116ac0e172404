"""SK payload protection (RFC 7296 §3.14; AES-GCM per RFC 5282).

The SK payload is ``IV | E(inner payloads | Padding | Pad Length) | ICV``:

- AES-CBC + HMAC-SHA2 (RFC 3602, RFC 4868): the IV is one random block; the
  ICV is the truncated HMAC (key SK_a) over the whole message from the first
  octet of the IKE header to the last octet of ciphertext.
- AES-GCM-16 (RFC 5282): SK_e is key | 4-octet salt (§7.1); the nonce is
  salt | 8-octet explicit IV (§4); the AAD is every octet from the IKE header
  to the end of the SK generic payload header, i.e. all that precedes the IV
  (§5.1); the 16-octet tag is the ICV.

Sending builds the message with a zero-filled SK payload of the final length,
encodes it (so the header Length and SK Payload Length are final), then
computes over the right prefix and patches the SK data in.

Receiving authenticates before it trusts any length field: only the payload
chain up to SK is walked (SK's data runs to the end of the datagram), the ICV
is checked, and only then is the message decoded. So any altered octet is an
``IntegrityError``; a ``MalformedMessage`` from ``unprotect`` means an
authenticated message with bad syntax (RFC 7296 §3.10.1 INVALID_SYNTAX).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Sequence
from struct import Struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from rkmp_frr.crypto.dh import Rng
from rkmp_frr.crypto.errors import CryptoError, IntegrityError
from rkmp_frr.crypto.suites import GCM_ICV_SIZE, GCM_IV_SIZE, GCM_SALT_SIZE, CryptoSuite
from rkmp_frr.wire import (
    EncryptedPayload,
    Header,
    MalformedMessage,
    Message,
    Payload,
    decode_message,
    decode_payloads,
    encode_message,
    encode_payloads,
)
from rkmp_frr.wire.constants import GENERIC_PAYLOAD_HEADER_LENGTH, HEADER_LENGTH, PayloadType

_GENERIC = Struct(">BBH")  # Next Payload, C|RESERVED, Payload Length
_NEXT_PAYLOAD_OFFSET = 16  # in the IKE header (RFC 7296 §3.1)


# ------------------------------------------------------------ primitives


def seal_aes_gcm(sk_e: bytes, iv: bytes, aad: bytes, plaintext: bytes) -> bytes:
    """AES-GCM with a 16-octet tag as RFC 5282 uses it: SK_e = key | salt,
    nonce = salt | IV. Returns ciphertext | tag."""
    key, salt = _split_gcm_key(sk_e)
    if len(iv) != GCM_IV_SIZE:
        raise CryptoError(f"AES-GCM IV must be {GCM_IV_SIZE} octets")
    return AESGCM(key).encrypt(salt + iv, plaintext, aad)


def open_aes_gcm(sk_e: bytes, iv: bytes, aad: bytes, ciphertext_and_tag: bytes) -> bytes:
    """The inverse of ``seal_aes_gcm``; IntegrityError if the tag is wrong."""
    key, salt = _split_gcm_key(sk_e)
    if len(iv) != GCM_IV_SIZE or len(ciphertext_and_tag) < GCM_ICV_SIZE:
        raise IntegrityError("AES-GCM: IV or tag missing")
    try:
        return AESGCM(key).decrypt(salt + iv, ciphertext_and_tag, aad)
    except InvalidTag:
        raise IntegrityError("AES-GCM: ICV does not verify") from None


def _split_gcm_key(sk_e: bytes) -> tuple[bytes, bytes]:
    # RFC 5282 §7.1: the salt is the last 4 octets of SK_e.
    if len(sk_e) not in (16 + GCM_SALT_SIZE, 24 + GCM_SALT_SIZE, 32 + GCM_SALT_SIZE):
        raise CryptoError("AES-GCM SK_e must be a 16, 24 or 32-octet key plus a 4-octet salt")
    return sk_e[:-GCM_SALT_SIZE], sk_e[-GCM_SALT_SIZE:]


def _cbc(key: bytes, iv: bytes, data: bytes, encrypt: bool) -> bytes:
    cipher = Cipher(algorithms.AES(key), modes.CBC(iv))
    context = cipher.encryptor() if encrypt else cipher.decryptor()
    return context.update(data) + context.finalize()


def _pad(plaintext: bytes, block_size: int) -> bytes:
    """RFC 7296 §3.14: Padding (zeros here; any value is allowed) and the Pad
    Length octet, making the total a multiple of the block size."""
    pad_length = -(len(plaintext) + 1) % block_size
    return plaintext + bytes(pad_length) + bytes((pad_length,))


def _unpad(padded: bytes) -> bytes:
    """Strip Padding and Pad Length; the padding's contents are not checked
    (RFC 7296 §3.14: the sender may choose any value)."""
    if not padded or padded[-1] + 1 > len(padded):
        raise IntegrityError("SK payload padding is invalid")
    return padded[: -(padded[-1] + 1)]


def _check_keys(suite: CryptoSuite, sk_e: bytes, sk_a: bytes) -> None:
    if len(sk_e) != suite.encr.sk_e_size:
        raise CryptoError(f"SK_e must be {suite.encr.sk_e_size} octets for this suite")
    if len(sk_a) != suite.sk_a_size:
        raise CryptoError(f"SK_a must be {suite.sk_a_size} octets for this suite")


def _mac(suite: CryptoSuite, sk_a: bytes, data: bytes) -> bytes:
    integ = suite.integ
    assert integ is not None
    return integ.mac(sk_a, data)


def _mac_verifies(suite: CryptoSuite, sk_a: bytes, data: bytes) -> bool:
    icv_size = suite.icv_size
    if len(data) <= icv_size:
        return False
    return hmac.compare_digest(_mac(suite, sk_a, data[:-icv_size]), data[-icv_size:])


# ------------------------------------------------------------ sending


def protect(
    header: Header,
    inner_payloads: Sequence[Payload],
    suite: CryptoSuite,
    sk_e: bytes,
    sk_a: bytes,
    iv: bytes | None = None,
    *,
    rng: Rng | None = None,
    unencrypted: Sequence[Payload] = (),
) -> bytes:
    """Encode ``header, [unencrypted...,] SK{inner_payloads}``.

    ``sk_e``/``sk_a`` are the sender's keys (SK_ei/SK_ai for the original
    initiator). ``iv`` is used as given (tests, or a counter-based GCM IV);
    otherwise it is drawn from ``rng`` (default: the OS). A GCM IV must never
    repeat under one key.
    """
    _check_keys(suite, sk_e, sk_a)
    encr = suite.encr
    if iv is None:
        iv = (rng or secrets.token_bytes)(encr.iv_size)
    if len(iv) != encr.iv_size:
        raise CryptoError(f"the IV must be {encr.iv_size} octets for this suite")
    first_payload, inner = encode_payloads(inner_payloads)
    plaintext = _pad(inner, encr.block_size)
    sk_length = len(iv) + len(plaintext) + suite.icv_size
    placeholder = EncryptedPayload(first_payload, bytes(sk_length))
    encoded = encode_message(Message(header, (*unencrypted, placeholder)))
    prefix = encoded[: len(encoded) - sk_length]  # header .. SK generic header
    if encr.aead:
        return prefix + iv + seal_aes_gcm(sk_e, iv, prefix, plaintext)
    signed = prefix + iv + _cbc(sk_e, iv, plaintext, encrypt=True)
    return signed + _mac(suite, sk_a, signed)


# ------------------------------------------------------------ receiving


def _find_sk(data: bytes) -> int | None:
    """Offset of the SK payload's generic header, walking only Next Payload
    and Payload Length fields (RFC 7296 §3.2); None if there is no SK."""
    next_type = data[_NEXT_PAYLOAD_OFFSET]
    offset = HEADER_LENGTH
    while next_type != PayloadType.NONE:
        if len(data) - offset < GENERIC_PAYLOAD_HEADER_LENGTH:
            return None
        if next_type == PayloadType.SK:
            return offset
        following, _, length = _GENERIC.unpack_from(data, offset)
        if length < GENERIC_PAYLOAD_HEADER_LENGTH:
            return None
        offset += length
        next_type = following
    return None


def _decrypt(suite: CryptoSuite, sk_e: bytes, data: bytes, sk_offset: int) -> bytes:
    """The padded plaintext of the SK payload at ``sk_offset``; the ICV is
    verified first."""
    encr = suite.encr
    start = sk_offset + GENERIC_PAYLOAD_HEADER_LENGTH  # first octet of the IV
    body = data[start:]
    iv = body[: encr.iv_size]
    if encr.aead:
        if len(body) < encr.iv_size + encr.icv_size:
            raise IntegrityError("SK payload too short for IV and ICV")
        return open_aes_gcm(sk_e, iv, data[:start], body[encr.iv_size :])
    ciphertext = body[encr.iv_size : len(body) - suite.icv_size]
    if not ciphertext or len(ciphertext) % encr.block_size:
        raise IntegrityError("SK payload ciphertext is not a whole number of blocks")
    return _cbc(sk_e, iv, ciphertext, encrypt=False)


def unprotect(data: bytes, suite: CryptoSuite, sk_e: bytes, sk_a: bytes) -> Message:
    """Authenticate and decrypt a message whose last payload is SK.

    Returns the message with the same header and, as payloads, those before
    SK followed by SK's decrypted contents. ``sk_e``/``sk_a`` are the
    sender's keys. Raises IntegrityError if the message does not
    authenticate (including when no SK payload can be found, e.g. an SKF
    fragment, which must be reassembled first) or its padding is bad;
    MalformedMessage if it is shorter than a header, or if it authenticates
    but does not decode (with CBC this is also what a wrong SK_e gives: the
    HMAC does not cover the encryption key).
    """
    _check_keys(suite, sk_e, sk_a)
    data = bytes(data)
    if len(data) < HEADER_LENGTH:
        raise MalformedMessage(
            f"message of {len(data)} octets is shorter than the IKE header", len(data)
        )
    # CBC: the ICV covers every octet before it, so check it before parsing.
    if suite.integ is not None and not _mac_verifies(suite, sk_a, data):
        raise IntegrityError("SK payload ICV does not verify")
    sk_offset = _find_sk(data)
    if sk_offset is None:
        raise IntegrityError("no SK payload to authenticate")
    inner = _unpad(_decrypt(suite, sk_e, data, sk_offset))
    # Authenticated from here on: decoding errors are the peer's syntax.
    message = decode_message(data)
    encrypted = message.payloads[-1] if message.payloads else None
    if not isinstance(encrypted, EncryptedPayload):
        raise MalformedMessage("the last payload is not SK", sk_offset)
    inner_offset = sk_offset + GENERIC_PAYLOAD_HEADER_LENGTH + suite.encr.iv_size
    inner_payloads = decode_payloads(
        encrypted.first_payload, inner, inner_offset, header=message.header
    )
    return Message(message.header, (*message.payloads[:-1], *inner_payloads))
