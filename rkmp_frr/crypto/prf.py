"""Pseudo-random functions and prf+ (RFC 7296 §2.13, RFC 4868 §2.1.2)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from rkmp_frr.crypto.errors import CryptoError
from rkmp_frr.wire.constants import PrfId


@dataclass(frozen=True, slots=True)
class Prf:
    """An HMAC-based IKEv2 PRF: its transform ID, hash and output length."""

    prf_id: PrfId
    hash_name: str
    size: int

    def __call__(self, key: bytes, data: bytes) -> bytes:
        return hmac.digest(key, data, self.hash_name)

    def plus(self, key: bytes, seed: bytes, length: int) -> bytes:
        """prf+ (RFC 7296 §2.13): T1 | T2 | ..., Tn = prf(K, Tn-1 | S | n)."""
        if length > 255 * self.size:
            raise CryptoError(f"prf+ cannot produce {length} octets (max {255 * self.size})")
        out = bytearray()
        block = b""
        counter = 1
        while len(out) < length:
            block = hmac.digest(key, block + seed + bytes((counter,)), self.hash_name)
            out += block
            counter += 1
        return bytes(out[:length])


# RFC 4868 §2.1.2 (SHA-2), RFC 2104 (SHA-1, for the NIST CAVP vectors).
_PRFS = {
    PrfId.HMAC_SHA1: Prf(PrfId.HMAC_SHA1, "sha1", hashlib.sha1().digest_size),
    PrfId.HMAC_SHA2_256: Prf(PrfId.HMAC_SHA2_256, "sha256", 32),
    PrfId.HMAC_SHA2_384: Prf(PrfId.HMAC_SHA2_384, "sha384", 48),
    PrfId.HMAC_SHA2_512: Prf(PrfId.HMAC_SHA2_512, "sha512", 64),
}


def get_prf(prf_id: int) -> Prf:
    """The PRF for a transform ID; CryptoError if unsupported."""
    try:
        return _PRFS[PrfId(prf_id)]
    except (ValueError, KeyError):
        raise CryptoError(f"unsupported PRF transform {prf_id}") from None
