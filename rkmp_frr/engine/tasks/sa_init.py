"""RKMP_SA_INIT (IKE_SA_INIT, RFC 7296 §1.2): negotiate the RKMP SA's
algorithms, exchange nonces and KE values, derive the SA's keys.

    HDR, [N(COOKIE),] SAi1, KEi, Ni, N(RKMP_SUPPORTED), ...  -->
                  <--  HDR, SAr1, KEr, Nr, N(RKMP_SUPPORTED), [CERTREQ]

Initiator: a COOKIE answer is retried with the cookie first (§2.6), an
INVALID_KE_PAYLOAD answer with the requested group if we offered it (§1.2),
both with message ID 0 again. Responder: stateless until the offer is
acceptable; COOKIEs once half-open SAs pass the thresholds.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from rkmp_frr.crypto.auth import parse_signature_hash_algorithms
from rkmp_frr.crypto.dh import KeyExchange
from rkmp_frr.crypto.errors import CryptoError, InvalidPublicValue, ProposalError
from rkmp_frr.crypto.keyschedule import derive_keys
from rkmp_frr.engine.encoding import encode_init
from rkmp_frr.engine.events import FailureReason
from rkmp_frr.engine.negotiation import check_answer, choose
from rkmp_frr.engine.state import SaState
from rkmp_frr.engine.tasks.base import (
    Task,
    error_notify,
    ke_group_data,
    notify,
    parse_ke_group_data,
    reason_for,
)
from rkmp_frr.engine.types import Address
from rkmp_frr.wire import (
    CertReqPayload,
    Header,
    KePayload,
    Message,
    NoncePayload,
    NotifyPayload,
    Payload,
    SaPayload,
    encode_message,
)
from rkmp_frr.wire.constants import (
    IKE_SPI_LENGTH,
    CertEncoding,
    ExchangeType,
    HeaderFlag,
    NotifyType,
)

if TYPE_CHECKING:
    from rkmp_frr.engine.engine import Engine
    from rkmp_frr.engine.rkmp_sa import RkmpSa

ZERO_SPI = bytes(IKE_SPI_LENGTH)
MAX_INIT_RETRIES = 3  # COOKIE / INVALID_KE_PAYLOAD round trips before giving up


def _status_notifies(engine: Engine) -> tuple[Payload, ...]:
    """What both sides announce in RKMP_SA_INIT (DESIGN.md §2, RFC 6023,
    RFC 7427 §4)."""
    return _status(engine.config.announce_rkmp, engine.hash_algorithms_data)


@lru_cache(maxsize=16)
def _status(announce_rkmp: bool, hash_algorithms: bytes) -> tuple[Payload, ...]:
    status = (
        notify(NotifyType.CHILDLESS_IKEV2_SUPPORTED),
        notify(NotifyType.SIGNATURE_HASH_ALGORITHMS, hash_algorithms),
    )
    if announce_rkmp:
        return (notify(NotifyType.RKMP_SUPPORTED), *status)
    return status


def _peer_hashes(message: Message) -> tuple[int, ...]:
    found = message.notify(NotifyType.SIGNATURE_HASH_ALGORITHMS)
    if found is None:
        return ()
    return _parsed_hashes(found.data)


@lru_cache(maxsize=256)
def _parsed_hashes(data: bytes) -> tuple[int, ...]:
    """A peer's SIGNATURE_HASH_ALGORITHMS data, parsed once per value (peers
    of one implementation all send the same)."""
    try:
        return tuple(parse_signature_hash_algorithms(data))
    except CryptoError:
        return ()


class SaInitTask(Task):
    exchange = ExchangeType.IKE_SA_INIT
    encrypted = False
    allowed_states = frozenset({SaState.INIT_SENT})
    migratable = False

    def __init__(self) -> None:
        self.cookie: bytes | None = None
        self.group: int | None = None
        self.exchange_value: KeyExchange | None = None
        self.retries = 0
        # What build() made, in the shape encode_init writes (no COOKIE).
        self._parts: tuple[SaPayload, KePayload, NoncePayload, tuple[Payload, ...]] | None = None

    def build(self, sa: RkmpSa, now: float) -> tuple[Payload, ...] | None:
        engine = sa.engine
        proposals = engine.proposals_for(sa.policy)
        if self.group is None:
            self.group = proposals[0].ke[0].ke_id
        if self.exchange_value is None or self.exchange_value.ke_id != self.group:
            self.exchange_value = engine.key_exchange(self.group)
        if not sa.ni:
            sa.ni = engine.random_bytes(engine.config.nonce_size)
        offer = engine.offer_payload(sa.policy)
        ke = KePayload(self.group, self.exchange_value.public_bytes)
        nonce = NoncePayload(sa.ni)
        status = _status_notifies(engine)
        if self.cookie is None:
            self._parts = (offer, ke, nonce, status)
            return (offer, ke, nonce, *status)
        self._parts = None
        return (notify(NotifyType.COOKIE, self.cookie), offer, ke, nonce, *status)  # §2.6: first

    def encode(self, header: Header, payloads: tuple[Payload, ...]) -> bytes:
        parts = self._parts
        if parts is None:
            return super().encode(header, payloads)
        return encode_init(header, *parts)

    def sent(self, sa: RkmpSa, datagram: bytes) -> None:
        sa.init_request = datagram  # RealMessage1 for our AUTH (§2.15)

    def _retry(self, sa: RkmpSa, now: float) -> bool:
        self.retries += 1
        if self.retries > MAX_INIT_RETRIES:
            return False
        sa.next_request_id = 0  # a new RKMP_SA_INIT, message ID 0 again
        sa.queue_task(self, now, front=True)
        return True

    def on_response(self, sa: RkmpSa, message: Message, datagram: bytes, now: float) -> bool:
        cookie = message.notify(NotifyType.COOKIE)
        if cookie is not None:
            if not 1 <= len(cookie.data) <= 64:
                return False
            self.cookie = cookie.data
            if not self._retry(sa, now):
                sa.fail(FailureReason.TIMEOUT, now)
            return True
        error = error_notify(message)
        if error is not None:
            return self._on_error(sa, error, now)
        return self._on_accept(sa, message, datagram, now)

    def _on_error(self, sa: RkmpSa, error: NotifyPayload, now: float) -> bool:
        if error.notify_type == NotifyType.INVALID_KE_PAYLOAD:
            group = parse_ke_group_data(error.data)
            offered = {ke.ke_id for p in sa.engine.proposals_for(sa.policy) for ke in p.ke}
            if group is None or group not in offered or group == self.group:
                sa.fail(FailureReason.INVALID_KE_PAYLOAD, now)
                return True
            self.group = group
            if not self._retry(sa, now):
                sa.fail(FailureReason.INVALID_KE_PAYLOAD, now)
            return True
        # RFC 7296 §2.21.1: an unprotected error; act on it (strongSwan does).
        sa.fail(reason_for(error.notify_type), now)
        return True

    def _on_accept(self, sa: RkmpSa, message: Message, datagram: bytes, now: float) -> bool:
        sa_payload = message.find(SaPayload)
        ke = message.find(KePayload)
        nonce = message.find(NoncePayload)
        header = message.header
        if sa_payload is None or ke is None or nonce is None or header.spi_r == ZERO_SPI:
            return False  # unauthenticated and unusable: wait for another answer
        if len(sa_payload.proposals) != 1:
            return False
        try:
            suite = check_answer(sa.engine.proposals_for(sa.policy), sa_payload.proposals[0])
        except (ProposalError, CryptoError):
            return False
        exchange_value = self.exchange_value
        assert exchange_value is not None
        if ke.group != suite.ke.ke_id or ke.group != exchange_value.ke_id:
            return False
        try:
            g_ir = exchange_value.shared_secret(ke.data)
        except InvalidPublicValue:
            return False
        sa.spi_r = header.spi_r
        sa.nr = nonce.data
        sa.init_response = datagram
        sa.peer_rkmp = message.notify(NotifyType.RKMP_SUPPORTED) is not None
        sa.peer_hashes = _peer_hashes(message)
        sa.install_keys(suite, derive_keys(suite, g_ir, sa.ni, sa.nr, sa.spi_i, sa.spi_r))
        return True


# --- responder ------------------------------------------------------------------


def _answer(header: Header, payloads: tuple[Payload, ...], spi_r: bytes = ZERO_SPI) -> bytes:
    return encode_message(
        Message(
            Header(header.spi_i, spi_r, ExchangeType.IKE_SA_INIT, HeaderFlag.RESPONSE, 0),
            payloads,
        )
    )


def respond(engine: Engine, data: bytes, message: Message, addr: Address, now: float) -> None:
    """Answer a new RKMP_SA_INIT request; create the half-open SA if the
    offer is acceptable."""
    from rkmp_frr.engine.rkmp_sa import RkmpSa

    header = message.header
    policy = engine.policy_for(addr[0])
    if policy is None:
        engine.send(_answer(header, (notify(NotifyType.NO_PROPOSAL_CHOSEN),)), addr)
        return
    nonce = message.find(NoncePayload)
    sa_payload = message.find(SaPayload)
    ke = message.find(KePayload)
    if nonce is None or sa_payload is None or ke is None:
        engine.send(_answer(header, (notify(NotifyType.INVALID_SYNTAX),)), addr)
        return
    if engine.cookies_required(addr[0]):
        cookie = message.payloads[0]
        valid = (
            isinstance(cookie, NotifyPayload)
            and cookie.notify_type == NotifyType.COOKIE
            and engine.cookies.check(cookie.data, nonce.data, addr[0], header.spi_i, now)
        )
        if not valid:
            fresh = engine.cookies.make(nonce.data, addr[0], header.spi_i, now)
            engine.send(_answer(header, (notify(NotifyType.COOKIE, fresh),)), addr)
            return
    choice = choose(engine.proposals_for(policy), sa_payload.proposals, ke.group)
    if choice is None:
        engine.send(_answer(header, (notify(NotifyType.NO_PROPOSAL_CHOSEN),)), addr)
        return
    suite = choice.suite
    if ke.group != suite.ke.ke_id:  # RFC 7296 §1.2
        engine.send(
            _answer(
                header, (notify(NotifyType.INVALID_KE_PAYLOAD, ke_group_data(suite.ke.ke_id)),)
            ),
            addr,
        )
        return
    exchange_value = engine.key_exchange(suite.ke.ke_id)
    try:
        g_ir = exchange_value.shared_secret(ke.data)
    except InvalidPublicValue:  # RFC 6989 §2
        engine.send(_answer(header, (notify(NotifyType.INVALID_SYNTAX),)), addr)
        return
    spi_r = engine.new_spi()
    sa = RkmpSa(
        engine,
        policy,
        addr,
        initiator=False,
        spi_i=header.spi_i,
        spi_r=spi_r,
        state=SaState.INIT_ANSWERED,
        now=now,
    )
    sa.ni = nonce.data
    sa.nr = engine.random_bytes(engine.config.nonce_size)
    sa.peer_rkmp = message.notify(NotifyType.RKMP_SUPPORTED) is not None
    sa.peer_hashes = _peer_hashes(message)
    sa.install_keys(suite, derive_keys(suite, g_ir, sa.ni, sa.nr, sa.spi_i, spi_r))
    ke_payload = KePayload(suite.ke.ke_id, exchange_value.public_bytes)
    nonce_payload = NoncePayload(sa.nr)
    status = _status_notifies(engine)
    certreq = engine.certreq_for(policy)
    reply = Header(header.spi_i, spi_r, ExchangeType.IKE_SA_INIT, HeaderFlag.RESPONSE, 0)
    if certreq is None:
        response = encode_init(reply, choice.answer, ke_payload, nonce_payload, status)
    else:
        certreq_payload = CertReqPayload(CertEncoding.X509_SIGNATURE, certreq)
        payloads = (choice.answer, ke_payload, nonce_payload, *status, certreq_payload)
        response = encode_message(Message(reply, payloads))
    sa.init_request = data
    sa.init_response = response
    sa.cache.store(0, data, response)
    sa.expected_request_id = 1
    sa.half_open_until = now + engine.config.dos.half_open_timeout
    engine.register(sa, half_open_key=(addr, header.spi_i))
    engine.send(response, addr)
