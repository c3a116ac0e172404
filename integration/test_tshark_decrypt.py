"""Wireshark (tshark) decrypts what the project encrypts.

An RKMP_SA_AUTH exchange (IKE_AUTH request and response) is built with the
project's codec, protected with encrypt_message under keys from
derive_rkmp_keys, written to a pcap by the harness, and given to tshark with
the project's keylog_line() in a private ikev2_decryption_table. tshark must
show the decrypted identities and AUTH, report every ICV `[correct]` and
raise no expert error; a tampered copy must be reported incorrect.

No daemons or namespaces are needed. Select with `pytest integration -k tshark`.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from integration.harness.pcap import UdpDatagram, write_udp_pcap
from integration.harness.skips import require_tshark
from integration.harness.tshark import (
    expert_problems,
    icv_verdicts,
    run_tshark,
    write_decryption_table,
)
from integration.harness.workdir import make_work_dir, remove_work_dir
from rkmp_frr.crypto import RkmpKeys, derive_rkmp_keys, encrypt_message, keylog_line
from rkmp_frr.wire import AuthPayload, Header, IdPayload, NotifyPayload, Payload
from rkmp_frr.wire.constants import AuthMethod, ExchangeType, HeaderFlag, IdType, NotifyType

SUITES = ("aes256gcm16-prfsha256-x25519", "aes256-sha256-x25519")
INITIATOR_ID = "rkmp-a.example.test"
RESPONDER_ID = "rkmp-b.example.test"
# Test addresses: the packets exist only in the pcap file.
ADDR_I = ipaddress.IPv4Address("10.250.0.1")
ADDR_R = ipaddress.IPv4Address("10.250.0.2")


@dataclass(frozen=True)
class AuthExchange:
    """An encrypted IKE_AUTH request/response pair and the SA it belongs to."""

    proposal: str
    spi_i: bytes
    spi_r: bytes
    keys: RkmpKeys = dataclasses.field(repr=False)
    request: bytes
    response: bytes
    auth_i: bytes
    auth_r: bytes


def build_exchange(proposal: str) -> AuthExchange:
    spi_i, spi_r = secrets.token_bytes(8), secrets.token_bytes(8)
    keys = derive_rkmp_keys(
        proposal,
        secrets.token_bytes(32),  # g^ir
        secrets.token_bytes(32),  # Ni
        secrets.token_bytes(32),  # Nr
        spi_i,
        spi_r,
    )
    auth_i, auth_r = secrets.token_bytes(32), secrets.token_bytes(32)
    request_payloads: list[Payload] = [
        IdPayload(IdType.ID_FQDN, INITIATOR_ID.encode(), initiator=True),
        NotifyPayload(NotifyType.INITIAL_CONTACT),
        IdPayload(IdType.ID_FQDN, RESPONDER_ID.encode(), initiator=False),
        AuthPayload(AuthMethod.SHARED_KEY_MIC, auth_i),
    ]
    response_payloads: list[Payload] = [
        IdPayload(IdType.ID_FQDN, RESPONDER_ID.encode(), initiator=False),
        AuthPayload(AuthMethod.SHARED_KEY_MIC, auth_r),
    ]
    request = encrypt_message(
        Header(spi_i, spi_r, ExchangeType.IKE_AUTH, HeaderFlag.INITIATOR, 1),
        request_payloads,
        proposal,
        keys.sk_ei,
        keys.sk_ai,
    )
    response = encrypt_message(
        Header(spi_i, spi_r, ExchangeType.IKE_AUTH, HeaderFlag.RESPONSE, 1),
        response_payloads,
        proposal,
        keys.sk_er,
        keys.sk_ar,
    )
    return AuthExchange(proposal, spi_i, spi_r, keys, request, response, auth_i, auth_r)


def datagrams(request: bytes, response: bytes) -> list[UdpDatagram]:
    return [
        UdpDatagram(1_700_000_000.0, ADDR_I, ADDR_R, 500, 500, request),
        UdpDatagram(1_700_000_000.001, ADDR_R, ADDR_I, 500, 500, response),
    ]


@pytest.fixture
def scratch() -> Iterator[Path]:
    path = make_work_dir("tshark")
    yield path
    remove_work_dir(path)


def tshark_view(scratch: Path, exchange: AuthExchange, request: bytes) -> str:
    """tshark -V of (request, the exchange's response) with the project's keylog."""
    config = scratch / "wireshark"
    line = keylog_line(exchange.spi_i, exchange.spi_r, exchange.keys, exchange.proposal)
    write_decryption_table(config, [line])
    pcap = scratch / "auth.pcap"
    write_udp_pcap(pcap, datagrams(request, exchange.response))
    return run_tshark(pcap, config_dir=config, args=["-V"])


@pytest.mark.parametrize("proposal", SUITES)
def test_tshark_decrypts_project_sk_payloads(scratch: Path, proposal: str) -> None:
    require_tshark()
    exchange = build_exchange(proposal)
    text = tshark_view(scratch, exchange, exchange.request)
    assert icv_verdicts(text) == ["correct", "correct"]
    assert expert_problems(text) == []
    assert "Malformed" not in text
    # Decrypted contents: identities, INITIAL_CONTACT, both AUTH payloads.
    assert f"Identification Data:{INITIATOR_ID}" in text
    assert text.count(f"Identification Data:{RESPONDER_ID}") == 2  # IDr in both
    assert "Notify Message Type: INITIAL_CONTACT (16384)" in text
    assert text.count("Authentication Method: Shared Key Message Integrity Code (2)") == 2
    assert f"Authentication Data: {exchange.auth_i.hex()}" in text
    assert f"Authentication Data: {exchange.auth_r.hex()}" in text


@pytest.mark.parametrize("proposal", SUITES)
def test_tshark_reports_tampered_icv(scratch: Path, proposal: str) -> None:
    require_tshark()
    exchange = build_exchange(proposal)
    tampered = bytearray(exchange.request)
    tampered[-20] ^= 0x01  # a ciphertext octet, before the 16-octet ICV
    text = tshark_view(scratch, exchange, bytes(tampered))
    assert icv_verdicts(text) == ["incorrect", "correct"]
    assert any("Integrity Checksum Data is incorrect" in p for p in expert_problems(text))


def test_tshark_rejects_wrong_keys(scratch: Path) -> None:
    """With another SA's keys under the same SPIs nothing verifies."""
    require_tshark()
    proposal = SUITES[1]
    exchange = build_exchange(proposal)
    other = build_exchange(proposal)
    wrong = dataclasses.replace(exchange, keys=other.keys)
    text = tshark_view(scratch, wrong, exchange.request)
    assert icv_verdicts(text) == ["incorrect", "incorrect"]
    assert f"Identification Data:{INITIATOR_ID}" not in text
