"""Stateless COOKIEs for RKMP_SA_INIT (RFC 7296 §2.6).

    Cookie = <VersionIDofSecret> | Hash(Ni | IPi | SPIi | <secret>)

The secret is replaced every ``lifetime`` seconds; cookies made with the
previous secret stay valid for one more period, so a client that got a
cookie just before the change is not refused.
"""

from __future__ import annotations

import hashlib
import hmac
import random

SECRET_SIZE = 32


class CookieJar:
    def __init__(self, rng: random.Random, lifetime: float) -> None:
        self._rng = rng
        self._lifetime = lifetime
        self._version = 0
        self._secret = rng.randbytes(SECRET_SIZE)
        self._previous: bytes | None = None
        self._since: float | None = None

    def _rotate(self, now: float) -> None:
        if self._since is None:
            self._since = now
        elif now - self._since >= self._lifetime:
            self._previous = self._secret if now - self._since < 2 * self._lifetime else None
            self._secret = self._rng.randbytes(SECRET_SIZE)
            self._version = (self._version + 1) % 256
            self._since = now

    @staticmethod
    def _digest(secret: bytes, nonce: bytes, host: str, spi_i: bytes) -> bytes:
        return hashlib.sha256(nonce + host.encode() + spi_i + secret).digest()

    def make(self, nonce: bytes, host: str, spi_i: bytes, now: float) -> bytes:
        self._rotate(now)
        return bytes((self._version,)) + self._digest(self._secret, nonce, host, spi_i)

    def check(self, cookie: bytes, nonce: bytes, host: str, spi_i: bytes, now: float) -> bool:
        self._rotate(now)
        if len(cookie) != 1 + hashlib.sha256().digest_size:
            return False
        if cookie[0] == self._version:
            secret: bytes | None = self._secret
        elif cookie[0] == (self._version - 1) % 256:
            secret = self._previous
        else:
            secret = None
        if secret is None:
            return False
        return hmac.compare_digest(cookie[1:], self._digest(secret, nonce, host, spi_i))
