"""Rekeying the RKMP SA itself (RFC 7296 §1.3.2, §2.18).

    HDR, SK{SA(SPIi'), Ni, KEi}  -->
                   <--  HDR, SK{SA(SPIr'), Nr, KEr}

SKEYSEED' = prf(SK_d, g^ir' | Ni | Nr); the child SAs move to the new SA,
and the initiator of the rekey deletes the old one. Collisions (§2.8.2):
when both sides rekey at once each answers the other, and once both
exchanges are done the new SA made with the lowest of the four nonces is
redundant: its initiator deletes it, the other side's initiator deletes the
old SA, and the children go to the survivor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from rkmp_frr.crypto.dh import KeyExchange
from rkmp_frr.crypto.errors import CryptoError, InvalidPublicValue, ProposalError
from rkmp_frr.crypto.keyschedule import derive_rekeyed_keys
from rkmp_frr.crypto.proposals import check_response, proposals_to_wire, select_offer
from rkmp_frr.engine import draws
from rkmp_frr.engine.events import DeleteReason, RkmpSaRekeyed
from rkmp_frr.engine.state import SaState
from rkmp_frr.engine.tasks.base import (
    Task,
    error_notify,
    ke_group_data,
    notify,
    parse_ke_group_data,
)
from rkmp_frr.engine.tasks.informational import DeleteRkmpTask
from rkmp_frr.wire import KePayload, Message, NoncePayload, Payload, SaPayload
from rkmp_frr.wire.constants import IKE_SPI_LENGTH, ExchangeType, NotifyType

if TYPE_CHECKING:
    from rkmp_frr.engine.rkmp_sa import RkmpSa

MAX_ATTEMPTS = 5
RETRY_LATER = 300.0  # after a rekey that failed, the SA lives on; try again


class RekeyRkmpTask(Task):
    exchange = ExchangeType.CREATE_CHILD_SA
    migratable = False

    def __init__(self) -> None:
        self.spi = b""
        self.ni = b""
        self.group: int | None = None
        self.exchange_value: KeyExchange | None = None
        self.attempts = 0

    def build(self, sa: RkmpSa, now: float) -> tuple[Payload, ...] | None:
        if sa.successor is not None:
            return None  # the peer's rekey got there first
        assert sa.suite is not None
        engine = sa.engine
        self.spi = engine.new_spi()
        self.ni = engine.random_bytes(engine.config.nonce_size)
        if self.group is None:
            self.group = sa.suite.ke.ke_id
        self.exchange_value = engine.key_exchange(self.group)
        proposals = proposals_to_wire(engine.proposals_for(sa.policy), spi=self.spi)
        return (
            SaPayload(proposals),
            NoncePayload(self.ni),
            KePayload(self.group, self.exchange_value.public_bytes),
        )

    def _later(self, sa: RkmpSa, now: float) -> None:
        sa.rekey_queued = False
        sa.rekey_at = now + draws.uniform(sa.engine.draws, RETRY_LATER / 2, RETRY_LATER)  # jittered
        sa.engine.touch(sa)

    def on_response(self, sa: RkmpSa, message: Message, datagram: bytes, now: float) -> bool:
        error = error_notify(message)
        if error is not None:
            self.attempts += 1
            if error.notify_type == NotifyType.TEMPORARY_FAILURE:
                if sa.rekey_rival is not None:
                    finish(sa, None, sa.rekey_rival, now)  # the peer's rekey won
                elif self.attempts < MAX_ATTEMPTS:
                    sa.defer(self, now)
                else:
                    self._later(sa, now)
                return True
            if error.notify_type == NotifyType.INVALID_KE_PAYLOAD:
                group = parse_ke_group_data(error.data)
                offered = {ke.ke_id for p in sa.engine.proposals_for(sa.policy) for ke in p.ke}
                if group in offered and group != self.group and self.attempts < MAX_ATTEMPTS:
                    self.group = group
                    sa.queue_task(self, now, front=True)
                    return True
            self._later(sa, now)
            return True
        new = self._accept(sa, message, now)
        if new is None:
            self._later(sa, now)
        else:
            finish(sa, new, sa.rekey_rival, now)
        return True

    def _accept(self, sa: RkmpSa, message: Message, now: float) -> RkmpSa | None:
        from rkmp_frr.engine.rkmp_sa import RkmpSa

        sa_payload = message.find(SaPayload)
        nonce = message.find(NoncePayload)
        ke = message.find(KePayload)
        exchange_value = self.exchange_value
        if sa_payload is None or nonce is None or ke is None or exchange_value is None:
            return None
        if len(sa_payload.proposals) != 1:
            return None
        answer = sa_payload.proposals[0]
        try:
            suite = check_response(sa.engine.proposals_for(sa.policy), answer)
        except (ProposalError, CryptoError):
            return None
        if len(answer.spi) != IKE_SPI_LENGTH or ke.group != exchange_value.ke_id:
            return None
        if suite.ke.ke_id != ke.group:
            return None
        try:
            g_ir = exchange_value.shared_secret(ke.data)
        except InvalidPublicValue:
            return None
        assert sa.keys is not None
        keys = derive_rekeyed_keys(
            sa.prf, sa.keys.sk_d, suite, g_ir, self.ni, nonce.data, self.spi, answer.spi
        )
        new = RkmpSa(
            sa.engine,
            sa.policy,
            sa.peer,
            initiator=True,
            spi_i=self.spi,
            spi_r=answer.spi,
            state=SaState.ESTABLISHED,
            now=now,
        )
        _inherit(new, sa, self.ni, nonce.data)
        new.install_keys(suite, keys)
        sa.engine.register(new)
        return new


def _inherit(new: RkmpSa, old: RkmpSa, ni: bytes, nr: bytes) -> None:
    new.ni = ni
    new.nr = nr
    new.peer_rkmp = old.peer_rkmp
    new.peer_hashes = old.peer_hashes
    new.remote_identity = old.remote_identity
    new.established_at = old.established_at


def finish(old: RkmpSa, ours: RkmpSa | None, theirs: RkmpSa | None, now: float) -> None:
    """Complete a rekey of ``old`` with the new SA from our exchange and/or
    from the peer's colliding one: pick the survivor, move the children,
    report, and delete what we are responsible for."""
    old.rekey_rival = None
    loser: RkmpSa | None = None
    winner: RkmpSa | None
    if ours is not None and theirs is not None:
        if ours.lowest_nonce < theirs.lowest_nonce:  # §2.8.2
            winner, loser = theirs, ours
        else:
            winner, loser = ours, theirs
    else:
        winner = ours if ours is not None else theirs
    assert winner is not None
    winner.children.update(old.children)
    old.children.clear()
    winner.start_lifetime(now)
    winner.last_inbound = now
    old.successor = winner
    old.set_state(SaState.REKEYED)
    old.migrate_tasks(now)
    old.engine.emit(RkmpSaRekeyed(old.ref, winner.ref, winner.suite_name))
    if winner is ours:
        old.queue_task(DeleteRkmpTask(DeleteReason.REKEYED), now)
    else:
        old.linger(now)
    if loser is not None:
        loser.successor = winner
        loser.set_state(SaState.REKEYED)
        if loser is ours:
            loser.queue_task(DeleteRkmpTask(DeleteReason.REKEYED), now)  # never reported
        else:
            loser.linger(now)
    old.engine.touch(winner)


def respond(
    sa: RkmpSa, message: Message, sa_payload: SaPayload, now: float
) -> tuple[tuple[Payload, ...], Callable[[], None] | None]:
    from rkmp_frr.engine.rkmp_sa import RkmpSa

    ours_in_flight = sa.pending is not None and isinstance(sa.pending.task, RekeyRkmpTask)
    if sa.state is not SaState.ESTABLISHED or sa.successor is not None:
        return (notify(NotifyType.TEMPORARY_FAILURE),), None  # §2.25.2: closing/rekeyed
    if sa.pending is not None and not ours_in_flight:
        # A child exchange of ours is in flight on this SA; let it finish.
        return (notify(NotifyType.TEMPORARY_FAILURE),), None
    nonce = message.find(NoncePayload)
    ke = message.find(KePayload)
    if nonce is None or ke is None:
        return (notify(NotifyType.INVALID_SYNTAX),), None
    engine = sa.engine
    chosen = select_offer(engine.proposals_for(sa.policy), sa_payload.proposals, prefer_ke=ke.group)
    if chosen is None:
        return (notify(NotifyType.NO_PROPOSAL_CHOSEN),), None
    offered = next(p for p in sa_payload.proposals if p.number == chosen.number)
    if len(offered.spi) != IKE_SPI_LENGTH:
        return (notify(NotifyType.INVALID_SYNTAX),), None
    suite = chosen.suite
    if ke.group != suite.ke.ke_id:
        return (notify(NotifyType.INVALID_KE_PAYLOAD, ke_group_data(suite.ke.ke_id)),), None
    exchange_value = engine.key_exchange(ke.group)
    try:
        g_ir = exchange_value.shared_secret(ke.data)
    except InvalidPublicValue:
        return (notify(NotifyType.INVALID_SYNTAX),), None
    nr = engine.random_bytes(engine.config.nonce_size)
    spi_r = engine.new_spi()
    assert sa.keys is not None
    keys = derive_rekeyed_keys(
        sa.prf, sa.keys.sk_d, suite, g_ir, nonce.data, nr, offered.spi, spi_r
    )
    new = RkmpSa(
        engine,
        sa.policy,
        sa.peer,
        initiator=False,  # the peer initiated this SA's creation
        spi_i=offered.spi,
        spi_r=spi_r,
        state=SaState.ESTABLISHED,
        now=now,
    )
    _inherit(new, sa, nonce.data, nr)
    new.install_keys(suite, keys)
    engine.register(new)
    payloads: tuple[Payload, ...] = (
        SaPayload((chosen.to_wire(spi=spi_r),)),
        NoncePayload(nr),
        KePayload(ke.group, exchange_value.public_bytes),
    )
    if ours_in_flight:
        sa.rekey_rival = new  # decided when our own rekey completes
        return payloads, None
    return payloads, lambda: finish(sa, None, new, now)
