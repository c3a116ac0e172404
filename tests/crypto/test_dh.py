"""Key exchange groups: known answers and peer-value validation.

Sources of the vectors (transcribed data):
- RFC 8031 Appendix A: X25519 in IKEv2 (random_i/random_r are the private
  values before clamping, pub_* the KE data, SHARED_SECRET the g^ir).
- RFC 7748 §6.2: X448 Alice/Bob (RFC 8031 §2 uses X448 as RFC 7748 defines).
- RFC 5903 §8.1-8.3: ECP-256/384/521 private values i, r, the KEi/KEr
  payloads and girx (the shared secret is x only, RFC 5903 §7).
- RFC 3526 §3: the 2048-bit MODP prime, checked against its defining formula.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.utils import CryptographyDeprecationWarning
from hypothesis import given, settings
from hypothesis import strategies as st

from rkmp_frr.crypto import dh
from rkmp_frr.crypto.dh import MODP_2048_PRIME, available_ke_ids, get_ke_group
from rkmp_frr.crypto.errors import CryptoError, InvalidPublicValue
from rkmp_frr.wire import KePayload, encode_payloads
from rkmp_frr.wire.constants import KeId


def h(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


# ------------------------------------------------------------------ X25519

RFC8031_RANDOM_I = h("751fb4308655b476b6789b7325f9ea8cddd16a58533ff6d9e60009464a5f9d94")
RFC8031_RANDOM_R = h("0a54645253290d60ddadd0e030bacd9e5501efdc220755a1e978f1b839a05688")
RFC8031_PUB_I = h("48d5ddd4061257ba166fa3f9bbdb74f1a4e81c089384fa77f790709f0dfbc766")
RFC8031_PUB_R = h("0be7c1f5aad87d7e448662673298a443478b859745179eaf564c79c0ef6eee25")
RFC8031_SHARED = h("c74950607a12327f3204d94b6825bfb068b7f8319a9e3708ed3d43ce8130c950")


def test_x25519_rfc8031_appendix_a() -> None:
    group = get_ke_group(KeId.CURVE25519)
    initiator = group.from_private(RFC8031_RANDOM_I)
    responder = group.from_private(RFC8031_RANDOM_R)
    assert initiator.public_bytes == RFC8031_PUB_I
    assert responder.public_bytes == RFC8031_PUB_R
    assert initiator.shared_secret(RFC8031_PUB_R) == RFC8031_SHARED
    assert responder.shared_secret(RFC8031_PUB_I) == RFC8031_SHARED


RFC7748_X448_A = h(
    "9a8f4925d1519f5775cf46b04b5800d4ee9ee8bae8bc5565d498c28dd9c9baf574a9419744897391006382a6f127ab1d9ac2d8c0a598726b"
)
RFC7748_X448_A_PUB = h(
    "9b08f7cc31b7e3e67d22d5aea121074a273bd2b83de09c63faa73d2c22c5d9bbc836647241d953d40c5b12da88120d53177f80e532c41fa0"
)
RFC7748_X448_B = h(
    "1c306a7ac2a0e2e0990b294470cba339e6453772b075811d8fad0d1d6927c120bb5ee8972b0d3e21374c9c921b09d1b0366f10b65173992d"
)
RFC7748_X448_B_PUB = h(
    "3eb7a829b0cd20f5bcfc0b599b6feccf6da4627107bdb0d4f345b43027d8b972fc3e34fb4232a13ca706dcb57aec3dae07bdc1c67bf33609"
)
RFC7748_X448_K = h(
    "07fff4181ac6cc95ec1c16a94a0f74d12da232ce40a77552281d282bb60c0b56fd2464c335543936521c24403085d59a449a5037514a879d"
)


def test_x448_rfc7748_section_6_2() -> None:
    group = get_ke_group(KeId.CURVE448)
    alice = group.from_private(RFC7748_X448_A)
    bob = group.from_private(RFC7748_X448_B)
    assert alice.public_bytes == RFC7748_X448_A_PUB
    assert bob.public_bytes == RFC7748_X448_B_PUB
    assert alice.shared_secret(RFC7748_X448_B_PUB) == RFC7748_X448_K
    assert bob.shared_secret(RFC7748_X448_A_PUB) == RFC7748_X448_K


# --------------------------------------------------------------------- ECP


@dataclass(frozen=True)
class Rfc5903:
    ke_id: KeId
    i: str
    gi: str  # gix | giy
    kei: str  # the whole KEi payload as RFC 5903 prints it
    r: str
    gr: str
    ker: str
    girx: str


RFC5903 = [
    Rfc5903(
        KeId.ECP_256,
        i="C88F01F5 10D9AC3F 70A292DA A2316DE5 44E9AAB8 AFE84049 C62A9C57 862D1433",
        gi="DAD0B653 94221CF9 B051E1FE CA5787D0 98DFE637 FC90B9EF 945D0C37 72581180"
        "5271A046 1CDB8252 D61F1C45 6FA3E59A B1F45B33 ACCF5F58 389E0577 B8990BB3",
        kei="00000048 00130000 DAD0B653 94221CF9 B051E1FE CA5787D0 98DFE637 FC90B9EF"
        "945D0C37 72581180 5271A046 1CDB8252 D61F1C45 6FA3E59A B1F45B33 ACCF5F58"
        "389E0577 B8990BB3",
        r="C6EF9C5D 78AE012A 011164AC B397CE20 88685D8F 06BF9BE0 B283AB46 476BEE53",
        gr="D12DFB52 89C8D4F8 1208B702 70398C34 2296970A 0BCCB74C 736FC755 4494BF63"
        "56FBF3CA 366CC23E 8157854C 13C58D6A AC23F046 ADA30F83 53E74F33 039872AB",
        ker="00000048 00130000 D12DFB52 89C8D4F8 1208B702 70398C34 2296970A 0BCCB74C"
        "736FC755 4494BF63 56FBF3CA 366CC23E 8157854C 13C58D6A AC23F046 ADA30F83"
        "53E74F33 039872AB",
        girx="D6840F6B 42F6EDAF D13116E0 E1256520 2FEF8E9E CE7DCE03 812464D0 4B9442DE",
    ),
    Rfc5903(
        KeId.ECP_384,
        i="099F3C70 34D4A2C6 99884D73 A375A67F 7624EF7C 6B3C0F16 0647B674 14DCE655"
        "E35B5380 41E649EE 3FAEF896 783AB194",
        gi="667842D7 D180AC2C DE6F74F3 7551F557 55C7645C 20EF73E3 1634FE72 B4C55EE6"
        "DE3AC808 ACB4BDB4 C88732AE E95F41AA"
        "9482ED1F C0EEB9CA FC498462 5CCFC23F 65032149 E0E144AD A0241815 35A0F38E"
        "EB9FCFF3 C2C947DA E69B4C63 4573A81C",
        kei="00000068 00140000 667842D7 D180AC2C DE6F74F3 7551F557 55C7645C 20EF73E3"
        "1634FE72 B4C55EE6 DE3AC808 ACB4BDB4 C88732AE E95F41AA 9482ED1F C0EEB9CA"
        "FC498462 5CCFC23F 65032149 E0E144AD A0241815 35A0F38E EB9FCFF3 C2C947DA"
        "E69B4C63 4573A81C",
        r="41CB0779 B4BDB85D 47846725 FBEC3C94 30FAB46C C8DC5060 855CC9BD A0AA2942"
        "E0308312 916B8ED2 960E4BD5 5A7448FC",
        gr="E558DBEF 53EECDE3 D3FCCFC1 AEA08A89 A987475D 12FD950D 83CFA417 32BC509D"
        "0D1AC43A 0336DEF9 6FDA41D0 774A3571"
        "DCFBEC7A ACF31964 72169E83 8430367F 66EEBE3C 6E70C416 DD5F0C68 759DD1FF"
        "F83FA401 42209DFF 5EAAD96D B9E6386C",
        ker="00000068 00140000 E558DBEF 53EECDE3 D3FCCFC1 AEA08A89 A987475D 12FD950D"
        "83CFA417 32BC509D 0D1AC43A 0336DEF9 6FDA41D0 774A3571 DCFBEC7A ACF31964"
        "72169E83 8430367F 66EEBE3C 6E70C416 DD5F0C68 759DD1FF F83FA401 42209DFF"
        "5EAAD96D B9E6386C",
        girx="11187331 C279962D 93D60424 3FD592CB 9D0A926F 422E4718 7521287E 7156C5C4"
        "D6031355 69B9E9D0 9CF5D4A2 70F59746",
    ),
    Rfc5903(
        KeId.ECP_521,
        i="0037ADE9 319A89F4 DABDB3EF 411AACCC A5123C61 ACAB57B5 393DCE47 608172A0"
        "95AA85A3 0FE1C295 2C6771D9 37BA9777 F5957B26 39BAB072 462F68C2 7A57382D"
        "4A52",
        gi="0015417E 84DBF28C 0AD3C278 713349DC 7DF153C8 97A1891B D98BAB43 57C9ECBE"
        "E1E3BF42 E00B8E38 0AEAE57C 2D107564 94188594 2AF5A7F4 601723C4 195D176C"
        "ED3E"
        "017CAE20 B6641D2E EB695786 D8C94614 6239D099 E18E1D5A 514C739D 7CB4A10A"
        "D8A78801 5AC405D7 799DC75E 7B7D5B6C F2261A6A 7F150743 8BF01BEB 6CA3926F"
        "9582",
        kei="0000008C 00150000 0015417E 84DBF28C 0AD3C278 713349DC 7DF153C8 97A1891B"
        "D98BAB43 57C9ECBE E1E3BF42 E00B8E38 0AEAE57C 2D107564 94188594 2AF5A7F4"
        "601723C4 195D176C ED3E017C AE20B664 1D2EEB69 5786D8C9 46146239 D099E18E"
        "1D5A514C 739D7CB4 A10AD8A7 88015AC4 05D7799D C75E7B7D 5B6CF226 1A6A7F15"
        "07438BF0 1BEB6CA3 926F9582",
        r="0145BA99 A847AF43 793FDD0E 872E7CDF A16BE30F DC780F97 BCCC3F07 8380201E"
        "9C677D60 0B343757 A3BDBF2A 3163E4C2 F869CCA7 458AA4A4 EFFC311F 5CB15168"
        "5EB9",
        gr="00D0B397 5AC4B799 F5BEA16D 5E13E9AF 971D5E9B 984C9F39 728B5E57 39735A21"
        "9B97C356 436ADC6E 95BB0352 F6BE64A6 C2912D4E F2D0433C ED2B6171 640012D9"
        "460F"
        "015C6822 6383956E 3BD066E7 97B623C2 7CE0EAC2 F551A10C 2C724D98 52077B87"
        "220B6536 C5C408A1 D2AEBB8E 86D678AE 49CB5709 1F473229 6579AB44 FCD17F0F"
        "C56A",
        ker="0000008c 00150000 00D0B397 5AC4B799 F5BEA16D 5E13E9AF 971D5E9B 984C9F39"
        "728B5E57 39735A21 9B97C356 436ADC6E 95BB0352 F6BE64A6 C2912D4E F2D0433C"
        "ED2B6171 640012D9 460F015C 68226383 956E3BD0 66E797B6 23C27CE0 EAC2F551"
        "A10C2C72 4D985207 7B87220B 6536C5C4 08A1D2AE BB8E86D6 78AE49CB 57091F47"
        "32296579 AB44FCD1 7F0FC56A",
        girx="01144C7D 79AE6956 BC8EDB8E 7C787C45 21CB086F A64407F9 7894E5E6 B2D79B04"
        "D1427E73 CA4BAA24 0A347868 59810C06 B3C715A3 A8CC3151 F2BEE417 996D19F3"
        "DDEA",
    ),
]


@pytest.mark.parametrize("v", RFC5903, ids=lambda v: v.ke_id.name)
def test_ecp_rfc5903_section_8(v: Rfc5903) -> None:
    group = get_ke_group(v.ke_id)
    initiator = group.from_private(h(v.i))
    responder = group.from_private(h(v.r))
    assert initiator.public_bytes == h(v.gi)
    assert responder.public_bytes == h(v.gr)
    assert initiator.shared_secret(h(v.gr)) == h(v.girx)
    assert responder.shared_secret(h(v.gi)) == h(v.girx)
    # The KE payloads exactly as the RFC prints them (Next Payload 0).
    for exchange, payload in ((initiator, v.kei), (responder, v.ker)):
        _, encoded = encode_payloads((KePayload(v.ke_id, exchange.public_bytes),))
        assert encoded == h(payload)


# -------------------------------------------------------------------- MODP


def _pi_fixed(bits: int) -> int:
    """floor(pi * 2**bits), by Machin's formula in integers with guard bits."""
    guard = 64
    one = 1 << (bits + guard)

    def arctan_inverse(x: int) -> int:
        total, term, n, sign = 0, one // x, 1, 1
        while term:
            total += sign * (term // n)
            term //= x * x
            n += 2
            sign = -sign
        return total

    return (16 * arctan_inverse(5) - 4 * arctan_inverse(239)) >> guard


def test_modp_2048_prime_is_rfc3526_formula() -> None:
    # RFC 3526 §3: p = 2^2048 - 2^1984 - 1 + 2^64 * { [2^1918 pi] + 124476 }
    expected = 2**2048 - 2**1984 - 1 + 2**64 * (_pi_fixed(1918) + 124476)
    assert expected == MODP_2048_PRIME


def test_modp_agrees_with_python_modular_arithmetic() -> None:
    group = get_ke_group(KeId.MODP_2048)
    x = 0x1234567890ABCDEF1234567890ABCDEF1234567890ABCDEF1234567890ABCDEF
    y_peer = pow(2, 0xFEDCBA9876543210, MODP_2048_PRIME)
    exchange = group.from_private(x.to_bytes(32, "big"))
    assert exchange.public_bytes == pow(2, x, MODP_2048_PRIME).to_bytes(256, "big")
    secret = exchange.shared_secret(y_peer.to_bytes(256, "big"))
    assert secret == pow(y_peer, x, MODP_2048_PRIME).to_bytes(256, "big")


def test_modp_emits_no_deprecation_warning() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        group = get_ke_group(KeId.MODP_2048)
        a, b = group.generate(), group.generate()
        assert a.shared_secret(b.public_bytes) == b.shared_secret(a.public_bytes)
    assert not [w for w in caught if issubclass(w.category, CryptographyDeprecationWarning)]


def test_modp_is_cleanly_unavailable_without_ffdh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dh, "_ffdh", None)
    fresh = dh._ModpGroup(KeId.MODP_2048, MODP_2048_PRIME, 2)
    monkeypatch.setattr(dh, "_GROUPS", {**dh._GROUPS, KeId.MODP_2048: fresh})
    assert not fresh.available
    assert KeId.MODP_2048 not in available_ke_ids()
    with pytest.raises(CryptoError, match="unavailable"):
        get_ke_group(KeId.MODP_2048)


# ------------------------------------------------------ every group, generic

ALL_GROUPS = [
    KeId.CURVE25519,
    KeId.CURVE448,
    KeId.ECP_256,
    KeId.ECP_384,
    KeId.ECP_521,
    KeId.MODP_2048,
]


def test_all_groups_available_here() -> None:
    assert set(available_ke_ids()) == set(ALL_GROUPS)


@pytest.mark.parametrize("ke_id", ALL_GROUPS, ids=lambda k: k.name)
def test_generated_exchanges_agree(ke_id: KeId) -> None:
    group = get_ke_group(ke_id)
    a, b = group.generate(), group.generate()
    assert len(a.public_bytes) == group.public_size
    secret = a.shared_secret(b.public_bytes)
    assert secret == b.shared_secret(a.public_bytes)
    assert len(secret) == group.secret_size
    assert a.public_bytes != b.public_bytes


@pytest.mark.parametrize("ke_id", ALL_GROUPS, ids=lambda k: k.name)
def test_generation_from_rng_is_deterministic(ke_id: KeId) -> None:
    group = get_ke_group(ke_id)

    def rng(n: int) -> bytes:
        return bytes((7 * i + 3) % 256 for i in range(n))

    assert group.generate(rng).public_bytes == group.generate(rng).public_bytes
    assert group.generate(rng).public_bytes != group.generate().public_bytes


@pytest.mark.parametrize("ke_id", ALL_GROUPS, ids=lambda k: k.name)
def test_repr_hides_private_value(ke_id: KeId) -> None:
    exchange = get_ke_group(ke_id).generate()
    assert repr(exchange) == f"<{type(exchange).__name__} {ke_id.name}>"


@pytest.mark.parametrize("ke_id", ALL_GROUPS, ids=lambda k: k.name)
def test_wrong_lengths_are_invalid_public_values(ke_id: KeId) -> None:
    group = get_ke_group(ke_id)
    exchange = group.generate()
    good = group.generate().public_bytes
    for bad in (b"", good[:-1], good + b"\x00", b"\x04" + good, good + good):
        with pytest.raises(InvalidPublicValue) as caught:
            exchange.shared_secret(bad)
        assert not isinstance(caught.value, ValueError)


def _low_order_x25519() -> list[bytes]:
    p = 2**255 - 19
    values = [0, 1, p - 1, p, p + 1]
    encoded = [v.to_bytes(32, "little") for v in values]
    # Points of order 8 (RFC 7748 §7 mentions small-order inputs; these are
    # the two listed in libsodium's and Wycheproof's blocklists).
    encoded += [
        h("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
        h("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
    ]
    # The top bit is ignored (RFC 7748 §5), so it must not help either.
    encoded += [bytes(31) + b"\x80"]
    return encoded


@pytest.mark.parametrize("public", _low_order_x25519(), ids=lambda b: b.hex()[:8])
def test_x25519_all_zero_result_is_rejected(public: bytes) -> None:
    exchange = get_ke_group(KeId.CURVE25519).generate()
    with pytest.raises(InvalidPublicValue, match="all zero"):
        exchange.shared_secret(public)


def test_x448_all_zero_result_is_rejected() -> None:
    p = 2**448 - 2**224 - 1
    exchange = get_ke_group(KeId.CURVE448).generate()
    for value in (0, 1, p - 1, p, p + 1):
        with pytest.raises(InvalidPublicValue, match="all zero"):
            exchange.shared_secret(value.to_bytes(56, "little"))


def test_all_zero_check_does_not_rely_on_the_library() -> None:
    class ZeroKey:
        def exchange(self, peer: Any) -> bytes:
            return bytes(32)

    group = get_ke_group(KeId.CURVE25519)
    assert isinstance(group, dh._MontgomeryGroup)
    exchange = dh._MontgomeryExchange(group, ZeroKey())
    with pytest.raises(InvalidPublicValue, match="all zero"):
        exchange.shared_secret(RFC8031_PUB_R)


@pytest.mark.parametrize("v", RFC5903, ids=lambda v: v.ke_id.name)
def test_ecp_invalid_points(v: Rfc5903) -> None:
    group = get_ke_group(v.ke_id)
    assert isinstance(group, dh._EcpGroup)
    exchange = group.from_private(h(v.i))
    size = group.coord_size
    gr = h(v.gr)
    x, y = int.from_bytes(gr[:size], "big"), int.from_bytes(gr[size:], "big")
    p = group.prime

    def point(px: int, py: int) -> bytes:
        return px.to_bytes(size, "big") + py.to_bytes(size, "big")

    off_curve = point(x, y ^ 1)
    origin = point(0, 0)  # how some encodings write the point at infinity
    coordinate_p = point(p, y)
    y_p = point(x, p)
    for bad in (off_curve, origin, coordinate_p, y_p):
        with pytest.raises(InvalidPublicValue):
            exchange.shared_secret(bad)
    if (x + p).bit_length() <= 8 * size:
        # x + p names the same field element; RFC 6989 wants it refused.
        with pytest.raises(InvalidPublicValue, match="field prime"):
            exchange.shared_secret(point(x + p, y))


def test_ecp_x_plus_p_is_exercised_for_p521() -> None:
    # P-521 coordinates take 66 octets, so x + p fits: the check above runs.
    group = get_ke_group(KeId.ECP_521)
    assert isinstance(group, dh._EcpGroup)
    x = int.from_bytes(h(RFC5903[2].gr)[:66], "big")
    assert (x + group.prime).bit_length() <= 8 * 66


def test_modp_out_of_range_values() -> None:
    exchange = get_ke_group(KeId.MODP_2048).generate()
    p = MODP_2048_PRIME
    for value in (0, 1, p - 1, p, p + 1, 2**2048 - 1):
        with pytest.raises(InvalidPublicValue):
            exchange.shared_secret(value.to_bytes(256, "big"))
    # The edges of [2, p-2] are accepted.
    for value in (2, p - 2):
        assert len(exchange.shared_secret(value.to_bytes(256, "big"))) == 256


@pytest.mark.parametrize("ke_id", ALL_GROUPS, ids=lambda k: k.name)
def test_bad_private_values_are_refused(ke_id: KeId) -> None:
    group = get_ke_group(ke_id)
    if ke_id in (KeId.CURVE25519, KeId.CURVE448):
        bad = [b"", bytes(group.public_size - 1)]
    elif ke_id == KeId.MODP_2048:
        bad = [b"\x00", b"\x01", (MODP_2048_PRIME - 1).to_bytes(256, "big")]
    else:
        assert isinstance(group, dh._EcpGroup)
        bad = [bytes(group.coord_size), group.order.to_bytes(group.coord_size, "big")]
    for value in bad:
        with pytest.raises(CryptoError):
            group.from_private(value)


def test_curve_orders_match_the_library() -> None:
    for ke_id in (KeId.ECP_256, KeId.ECP_384, KeId.ECP_521):
        group = get_ke_group(ke_id)
        assert isinstance(group, dh._EcpGroup)
        order = getattr(group.curve, "group_order", None)
        if order is not None:
            assert order == group.order
        # The generator has the stated order: (n-1)G = -G.
        minus_g = ec.derive_private_key(group.order - 1, group.curve).public_key()
        g = ec.derive_private_key(1, group.curve).public_key()
        assert minus_g.public_numbers().x == g.public_numbers().x


def test_unknown_group_is_refused() -> None:
    for ke_id in (0, 2, 5, 15, 99, 65535):
        with pytest.raises(CryptoError):
            get_ke_group(ke_id)


@settings(max_examples=40, deadline=None)
@given(ke_id=st.sampled_from(ALL_GROUPS), data=st.data())
def test_any_peer_value_gives_a_secret_or_invalid_public_value(
    ke_id: KeId, data: st.DataObject
) -> None:
    group = get_ke_group(ke_id)
    size = group.public_size
    peer = data.draw(
        st.one_of(st.binary(min_size=size, max_size=size), st.binary(max_size=size + 2))
    )
    exchange = group.generate(lambda n: b"\x05" * n)
    try:
        secret = exchange.shared_secret(peer)
    except InvalidPublicValue:
        return
    assert len(secret) == group.secret_size
