"""The project's codec and crypto against strongSwan's real traffic.

Two charon daemons (one per namespace) run one childless PSK IKE SA per
proposal: IKE_SA_INIT, IKE_AUTH, an IKE SA rekey (CREATE_CHILD_SA), the
rekey's INFORMATIONAL delete and a final INFORMATIONAL delete, captured on
the veth. charon's `ike = 4` log gives the DH secret and every key it
derived. Checks:

- every datagram decodes and re-encodes byte-identical;
- derive_rkmp_keys (and the rekey derivation, RFC 7296 §2.18) gives
  exactly charon's SKEYSEED and SK_* keys;
- decrypt_message opens every SK payload with the sender's keys, and the
  IKE_AUTH contents are what was configured; AUTH matches RFC 7296 §2.15
  computed by the project;
- Wireshark verifies every ICV with the project's keylog lines.

Select with `pytest integration -k strongswan`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from integration.harness.ike import IkeDatagram
from integration.harness.pcap import write_udp_pcap
from integration.harness.skips import require_strongswan, require_tshark
from integration.harness.strongswan import LoggedIkeKeys, parse_ike_key_sets
from integration.harness.strongswan_pair import ExchangeRecord, run_strongswan_exchange
from integration.harness.tshark import (
    expert_problems,
    icv_verdicts,
    run_tshark,
    write_decryption_table,
)
from integration.harness.workdir import make_work_dir, remove_work_dir
from rkmp_frr.crypto import (
    IntegrityError,
    decrypt_message,
    derive_rekeyed_keys,
    derive_rkmp_keys,
    keylog_line,
    parse_suite,
)
from rkmp_frr.crypto.auth import compute_psk_auth, signed_octets
from rkmp_frr.wire import (
    AuthPayload,
    DeletePayload,
    IdPayload,
    KePayload,
    Message,
    NoncePayload,
    SaPayload,
    decode_message,
    encode_message,
)
from rkmp_frr.wire.constants import (
    AuthMethod,
    ExchangeType,
    IdType,
    KeId,
    NotifyType,
    PayloadType,
    ProtocolId,
)

PROPOSALS = (
    "aes256gcm16-prfsha256-x25519",
    "aes256-sha256-x25519",
    "aes256-sha256-ecp256",
)
# KE method and public value length (RFC 8031 §2: 32; RFC 5903 §7: x | y).
KE_GROUPS = {"x25519": (KeId.CURVE25519, 32), "ecp256": (KeId.ECP_256, 64)}

# The exchanges the scenario produces, as (exchange type, is response).
EXPECTED_SEQUENCE = [
    (ExchangeType.IKE_SA_INIT, False),
    (ExchangeType.IKE_SA_INIT, True),
    (ExchangeType.IKE_AUTH, False),
    (ExchangeType.IKE_AUTH, True),
    (ExchangeType.CREATE_CHILD_SA, False),  # IKE SA rekey
    (ExchangeType.CREATE_CHILD_SA, True),
    (ExchangeType.INFORMATIONAL, False),  # delete of the old IKE SA
    (ExchangeType.INFORMATIONAL, True),
    (ExchangeType.INFORMATIONAL, False),  # swanctl --terminate of the new one
    (ExchangeType.INFORMATIONAL, True),
]
KEY_FIELDS = ("skeyseed", "sk_d", "sk_ai", "sk_ar", "sk_ei", "sk_er", "sk_pi", "sk_pr")
CHILD_SA_PAYLOADS = {PayloadType.SA, PayloadType.TSi, PayloadType.TSr}


@pytest.fixture(scope="module", params=PROPOSALS)
def exchange(request: pytest.FixtureRequest) -> Iterator[ExchangeRecord]:
    """One strongSwan run per proposal, shared by this module's tests."""
    require_strongswan()
    proposal: str = request.param
    path = make_work_dir(proposal)
    try:
        record = run_strongswan_exchange(proposal, path)
    finally:
        remove_work_dir(path)
    yield record


# --- helpers -------------------------------------------------------------------


def unique_messages(record: ExchangeRecord) -> list[IkeDatagram]:
    """Captured IKE messages without retransmissions (same bytes again)."""
    seen: set[bytes] = set()
    out = []
    for message in record.messages:
        if message.message not in seen:
            seen.add(message.message)
            out.append(message)
    return out


def select(
    record: ExchangeRecord, exchange_type: int, response: bool, spi_i: bytes | None = None
) -> list[bytes]:
    return [
        m.message
        for m in unique_messages(record)
        if m.header.exchange_type == exchange_type
        and m.header.is_response == response
        and (spi_i is None or m.header.spi_i == spi_i)
    ]


def only(items: list[bytes]) -> bytes:
    assert len(items) == 1, f"expected one message, found {len(items)}"
    return items[0]


def logged_keys(record: ExchangeRecord) -> list[LoggedIkeKeys]:
    """charon's key sets (initial SA, rekeyed SA); both peers must agree."""
    initiator = parse_ike_key_sets(record.initiator_log)
    responder = parse_ike_key_sets(record.responder_log)
    assert len(initiator) == 2, f"initiator logged {len(initiator)} key derivations, expected 2"
    assert initiator == responder, "the two charons logged different keys"
    return initiator


def sa_keys_for(record: ExchangeRecord, spi_i: bytes) -> LoggedIkeKeys:
    first, rekeyed = logged_keys(record)
    assert record.rekeyed_sa is not None
    by_spi = {record.first_sa.spi_i: first, record.rekeyed_sa.spi_i: rekeyed}
    return by_spi[spi_i]


def open_sk(record: ExchangeRecord, data: bytes) -> Message:
    """Decrypt with the sending side's keys as logged by charon."""
    header = decode_message(data).header
    keys = sa_keys_for(record, header.spi_i).keys
    if header.is_initiator:
        return decrypt_message(data, record.proposal, keys.sk_ei, keys.sk_ai)
    return decrypt_message(data, record.proposal, keys.sk_er, keys.sk_ar)


def payload_types(message: Message) -> set[int]:
    return {int(p.payload_type) for p in message.payloads}


def ke_group(proposal: str) -> tuple[KeId, int]:
    return KE_GROUPS[proposal.rsplit("-", 1)[1]]


# --- the wire codec --------------------------------------------------------------


def test_strongswan_exchange_sequence(exchange: ExchangeRecord) -> None:
    """The capture holds the whole scenario, in order (harness sanity)."""
    headers = [decode_message(m.message).header for m in unique_messages(exchange)]
    sequence = [(h.exchange_type, h.is_response) for h in headers]
    assert sequence == EXPECTED_SEQUENCE


def test_strongswan_messages_reencode_identically(exchange: ExchangeRecord) -> None:
    assert exchange.messages
    for captured in exchange.messages:
        message = decode_message(captured.message)
        assert encode_message(message) == captured.message
        peek = captured.header  # the harness's own header read
        assert (message.header.spi_i, message.header.spi_r) == (peek.spi_i, peek.spi_r)
        assert message.header.exchange_type == peek.exchange_type
        assert message.header.message_id == peek.message_id
        assert int(message.header.flags) == peek.flags


def test_strongswan_sa_init_contents(exchange: ExchangeRecord) -> None:
    group, public_length = ke_group(exchange.proposal)
    request = decode_message(only(select(exchange, ExchangeType.IKE_SA_INIT, False)))
    response = decode_message(only(select(exchange, ExchangeType.IKE_SA_INIT, True)))
    assert request.header.spi_r == bytes(8)
    assert response.header.spi_r == exchange.first_sa.spi_r
    for message in (request, response):
        sa = message.find(SaPayload)
        ke = message.find(KePayload)
        nonce = message.find(NoncePayload)
        assert sa is not None and ke is not None and nonce is not None
        assert [p.protocol_id for p in sa.proposals] == [ProtocolId.IKE]
        assert ke.group == group
        assert len(ke.data) == public_length
        assert 16 <= len(nonce.data) <= 256  # RFC 7296 §3.9
    # RFC 6023 §3: the responder says it can do without a CHILD_SA.
    assert response.notify(NotifyType.CHILDLESS_IKEV2_SUPPORTED) is not None
    assert not any(n.is_error for n in request.notifies + response.notifies)


# --- the key schedule --------------------------------------------------------------


def test_strongswan_key_schedule(exchange: ExchangeRecord) -> None:
    """derive_rkmp_keys reproduces charon's SKEYSEED and SK_* (RFC 7296 §2.14)."""
    logged = logged_keys(exchange)[0]
    request = decode_message(only(select(exchange, ExchangeType.IKE_SA_INIT, False)))
    response = decode_message(only(select(exchange, ExchangeType.IKE_SA_INIT, True)))
    ni = request.find(NoncePayload)
    nr = response.find(NoncePayload)
    assert ni is not None and nr is not None
    keys = derive_rkmp_keys(
        exchange.proposal,
        logged.g_ir,
        ni.data,
        nr.data,
        response.header.spi_i,
        response.header.spi_r,
    )
    for name in KEY_FIELDS:
        assert getattr(keys, name) == getattr(logged.keys, name), f"{name} differs from charon's"
    if parse_suite(exchange.proposal).encr.aead:
        assert keys.sk_ai == keys.sk_ar == b""  # RFC 5282 §7.1: no integrity keys


def test_strongswan_rekey_key_schedule(exchange: ExchangeRecord) -> None:
    """The rekeyed IKE SA's keys: SKEYSEED = prf(SK_d(old), g^ir | Ni | Nr)
    (RFC 7296 §2.18), with nonces and SPIs from the CREATE_CHILD_SA."""
    old, logged = logged_keys(exchange)
    spi_i = exchange.first_sa.spi_i
    request = open_sk(exchange, only(select(exchange, ExchangeType.CREATE_CHILD_SA, False, spi_i)))
    response = open_sk(exchange, only(select(exchange, ExchangeType.CREATE_CHILD_SA, True, spi_i)))
    ni, nr = request.find(NoncePayload), response.find(NoncePayload)
    sa_i, sa_r = request.find(SaPayload), response.find(SaPayload)
    assert ni is not None and nr is not None and sa_i is not None and sa_r is not None
    # §1.3.2: the new IKE SA's SPIs travel in the proposals' SPI fields.
    new_spi_i, new_spi_r = sa_i.proposals[0].spi, sa_r.proposals[0].spi
    assert exchange.rekeyed_sa is not None
    assert (new_spi_i, new_spi_r) == (exchange.rekeyed_sa.spi_i, exchange.rekeyed_sa.spi_r)
    suite = parse_suite(exchange.proposal)
    keys = derive_rekeyed_keys(
        suite.prf, old.keys.sk_d, suite, logged.g_ir, ni.data, nr.data, new_spi_i, new_spi_r
    )
    for name in KEY_FIELDS:
        assert getattr(keys, name) == getattr(logged.keys, name), f"rekeyed {name} differs"


# --- SK payloads ---------------------------------------------------------------------


def test_strongswan_ike_auth_request_contents(exchange: ExchangeRecord) -> None:
    message = open_sk(exchange, only(select(exchange, ExchangeType.IKE_AUTH, False)))
    ids = message.find_all(IdPayload)
    assert [(p.initiator, p.id_type, p.data) for p in ids] == [
        (True, IdType.ID_FQDN, exchange.initiator_id.encode()),
        (False, IdType.ID_FQDN, exchange.responder_id.encode()),  # IDr: whom we expect
    ]
    auth = message.find(AuthPayload)
    assert auth is not None and auth.method == AuthMethod.SHARED_KEY_MIC
    assert not payload_types(message) & CHILD_SA_PAYLOADS  # childless (RFC 6023)
    assert message.notify(NotifyType.INITIAL_CONTACT) is not None
    assert not any(n.is_error for n in message.notifies)


def test_strongswan_ike_auth_response_contents(exchange: ExchangeRecord) -> None:
    message = open_sk(exchange, only(select(exchange, ExchangeType.IKE_AUTH, True)))
    ids = message.find_all(IdPayload)
    assert [(p.initiator, p.id_type, p.data) for p in ids] == [
        (False, IdType.ID_FQDN, exchange.responder_id.encode())
    ]
    auth = message.find(AuthPayload)
    assert auth is not None and auth.method == AuthMethod.SHARED_KEY_MIC
    assert not payload_types(message) & CHILD_SA_PAYLOADS
    assert not any(n.is_error for n in message.notifies)


def test_strongswan_psk_auth_values(exchange: ExchangeRecord) -> None:
    """Both AUTH payloads equal the project's RFC 7296 §2.15 computation."""
    keys = logged_keys(exchange)[0].keys
    prf = parse_suite(exchange.proposal).prf
    init_request = only(select(exchange, ExchangeType.IKE_SA_INIT, False))
    init_response = only(select(exchange, ExchangeType.IKE_SA_INIT, True))
    ni = decode_message(init_request).find(NoncePayload)
    nr = decode_message(init_response).find(NoncePayload)
    assert ni is not None and nr is not None
    sides = (
        (False, init_request, nr.data, keys.sk_pi),
        (True, init_response, ni.data, keys.sk_pr),
    )
    for response, first_message, peer_nonce, sk_p in sides:
        message = open_sk(exchange, only(select(exchange, ExchangeType.IKE_AUTH, response)))
        own_id = message.find_all(IdPayload)[0]
        auth = message.find(AuthPayload)
        assert auth is not None
        octets = signed_octets(prf, sk_p, first_message, peer_nonce, own_id.id_type, own_id.data)
        assert compute_psk_auth(prf, exchange.psk, octets) == auth.data


def test_strongswan_informational_deletes(exchange: ExchangeRecord) -> None:
    requests = [open_sk(exchange, m) for m in select(exchange, ExchangeType.INFORMATIONAL, False)]
    responses = [open_sk(exchange, m) for m in select(exchange, ExchangeType.INFORMATIONAL, True)]
    assert len(requests) == len(responses) == 2
    for request in requests:
        deletes = request.find_all(DeletePayload)
        assert [(d.protocol_id, d.spi_size, d.spis) for d in deletes] == [(ProtocolId.IKE, 0, ())]
    for response in responses:
        assert response.payloads == ()  # RFC 7296 §1.4.1: empty answer to a delete


def test_strongswan_every_sk_message_decrypts(exchange: ExchangeRecord) -> None:
    encrypted = [m for m in unique_messages(exchange) if m.header.next_payload == PayloadType.SK]
    assert len(encrypted) == len(EXPECTED_SEQUENCE) - 2  # all but IKE_SA_INIT
    for captured in encrypted:
        message = open_sk(exchange, captured.message)
        assert message.header == decode_message(captured.message).header


def test_strongswan_tampered_message_rejected(exchange: ExchangeRecord) -> None:
    data = bytearray(only(select(exchange, ExchangeType.IKE_AUTH, False)))
    data[-20] ^= 0x01  # inside the ciphertext (before a 16-octet ICV)
    with pytest.raises(IntegrityError):
        open_sk(exchange, bytes(data))


# --- Wireshark, with the project's key log ------------------------------------------


def test_strongswan_wireshark_checks_project_keylog(exchange: ExchangeRecord) -> None:
    """Wireshark decrypts strongSwan's traffic and verifies every ICV with
    the project's keylog_line() rows (for charon's keys of both SAs)."""
    require_tshark()
    first, rekeyed = logged_keys(exchange)
    assert exchange.rekeyed_sa is not None
    path = make_work_dir("keylog")
    try:
        lines = [
            keylog_line(sa.spi_i, sa.spi_r, keys.keys, exchange.proposal)
            for sa, keys in ((exchange.first_sa, first), (exchange.rekeyed_sa, rekeyed))
        ]
        write_decryption_table(path / "wireshark", lines)
        pcap = path / "strongswan.pcap"
        write_udp_pcap(pcap, exchange.datagrams)
        text = run_tshark(pcap, config_dir=path / "wireshark", args=["-V"])
    finally:
        remove_work_dir(path)
    assert icv_verdicts(text) == ["correct"] * (len(EXPECTED_SEQUENCE) - 2)
    assert f"Identification Data:{exchange.initiator_id}" in text  # decrypted IDi
    assert expert_problems(text) == []
    assert "Malformed" not in text
