"""HMAC-SHA2 PRFs and integrity transforms against RFC 4868 §2.7.

§2.7.1 gives the PRF test cases (PRF_HMAC_SHA2_256/384/512 output, any key
length); §2.7.2 the AUTH cases with keys of the integrity transform's key
length, and their truncated ICVs (HMAC-SHA-256-128, -384-192, -512-256).
Data transcribed from the RFC (as also carried by GaloisInc/cryptol-specs
Primitive/Symmetric/MAC/HMAC/Tests/HMAC_SHA2_*.cry). §2.7.2.3 case 4 uses
the key as corrected by RFC errata (64 octets 0x01..0x40).
"""

from __future__ import annotations

import pytest

from rkmp_frr.crypto import prf as prf_module
from rkmp_frr.crypto.prf import get_prf
from rkmp_frr.crypto.suites import (
    HMAC_SHA2_256_128,
    HMAC_SHA2_384_192,
    HMAC_SHA2_512_256,
    IntegAlgorithm,
)
from rkmp_frr.wire.constants import PrfId

KEY_20_0B = b"\x0b" * 20
KEY_20_AA = b"\xaa" * 20
KEY_25 = bytes(range(1, 26))
KEY_131_AA = b"\xaa" * 131
LARGE_KEY_DATA = b"Test Using Larger Than Block-Size Key - Hash Key First"
LARGE_BOTH_DATA = (
    b"This is a test using a larger than block-size key and a larger than block-size data."
    b" The key needs to be hashed before being used by the HMAC algorithm."
)

# §2.7.1: (key, data, PRF-HMAC-SHA-256, PRF-HMAC-SHA-384, PRF-HMAC-SHA-512)
PRF_CASES = [
    (
        KEY_20_0B,
        b"Hi There",
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c"
        "faea9ea9076ede7f4af152e8b2fa9cb6",
        "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
        "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
    ),
    (
        b"Jefe",
        b"what do ya want for nothing?",
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e"
        "8e2240ca5e69e2c78b3239ecfab21649",
        "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
        "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
    ),
    (
        KEY_20_AA,
        b"\xdd" * 50,
        "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
        "88062608d3e6ad8a0aa2ace014c8a86f0aa635d947ac9febe83ef4e55966144b"
        "2a5ab39dc13814b94e3ab6e101a34f27",
        "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39"
        "bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb",
    ),
    (
        KEY_25,
        b"\xcd" * 50,
        "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
        "3e8a69b7783c25851933ab6290af6ca77a9981480850009cc5577c6e1f573b4e"
        "6801dd23c4a7d679ccf8a386c674cffb",
        "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3db"
        "a91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd",
    ),
    (
        KEY_131_AA,
        LARGE_KEY_DATA,
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
        "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c6"
        "0c2ef6ab4030fe8296248df163f44952",
        "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352"
        "6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598",
    ),
    (
        KEY_131_AA,
        LARGE_BOTH_DATA,
        "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
        "6617178e941f020d351e2f254e8fd32c602420feb0b8fb9adccebb82461e99c5"
        "a678cc31e799176d3860e6110c46523e",
        "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944"
        "b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58",
    ),
]


@pytest.mark.parametrize("stdlib", [False, True], ids=["openssl-hmac", "stdlib-fallback"])
@pytest.mark.parametrize(("key", "data", "sha256", "sha384", "sha512"), PRF_CASES)
def test_prf_cases_section_2_7_1(
    key: bytes,
    data: bytes,
    sha256: str,
    sha384: str,
    sha512: str,
    stdlib: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if stdlib:  # the path taken where _hashlib has no hmac_new
        monkeypatch.setattr(prf_module, "_new_hmac", prf_module._stdlib_hmac)
    assert get_prf(PrfId.HMAC_SHA2_256)(key, data).hex() == sha256
    assert get_prf(PrfId.HMAC_SHA2_384)(key, data).hex() == sha384
    assert get_prf(PrfId.HMAC_SHA2_512)(key, data).hex() == sha512


# §2.7.2: (algorithm, key, data, full PRF output, truncated ICV)
AUTH_CASES = [
    (
        HMAC_SHA2_256_128,
        b"\x0b" * 32,
        b"Hi There",
        "198a607eb44bfbc69903a0f1cf2bbdc5ba0aa3f3d9ae3c1c7a3b1696a0b68cf7",
        "198a607eb44bfbc69903a0f1cf2bbdc5",
    ),
    (
        HMAC_SHA2_256_128,
        b"Jefe" * 8,
        b"what do ya want for nothing?",
        "167f928588c5cc2eef8e3093caa0e87c9ff566a14794aa61648d81621a2a40c6",
        "167f928588c5cc2eef8e3093caa0e87c",
    ),
    (
        HMAC_SHA2_256_128,
        b"\xaa" * 32,
        b"\xdd" * 50,
        "cdcb1220d1ecccea91e53aba3092f962e549fe6ce9ed7fdc43191fbde45c30b0",
        "cdcb1220d1ecccea91e53aba3092f962",
    ),
    (
        HMAC_SHA2_256_128,
        bytes(range(1, 33)),
        b"\xcd" * 50,
        "372efcf9b40b35c2115b1346903d2ef42fced46f0846e7257bb156d3d7b30d3f",
        "372efcf9b40b35c2115b1346903d2ef4",
    ),
    (
        HMAC_SHA2_384_192,
        b"\x0b" * 48,
        b"Hi There",
        "b6a8d5636f5c6a7224f9977dcf7ee6c7fb6d0c48cbdee9737a959796489bddbc"
        "4c5df61d5b3297b4fb68dab9f1b582c2",
        "b6a8d5636f5c6a7224f9977dcf7ee6c7fb6d0c48cbdee973",
    ),
    (
        HMAC_SHA2_384_192,
        b"Jefe" * 12,
        b"what do ya want for nothing?",
        "2c7353974f1842fd66d53c452ca42122b28c0b594cfb184da86a368e9b8e16f5"
        "349524ca4e82400cbde0686d403371c9",
        "2c7353974f1842fd66d53c452ca42122b28c0b594cfb184d",
    ),
    (
        HMAC_SHA2_384_192,
        b"\xaa" * 48,
        b"\xdd" * 50,
        "809f439be00274321d4a538652164b53554a508184a0c3160353e3428597003d"
        "35914a18770f9443987054944b7c4b4a",
        "809f439be00274321d4a538652164b53554a508184a0c316",
    ),
    (
        HMAC_SHA2_384_192,
        bytes(range(1, 33)) + bytes(range(0x0A, 0x1A)),
        b"\xcd" * 50,
        "5b540085c6e6358096532b2493609ed1cb298f774f87bb5c2ebf182c83cc7428"
        "707fb92eab2536a5812258228bc96687",
        "5b540085c6e6358096532b2493609ed1cb298f774f87bb5c",
    ),
    (
        HMAC_SHA2_512_256,
        b"\x0b" * 64,
        b"Hi There",
        "637edc6e01dce7e6742a99451aae82df23da3e92439e590e43e761b33e910fb8"
        "ac2878ebd5803f6f0b61dbce5e251ff8789a4722c1be65aea45fd464e89f8f5b",
        "637edc6e01dce7e6742a99451aae82df23da3e92439e590e43e761b33e910fb8",
    ),
    (
        HMAC_SHA2_512_256,
        b"Jefe" * 16,
        b"what do ya want for nothing?",
        "cb370917ae8a7ce28cfd1d8f4705d6141c173b2a9362c15df235dfb251b15454"
        "6aa334ae9fb9afc2184932d8695e397bfa0ffb93466cfcceaae38c833b7dba38",
        "cb370917ae8a7ce28cfd1d8f4705d6141c173b2a9362c15df235dfb251b15454",
    ),
    (
        HMAC_SHA2_512_256,
        b"\xaa" * 64,
        b"\xdd" * 50,
        "2ee7acd783624ca9398710f3ee05ae41b9f9b0510c87e49e586cc9bf961733d8"
        "623c7b55cebefccf02d5581acc1c9d5fb1ff68a1de45509fbe4da9a433922655",
        "2ee7acd783624ca9398710f3ee05ae41b9f9b0510c87e49e586cc9bf961733d8",
    ),
    (
        HMAC_SHA2_512_256,
        bytes(range(1, 65)),
        b"\xcd" * 50,
        "5e6688e5a3daec826ca32eaea224eff5e700628947470e13ad01302561bab108"
        "b8c48cbc6b807dcfbd850521a685babc7eae4a2a2e660dc0e86b931d65503fd2",
        "5e6688e5a3daec826ca32eaea224eff5e700628947470e13ad01302561bab108",
    ),
]

_PRF_FOR = {
    HMAC_SHA2_256_128: PrfId.HMAC_SHA2_256,
    HMAC_SHA2_384_192: PrfId.HMAC_SHA2_384,
    HMAC_SHA2_512_256: PrfId.HMAC_SHA2_512,
}


@pytest.mark.parametrize(("integ", "key", "data", "full", "icv"), AUTH_CASES)
def test_auth_cases_section_2_7_2(
    integ: IntegAlgorithm, key: bytes, data: bytes, full: str, icv: str
) -> None:
    assert len(key) == integ.key_size
    assert get_prf(_PRF_FOR[integ])(key, data).hex() == full
    assert integ.mac(key, data).hex() == icv
    assert len(bytes.fromhex(icv)) == integ.icv_size
