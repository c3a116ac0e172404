"""SK payload protection (RFC 7296 §3.14, RFC 5282).

Known answers for the AES-GCM primitive are the GCM specification's test
cases 4 (AES-128) and 16 (AES-256) (McGrew & Viega, "The Galois/Counter Mode
of Operation", Appendix B; also NIST's GCM examples): their 12-octet IV
cafebabe|facedbaddecaf888 splits into RFC 5282's 4-octet salt (the end of
SK_e) and 8-octet explicit IV. The message layout is checked by decrypting
with the library directly, and every suite is round-tripped and tampered
with.
"""

from __future__ import annotations

import hmac

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from rkmp_frr.crypto import (
    SkCipher,
    decrypt_message,
    encrypt_message,
    open_aes_gcm,
    parse_suite,
    protect,
    seal_aes_gcm,
    unprotect,
)
from rkmp_frr.crypto.errors import CryptoError, IntegrityError
from rkmp_frr.crypto.suites import CryptoSuite
from rkmp_frr.wire import (
    AuthPayload,
    EncodeError,
    EncryptedPayload,
    Header,
    IdPayload,
    MalformedMessage,
    Message,
    NoncePayload,
    NotifyPayload,
    Payload,
    UnknownPayload,
    UnsupportedCriticalPayload,
    VendorIdPayload,
    decode_header,
    encode_message,
    encode_payloads,
)
from rkmp_frr.wire.constants import AuthMethod, ExchangeType, HeaderFlag, IdType, NotifyType

# GCM spec test cases 4 and 16: K, IV (salt | explicit IV), A, P, C, T.
GCM_P = bytes.fromhex(
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
)
GCM_A = bytes.fromhex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
GCM_SALT = bytes.fromhex("cafebabe")
GCM_IV = bytes.fromhex("facedbaddecaf888")
GCM_CASES = [
    pytest.param(
        bytes.fromhex("feffe9928665731c6d6a8f9467308308"),
        "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
        "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
        "5bc94fbc3221a5db94fae95ae7121a47",
        id="case4-aes128",
    ),
    pytest.param(
        bytes.fromhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"),
        "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
        "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
        "76fc6ece0f4e1768cddf8853bb2d551b",
        id="case16-aes256",
    ),
]


@pytest.mark.parametrize(("key", "ciphertext", "tag"), GCM_CASES)
def test_gcm_known_answer_with_rfc5282_salt_and_iv(key: bytes, ciphertext: str, tag: str) -> None:
    sk_e = key + GCM_SALT  # RFC 5282 §7.1: the salt is the last 4 octets of SK_e
    sealed = seal_aes_gcm(sk_e, GCM_IV, GCM_A, GCM_P)
    assert sealed.hex() == ciphertext + tag
    assert open_aes_gcm(sk_e, GCM_IV, GCM_A, sealed) == GCM_P
    for index in (0, len(sealed) - 1):
        bad = bytearray(sealed)
        bad[index] ^= 1
        with pytest.raises(IntegrityError):
            open_aes_gcm(sk_e, GCM_IV, GCM_A, bytes(bad))
    with pytest.raises(IntegrityError):
        open_aes_gcm(sk_e, GCM_IV, GCM_A[:-1], sealed)


# ---------------------------------------------------------------- messages

SUITES = [
    "aes128-sha256-x25519",
    "aes192-sha256-x25519",
    "aes256-sha256-x25519",
    "aes128-sha384-x25519",
    "aes256-sha384-x25519",
    "aes128-sha512-x25519",
    "aes256-sha512-x25519",
    "aes128gcm16-prfsha256-x25519",
    "aes256gcm16-prfsha256-x25519",
]

HEADER = Header(
    spi_i=bytes.fromhex("0123456789abcdef"),
    spi_r=bytes.fromhex("fedcba9876543210"),
    exchange_type=ExchangeType.IKE_AUTH,
    flags=HeaderFlag.INITIATOR,
    message_id=1,
)
INNER: tuple[Payload, ...] = (
    IdPayload(IdType.ID_FQDN, b"router-a.example", initiator=True),
    AuthPayload(AuthMethod.SHARED_KEY_MIC, bytes(range(32))),
    NotifyPayload(NotifyType.INITIAL_CONTACT),
)


def keys_for(suite: CryptoSuite) -> tuple[bytes, bytes]:
    sk_e = bytes((0x10 + i) % 256 for i in range(suite.encr.sk_e_size))
    sk_a = bytes((0x80 + i) % 256 for i in range(suite.sk_a_size))
    return sk_e, sk_a


def iv_for(suite: CryptoSuite) -> bytes:
    return bytes(range(0xA0, 0xA0 + suite.encr.iv_size))


@pytest.mark.parametrize("proposal", SUITES)
def test_round_trip(proposal: str) -> None:
    suite = parse_suite(proposal)
    sk_e, sk_a = keys_for(suite)
    data = encrypt_message(HEADER, INNER, proposal, sk_e, sk_a, iv_for(suite))
    message = decrypt_message(data, proposal, sk_e, sk_a)
    assert message == Message(HEADER, INNER)


@pytest.mark.parametrize("proposal", SUITES)
def test_layout_checked_with_the_library_directly(proposal: str) -> None:
    suite = parse_suite(proposal)
    sk_e, sk_a = keys_for(suite)
    iv = iv_for(suite)
    data = protect(HEADER, INNER, suite, sk_e, sk_a, iv)
    first, inner = encode_payloads(INNER)
    # IKE header: Next Payload SK (46), Length = the datagram (RFC 7296 §3.1).
    assert data[16] == 46
    assert int.from_bytes(data[24:28], "big") == len(data)
    # SK generic header: Next Payload = first inner payload, length to the end.
    assert data[28] == first
    assert int.from_bytes(data[30:32], "big") == len(data) - 28
    assert data[32 : 32 + len(iv)] == iv
    body = data[32 + len(iv) :]
    if suite.encr.aead:
        nonce = sk_e[-4:] + iv
        plain = AESGCM(sk_e[:-4]).decrypt(nonce, body, data[:32])
        assert plain == inner + b"\x00"  # no padding needed, Pad Length 0
    else:
        icv = body[-suite.icv_size :]
        assert suite.integ is not None
        full = hmac.digest(sk_a, data[: -suite.icv_size], suite.integ.hash_name)
        assert icv == full[: suite.icv_size]
        decryptor = Cipher(algorithms.AES(sk_e), modes.CBC(iv)).decryptor()
        plain = decryptor.update(body[: -suite.icv_size]) + decryptor.finalize()
        assert len(plain) % 16 == 0
        pad_length = plain[-1]
        assert pad_length < 16 and plain[: -(pad_length + 1)] == inner


@pytest.mark.parametrize("proposal", SUITES)
def test_every_flipped_octet_is_an_integrity_error(proposal: str) -> None:
    suite = parse_suite(proposal)
    sk_e, sk_a = keys_for(suite)
    data = protect(HEADER, INNER[:1], suite, sk_e, sk_a, iv_for(suite))
    for index in range(len(data)):
        for mask in (0x01, 0x80):
            tampered = bytearray(data)
            tampered[index] ^= mask
            with pytest.raises(IntegrityError):
                unprotect(bytes(tampered), suite, sk_e, sk_a)


@pytest.mark.parametrize("proposal", SUITES)
def test_truncated_or_extended_messages_fail(proposal: str) -> None:
    suite = parse_suite(proposal)
    sk_e, sk_a = keys_for(suite)
    data = protect(HEADER, INNER, suite, sk_e, sk_a, iv_for(suite))
    for cut in range(1, len(data) - 28 + 1):
        with pytest.raises(IntegrityError):
            unprotect(data[:-cut], suite, sk_e, sk_a)
    with pytest.raises(IntegrityError):
        unprotect(data + b"\x00", suite, sk_e, sk_a)


@pytest.mark.parametrize("proposal", SUITES)
def test_wrong_keys_fail(proposal: str) -> None:
    suite = parse_suite(proposal)
    sk_e, sk_a = keys_for(suite)
    data = protect(HEADER, INNER, suite, sk_e, sk_a, iv_for(suite))
    other_e = bytes(b ^ 0xFF for b in sk_e)
    if suite.encr.aead:
        with pytest.raises(IntegrityError):
            unprotect(data, suite, other_e, sk_a)
    else:
        # The HMAC covers the ciphertext, not the encryption key: with the
        # right SK_a the message authenticates and decrypts to garbage, which
        # fails as padding or as syntax, never as a valid message.
        with pytest.raises((IntegrityError, MalformedMessage)):
            unprotect(data, suite, other_e, sk_a)
        with pytest.raises(IntegrityError):
            unprotect(data, suite, sk_e, bytes(b ^ 0xFF for b in sk_a))


def test_integrity_error_carries_no_key_material() -> None:
    suite = parse_suite("aes256-sha256-x25519")
    sk_e, sk_a = keys_for(suite)
    data = bytearray(protect(HEADER, INNER, suite, sk_e, sk_a, iv_for(suite)))
    data[-1] ^= 1
    with pytest.raises(IntegrityError) as caught:
        unprotect(bytes(data), suite, sk_e, sk_a)
    text = str(caught.value) + repr(caught.value)
    assert sk_e.hex() not in text and sk_a.hex() not in text
    assert sk_e[:8].hex() not in text and sk_a[:8].hex() not in text


@pytest.mark.parametrize("proposal", SUITES)
def test_empty_sk_round_trips(proposal: str) -> None:
    # An INFORMATIONAL liveness check: SK with nothing inside (RFC 7296 §1.4).
    suite = parse_suite(proposal)
    sk_e, sk_a = keys_for(suite)
    header = Header(HEADER.spi_i, HEADER.spi_r, ExchangeType.INFORMATIONAL, HeaderFlag.NONE, 7)
    data = protect(header, (), suite, sk_e, sk_a)
    assert data[28] == 0
    assert unprotect(data, suite, sk_e, sk_a) == Message(header, ())


@pytest.mark.parametrize("proposal", ["aes256-sha256-x25519", "aes256gcm16-prfsha256-x25519"])
def test_unencrypted_payloads_before_sk_are_authenticated_and_kept(proposal: str) -> None:
    suite = parse_suite(proposal)
    sk_e, sk_a = keys_for(suite)
    before = (NotifyPayload(NotifyType.COOKIE, data=b"c" * 16),)
    data = encrypt_message(HEADER, INNER, proposal, sk_e, sk_a, unencrypted=before)
    assert decrypt_message(data, proposal, sk_e, sk_a) == Message(HEADER, before + INNER)
    for index in range(28, 28 + 8 + 16):  # the Notify payload
        tampered = bytearray(data)
        tampered[index] ^= 0x04
        with pytest.raises(IntegrityError):
            decrypt_message(bytes(tampered), proposal, sk_e, sk_a)


def _seal_raw(suite: CryptoSuite, sk_e: bytes, sk_a: bytes, first: int, plain: bytes) -> bytes:
    """An SK message around ``plain`` taken as already padded (test-made)."""
    iv = iv_for(suite)
    size = len(iv) + len(plain) + suite.icv_size
    encoded = encode_message(Message(HEADER, (EncryptedPayload(first, bytes(size)),)))
    prefix = encoded[: len(encoded) - size]
    if suite.encr.aead:
        return prefix + iv + AESGCM(sk_e[:-4]).encrypt(sk_e[-4:] + iv, plain, prefix)
    encryptor = Cipher(algorithms.AES(sk_e), modes.CBC(iv)).encryptor()
    signed = prefix + iv + encryptor.update(plain) + encryptor.finalize()
    assert suite.integ is not None
    return signed + suite.integ.mac(sk_a, signed)


@pytest.mark.parametrize("proposal", ["aes128-sha256-x25519", "aes128gcm16-prfsha256-x25519"])
def test_any_padding_is_accepted(proposal: str) -> None:
    suite = parse_suite(proposal)
    sk_e, sk_a = keys_for(suite)
    first, inner = encode_payloads(INNER)
    block = suite.encr.block_size
    for extra in (0, 1, 16, 17, 200):
        pad_length = (-(len(inner) + 1) % block) + (extra // block) * block
        padding = bytes((0xE0 + i) % 256 for i in range(pad_length))  # any contents
        plain = inner + padding + bytes((pad_length,))
        data = _seal_raw(suite, sk_e, sk_a, first, plain)
        assert unprotect(data, suite, sk_e, sk_a) == Message(HEADER, INNER)


@pytest.mark.parametrize("proposal", ["aes128-sha256-x25519", "aes128gcm16-prfsha256-x25519"])
def test_pad_length_beyond_the_plaintext_is_an_integrity_error(proposal: str) -> None:
    suite = parse_suite(proposal)
    sk_e, sk_a = keys_for(suite)
    first, inner = encode_payloads(INNER[:1])
    size = len(inner) + 1
    plain = inner + bytes((len(inner) + 1,))  # claims more padding than there is
    if suite.encr.block_size > 1:
        plain = inner + bytes(-size % 16) + bytes((255,))
    data = _seal_raw(suite, sk_e, sk_a, first, plain)
    with pytest.raises(IntegrityError, match="padding"):
        unprotect(data, suite, sk_e, sk_a)


def test_authenticated_but_malformed_contents_are_malformed_message() -> None:
    suite = parse_suite("aes256gcm16-prfsha256-x25519")
    sk_e, sk_a = keys_for(suite)
    # A Notify payload header whose length runs past the plaintext.
    plain = bytes((0, 0, 0, 200)) + b"\x00"
    data = _seal_raw(suite, sk_e, sk_a, 41, plain)
    with pytest.raises(MalformedMessage):
        unprotect(data, suite, sk_e, sk_a)


def test_short_datagrams_are_malformed() -> None:
    suite = parse_suite("aes256gcm16-prfsha256-x25519")
    sk_e, sk_a = keys_for(suite)
    for size in (0, 1, 27):
        with pytest.raises(MalformedMessage):
            unprotect(bytes(size), suite, sk_e, sk_a)


def test_a_message_without_sk_does_not_authenticate() -> None:
    suite = parse_suite("aes256gcm16-prfsha256-x25519")
    sk_e, sk_a = keys_for(suite)
    plain = encode_message(Message(HEADER, (NoncePayload(b"n" * 32),)))
    with pytest.raises(IntegrityError):
        unprotect(plain, suite, sk_e, sk_a)


def test_key_and_iv_sizes_are_checked() -> None:
    suite = parse_suite("aes256-sha256-x25519")
    sk_e, sk_a = keys_for(suite)
    with pytest.raises(CryptoError):
        protect(HEADER, INNER, suite, sk_e[:-1], sk_a)
    with pytest.raises(CryptoError):
        protect(HEADER, INNER, suite, sk_e, sk_a + b"x")
    with pytest.raises(CryptoError):
        protect(HEADER, INNER, suite, sk_e, sk_a, iv=b"\x00" * 8)
    gcm = parse_suite("aes128gcm16-prfsha256-x25519")
    gcm_e, _ = keys_for(gcm)
    with pytest.raises(CryptoError):
        protect(HEADER, INNER, gcm, gcm_e, b"\x00" * 32)
    with pytest.raises(CryptoError):
        unprotect(b"\x00" * 64, gcm, gcm_e[:16], b"")


def test_iv_comes_from_rng_or_the_os() -> None:
    proposal = "aes256gcm16-prfsha256-x25519"
    suite = parse_suite(proposal)
    sk_e, sk_a = keys_for(suite)

    def rng(n: int) -> bytes:
        return b"\x5a" * n

    a = encrypt_message(HEADER, INNER, proposal, sk_e, sk_a, rng=rng)
    b = encrypt_message(HEADER, INNER, proposal, sk_e, sk_a, rng=rng)
    assert a == b and a[32:40] == b"\x5a" * 8
    c = encrypt_message(HEADER, INNER, proposal, sk_e, sk_a)
    d = encrypt_message(HEADER, INNER, proposal, sk_e, sk_a)
    assert c != d
    assert decrypt_message(c, proposal, sk_e, sk_a) == decrypt_message(d, proposal, sk_e, sk_a)


@settings(max_examples=60, deadline=None)
@given(
    proposal=st.sampled_from(SUITES),
    nonce=st.binary(min_size=16, max_size=120),
    notify_data=st.binary(max_size=40),
)
def test_round_trip_any_plaintext_length(proposal: str, nonce: bytes, notify_data: bytes) -> None:
    suite = parse_suite(proposal)
    sk_e, sk_a = keys_for(suite)
    inner = (NoncePayload(nonce), NotifyPayload(NotifyType.REKEY_SA, 1, b"", notify_data))
    data = protect(HEADER, inner, suite, sk_e, sk_a)
    assert unprotect(data, suite, sk_e, sk_a) == Message(HEADER, inner)


# ------------------------------------------------------ SkCipher (per SA direction)


def _pair(suite: CryptoSuite) -> tuple[SkCipher, SkCipher]:
    """Ciphers for the initiator's and the responder's messages."""
    sk_e_i, sk_a_i = keys_for(suite)
    sk_e_r = bytes(reversed(sk_e_i))
    sk_a_r = bytes(b ^ 0x5A for b in sk_a_i)
    return SkCipher(suite, sk_e_i, sk_a_i), SkCipher(suite, sk_e_r, sk_a_r)


@pytest.mark.parametrize("proposal", SUITES)
def test_sk_cipher_and_one_shot_functions_agree(proposal: str) -> None:
    suite = parse_suite(proposal)
    sk_e, sk_a = keys_for(suite)
    initiator, _ = _pair(suite)
    iv = iv_for(suite)
    sealed = initiator.seal(HEADER, INNER, iv)
    assert sealed == protect(HEADER, INNER, suite, sk_e, sk_a, iv)
    assert unprotect(sealed, suite, sk_e, sk_a) == Message(HEADER, INNER)
    assert initiator.open(sealed) == Message(HEADER, INNER)  # the receiver's copy of the keys
    before = (NotifyPayload(NotifyType.COOKIE, data=b"c" * 16),)
    with_cookie = initiator.seal(HEADER, INNER, iv, unencrypted=before)
    assert with_cookie == protect(HEADER, INNER, suite, sk_e, sk_a, iv, unencrypted=before)
    assert initiator.open(with_cookie) == Message(HEADER, before + INNER)
    empty = initiator.seal(HEADER, (), initiator.next_iv())
    assert initiator.open(empty) == Message(HEADER, ())


@pytest.mark.parametrize("proposal", ["aes256gcm16-prfsha256-x25519", "aes256-sha384-x25519"])
def test_sk_cipher_does_not_open_the_other_directions_messages(proposal: str) -> None:
    initiator, responder = _pair(parse_suite(proposal))
    sealed = initiator.seal(HEADER, INNER, initiator.next_iv())
    with pytest.raises(IntegrityError):
        responder.open(sealed)
    for index in range(0, len(sealed), 7):
        damaged = bytearray(sealed)
        damaged[index] ^= 0x40
        with pytest.raises(IntegrityError):
            initiator.open(bytes(damaged))


def test_sk_cipher_gcm_ivs_count_and_cbc_ivs_come_from_the_rng() -> None:
    gcm, _ = _pair(parse_suite("aes256gcm16-prfsha256-x25519"))
    ivs = [gcm.next_iv() for _ in range(100)]
    assert len(set(ivs)) == 100
    assert ivs[0] == bytes(7) + b"\x01"  # a counter: unique under the key (RFC 5282 §3.1)
    cbc, _ = _pair(parse_suite("aes128-sha256-x25519"))
    assert cbc.next_iv(lambda n: b"\x33" * n) == b"\x33" * 16
    assert cbc.next_iv() != cbc.next_iv()  # from the OS


def test_sk_cipher_authenticated_garbage_is_malformed_not_integrity() -> None:
    initiator, _ = _pair(parse_suite("aes256gcm16-prfsha256-x25519"))
    critical = (UnknownPayload(200, b"??", critical=True),)
    sealed = initiator.seal(HEADER, critical, initiator.next_iv())
    with pytest.raises(UnsupportedCriticalPayload) as caught:
        initiator.open(sealed)
    assert caught.value.payload_type == 200 and caught.value.header == HEADER


def test_sk_cipher_checks_sizes_and_hides_keys() -> None:
    suite = parse_suite("aes256-sha256-x25519")
    sk_e, sk_a = keys_for(suite)
    with pytest.raises(CryptoError):
        SkCipher(suite, sk_e[:-1], sk_a)
    with pytest.raises(CryptoError):
        SkCipher(suite, sk_e, sk_a[:-1])
    cipher = SkCipher(suite, sk_e, sk_a)
    with pytest.raises(CryptoError):
        cipher.seal(HEADER, INNER, bytes(8))
    assert sk_e.hex() not in repr(cipher) and sk_a.hex() not in repr(cipher)


def test_sk_cipher_refuses_an_sk_payload_too_long_for_its_length_field() -> None:
    suite = parse_suite("aes256gcm16-prfsha256-x25519")
    cipher, _ = _pair(suite)
    big = (VendorIdPayload(b"v" * 40_000), VendorIdPayload(b"w" * 40_000))  # > 65535 octets
    with pytest.raises(EncodeError):
        cipher.seal(HEADER, big, cipher.next_iv())


@pytest.mark.parametrize("proposal", ["aes256gcm16-prfsha256-x25519", "aes128-sha256-x25519"])
def test_sk_cipher_opens_with_the_header_decoded_already(proposal: str) -> None:
    cipher, _ = _pair(parse_suite(proposal))
    before = (NotifyPayload(NotifyType.COOKIE, data=b"c" * 16),)
    for unencrypted in ((), before):
        sealed = cipher.seal(HEADER, INNER, cipher.next_iv(), unencrypted=unencrypted)
        opened = cipher.open(sealed, header=decode_header(sealed))
        assert opened == cipher.open(sealed) == Message(HEADER, unencrypted + INNER)


def _resealed(cipher: SkCipher, sealed: bytes, octet: int, value: int) -> bytes:
    """``sealed`` with one octet of the authenticated prefix changed and
    the AES-GCM tag computed again, so that it still authenticates."""
    iv = sealed[32:40]
    plain_and_tag = bytearray(sealed)
    plain_and_tag[octet] = value
    prefix = bytes(plain_and_tag[:32])
    salt = cipher._salt
    aead = cipher._aead
    assert aead is not None
    plaintext = aead.decrypt(salt + iv, sealed[40:], sealed[:32])
    return prefix + iv + aead.encrypt(salt + iv, plaintext, prefix)


@pytest.mark.parametrize(
    ("octet", "value"),
    [
        (29, 0x80),  # SK's critical bit: kept by the fast path as by the codec
        (29, 0x01),  # a RESERVED bit of SK's generic header
        (31, 0x00),  # SK's Payload Length no longer reaches the end
        (17, 0x30),  # major version 3
    ],
)
def test_sk_cipher_open_with_a_header_agrees_with_the_full_decode(octet: int, value: int) -> None:
    """``open(data, header=...)`` skips decoding the outer chain when SK is
    alone and well formed; any other SK header gives what the full decode
    gives (same message, or the same error type)."""
    suite = parse_suite("aes256gcm16-prfsha256-x25519")
    cipher = SkCipher(suite, *keys_for(suite))
    sealed = _resealed(cipher, cipher.seal(HEADER, INNER, cipher.next_iv()), octet, value)
    results: list[object] = []
    for header in (None, decode_header(sealed)):
        try:
            results.append(cipher.open(sealed, header=header))
        except MalformedMessage as error:
            results.append(type(error))
    assert results[0] == results[1]
    if octet == 29 and value == 0x80:
        assert results[0] == Message(HEADER, INNER)
    else:
        assert isinstance(results[0], type) and issubclass(results[0], MalformedMessage)
