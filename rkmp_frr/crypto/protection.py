"""SK payload protection (RFC 7296 §3.14; AES-GCM per RFC 5282).

The SK payload is ``IV | E(inner payloads | Padding | Pad Length) | ICV``:

- AES-CBC + HMAC-SHA2 (RFC 3602, RFC 4868): the IV is one random block; the
  ICV is the truncated HMAC (key SK_a) over the whole message from the first
  octet of the IKE header to the last octet of ciphertext.
- AES-GCM-16 (RFC 5282): SK_e is key | 4-octet salt (§7.1); the nonce is
  salt | 8-octet explicit IV (§4); the AAD is every octet from the IKE header
  to the end of the SK generic payload header, i.e. all that precedes the IV
  (§5.1); the 16-octet tag is the ICV.

``SkCipher`` holds one sender's keys (SK_ei/SK_ai for the original
initiator's messages, SK_er/SK_ar for the responder's) with the cipher
objects built once, so an SA makes one per direction and each message costs
one AEAD call (or one CBC and one HMAC call). ``protect`` / ``unprotect``
are the one-shot forms.

Sending encodes the header and the SK generic header with their final
lengths, then encrypts and appends.

Receiving authenticates before it trusts any length field: only the payload
chain up to SK is walked (SK's data runs to the end of the datagram), the ICV
is checked, and only then is the message decoded. So any altered octet is an
``IntegrityError``; a ``MalformedMessage`` from ``open``/``unprotect`` means
an authenticated message with bad syntax (RFC 7296 §3.10.1 INVALID_SYNTAX).
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
    EncodeError,
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
from rkmp_frr.wire.constants import (
    GENERIC_PAYLOAD_HEADER_LENGTH,
    HEADER_LENGTH,
    IKE_MAJOR_VERSION,
    PAYLOAD_CRITICAL_FLAG,
    PayloadType,
)
from rkmp_frr.wire.header import pack_header
from rkmp_frr.wire.message import decode_message_with_header, make_message

_GENERIC = Struct(">BBH")  # Next Payload, C|RESERVED, Payload Length
_NEXT_PAYLOAD_OFFSET = 16  # in the IKE header (RFC 7296 §3.1)
# Where the SK body starts when SK is the first payload (the usual case).
_SK_FIRST_BODY = HEADER_LENGTH + GENERIC_PAYLOAD_HEADER_LENGTH
_MAX_PAYLOAD_LENGTH = 0xFFFF
# SK's generic header when SK is the first payload: C|RESERVED and Length.
_SK_FLAGS_OFFSET = HEADER_LENGTH + 1
_SK_LENGTH_OFFSET = HEADER_LENGTH + 2
_RESERVED_BITS = 0xFF ^ PAYLOAD_CRITICAL_FLAG  # RFC 7296 §3.2
_U16 = Struct(">H")


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


def _check_keys(suite: CryptoSuite, sk_e: bytes, sk_a: bytes) -> None:
    if len(sk_e) != suite.encr.sk_e_size:
        raise CryptoError(f"SK_e must be {suite.encr.sk_e_size} octets for this suite")
    if len(sk_a) != suite.sk_a_size:
        raise CryptoError(f"SK_a must be {suite.sk_a_size} octets for this suite")


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


# ------------------------------------------------------------ one direction


class SkCipher:
    """SK protection with one sender's keys, for the life of an SA.

    ``sk_e`` / ``sk_a`` are the sending side's keys: SK_ei/SK_ai seal and
    open the original initiator's messages, SK_er/SK_ar the responder's. An
    SA keeps one for what it sends and one for what it receives. Key sizes
    are checked here (CryptoError); the keys never appear in a repr or an
    error.
    """

    __slots__ = (
        "_aead",
        "_block",
        "_cbc_key",
        "_hash",
        "_icv",
        "_iv_counter",
        "_iv_size",
        "_salt",
        "_sk_a",
        "suite",
    )

    def __init__(self, suite: CryptoSuite, sk_e: bytes, sk_a: bytes) -> None:
        encr, integ = suite.encr, suite.integ
        key_size = encr.key_bits // 8
        # The sizes the suite asks for (CryptoSuite.sk_a_size, sk_e_size).
        if len(sk_e) != key_size + encr.salt_size:
            raise CryptoError(f"SK_e must be {encr.sk_e_size} octets for this suite")
        if len(sk_a) != (0 if integ is None else integ.key_size):
            raise CryptoError(f"SK_a must be {suite.sk_a_size} octets for this suite")
        self.suite = suite
        self._iv_size = encr.iv_size
        self._block = encr.block_size
        self._iv_counter = 0
        key = bytes(sk_e[:key_size])
        self._salt = bytes(sk_e[key_size:])  # RFC 5282 §7.1 (empty for CBC)
        self._sk_a = bytes(sk_a)
        if integ is None:  # AEAD: the tag is the ICV
            self._icv = encr.icv_size
            self._aead: AESGCM | None = AESGCM(key)
            self._cbc_key: algorithms.AES | None = None
            self._hash = ""
        else:
            self._icv = integ.icv_size
            self._aead = None
            self._cbc_key = algorithms.AES(key)
            self._hash = integ.hash_name

    def __repr__(self) -> str:
        return f"<SkCipher {self.suite.encr.encr_id.name} {self.suite.encr.key_bits}>"

    def next_iv(self, rng: Rng | None = None) -> bytes:
        """The IV for the next message sealed with this key: for AES-GCM a
        counter, which never repeats under this key as long as this object
        is its only sender (RFC 5282 §3.1 asks only for uniqueness); for
        CBC ``rng`` octets (default: the OS), as RFC 3602 wants an
        unpredictable IV."""
        if self._aead is None:
            return (rng or secrets.token_bytes)(self._iv_size)
        self._iv_counter += 1
        return self._iv_counter.to_bytes(self._iv_size, "big")

    # -------------------------------------------------------- sending

    def seal(
        self,
        header: Header,
        inner_payloads: Sequence[Payload],
        iv: bytes,
        *,
        unencrypted: Sequence[Payload] = (),
    ) -> bytes:
        """Encode ``header, [unencrypted...,] SK{inner_payloads}``; ``iv``
        is used as given (see ``next_iv``). A GCM IV must never repeat under
        one key."""
        if len(iv) != self._iv_size:
            raise CryptoError(f"the IV must be {self._iv_size} octets for this suite")
        first_payload, inner = encode_payloads(inner_payloads)
        pad_length = -(len(inner) + 1) % self._block
        # RFC 7296 §3.14: Padding (zeros here; any value is allowed) and the
        # Pad Length octet fill the plaintext to whole blocks.
        plaintext = inner + bytes(pad_length) + bytes((pad_length,))
        sk_length = len(iv) + len(plaintext) + self._icv
        if unencrypted:
            placeholder = EncryptedPayload(first_payload, bytes(sk_length))
            encoded = encode_message(Message(header, (*unencrypted, placeholder)))
            prefix = encoded[: len(encoded) - sk_length]  # header .. SK generic header
        else:
            payload_length = GENERIC_PAYLOAD_HEADER_LENGTH + sk_length
            if payload_length > _MAX_PAYLOAD_LENGTH:
                raise EncodeError(f"SK payload of {payload_length} octets")
            prefix = pack_header(
                header, PayloadType.SK, HEADER_LENGTH + payload_length
            ) + _GENERIC.pack(first_payload, 0, payload_length)
        if self._aead is not None:
            return prefix + iv + self._aead.encrypt(self._salt + iv, plaintext, prefix)
        assert self._cbc_key is not None
        encryptor = Cipher(self._cbc_key, modes.CBC(iv)).encryptor()
        signed = prefix + iv + encryptor.update(plaintext) + encryptor.finalize()
        return signed + hmac.digest(self._sk_a, signed, self._hash)[: self._icv]

    # -------------------------------------------------------- receiving

    def open(self, data: bytes, *, header: Header | None = None) -> Message:
        """Authenticate and decrypt a message whose last payload is SK.

        Returns the message with the same header and, as payloads, those
        before SK followed by SK's decrypted contents. Raises IntegrityError
        if the message does not authenticate (including when no SK payload
        can be found, e.g. an SKF fragment, which must be reassembled first)
        or its padding is bad: drop it (RFC 7296 §2.21.2). MalformedMessage
        if it is shorter than a header, or if it authenticates but does not
        decode (answer INVALID_SYNTAX; with CBC this is also what a wrong
        SK_e gives: the HMAC does not cover the encryption key).

        ``header``, if given, must be ``decode_header(data)``, done already
        by the caller (to route the datagram); it is not decoded again.
        """
        if type(data) is not bytes:
            data = bytes(data)
        size = len(data)
        if size < HEADER_LENGTH:
            raise MalformedMessage(f"message of {size} octets is shorter than the IKE header", size)
        if self._aead is None and not self._cbc_icv_verifies(data):
            # CBC: the ICV covers every octet before it; check it before parsing.
            raise IntegrityError("SK payload ICV does not verify")
        if data[_NEXT_PAYLOAD_OFFSET] == PayloadType.SK and size >= _SK_FIRST_BODY:
            sk_offset: int | None = HEADER_LENGTH
            if (
                header is not None
                and header.major_version == IKE_MAJOR_VERSION
                and data[_SK_FLAGS_OFFSET] & _RESERVED_BITS == 0
                and _U16.unpack_from(data, _SK_LENGTH_OFFSET)[0] == size - HEADER_LENGTH
            ):
                # The usual shape, SK alone and well formed: its header was
                # checked here, so only the inner chain is left to decode.
                inner = self._unpad(self._decrypt(data, _SK_FIRST_BODY))
                inner_payloads = decode_payloads(
                    data[HEADER_LENGTH], inner, _SK_FIRST_BODY + self._iv_size, header=header
                )
                return make_message(header, inner_payloads)
        else:
            sk_offset = _find_sk(data)
        if sk_offset is None:
            raise IntegrityError("no SK payload to authenticate")
        inner = self._unpad(self._decrypt(data, sk_offset + GENERIC_PAYLOAD_HEADER_LENGTH))
        # Authenticated from here on: decoding errors are the peer's syntax.
        if header is None:
            message = decode_message(data)
        else:
            message = decode_message_with_header(data, header)
        payloads = message.payloads
        encrypted = payloads[-1] if payloads else None
        if not isinstance(encrypted, EncryptedPayload):
            raise MalformedMessage("the last payload is not SK", sk_offset)
        inner_offset = sk_offset + GENERIC_PAYLOAD_HEADER_LENGTH + self._iv_size
        inner_payloads = decode_payloads(
            encrypted.first_payload, inner, inner_offset, header=message.header
        )
        if len(payloads) > 1:
            inner_payloads = (*payloads[:-1], *inner_payloads)
        return make_message(message.header, inner_payloads)

    def _cbc_icv_verifies(self, data: bytes) -> bool:
        icv = self._icv
        if len(data) <= icv:
            return False
        expected = hmac.digest(self._sk_a, data[:-icv], self._hash)[:icv]
        return hmac.compare_digest(expected, data[-icv:])

    def _decrypt(self, data: bytes, start: int) -> bytes:
        """The padded plaintext of the SK body starting at ``start`` (the
        first octet of the IV); the ICV is verified first."""
        iv_end = start + self._iv_size
        if self._aead is not None:
            if len(data) < iv_end + self._icv:
                raise IntegrityError("SK payload too short for IV and ICV")
            try:
                # RFC 5282 §5.1: the AAD is everything before the IV.
                return self._aead.decrypt(
                    self._salt + data[start:iv_end], data[iv_end:], data[:start]
                )
            except InvalidTag:
                raise IntegrityError("SK payload ICV does not verify") from None
        assert self._cbc_key is not None
        end = len(data) - self._icv
        if end <= iv_end or (end - iv_end) % self._block:
            raise IntegrityError("SK payload ciphertext is not a whole number of blocks")
        decryptor = Cipher(self._cbc_key, modes.CBC(data[start:iv_end])).decryptor()
        return decryptor.update(data[iv_end:end]) + decryptor.finalize()

    @staticmethod
    def _unpad(padded: bytes) -> bytes:
        """Strip Padding and Pad Length; the padding's contents are not
        checked (RFC 7296 §3.14: the sender may choose any value)."""
        if not padded or padded[-1] + 1 > len(padded):
            raise IntegrityError("SK payload padding is invalid")
        return padded[: -(padded[-1] + 1)]


# ------------------------------------------------------------ one shot


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
    cipher = SkCipher(suite, sk_e, sk_a)
    if iv is None:
        iv = (rng or secrets.token_bytes)(suite.encr.iv_size)
    return cipher.seal(header, inner_payloads, iv, unencrypted=unencrypted)


def unprotect(data: bytes, suite: CryptoSuite, sk_e: bytes, sk_a: bytes) -> Message:
    """Authenticate and decrypt a message whose last payload is SK with the
    sender's keys ``sk_e``/``sk_a``; see ``SkCipher.open``."""
    return SkCipher(suite, sk_e, sk_a).open(data)
