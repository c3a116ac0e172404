"""The IKEv2 key schedule as RKMP uses it (RFC 7296 §2.13-§2.18).

    SKEYSEED = prf(Ni | Nr, g^ir)                                    §2.14
    {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr}
             = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr)                 §2.14
    SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr)     rekey,      §2.18
    KEYMAT   = prf+(SK_d, Ni | Nr)                       child SA,   §2.17
    KEYMAT   = prf+(SK_d, g^ir (new) | Ni | Nr)          with PFS,   §2.17

Lengths come from the negotiated suite; an AEAD cipher has no SK_a and its
SK_e carries the salt after the key (RFC 5282 §7.1).

§2.14 says PRFs with a fixed key size (e.g. AES128-XCBC) take a fixed-size
part of Ni | Nr as key. Every PRF here is an HMAC, which takes a key of any
length, so Ni | Nr is used whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rkmp_frr.crypto.errors import CryptoError
from rkmp_frr.crypto.prf import Prf
from rkmp_frr.crypto.suites import CryptoSuite
from rkmp_frr.wire.constants import IKE_SPI_LENGTH


@dataclass(frozen=True, slots=True)
class RkmpKeys:
    """The keys of one RKMP (IKE) SA. Key material never shows in repr."""

    skeyseed: bytes = field(repr=False)
    sk_d: bytes = field(repr=False)
    sk_ai: bytes = field(repr=False)
    sk_ar: bytes = field(repr=False)
    sk_ei: bytes = field(repr=False)
    sk_er: bytes = field(repr=False)
    sk_pi: bytes = field(repr=False)
    sk_pr: bytes = field(repr=False)

    # Written out, same signature as the generated one: mypyc compiles it
    # into a native constructor (see rkmp_frr/build.py).
    def __init__(
        self,
        skeyseed: bytes,
        sk_d: bytes,
        sk_ai: bytes,
        sk_ar: bytes,
        sk_ei: bytes,
        sk_er: bytes,
        sk_pi: bytes,
        sk_pr: bytes,
    ) -> None:
        object.__setattr__(self, "skeyseed", skeyseed)
        object.__setattr__(self, "sk_d", sk_d)
        object.__setattr__(self, "sk_ai", sk_ai)
        object.__setattr__(self, "sk_ar", sk_ar)
        object.__setattr__(self, "sk_ei", sk_ei)
        object.__setattr__(self, "sk_er", sk_er)
        object.__setattr__(self, "sk_pi", sk_pi)
        object.__setattr__(self, "sk_pr", sk_pr)


def _check_spis(spi_i: bytes, spi_r: bytes) -> None:
    if len(spi_i) != IKE_SPI_LENGTH or len(spi_r) != IKE_SPI_LENGTH:
        raise CryptoError("IKE SPIs must be 8 octets each (RFC 7296 §3.1)")


def skeyseed(prf: Prf, g_ir: bytes, ni: bytes, nr: bytes) -> bytes:
    """SKEYSEED = prf(Ni | Nr, g^ir) (RFC 7296 §2.14)."""
    return prf(ni + nr, g_ir)


def rekey_skeyseed(old_prf: Prf, old_sk_d: bytes, g_ir_new: bytes, ni: bytes, nr: bytes) -> bytes:
    """SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr) (RFC 7296 §2.18).

    The old SA's PRF is used: the rekeying exchange belongs to the old SA.
    Ni and Nr are the nonces of the CREATE_CHILD_SA exchange.
    """
    return old_prf(old_sk_d, g_ir_new + ni + nr)


def ike_keymat(
    prf: Prf, seed: bytes, ni: bytes, nr: bytes, spi_i: bytes, spi_r: bytes, length: int
) -> bytes:
    """prf+(SKEYSEED, Ni | Nr | SPIi | SPIr), ``length`` octets (RFC 7296
    §2.14); NIST CAVP calls this DKM."""
    _check_spis(spi_i, spi_r)
    return prf.plus(seed, ni + nr + spi_i + spi_r, length)


def keys_from_skeyseed(
    suite: CryptoSuite,
    seed: bytes,
    ni: bytes,
    nr: bytes,
    spi_i: bytes,
    spi_r: bytes,
) -> RkmpKeys:
    """Split prf+(SKEYSEED, Ni | Nr | SPIi | SPIr) into the seven SA keys."""
    prf = suite.prf
    sizes = (
        prf.size,  # SK_d
        suite.sk_a_size,  # SK_ai
        suite.sk_a_size,  # SK_ar
        suite.encr.sk_e_size,  # SK_ei (key | salt for AEAD)
        suite.encr.sk_e_size,  # SK_er
        prf.size,  # SK_pi
        prf.size,  # SK_pr
    )
    stream = ike_keymat(prf, seed, ni, nr, spi_i, spi_r, sum(sizes))
    parts: list[bytes] = []
    offset = 0
    for size in sizes:
        parts.append(stream[offset : offset + size])
        offset += size
    sk_d, sk_ai, sk_ar, sk_ei, sk_er, sk_pi, sk_pr = parts
    return RkmpKeys(seed, sk_d, sk_ai, sk_ar, sk_ei, sk_er, sk_pi, sk_pr)


def derive_keys(
    suite: CryptoSuite,
    g_ir: bytes,
    ni: bytes,
    nr: bytes,
    spi_i: bytes,
    spi_r: bytes,
) -> RkmpKeys:
    """The keys of a new RKMP SA from RKMP_SA_INIT (RFC 7296 §2.14)."""
    return keys_from_skeyseed(suite, skeyseed(suite.prf, g_ir, ni, nr), ni, nr, spi_i, spi_r)


def derive_rekeyed_keys(
    old_prf: Prf,
    old_sk_d: bytes,
    suite: CryptoSuite,
    g_ir_new: bytes,
    ni: bytes,
    nr: bytes,
    spi_i: bytes,
    spi_r: bytes,
) -> RkmpKeys:
    """The keys of the SA that replaces an RKMP SA (RFC 7296 §2.18): the new
    SA's SPIs and nonces, its own suite for prf+."""
    seed = rekey_skeyseed(old_prf, old_sk_d, g_ir_new, ni, nr)
    return keys_from_skeyseed(suite, seed, ni, nr, spi_i, spi_r)


def child_keymat(
    prf: Prf,
    sk_d: bytes,
    ni: bytes,
    nr: bytes,
    length: int,
    g_ir_new: bytes | None = None,
) -> bytes:
    """KEYMAT for a child (routing-protocol) SA (RFC 7296 §2.17):
    prf+(SK_d, [g^ir (new) |] Ni | Nr). ``g_ir_new`` is given with PFS."""
    seed = ni + nr if g_ir_new is None else g_ir_new + ni + nr
    return prf.plus(sk_d, seed, length)
