"""Key exchange groups (RFC 7296 §2.14, §3.4).

One ``KeGroup`` per method: X25519 / X448 (RFC 8031), ECP-256/384/521
(RFC 5903) and MODP-2048 (RFC 3526 group 14). ``KeGroup.generate()`` or
``KeGroup.from_private()`` gives a ``KeyExchange``: our half of one exchange,
with ``public_bytes`` for the KE payload and ``shared_secret(peer)`` for g^ir.

Every peer value is checked before use (RFC 7296 §5, RFC 6989) and any
problem is an ``InvalidPublicValue``; nothing here lets a ValueError from the
library escape.
"""

from __future__ import annotations

import secrets
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any, cast

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, x448, x25519
from cryptography.utils import CryptographyDeprecationWarning

from rkmp_frr.crypto.errors import CryptoError, InvalidPublicValue
from rkmp_frr.wire.constants import KeId

try:  # FFDH is deprecated in cryptography and may disappear from it.
    from cryptography.hazmat.primitives.asymmetric import dh as _ffdh
except ImportError:  # pragma: no cover - depends on the installed library
    _ffdh = None  # type: ignore[assignment]

Rng = Callable[[int], bytes]
"""A source of random octets: ``rng(n)`` returns n octets."""


class KeyExchange(ABC):
    """Our side of one key exchange; the private value stays inside."""

    __slots__ = ("group",)

    def __init__(self, group: KeGroup) -> None:
        self.group = group

    @property
    def ke_id(self) -> KeId:
        return self.group.ke_id

    @property
    @abstractmethod
    def public_bytes(self) -> bytes:
        """The Key Exchange Data for our KE payload."""

    @abstractmethod
    def shared_secret(self, peer_public: bytes) -> bytes:
        """g^ir for the peer's Key Exchange Data, fixed length for the group.
        Raises InvalidPublicValue if the peer's value is not acceptable."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.group.ke_id.name}>"


class KeGroup(ABC):
    """A key exchange method: sizes, peer-value checks and key generation."""

    ke_id: KeId
    public_size: int
    secret_size: int

    @abstractmethod
    def generate(self, rng: Rng | None = None) -> KeyExchange:
        """A fresh private value, from ``rng`` if given (tests), else from
        the operating system."""

    @abstractmethod
    def from_private(self, private_value: bytes) -> KeyExchange:
        """A KeyExchange for a known private value (test vectors)."""

    def check_length(self, peer_public: bytes) -> None:
        # RFC 7296 §3.4 / RFC 5903 §7 / RFC 8031 §2: one fixed length.
        if len(peer_public) != self.public_size:
            raise InvalidPublicValue(
                f"{self.ke_id.name}: public value has {len(peer_public)} octets,"
                f" expected {self.public_size}"
            )

    @property
    def available(self) -> bool:
        """Whether the installed cryptography library can do this group."""
        return _probe(self)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.ke_id.name}>"


@cache
def _probe(group: KeGroup) -> bool:
    try:
        group.generate()
    except (UnsupportedAlgorithm, CryptoError):
        return False
    return True


# ---------------------------------------------------------------- X25519/X448


class _MontgomeryExchange(KeyExchange):
    __slots__ = ("_private",)

    def __init__(self, group: _MontgomeryGroup, private: Any) -> None:
        super().__init__(group)
        self._private = private

    @property
    def public_bytes(self) -> bytes:
        raw: bytes = self._private.public_key().public_bytes_raw()
        return raw

    def shared_secret(self, peer_public: bytes) -> bytes:
        group = self.group
        assert isinstance(group, _MontgomeryGroup)
        group.check_length(peer_public)
        try:
            secret: bytes = self._private.exchange(
                group.public_class.from_public_bytes(peer_public)
            )
        except ValueError:
            # OpenSSL refuses low-order points, whose result is all zero.
            raise InvalidPublicValue(f"{group.ke_id.name}: shared secret is all zero") from None
        # RFC 8031 §2: the all-zero value MUST be rejected, whatever the library.
        if not any(secret):
            raise InvalidPublicValue(f"{group.ke_id.name}: shared secret is all zero")
        return secret


class _MontgomeryGroup(KeGroup):
    """X25519 / X448 (RFC 7748, RFC 8031): KE data is the u coordinate."""

    def __init__(self, ke_id: KeId, size: int, private_class: Any, public_class: Any) -> None:
        self.ke_id = ke_id
        self.public_size = size
        self.secret_size = size
        self.private_class = private_class
        self.public_class = public_class

    def generate(self, rng: Rng | None = None) -> KeyExchange:
        if rng is None:
            return _MontgomeryExchange(self, self.private_class.generate())
        return self.from_private(rng(self.public_size))

    def from_private(self, private_value: bytes) -> KeyExchange:
        if len(private_value) != self.public_size:
            raise CryptoError(f"{self.ke_id.name}: private value must be {self.public_size} octets")
        # The library clamps the scalar as RFC 7748 §5 requires.
        return _MontgomeryExchange(self, self.private_class.from_private_bytes(private_value))


# ------------------------------------------------------------------------ ECP


class _EcpExchange(KeyExchange):
    __slots__ = ("_private",)

    def __init__(self, group: _EcpGroup, private: ec.EllipticCurvePrivateKey) -> None:
        super().__init__(group)
        self._private = private

    @property
    def public_bytes(self) -> bytes:
        group = self.group
        assert isinstance(group, _EcpGroup)
        numbers = self._private.public_key().public_numbers()
        # RFC 5903 §7: x | y, each a fixed-length big-endian integer, no 0x04.
        return numbers.x.to_bytes(group.coord_size, "big") + numbers.y.to_bytes(
            group.coord_size, "big"
        )

    def shared_secret(self, peer_public: bytes) -> bytes:
        group = self.group
        assert isinstance(group, _EcpGroup)
        peer = group.peer_key(peer_public)
        secret = self._private.exchange(ec.ECDH(), peer)
        # RFC 5903 §7: the shared secret is x alone, fixed length.
        return secret.rjust(group.coord_size, b"\x00")


class _EcpGroup(KeGroup):
    """ECP groups of RFC 5903 (NIST P-256/384/521; cofactor 1, so a point on
    the curve is in the prime-order group: RFC 6989 §2.3)."""

    def __init__(
        self, ke_id: KeId, curve: ec.EllipticCurve, prime: int, order: int, coord_size: int
    ) -> None:
        self.ke_id = ke_id
        self.curve = curve
        self.prime = prime
        self.order = order
        self.coord_size = coord_size
        self.public_size = 2 * coord_size
        self.secret_size = coord_size

    def generate(self, rng: Rng | None = None) -> KeyExchange:
        if rng is None:
            return _EcpExchange(self, ec.generate_private_key(self.curve))
        # 64 extra bits make the reduction's bias negligible (FIPS 186-5 A.4.1).
        wide = int.from_bytes(rng(self.coord_size + 8), "big")
        scalar = wide % (self.order - 1) + 1
        return _EcpExchange(self, ec.derive_private_key(scalar, self.curve))

    def from_private(self, private_value: bytes) -> KeyExchange:
        scalar = int.from_bytes(private_value, "big")
        if not 0 < scalar < self.order:
            raise CryptoError(f"{self.ke_id.name}: private value out of range")
        return _EcpExchange(self, ec.derive_private_key(scalar, self.curve))

    def peer_key(self, peer_public: bytes) -> ec.EllipticCurvePublicKey:
        self.check_length(peer_public)
        x = int.from_bytes(peer_public[: self.coord_size], "big")
        y = int.from_bytes(peer_public[self.coord_size :], "big")
        # RFC 6989 §2.3: coordinates are field elements, the point is on the curve.
        if x >= self.prime or y >= self.prime:
            raise InvalidPublicValue(f"{self.ke_id.name}: coordinate not below the field prime")
        try:
            return ec.EllipticCurvePublicNumbers(x, y, self.curve).public_key()
        except ValueError:
            raise InvalidPublicValue(f"{self.ke_id.name}: point is not on the curve") from None


# ----------------------------------------------------------------------- MODP

# RFC 3526 §3, the 2048-bit MODP group (IKE group 14), generator 2.
MODP_2048_PRIME = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1"
    "29024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245"
    "E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3D"
    "C2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D"
    "670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9"
    "DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AACAA68FFFFFFFFFFFFFFFF",
    16,
)
MODP_GENERATOR = 2
# RFC 3526 §8: group 14 is about 110 bits strong; a 256-bit exponent is
# comfortably over twice that.
MODP_EXPONENT_SIZE = 32


@contextmanager
def _ffdh_quietly() -> Iterator[Any]:
    """The FFDH module with its deprecation warning silenced for this call
    only; UnsupportedAlgorithm if the library no longer offers FFDH."""
    if _ffdh is None:  # pragma: no cover - depends on the installed library
        raise UnsupportedAlgorithm("this cryptography build has no finite-field DH")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        yield _ffdh


class _ModpExchange(KeyExchange):
    __slots__ = ("_private", "_public")

    def __init__(self, group: _ModpGroup, private: Any, public: int) -> None:
        super().__init__(group)
        self._private = private
        self._public = public

    @property
    def public_bytes(self) -> bytes:
        # RFC 7296 §3.4: zero-padded to the length of the modulus.
        return self._public.to_bytes(self.group.public_size, "big")

    def shared_secret(self, peer_public: bytes) -> bytes:
        group = self.group
        assert isinstance(group, _ModpGroup)
        y = group.check_peer(peer_public)
        with _ffdh_quietly() as ffdh:
            peer = ffdh.DHPublicNumbers(y, group.parameter_numbers(ffdh)).public_key()
            try:
                secret: bytes = self._private.exchange(peer)
            except ValueError:
                raise InvalidPublicValue(f"{group.ke_id.name}: public value refused") from None
        # RFC 7296 §2.14: g^ir is as long as the modulus, zero-padded.
        return secret.rjust(group.secret_size, b"\x00")


class _ModpGroup(KeGroup):
    """A safe-prime MODP group (RFC 3526)."""

    def __init__(self, ke_id: KeId, prime: int, generator: int) -> None:
        self.ke_id = ke_id
        self.prime = prime
        self.generator = generator
        self.public_size = (prime.bit_length() + 7) // 8
        self.secret_size = self.public_size

    def parameter_numbers(self, ffdh: Any) -> Any:
        return ffdh.DHParameterNumbers(self.prime, self.generator)

    def generate(self, rng: Rng | None = None) -> KeyExchange:
        source = rng if rng is not None else secrets.token_bytes
        exponent = int.from_bytes(source(MODP_EXPONENT_SIZE), "big")
        return self._exchange(max(exponent, 2))

    def from_private(self, private_value: bytes) -> KeyExchange:
        exponent = int.from_bytes(private_value, "big")
        if not 1 < exponent < self.prime - 1:
            raise CryptoError(f"{self.ke_id.name}: private value out of range")
        return self._exchange(exponent)

    def _exchange(self, exponent: int) -> KeyExchange:
        public = pow(self.generator, exponent, self.prime)
        with _ffdh_quietly() as ffdh:
            parameters = self.parameter_numbers(ffdh)
            private = ffdh.DHPrivateNumbers(
                exponent, ffdh.DHPublicNumbers(public, parameters)
            ).private_key()
        return _ModpExchange(self, private, public)

    def check_peer(self, peer_public: bytes) -> int:
        self.check_length(peer_public)
        y = int.from_bytes(peer_public, "big")
        # RFC 6989 §2.1: 1 < y < p-1; for a safe prime nothing more is needed.
        if not 1 < y < self.prime - 1:
            raise InvalidPublicValue(f"{self.ke_id.name}: public value not in [2, p-2]")
        return y


# ---------------------------------------------------------------- the groups

_P256 = 2**256 - 2**224 + 2**192 + 2**96 - 1
_P384 = 2**384 - 2**128 - 2**96 + 2**32 - 1
_P521 = 2**521 - 1
_N256 = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_N384 = int(
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973",
    16,
)
_N521 = int(
    "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA"
    "51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409",
    16,
)

_GROUPS: dict[KeId, KeGroup] = {
    KeId.CURVE25519: _MontgomeryGroup(
        KeId.CURVE25519, 32, x25519.X25519PrivateKey, x25519.X25519PublicKey
    ),
    KeId.CURVE448: _MontgomeryGroup(KeId.CURVE448, 56, x448.X448PrivateKey, x448.X448PublicKey),
    KeId.ECP_256: _EcpGroup(KeId.ECP_256, ec.SECP256R1(), _P256, _N256, 32),
    KeId.ECP_384: _EcpGroup(KeId.ECP_384, ec.SECP384R1(), _P384, _N384, 48),
    KeId.ECP_521: _EcpGroup(KeId.ECP_521, ec.SECP521R1(), _P521, _N521, 66),
    KeId.MODP_2048: _ModpGroup(KeId.MODP_2048, MODP_2048_PRIME, MODP_GENERATOR),
}


def get_ke_group(ke_id: int) -> KeGroup:
    """The group for a KE transform ID; CryptoError if we do not implement
    it or the installed library cannot do it."""
    by_value = cast("dict[int, KeGroup]", _GROUPS)  # IntEnum keys: an int finds its member
    group = by_value.get(ke_id)
    if group is None:
        raise CryptoError(f"unsupported key exchange method {ke_id}")
    if not group.available:
        raise CryptoError(f"key exchange method {group.ke_id.name} is unavailable here")
    return group


def available_ke_ids() -> tuple[KeId, ...]:
    """The KE methods usable with the installed library, in table order."""
    return tuple(ke_id for ke_id, group in _GROUPS.items() if group.available)
