"""The package's fixed entry points: scripts outside the project call
``derive_rkmp_keys`` and ``decrypt_message`` by name and keyword."""

from __future__ import annotations

import inspect

import pytest

from rkmp_frr import crypto
from rkmp_frr.crypto import (
    IntegrityError,
    decrypt_message,
    derive_rkmp_keys,
    encrypt_message,
    get_ke_group,
    keylog_line,
)
from rkmp_frr.wire import Header, Message, NotifyPayload
from rkmp_frr.wire.constants import ExchangeType, HeaderFlag, KeId, NotifyType


def _parameters(function: object) -> list[str]:
    assert callable(function)
    return list(inspect.signature(function).parameters)


def test_entry_point_signatures() -> None:
    assert _parameters(derive_rkmp_keys) == ["proposal", "g_ir", "ni", "nr", "spi_i", "spi_r"]
    assert _parameters(decrypt_message) == ["data", "proposal", "sk_e", "sk_a"]
    assert _parameters(encrypt_message)[:6] == [
        "header",
        "inner_payloads",
        "proposal",
        "sk_e",
        "sk_a",
        "iv",
    ]
    for name in crypto.__all__:
        assert hasattr(crypto, name), name


def test_an_rkmp_sa_end_to_end_with_keywords() -> None:
    """Both sides derive the same keys from a real X25519 exchange; the
    initiator's message decrypts with SK_ei on the other side."""
    proposal = "aes256gcm16-prfsha256-x25519"
    group = get_ke_group(KeId.CURVE25519)
    initiator, responder = group.generate(), group.generate()
    ni, nr = b"\x11" * 32, b"\x22" * 32
    spi_i, spi_r = b"\xaa" * 8, b"\xbb" * 8
    keys_i = derive_rkmp_keys(
        proposal=proposal,
        g_ir=initiator.shared_secret(responder.public_bytes),
        ni=ni,
        nr=nr,
        spi_i=spi_i,
        spi_r=spi_r,
    )
    keys_r = derive_rkmp_keys(
        proposal, responder.shared_secret(initiator.public_bytes), ni, nr, spi_i, spi_r
    )
    assert keys_i == keys_r
    header = Header(spi_i, spi_r, ExchangeType.INFORMATIONAL, HeaderFlag.INITIATOR, 2)
    inner = (NotifyPayload(NotifyType.INITIAL_CONTACT),)
    data = encrypt_message(header, inner, proposal, keys_i.sk_ei, keys_i.sk_ai)
    message = decrypt_message(data=data, proposal=proposal, sk_e=keys_r.sk_ei, sk_a=keys_r.sk_ai)
    assert message == Message(header, inner)
    # The responder's own key does not open the initiator's message.
    with pytest.raises(IntegrityError):
        decrypt_message(data, proposal, keys_r.sk_er, keys_r.sk_ar)
    assert keylog_line(spi_i, spi_r, keys_i, proposal).startswith("aaaaaaaaaaaaaaaa,bbbb")
