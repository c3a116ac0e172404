"""The SK payload (RFC 7296 §3.14) for one RKMP SA: seal outgoing messages,
open incoming ones.

AES-GCM follows RFC 5282: nonce = 4-octet salt from SK_e | 8-octet IV,
associated data = IKE header | SK generic header, the tag is the ICV, and
padding is just the Pad Length octet. AES-CBC follows RFC 3602 with an
HMAC-SHA2 ICV over the whole message up to the ICV (RFC 4868).

The cipher objects are built once per SA and direction, so the per-message
cost is one AEAD (or one CBC and one HMAC) call.
"""

from __future__ import annotations

import hmac
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from rkmp_frr.crypto.errors import IntegrityError
from rkmp_frr.crypto.suites import CryptoSuite
from rkmp_frr.wire import Header, Message, Payload, decode_payloads, encode_payloads
from rkmp_frr.wire.constants import HEADER_LENGTH, PayloadType
from rkmp_frr.wire.header import pack_header, unpack_header

_GENERIC = struct.Struct(">BBH")
_SK_START = HEADER_LENGTH + _GENERIC.size


class SkCipher:
    """Seal and open SK payloads with one SA's keys.

    ``outbound`` keys are ours (SK_ei/SK_ai for the original initiator),
    ``inbound`` the peer's.
    """

    __slots__ = (
        "_aead_in",
        "_aead_out",
        "_icv",
        "_integ_hash",
        "_iv_counter",
        "_key_in",
        "_key_out",
        "_salt_in",
        "_salt_out",
        "_sk_a_in",
        "_sk_a_out",
        "suite",
    )

    def __init__(
        self,
        suite: CryptoSuite,
        sk_e_out: bytes,
        sk_a_out: bytes,
        sk_e_in: bytes,
        sk_a_in: bytes,
    ) -> None:
        self.suite = suite
        encr = suite.encr
        self._iv_counter = 0
        self._icv = suite.icv_size
        self._sk_a_out = sk_a_out
        self._sk_a_in = sk_a_in
        self._integ_hash = suite.integ.hash_name if suite.integ is not None else ""
        key_size = encr.key_size
        self._key_out = sk_e_out[:key_size]
        self._key_in = sk_e_in[:key_size]
        self._salt_out = sk_e_out[key_size:]
        self._salt_in = sk_e_in[key_size:]
        self._aead_out = AESGCM(self._key_out) if encr.aead else None
        self._aead_in = AESGCM(self._key_in) if encr.aead else None

    def next_iv(self, random_iv: bytes) -> bytes:
        """The IV for our next message: a counter for GCM (unique per key,
        RFC 5282 §3.1), ``random_iv`` (unpredictable, RFC 3602) for CBC."""
        if self._aead_out is None:
            return random_iv
        self._iv_counter += 1
        return self._iv_counter.to_bytes(self.suite.encr.iv_size, "big")

    def seal(self, header: Header, payloads: tuple[Payload, ...], iv: bytes) -> bytes:
        """The whole datagram: header, SK{payloads}."""
        first, inner = encode_payloads(payloads)
        encr = self.suite.encr
        if self._aead_out is not None:
            plaintext = inner + b"\x00"  # Pad Length 0 (RFC 5282 §3)
            body_length = len(iv) + len(plaintext) + self._icv
        else:
            pad = (-(len(inner) + 1)) % encr.block_size
            plaintext = inner + bytes(pad) + bytes((pad,))
            body_length = len(iv) + len(plaintext) + self._icv
        sk_header = _GENERIC.pack(first, 0, _GENERIC.size + body_length)
        prefix = pack_header(header, PayloadType.SK, _SK_START + body_length) + sk_header
        if self._aead_out is not None:
            return prefix + iv + self._aead_out.encrypt(self._salt_out + iv, plaintext, prefix)
        encryptor = Cipher(algorithms.AES(self._key_out), modes.CBC(iv)).encryptor()
        message = prefix + iv + encryptor.update(plaintext) + encryptor.finalize()
        icv = hmac.digest(self._sk_a_out, message, self._integ_hash)[: self._icv]
        return message + icv

    def open(self, data: bytes) -> Message:
        """Check and decrypt a datagram. IntegrityError if it is not an SK
        message made with the peer's keys (drop it: RFC 7296 §2.21.2);
        MalformedMessage if the authenticated plaintext does not decode
        (answer INVALID_SYNTAX)."""
        header, next_payload = unpack_header(data)
        if next_payload != PayloadType.SK or len(data) < _SK_START:
            raise IntegrityError("message has no SK payload")
        first, _flags, length = _GENERIC.unpack_from(data, HEADER_LENGTH)
        if HEADER_LENGTH + length != len(data):
            raise IntegrityError("SK payload does not end the message")
        encr = self.suite.encr
        iv_end = _SK_START + encr.iv_size
        if self._aead_in is not None:
            if len(data) < iv_end + self._icv + 1:
                raise IntegrityError("SK payload too short")
            try:
                plaintext = self._aead_in.decrypt(
                    self._salt_in + data[_SK_START:iv_end], data[iv_end:], data[:_SK_START]
                )
            except InvalidTag:
                raise IntegrityError("SK payload ICV mismatch") from None
        else:
            end = len(data) - self._icv
            if end - iv_end < encr.block_size or (end - iv_end) % encr.block_size:
                raise IntegrityError("SK payload size is not whole cipher blocks")
            expected = hmac.digest(self._sk_a_in, data[:end], self._integ_hash)[: self._icv]
            if not hmac.compare_digest(expected, data[end:]):
                raise IntegrityError("SK payload ICV mismatch")
            decryptor = Cipher(
                algorithms.AES(self._key_in), modes.CBC(data[_SK_START:iv_end])
            ).decryptor()
            plaintext = decryptor.update(data[iv_end:end]) + decryptor.finalize()
        pad = plaintext[-1]
        if pad + 1 > len(plaintext):
            raise IntegrityError("SK padding longer than the plaintext")
        inner = plaintext[: len(plaintext) - pad - 1]
        payloads = decode_payloads(first, inner, iv_end, header=header)
        return Message(header, payloads)
