"""INFORMATIONAL (RFC 7296 §1.4): deletes, liveness checks, errors.

    HDR, SK{[N,] [D,] ...}  -->  <--  HDR, SK{[N,] [D,] ...}

A child SA is deleted with a Delete payload of its routing Protocol ID
whose SPI is the sender's key ID; the peer answers with its own key ID for
the same SA (§1.4.1). Deleting the RKMP SA is a Delete of protocol IKE with
no SPIs, answered by an empty message. An empty request checks liveness.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from rkmp_frr.engine.child_sa import ChildSa, ChildState
from rkmp_frr.engine.events import (
    ChildSaDeleted,
    DeleteReason,
    FailureReason,
    PeerAlive,
    RkmpSaDeleted,
)
from rkmp_frr.engine.routing_proposals import key_id_to_spi, profile, spi_to_key_id
from rkmp_frr.engine.state import SaState
from rkmp_frr.engine.tasks.base import Task
from rkmp_frr.wire import DeletePayload, Message, Payload
from rkmp_frr.wire.constants import ROUTING_SPI_SIZE, NotifyType, ProtocolId

if TYPE_CHECKING:
    from rkmp_frr.engine.rkmp_sa import RkmpSa

_SILENT = frozenset({DeleteReason.REKEYED, DeleteReason.REDUNDANT})


class LivenessTask(Task):
    """An empty INFORMATIONAL request (RFC 7296 §1.4). Also how a responder
    learns that the initiator accepted its AUTH (any authenticated answer
    confirms the SA)."""

    allowed_states = frozenset({SaState.ESTABLISHED, SaState.UNCONFIRMED})
    migratable = False

    def __init__(self, report: bool, first_wait: float | None = None) -> None:
        self.report = report
        self.first_wait = first_wait

    def build(self, sa: RkmpSa, now: float) -> tuple[Payload, ...] | None:
        return ()

    def on_response(self, sa: RkmpSa, message: Message, datagram: bytes, now: float) -> bool:
        sa.liveness_queued = False
        if self.report:
            sa.engine.emit(PeerAlive(sa.ref))
        return True

    def on_timeout(self, sa: RkmpSa, now: float) -> None:
        sa.fail(FailureReason.LIVENESS_TIMEOUT, now)


class DeleteChildTask(Task):
    def __init__(self, child: ChildSa, reason: DeleteReason) -> None:
        self.child = child
        self.reason = reason

    def build(self, sa: RkmpSa, now: float) -> tuple[Payload, ...] | None:
        child = self.child
        if sa.find_child(child.protocol, child.ref.local_key_id, remote=False) is not child:
            return None  # already gone
        if child.state is ChildState.DELETING:
            return None
        if child.state is ChildState.ACTIVE or child.state is ChildState.REKEYING:
            child.state = ChildState.DELETING
        protocol = child.protocol
        spi = key_id_to_spi(protocol, child.ref.local_key_id)
        return (DeletePayload(protocol, ROUTING_SPI_SIZE[protocol], (spi,)),)

    def _done(self, sa: RkmpSa) -> None:
        sa.remove_child(self.child)
        if self.child.reported and self.reason not in _SILENT:
            sa.engine.emit(ChildSaDeleted(self.child.ref, self.reason))

    def on_response(self, sa: RkmpSa, message: Message, datagram: bytes, now: float) -> bool:
        self._done(sa)
        return True

    def on_timeout(self, sa: RkmpSa, now: float) -> None:
        self._done(sa)
        sa.fail(FailureReason.TIMEOUT, now)


class DeleteRkmpTask(Task):
    allowed_states = frozenset({SaState.ESTABLISHED, SaState.REKEYED})
    migratable = False

    def __init__(self, reason: DeleteReason) -> None:
        self.reason = reason

    def build(self, sa: RkmpSa, now: float) -> tuple[Payload, ...] | None:
        sa.set_state(SaState.DELETING)
        return (DeletePayload(ProtocolId.IKE, 0, ()),)

    def _done(self, sa: RkmpSa, now: float) -> None:
        finish_rkmp_delete(sa, self.reason, now)

    def on_response(self, sa: RkmpSa, message: Message, datagram: bytes, now: float) -> bool:
        self._done(sa, now)
        return True

    def on_timeout(self, sa: RkmpSa, now: float) -> None:
        self._done(sa, now)  # RFC 7296 §1.4.1: the SA is gone either way


def finish_rkmp_delete(sa: RkmpSa, reason: DeleteReason, now: float) -> None:
    if reason is DeleteReason.REKEYED:
        sa.close(now)  # RkmpSaRekeyed said it all; the children moved
    elif reason is DeleteReason.REDUNDANT:
        sa.engine.emit(RkmpSaDeleted(sa.ref, reason, ()))
        sa.close(now)
    else:
        sa.delete_orderly(reason, now)


def _delete_children(sa: RkmpSa, payload: DeletePayload) -> DeletePayload | None:
    protocol = payload.protocol_id
    prof = profile(protocol)
    if prof is None:
        return None
    ours: list[bytes] = []
    for spi in payload.spis:
        child = sa.find_child(protocol, spi_to_key_id(spi), remote=True)
        if child is None or child.state is ChildState.DELETING:
            continue  # unknown, or crossing deletes (§1.4.1): our response finishes it
        sa.remove_child(child)
        replaced = child.state in (ChildState.REKEYED, ChildState.REDUNDANT) or (
            child.state is ChildState.REKEYING and child.rival is not None
        )
        if child.reported and not replaced:
            sa.engine.emit(ChildSaDeleted(child.ref, DeleteReason.REMOTE))
        ours.append(key_id_to_spi(prof.protocol, child.ref.local_key_id))
    if not ours:
        return None
    return DeletePayload(protocol, prof.spi_size, tuple(ours))


def respond(
    sa: RkmpSa, message: Message, now: float
) -> tuple[tuple[Payload, ...], Callable[[], None] | None]:
    rejected = message.notify(NotifyType.AUTHENTICATION_FAILED) is not None
    if rejected and sa.state is SaState.UNCONFIRMED:
        # The initiator rejected our AUTH (RFC 7296 §2.21.2).
        return (), lambda: sa.fail(FailureReason.AUTHENTICATION_FAILED, now)
    if sa.state is SaState.INIT_ANSWERED:
        return (), None
    answers: list[Payload] = []
    for payload in message.payloads:
        if not isinstance(payload, DeletePayload):
            continue
        if payload.protocol_id == ProtocolId.IKE:
            return (), lambda: _remote_rkmp_delete(sa, now)
        answer = _delete_children(sa, payload)
        if answer is not None:
            answers.append(answer)
    return tuple(answers), None


def _remote_rkmp_delete(sa: RkmpSa, now: float) -> None:
    if sa.state is SaState.REKEYED:
        # Replaced by a rekey (said by RkmpSaRekeyed), or a duplicate from
        # simultaneous initiation (announced, so its end is reported too).
        finish_rkmp_delete(
            sa, DeleteReason.REDUNDANT if sa.duplicate else DeleteReason.REKEYED, now
        )
        return
    sa.delete_orderly(DeleteReason.REMOTE, now)
