"""Pseudo-random functions and prf+ (RFC 7296 §2.13, RFC 4868 §2.1.2)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rkmp_frr.crypto.errors import CryptoError
from rkmp_frr.wire.constants import PrfId


@dataclass(frozen=True, slots=True)
class Prf:
    """An HMAC-based IKEv2 PRF: its transform ID, hash and output length."""

    prf_id: PrfId
    hash_name: str
    size: int

    def __call__(self, key: bytes, data: bytes) -> bytes:
        digest: bytes = _new_hmac(key, data, self.hash_name).digest()
        return digest

    def plus(self, key: bytes, seed: bytes, length: int) -> bytes:
        """prf+ (RFC 7296 §2.13): T1 | T2 | ..., Tn = prf(K, Tn-1 | S | n)."""
        if length > 255 * self.size:
            raise CryptoError(f"prf+ cannot produce {length} octets (max {255 * self.size})")
        keyed = _new_hmac(key, b"", self.hash_name)  # copied for each block
        out = bytearray()
        block = b""
        counter = 1
        while len(out) < length:
            mac = keyed.copy()
            mac.update(block + seed + bytes((counter,)))
            block = mac.digest()
            out += block
            counter += 1
        return bytes(out[:length])


def _stdlib_hmac(key: bytes, data: bytes, digestmod: str) -> Any:
    return hmac.new(key, data, digestmod)


# An HMAC object keyed once (OpenSSL's, as hmac.new gives it, without the
# Python wrapper). hmac.digest() is a one-shot C call too, but it looks the
# digest up again on every call, which takes about as long as a short HMAC;
# this is about twice as fast. The same function is standard HMAC either way.
_new_hmac: Callable[[bytes, bytes, str], Any]
try:
    from _hashlib import hmac_new as _new_hmac
except ImportError:  # a Python without OpenSSL's HMAC: the stdlib's
    _new_hmac = _stdlib_hmac


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
