"""The engine's SK payload code against the crypto package's."""

from __future__ import annotations

import pytest

from rkmp_frr.crypto.errors import IntegrityError
from rkmp_frr.crypto.proposals import parse_suite
from rkmp_frr.crypto.protection import protect, unprotect
from rkmp_frr.engine.protect import SkCipher
from rkmp_frr.wire import Header, MalformedMessage, NoncePayload, NotifyPayload, UnknownPayload
from rkmp_frr.wire.constants import HeaderFlag, NotifyType

SUITES = ["aes256gcm16-prfsha256-x25519", "aes128gcm16-prfsha384-x25519", "aes256-sha384-x25519"]
HEADER = Header(b"\x11" * 8, b"\x22" * 8, 37, HeaderFlag.INITIATOR, 5)
PAYLOADS = (NotifyPayload(NotifyType.REKEY_SA, 203, b"\x07"), NoncePayload(b"n" * 32))


def _keys(text: str) -> tuple[SkCipher, SkCipher, bytes, bytes]:
    suite = parse_suite(text)
    sk_e_i = bytes(range(suite.encr.sk_e_size))
    sk_e_r = bytes(reversed(sk_e_i))
    sk_a_i = b"\xa1" * suite.sk_a_size
    sk_a_r = b"\xa2" * suite.sk_a_size
    initiator = SkCipher(suite, sk_e_i, sk_a_i, sk_e_r, sk_a_r)
    responder = SkCipher(suite, sk_e_r, sk_a_r, sk_e_i, sk_a_i)
    return initiator, responder, sk_e_i, sk_a_i


@pytest.mark.parametrize("text", SUITES)
def test_engine_and_crypto_package_agree(text: str) -> None:
    initiator, responder, sk_e_i, sk_a_i = _keys(text)
    suite = parse_suite(text)
    iv = initiator.next_iv(b"\x5a" * suite.encr.iv_size)
    ours = initiator.seal(HEADER, PAYLOADS, iv)
    assert ours == protect(HEADER, PAYLOADS, suite, sk_e_i, sk_a_i, iv)
    assert unprotect(ours, suite, sk_e_i, sk_a_i).payloads == PAYLOADS
    assert responder.open(ours).payloads == PAYLOADS
    empty = initiator.seal(HEADER, (), initiator.next_iv(b"\x5b" * suite.encr.iv_size))
    assert responder.open(empty).payloads == ()


@pytest.mark.parametrize("text", SUITES)
def test_any_flipped_bit_is_an_integrity_error(text: str) -> None:
    initiator, responder, _, _ = _keys(text)
    sealed = initiator.seal(HEADER, PAYLOADS, initiator.next_iv(b"\x01" * 16)[:16])
    for index in range(0, len(sealed), 7):
        damaged = bytearray(sealed)
        damaged[index] ^= 0x40
        with pytest.raises((IntegrityError, MalformedMessage)):
            responder.open(bytes(damaged))
    with pytest.raises(IntegrityError):
        initiator.open(sealed)  # our own message does not open with the peer's keys


def test_gcm_ivs_do_not_repeat() -> None:
    initiator, _, _, _ = _keys(SUITES[0])
    ivs = {initiator.next_iv(b"") for _ in range(100)}
    assert len(ivs) == 100


def test_authenticated_garbage_is_malformed_not_integrity() -> None:
    initiator, responder, _, _ = _keys(SUITES[0])
    critical = (UnknownPayload(200, b"??", critical=True),)
    sealed = initiator.seal(HEADER, critical, initiator.next_iv(b""))
    with pytest.raises(MalformedMessage):
        responder.open(sealed)
