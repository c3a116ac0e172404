"""The IKEv2 key schedule against NIST CAVP IKEv2 KDF vectors (SP 800-135).

Sources (data transcribed, not code):
- SHA-1, COUNT 0: the NIST CAVP ``ikev2`` sample as carried by libreswan,
  programs/cavp/test.acvp.ikev2.run (every field: SKEYSEED, DKM, DKM(Child
  SA), DKM(Child SA D-H), SKEYSEED(Rekey)).
- SHA-256 and SHA-384: the NIST samples in NSS,
  gtests/common/testvectors/ike-sha256-vectors.h and ike-sha384-vectors.h
  (cases 6-10: SKEYSEED, SKEYSEED rekey, DKM at 132/hash-size/15 octets).
NIST's DKM is prf+(SKEYSEED, Ni | Nr | SPIi | SPIr); SKEYSEED(Rekey) uses
SK_d = the first hash-size octets of DKM and the same Ni, Nr.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from rkmp_frr.crypto import (
    RkmpKeys,
    child_keymat,
    derive_keys,
    derive_rekeyed_keys,
    derive_rkmp_keys,
    ike_keymat,
    keys_from_skeyseed,
    parse_suite,
    rekey_skeyseed,
    skeyseed,
)
from rkmp_frr.crypto.errors import CryptoError, ProposalError
from rkmp_frr.crypto.prf import Prf, get_prf
from rkmp_frr.crypto.suites import AES_GCM_16_128, KE_ALGORITHMS, CryptoSuite
from rkmp_frr.wire.constants import PrfId


@dataclass(frozen=True)
class Cavp:
    prf_id: PrfId
    ni: str
    nr: str
    g_ir: str
    g_ir_new: str
    spi_i: str
    spi_r: str
    skeyseed: str
    dkm: str  # 132 octets
    skeyseed_rekey: str
    dkm_child: str | None = None
    dkm_child_dh: str | None = None

    @property
    def prf(self) -> Prf:
        return get_prf(self.prf_id)


SHA1 = Cavp(
    PrfId.HMAC_SHA1,
    ni="32b50d5f4a3763f3",
    nr="9206a04b26564cb1",
    g_ir="4b2c1f971981a8ad8d0abeafabf38cf75fc8349c148142465ed9c8b516b8be52",
    g_ir_new="863f3c9d06efd39d2b907b97f8699e5dd5251ef64a2a176f36ee40c87d4f9330",
    spi_i="34c9e7c188868785",
    spi_r="3ff77d760d2b2199",
    skeyseed="a9a7b222b59f8f48645f28a1db5b5f5d7479cba7",
    dkm="a14293677cc80ff8f9cc0eee30d895da9d8f405666e30ef0dfcb63c634a46002"
    "a2a63080e514a062768b76606f9fa5e992204fc5a670bde3f10d6b027113936a"
    "5c55b648a194ae587b0088d52204b702c979fa280870d2ed41efa9c549fd1119"
    "8af1670b143d384bd275c5f594cf266b05ebadca855e4249520a441a81157435"
    "a7a56cc4",
    skeyseed_rekey="63e81194946ebd05df7df5ebf5d8750056bf1f1d",
    dkm_child="8059e3ee8810e6c3a91bc8bcd2a7a41151b8d0e6ae239c7b38093ad85ef4c581"
    "1a8e7b5d1cdabd9560b2d5e092d1f24e2d4b85eccdf0ad0dc9abd94b51ee7181"
    "4ca6dbc8bb51b6309f5b9545c7eb35cf5580b1e521a8fe20754a2d883ba0c2cf"
    "285f524aea6545b33106bc03e614296d319d41d4b50b3f510b1c0a22f3e66499"
    "4d234cb4",
    dkm_child_dh="bb43244c1860ad65ee1e211ffe8bb3661750c8f89cb9f547df7f4fa61d373016"
    "28190e38c66232eab4b3ab14c400a5197dd3730ed4820a8a10394d51e1c04000"
    "52f63ebd36b0e7ef53aaed31eba4a5080d7d4b5666023a8bbb5ffb7857240f9a"
    "05884d1b7d2f933708450b7b3288f1fc863ab49fa901227cffc06e27899c7054"
    "d56fd74c",
)

SHA256 = Cavp(
    PrfId.HMAC_SHA2_256,
    ni="3f302be1abcb28e1",
    nr="8c332ee006064c9b",
    g_ir="0f4d257d7a58fc4545c7d7a88119eee5d5c9690c5b4c989171d3abbfd99d1d29",
    g_ir_new="25f3b12d6f282739256e39bf54eda53b60ffcf379bb7bcc90c27b4c4c578616c",
    spi_i="40dac39e1e1a8640",
    spi_r="8619a1cf9a6e4c07",
    skeyseed="5f00d1bd2c58ec224b1e6b71fa0f19a1faa7a193952c444411b47c1a9d8ba6fe",
    dkm="0b137d669b0947d7d026d593f0305ad401ff0c471357d695778a9c7f4b4869ece98aca531"
    "188d16041b3bb936d2dbb3b4993a6e768a809160de45d0283f273a6cdf6854379e31be72b"
    "8d3d1fa990cf9c5b015ca9f918a7df6253c958114a09d4e1c19bdcd4db14b29d98db1a74a"
    "d405c588662c14a04d0d36aa4ab55e90f8986d12d4aad",
    skeyseed_rekey="2d63f6debc92048b4fef3889c4c99ca67d6496e0fac14a2bca9a2d6566ff2398",
)

SHA384 = Cavp(
    PrfId.HMAC_SHA2_384,
    ni="fd1b572a8e735591",
    nr="6013b0ef88dacd3d",
    g_ir="d3288cd87565101e88fe3bad918f31939d8dd26ff1071f8b2d7f447524e58d7c",
    g_ir_new="3358f620539473aee8d07e779764c4c6a9aabddc79a28e136b3bac021dbde44a",
    spi_i="2116ad07ce61f749",
    spi_r="24880e55f11a65b7",
    skeyseed="69fe7a1ac94adaeb711295f5fe004b1a8d6a0b65d05692758ce8ad2f7a45f59d"
    "7d0b596f51f7dfcf3330061888f6a94f",
    dkm="4f904c2025c90c817ea5ff9b662a6fdb445a73b57cdf09eacd379b95e1f03cacb04cd6dee"
    "da4f952191dd9bc1f7a9502471a648d74dc06d38112de48a42501f6b1a3ad55c2099cd9a6"
    "48e5f17e5bf3e34bf9b5953decb768a34f875fe2b78dca0c2fcca81ec1a412006dfaed38f"
    "a06882e61f4c148105fb8e231fdb33c4d484c001721d4",
    skeyseed_rekey="e0548c1682e13bce454026b3b1bdf42985b24e4e7408095a7c529de38c3d1fcb"
    "04c9fe6868042a34c9614c6c99e3fcea",
)

VECTORS = [pytest.param(v, id=v.prf_id.name) for v in (SHA1, SHA256, SHA384)]


def h(text: str) -> bytes:
    return bytes.fromhex(text)


@pytest.mark.parametrize("v", VECTORS)
def test_vector_lengths_are_as_nist_states(v: Cavp) -> None:
    # [DKM length = 1056] bits; a mistyped transcription shows up here first.
    assert len(h(v.dkm)) == 132
    assert len(h(v.skeyseed)) == len(h(v.skeyseed_rekey)) == v.prf.size


@pytest.mark.parametrize("v", VECTORS)
def test_skeyseed(v: Cavp) -> None:
    assert skeyseed(v.prf, h(v.g_ir), h(v.ni), h(v.nr)) == h(v.skeyseed)


@pytest.mark.parametrize("v", VECTORS)
@pytest.mark.parametrize("length", [132, 15, 1])
def test_dkm_is_prf_plus_over_nonces_and_spis(v: Cavp, length: int) -> None:
    dkm = ike_keymat(v.prf, h(v.skeyseed), h(v.ni), h(v.nr), h(v.spi_i), h(v.spi_r), length)
    assert dkm == h(v.dkm)[:length]


@pytest.mark.parametrize("v", VECTORS)
def test_rekeyed_skeyseed(v: Cavp) -> None:
    sk_d = h(v.dkm)[: v.prf.size]
    got = rekey_skeyseed(v.prf, sk_d, h(v.g_ir_new), h(v.ni), h(v.nr))
    assert got == h(v.skeyseed_rekey)


def test_child_keymat_without_and_with_pfs() -> None:
    v = SHA1
    sk_d = h(v.dkm)[: v.prf.size]
    assert child_keymat(v.prf, sk_d, h(v.ni), h(v.nr), 132) == h(v.dkm_child or "")
    with_dh = child_keymat(v.prf, sk_d, h(v.ni), h(v.nr), 132, g_ir_new=h(v.g_ir_new))
    assert with_dh == h(v.dkm_child_dh or "")


def _suite(prf: Prf) -> CryptoSuite:
    # AES-GCM-128: SK_d 20|SK_a 0,0|SK_e 20,20|SK_p 20,20 = 100 octets with
    # SHA-1, inside the 132 NIST gives.
    return CryptoSuite(AES_GCM_16_128, None, prf, KE_ALGORITHMS[0])


def test_keys_are_consecutive_slices_of_the_dkm() -> None:
    v = SHA1
    keys = derive_keys(_suite(v.prf), h(v.g_ir), h(v.ni), h(v.nr), h(v.spi_i), h(v.spi_r))
    dkm = h(v.dkm)
    assert keys.skeyseed == h(v.skeyseed)
    order = (keys.sk_d, keys.sk_ai, keys.sk_ar, keys.sk_ei, keys.sk_er, keys.sk_pi, keys.sk_pr)
    assert [len(k) for k in order] == [20, 0, 0, 20, 20, 20, 20]
    assert b"".join(order) == dkm[:100]


def test_rekeyed_keys_use_old_prf_for_skeyseed_and_new_suite_for_prf_plus() -> None:
    v = SHA1
    old_sk_d = h(v.dkm)[:20]
    new_suite = parse_suite("aes256-sha512-prfsha384-ecp384")
    keys = derive_rekeyed_keys(
        v.prf, old_sk_d, new_suite, h(v.g_ir_new), h(v.ni), h(v.nr), h(v.spi_i), h(v.spi_r)
    )
    assert keys.skeyseed == h(v.skeyseed_rekey)
    expected = keys_from_skeyseed(
        new_suite, h(v.skeyseed_rekey), h(v.ni), h(v.nr), h(v.spi_i), h(v.spi_r)
    )
    assert keys == expected
    assert len(keys.sk_d) == 48 and len(keys.sk_ai) == 64 and len(keys.sk_ei) == 32


@pytest.mark.parametrize(
    ("proposal", "sizes"),
    [
        # (SK_d, SK_a, SK_e, SK_p): RFC 7296 §2.14, RFC 4868 §2.1, RFC 5282 §7.1.
        ("aes256gcm16-prfsha256-x25519", (32, 0, 36, 32)),
        ("aes128gcm16-prfsha384-ecp384", (48, 0, 20, 48)),
        ("aes256-sha256-ecp256", (32, 32, 32, 32)),
        ("aes192-sha384-modp2048", (48, 48, 24, 48)),
        ("aes128-sha512-x448", (64, 64, 16, 64)),
        ("aes128-sha256-prfsha512-x25519", (64, 32, 16, 64)),
    ],
)
def test_derive_rkmp_keys_sizes_and_layout(proposal: str, sizes: tuple[int, ...]) -> None:
    ni, nr = bytes(range(32)), bytes(range(100, 132))
    g_ir, spi_i, spi_r = b"\x42" * 32, b"\x01" * 8, b"\x02" * 8
    keys = derive_rkmp_keys(proposal, g_ir, ni, nr, spi_i, spi_r)
    d, a, e, p = sizes
    assert [len(keys.sk_d), len(keys.sk_ai), len(keys.sk_ar)] == [d, a, a]
    assert [len(keys.sk_ei), len(keys.sk_er), len(keys.sk_pi), len(keys.sk_pr)] == [e, e, p, p]
    suite = parse_suite(proposal)
    prf = suite.prf
    assert keys.skeyseed == prf(ni + nr, g_ir)
    stream = prf.plus(keys.skeyseed, ni + nr + spi_i + spi_r, suite.keymat_size)
    parts = (keys.sk_d, keys.sk_ai, keys.sk_ar, keys.sk_ei, keys.sk_er, keys.sk_pi, keys.sk_pr)
    assert b"".join(parts) == stream


def test_initiator_and_responder_keys_differ() -> None:
    keys = derive_rkmp_keys(
        "aes256-sha256-x25519", b"g" * 32, b"i" * 32, b"r" * 32, b"a" * 8, b"b" * 8
    )
    assert keys.sk_ei != keys.sk_er and keys.sk_ai != keys.sk_ar and keys.sk_pi != keys.sk_pr


def test_keys_never_show_in_repr() -> None:
    keys = derive_rkmp_keys(
        "aes256gcm16-prfsha256-x25519", b"g" * 32, b"i" * 32, b"r" * 32, b"a" * 8, b"b" * 8
    )
    text = repr(keys) + str(keys)
    for value in (keys.skeyseed, keys.sk_d, keys.sk_ei, keys.sk_er, keys.sk_pi, keys.sk_pr):
        assert value.hex() not in text
        assert repr(value) not in text
    assert isinstance(keys, RkmpKeys)


def test_bad_spi_length_is_refused() -> None:
    with pytest.raises(CryptoError):
        derive_rkmp_keys("aes256-sha256-x25519", b"g", b"i", b"r", b"a" * 4, b"b" * 8)


def test_derive_rkmp_keys_wants_one_suite() -> None:
    with pytest.raises(ProposalError):
        derive_rkmp_keys(
            "aes256-aes128-sha256-x25519", b"g", b"i" * 8, b"r" * 8, b"a" * 8, b"b" * 8
        )
