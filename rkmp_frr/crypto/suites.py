"""Algorithm tables for the RKMP SA: what each transform is and how big its
keys, blocks, IVs and ICVs are.

Only what this project implements is listed: AES-CBC with HMAC-SHA2
(RFC 3602, RFC 4868) and AES-GCM with a 16-octet ICV (RFC 5282) for the SK
payload, the HMAC-SHA2 PRFs (RFC 4868) and the key exchange groups of
``dh.py``. A ``CryptoSuite`` is one negotiated algorithm of each type.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from rkmp_frr.crypto.errors import CryptoError
from rkmp_frr.crypto.prf import Prf, get_prf
from rkmp_frr.wire.constants import EncrId, IntegId, KeId, PrfId

AES_BLOCK_SIZE = 16
GCM_SALT_SIZE = 4  # RFC 5282 §7.1: 4 octets of salt follow the key in SK_e
GCM_IV_SIZE = 8  # RFC 5282 §3.1: explicit 8-octet IV in the SK payload
GCM_ICV_SIZE = 16


@dataclass(frozen=True, slots=True)
class EncrAlgorithm:
    """An SK payload encryption transform with a fixed key length.

    ``key_size`` is the cipher key in octets; ``salt_size`` octets more are
    taken from the key schedule for AEAD ciphers (RFC 5282 §7.1), so SK_e is
    ``key_size + salt_size`` octets. ``block_size`` is what padding rounds
    to (RFC 7296 §3.14); ``icv_size`` is non-zero only for AEAD ciphers,
    whose tag is the ICV and which need no integrity transform.
    """

    encr_id: EncrId
    key_bits: int
    block_size: int
    iv_size: int
    salt_size: int = 0
    icv_size: int = 0

    @property
    def aead(self) -> bool:
        return self.icv_size > 0

    @property
    def key_size(self) -> int:
        return self.key_bits // 8

    @property
    def sk_e_size(self) -> int:
        """Octets of SK_ei / SK_er (key plus salt)."""
        return self.key_size + self.salt_size


@dataclass(frozen=True, slots=True)
class IntegAlgorithm:
    """An HMAC integrity transform truncated to ``icv_size`` (RFC 4868 §2.3:
    the key is as long as the hash output)."""

    integ_id: IntegId
    hash_name: str
    key_size: int
    icv_size: int

    def mac(self, key: bytes, data: bytes) -> bytes:
        """The ICV: HMAC truncated to its leftmost ``icv_size`` octets."""
        return hmac.digest(key, data, self.hash_name)[: self.icv_size]


@dataclass(frozen=True, slots=True)
class KeAlgorithm:
    """A key exchange method and the size of its KE data (RFC 7296 §3.4,
    RFC 5903 §7, RFC 8031 §2)."""

    ke_id: KeId
    public_size: int
    secret_size: int


def _cbc(bits: int) -> EncrAlgorithm:
    # RFC 3602 / RFC 7296 §3.14: the IV is one cipher block.
    return EncrAlgorithm(EncrId.AES_CBC, bits, AES_BLOCK_SIZE, AES_BLOCK_SIZE)


def _gcm16(bits: int) -> EncrAlgorithm:
    # RFC 5282: a stream-like AEAD, so padding only needs the Pad Length octet.
    return EncrAlgorithm(EncrId.AES_GCM_16, bits, 1, GCM_IV_SIZE, GCM_SALT_SIZE, GCM_ICV_SIZE)


AES_CBC_128 = _cbc(128)
AES_CBC_192 = _cbc(192)
AES_CBC_256 = _cbc(256)
AES_GCM_16_128 = _gcm16(128)
AES_GCM_16_256 = _gcm16(256)

ENCR_ALGORITHMS: tuple[EncrAlgorithm, ...] = (
    AES_CBC_128,
    AES_CBC_192,
    AES_CBC_256,
    AES_GCM_16_128,
    AES_GCM_16_256,
)

# RFC 4868 §2.1, §2.3: key length = hash output, ICV = half of it.
HMAC_SHA2_256_128 = IntegAlgorithm(IntegId.HMAC_SHA2_256_128, "sha256", 32, 16)
HMAC_SHA2_384_192 = IntegAlgorithm(IntegId.HMAC_SHA2_384_192, "sha384", 48, 24)
HMAC_SHA2_512_256 = IntegAlgorithm(IntegId.HMAC_SHA2_512_256, "sha512", 64, 32)

INTEG_ALGORITHMS: tuple[IntegAlgorithm, ...] = (
    HMAC_SHA2_256_128,
    HMAC_SHA2_384_192,
    HMAC_SHA2_512_256,
)

# PRFs negotiable for the RKMP SA. prf.py also has HMAC-SHA1, kept only for
# the NIST CAVP key-derivation vectors; it is not offered.
PRF_IDS: tuple[PrfId, ...] = (PrfId.HMAC_SHA2_256, PrfId.HMAC_SHA2_384, PrfId.HMAC_SHA2_512)

KE_ALGORITHMS: tuple[KeAlgorithm, ...] = (
    KeAlgorithm(KeId.CURVE25519, 32, 32),  # RFC 8031 §2
    KeAlgorithm(KeId.CURVE448, 56, 56),
    KeAlgorithm(KeId.ECP_256, 64, 32),  # RFC 5903 §7: x | y, secret x
    KeAlgorithm(KeId.ECP_384, 96, 48),
    KeAlgorithm(KeId.ECP_521, 132, 66),
    KeAlgorithm(KeId.MODP_2048, 256, 256),  # RFC 7296 §3.4: modulus length
)

# The integrity transform whose hash names the PRF of the same family; used
# when a CBC proposal names no PRF (strongSwan's rule, see proposals.py).
PRF_FOR_INTEG: dict[IntegId, PrfId] = {
    IntegId.HMAC_SHA2_256_128: PrfId.HMAC_SHA2_256,
    IntegId.HMAC_SHA2_384_192: PrfId.HMAC_SHA2_384,
    IntegId.HMAC_SHA2_512_256: PrfId.HMAC_SHA2_512,
}


def encr_algorithm(encr_id: int, key_bits: int | None) -> EncrAlgorithm:
    """The encryption algorithm for a transform ID and Key Length attribute."""
    for algorithm in ENCR_ALGORITHMS:
        if algorithm.encr_id == encr_id and algorithm.key_bits == key_bits:
            return algorithm
    raise CryptoError(f"unsupported encryption transform {encr_id} with key length {key_bits}")


def integ_algorithm(integ_id: int) -> IntegAlgorithm:
    for algorithm in INTEG_ALGORITHMS:
        if algorithm.integ_id == integ_id:
            return algorithm
    raise CryptoError(f"unsupported integrity transform {integ_id}")


def prf_algorithm(prf_id: int) -> Prf:
    if prf_id not in PRF_IDS:
        raise CryptoError(f"unsupported PRF transform {prf_id}")
    return get_prf(prf_id)


def ke_algorithm(ke_id: int) -> KeAlgorithm:
    for algorithm in KE_ALGORITHMS:
        if algorithm.ke_id == ke_id:
            return algorithm
    raise CryptoError(f"unsupported key exchange method {ke_id}")


@dataclass(frozen=True, slots=True)
class CryptoSuite:
    """One negotiated algorithm of each type for an RKMP SA. ``integ`` is
    None exactly when ``encr`` is an AEAD cipher (RFC 5282 §8)."""

    encr: EncrAlgorithm
    integ: IntegAlgorithm | None
    prf: Prf
    ke: KeAlgorithm

    def __post_init__(self) -> None:
        if self.encr.aead and self.integ is not None:
            raise CryptoError("an AEAD cipher takes no integrity transform (RFC 5282 §8)")
        if not self.encr.aead and self.integ is None:
            raise CryptoError("a non-AEAD cipher needs an integrity transform")

    @property
    def sk_a_size(self) -> int:
        """Octets of SK_ai / SK_ar: 0 for AEAD (RFC 5282 §7.1)."""
        return 0 if self.integ is None else self.integ.key_size

    @property
    def icv_size(self) -> int:
        return self.encr.icv_size if self.integ is None else self.integ.icv_size

    @property
    def keymat_size(self) -> int:
        """Octets of prf+ output for SK_d | SK_ai | SK_ar | SK_ei | SK_er |
        SK_pi | SK_pr (RFC 7296 §2.14); SK_d and SK_p are PRF-output sized."""
        return 3 * self.prf.size + 2 * self.sk_a_size + 2 * self.encr.sk_e_size
