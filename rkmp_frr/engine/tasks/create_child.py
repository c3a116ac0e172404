"""CREATE_CHILD_SA (RFC 7296 §1.3) for routing-protocol SAs: create one,
or rekey one (§1.3.3, REKEY_SA), optionally with PFS (KE payloads).

    HDR, SK{[N(REKEY_SA),] SA, Ni, [KEi]}  -->
                          <--  HDR, SK{SA, Nr, [KEr]}

Key IDs travel in the proposal SPI (DESIGN.md §2). Symmetric IDs are the
initiator's choice and must be free on both sides: a clash is answered with
NO_PROPOSAL_CHOSEN and the initiator retries with another ID. TCP-AO's SPI
is the sender's SendID; the receiver keeps it as its RecvID.

Rekey collisions (§2.8.1): both sides rekeying the same child each answer
the other; once both exchanges are done, the new child made with the lowest
of the four nonces is redundant and is deleted by its initiator, and the
initiator of the surviving exchange deletes the old child. Only the
survivor is ever reported. Two creations of a child for one protocol that
cross (each side asks while its own request is out, e.g. both make up for
a protocol after simultaneous initiation) are settled the same way: one
child for the protocol, never two reported in different orders.

The RKMP SA's own rekey (§1.3.2) also runs over CREATE_CHILD_SA; it is in
``rekey_rkmp``, and ``respond`` dispatches to it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from rkmp_frr.crypto.dh import KeyExchange, available_ke_ids
from rkmp_frr.crypto.errors import InvalidPublicValue
from rkmp_frr.crypto.keyschedule import child_keymat
from rkmp_frr.engine import draws
from rkmp_frr.engine.child_sa import ChildSa, ChildState
from rkmp_frr.engine.events import ChildRef, ChildSaFailed, DeleteReason, FailureReason
from rkmp_frr.engine.policy import ChildPolicy
from rkmp_frr.engine.routing_proposals import (
    PROFILES,
    ChildSelection,
    build_child_answer,
    build_child_proposal,
    check_child_answer,
    key_id_space,
    key_id_to_spi,
    keymat_length,
    select_child_proposal_from,
    spi_to_key_id,
)
from rkmp_frr.engine.state import SaState
from rkmp_frr.engine.tasks import rekey_rkmp
from rkmp_frr.engine.tasks.base import (
    Task,
    error_notify,
    ke_group_data,
    notify,
    parse_ke_group_data,
    reason_for,
)
from rkmp_frr.engine.tasks.informational import DeleteChildTask
from rkmp_frr.wire import (
    KePayload,
    Message,
    NoncePayload,
    NotifyPayload,
    Payload,
    Proposal,
    SaPayload,
)
from rkmp_frr.wire.constants import ExchangeType, KeId, NotifyType, ProtocolId

if TYPE_CHECKING:
    from rkmp_frr.engine.rkmp_sa import RkmpSa

MAX_KEY_ID_ATTEMPTS = 4  # offers with different key IDs before giving up
MAX_TEMPORARY_FAILURES = 10  # RFC 7296 §2.25: "over a period of several minutes"
REKEY_RETRY = 60.0  # a failed rekey is tried again after this long


# --- shared by RKMP_SA_AUTH's first child SA and CREATE_CHILD_SA -----------------------


def allocate_key_id(
    sa: RkmpSa,
    policy: ChildPolicy,
    exclude: set[int],
    in_use: tuple[set[int], set[int]] | None = None,
) -> int | None:
    """A free key ID of ours for ``policy.protocol`` with this peer, chosen
    at random (so a recently retired ID is unlikely to come back at once).
    ``in_use`` is ``key_ids_in_use`` if the caller has it already."""
    local, remote = in_use or sa.engine.key_ids_in_use(sa.peer, policy.protocol)
    taken = local | exclude
    if PROFILES[policy.protocol].symmetric:
        taken |= remote  # one ID for both directions: free on both sides
    space = key_id_space(policy)
    rng = sa.engine.draws
    if len(taken) < len(space) // 2:
        for _ in range(16):  # usually the first draw is free
            candidate = space[draws.below(rng, len(space))]
            if candidate not in taken:
                return candidate
    if len(space) > 0x10000:
        return None
    free = [k for k in space if k not in taken]
    return free[draws.below(rng, len(free))] if free else None


@dataclass(slots=True)
class Accepted:
    """A child proposal the responder accepted, before keys are made."""

    policy: ChildPolicy
    proposal: Proposal
    selection: ChildSelection
    remote_key_id: int
    local_key_id: int


def accept_child_offer(
    sa: RkmpSa, sa_payload: SaPayload, *, in_auth: bool, ke_group: int | None
) -> Accepted | NotifyPayload:
    """Responder: pick a routing proposal and key IDs, or say why not."""
    for candidate in sa_payload.proposals:
        policy = sa.policy.child_policy(candidate.protocol_id)
        if policy is None:
            continue
        if in_auth:
            # RFC 7296 §1.2: no KE in IKE_AUTH, so no PFS for the first child.
            policy = _without_pfs(policy)
        supported = _available_ke_ids()
        if ke_group is not None and ke_group in policy.pfs_groups + tuple(supported):
            # Prefer the group the initiator already sent a KE payload for.
            supported = (KeId(ke_group), *supported)
        chosen = select_child_proposal_from((candidate,), policy, supported)
        if chosen is None:
            continue
        proposal, selection = chosen
        remote_id = spi_to_key_id(proposal.spi)
        in_use = sa.engine.key_ids_in_use(sa.peer, policy.protocol)
        local, remote = in_use
        if PROFILES[policy.protocol].symmetric:
            if remote_id in local or remote_id in remote or remote_id not in key_id_space(policy):
                return notify(NotifyType.NO_PROPOSAL_CHOSEN)  # key-ID clash: retry another
            return Accepted(policy, proposal, selection, remote_id, remote_id)
        if remote_id in remote:
            return notify(NotifyType.NO_PROPOSAL_CHOSEN)
        local_id = allocate_key_id(sa, policy, set(), in_use)
        if local_id is None:
            return notify(NotifyType.NO_PROPOSAL_CHOSEN)
        return Accepted(policy, proposal, selection, remote_id, local_id)
    return notify(NotifyType.NO_PROPOSAL_CHOSEN)


@cache
def _available_ke_ids() -> tuple[KeId, ...]:
    """What the installed library can do does not change while we run."""
    return available_ke_ids()


def _without_pfs(policy: ChildPolicy) -> ChildPolicy:
    if not policy.pfs_groups:
        return policy
    return ChildPolicy(
        policy.protocol, policy.integ, policy.options, (), policy.lifetime, policy.key_ids
    )


def make_child(
    sa: RkmpSa,
    policy: ChildPolicy,
    selection: ChildSelection,
    *,
    local_key_id: int,
    remote_key_id: int,
    ni: bytes,
    nr: bytes,
    g_ir: bytes | None,
    initiator: bool,
    now: float,
) -> ChildSa:
    """Derive KEYMAT (RFC 7296 §2.17) and build the child SA record."""
    assert sa.keys is not None
    protocol = policy.protocol
    keymat = child_keymat(
        sa.prf, sa.keys.sk_d, ni, nr, keymat_length(protocol, selection.integ), g_ir
    )
    ref = ChildRef(sa.peer, protocol, local_key_id, remote_key_id)
    params = sa.new_child_params(
        ref,
        selection.integ,
        selection.option,
        selection.pfs_group,
        keymat,
        initiator,
        now,
    )
    return ChildSa(params, policy, (ni, nr))


# --- initiator ----------------------------------------------------------------------------


class CreateChildTask(Task):
    """Create a child SA for ``protocol``, or rekey ``rekey``."""

    exchange = ExchangeType.CREATE_CHILD_SA

    def __init__(
        self,
        protocol: ProtocolId,
        rekey: ChildSa | None = None,
        tried: set[int] | None = None,
        replaces: ChildRef | None = None,
        ensure: bool = False,
    ) -> None:
        self.protocol = protocol
        self.rekey = rekey
        self.replaces = replaces  # an old child that vanished on the peer
        # Only if the SA has no child for the protocol when the turn comes
        # (asked by ``initiate``; a request moved from a redundant SA).
        self.ensure = ensure
        # The child the peer's crossing creation for the same protocol made,
        # held until ours completes.
        self.rival: ChildSa | None = None
        self.tried: set[int] = set(tried or ())
        self.attempts = len(self.tried)
        self.temporary_failures = 0
        self.group: int | None = None
        self.exchange_value: KeyExchange | None = None
        self.ni = b""
        self.offer: Proposal | None = None
        self.key_id: int | None = None
        self.reserved = False
        self.policy: ChildPolicy | None = None

    # - building

    def build(self, sa: RkmpSa, now: float) -> tuple[Payload, ...] | None:
        policy = sa.policy.child_policy(self.protocol)
        if policy is None:
            self._give_up(sa, FailureReason.NO_PROPOSAL_CHOSEN, now)
            return None
        self.policy = policy
        old = self.rekey
        if old is not None and (
            old.state is not ChildState.ACTIVE
            or sa.find_child(old.protocol, old.ref.local_key_id, remote=False) is not old
        ):
            return None  # rekeyed, being deleted or gone meanwhile
        if self.ensure and old is None and has_child(sa.home(), self.protocol):
            return None  # e.g. made by the peer meanwhile
        key_id = allocate_key_id(sa, policy, self.tried)
        if key_id is None:
            self._give_up(sa, FailureReason.KEY_IDS_EXHAUSTED, now)
            return None
        self.key_id = key_id
        self._reserve(sa)
        if old is not None:
            old.state = ChildState.REKEYING
        self.ni = sa.engine.random_bytes(sa.engine.config.nonce_size)
        payloads: list[Payload] = []
        if old is not None:
            payloads.append(
                notify(
                    NotifyType.REKEY_SA,
                    protocol_id=self.protocol,
                    spi=key_id_to_spi(self.protocol, old.ref.local_key_id),
                )
            )
        if policy.pfs_groups:
            if self.group is None:
                self.group = policy.pfs_groups[0]
            self.exchange_value = sa.engine.key_exchange(self.group)
        else:
            self.group = None
            self.exchange_value = None
        group = KeId(self.group) if self.group is not None else None
        self.offer = build_child_proposal(policy, key_id, group)
        payloads += [SaPayload((self.offer,)), NoncePayload(self.ni)]
        if self.exchange_value is not None and self.group is not None:
            payloads.append(KePayload(self.group, self.exchange_value.public_bytes))
        return tuple(payloads)

    # - outcomes

    def _reserve(self, sa: RkmpSa) -> None:
        """Keep our offered key ID out of other offers while in flight."""
        assert self.key_id is not None
        sa.engine.reserve_key_id(sa.peer, self.protocol, self.key_id)
        self.reserved = True

    def _release(self, sa: RkmpSa) -> None:
        if self.reserved and self.key_id is not None:
            sa.engine.release_key_id(sa.peer, self.protocol, self.key_id)
        self.reserved = False

    def _restore_old(self, sa: RkmpSa, now: float) -> None:
        old = self.rekey
        if old is not None and old.state in (ChildState.ACTIVE, ChildState.REKEYING):
            old.state = ChildState.ACTIVE
            old.rival = None
            # Jittered, so that two sides that failed together do not
            # collide again.
            old.rekey_due = now + draws.uniform(sa.engine.draws, REKEY_RETRY / 2, REKEY_RETRY)
            sa.engine.touch(sa)

    def _release_rival(self, sa: RkmpSa, now: float) -> None:
        """Our creation brought no child: the peer's crossing one stands."""
        rival, self.rival = self.rival, None
        if rival is not None and _still_held(sa, rival):
            sa.announce_child(rival, now)

    def _give_up(self, sa: RkmpSa, reason: FailureReason, now: float) -> None:
        self._release(sa)
        self._release_rival(sa, now)
        old = self.rekey
        if old is not None and old.rival is not None:
            # Our rekey failed but the peer's colliding one worked: that is
            # the outcome (the peer saw no collision and deletes the old).
            _settle_collision(sa, old, None, old.rival, now)
            return
        self._restore_old(sa, now)
        replaced = self.rekey.ref if self.rekey is not None else self.replaces
        sa.engine.emit(ChildSaFailed(sa.peer, self.protocol, reason, replaced))

    def _retry(self, sa: RkmpSa, now: float) -> None:
        self._release(sa)
        self._release_rival(sa, now)
        if self.rekey is not None and self.rekey.state is ChildState.REKEYING:
            self.rekey.state = ChildState.ACTIVE
        sa.queue_task(self, now, front=True)

    def on_abort(self, sa: RkmpSa, now: float) -> None:
        self._release(sa)
        if sa.state is not SaState.CLOSED:
            self._release_rival(sa, now)  # moved to a successor SA

    def on_timeout(self, sa: RkmpSa, now: float) -> None:
        self._release(sa)
        sa.fail(FailureReason.TIMEOUT, now)

    def on_response(self, sa: RkmpSa, message: Message, datagram: bytes, now: float) -> bool:
        error = error_notify(message)
        if error is not None:
            self._on_error(sa, error, now)
            return True
        self._release(sa)
        result = self._accept(sa, message, now)
        if isinstance(result, FailureReason):
            self._give_up(sa, result, now)
        return True

    def _on_error(self, sa: RkmpSa, error: NotifyPayload, now: float) -> None:
        kind = error.notify_type
        policy = self.policy
        assert policy is not None
        if kind == NotifyType.NO_PROPOSAL_CHOSEN:
            # From an RKMP peer possibly a key-ID clash (DESIGN.md §2): try
            # another ID. A plain IKEv2 peer just has no routing SAs.
            if self.key_id is not None:
                self.tried.add(self.key_id)
            self.attempts += 1
            if self.attempts < MAX_KEY_ID_ATTEMPTS and sa.peer_rkmp:
                self._retry(sa, now)
            else:
                self._give_up(sa, FailureReason.NO_PROPOSAL_CHOSEN, now)
            return
        if kind == NotifyType.INVALID_KE_PAYLOAD:
            group = parse_ke_group_data(error.data)
            if group is not None and group in policy.pfs_groups and group != self.group:
                self.group = group
                self._retry(sa, now)
            else:
                self._give_up(sa, FailureReason.INVALID_KE_PAYLOAD, now)
            return
        if kind == NotifyType.TEMPORARY_FAILURE:
            self._release(sa)
            self._release_rival(sa, now)
            old = self.rekey
            if old is not None and old.rival is not None:
                # The peer's rekey of this child finished first: it is the
                # outcome (RFC 7296 §2.25.1).
                _settle_collision(sa, old, None, old.rival, now)
                return
            if old is not None and old.state is ChildState.REKEYING:
                old.state = ChildState.ACTIVE
            self.temporary_failures += 1
            if self.temporary_failures > MAX_TEMPORARY_FAILURES:
                self._give_up(sa, FailureReason.TEMPORARY_FAILURE, now)
            else:
                sa.defer(self, now)
            return
        if kind == NotifyType.CHILD_SA_NOT_FOUND and self.rekey is not None:
            # §2.25: forget the child silently and create a new one instead.
            self._release(sa)
            old = self.rekey
            sa.remove_child(old)
            replacement = CreateChildTask(self.protocol, replaces=old.ref)
            sa.queue_task(replacement, now, front=True)
            return
        self._give_up(sa, reason_for(kind), now)

    def _accept(
        self, sa: RkmpSa, message: Message, now: float, nr: bytes | None = None
    ) -> FailureReason | None:
        """Take the responder's answer. ``nr`` is the responder's nonce when
        it is not in ``message`` (RKMP_SA_AUTH: RKMP_SA_INIT's, §2.17)."""
        policy = self.policy
        offer = self.offer
        assert policy is not None and offer is not None and self.key_id is not None
        sa_payload = message.find(SaPayload)
        if nr is None:
            nonce = message.find(NoncePayload)
            nr = nonce.data if nonce is not None else None
        if sa_payload is None or nr is None:
            return FailureReason.INVALID_SYNTAX
        checked = check_child_answer(sa_payload, offer)
        if checked is None:
            return FailureReason.NO_PROPOSAL_CHOSEN
        remote_id, selection = checked
        if PROFILES[self.protocol].symmetric and remote_id != self.key_id:
            return FailureReason.NO_PROPOSAL_CHOSEN
        g_ir: bytes | None = None
        if selection.pfs_group is not None:
            ke = message.find(KePayload)
            exchange_value = self.exchange_value
            if ke is None or exchange_value is None or ke.group != exchange_value.ke_id:
                return FailureReason.INVALID_KE_PAYLOAD
            try:
                g_ir = exchange_value.shared_secret(ke.data)
            except InvalidPublicValue:
                return FailureReason.INVALID_SYNTAX
        child = make_child(
            sa,
            policy,
            selection,
            local_key_id=self.key_id,
            remote_key_id=remote_id,
            ni=self.ni,
            nr=nr,
            g_ir=g_ir,
            initiator=True,
            now=now,
        )
        old = self.rekey
        if old is None:
            child.rekeys = self.replaces
            sa.add_child(child)
            rival, self.rival = self.rival, None
            if rival is not None and _still_held(sa, rival):
                _settle_crossing(sa, child, rival, now)
            else:
                sa.announce_child(child, now)
            return None
        if sa.find_child(old.protocol, old.ref.local_key_id, remote=False) is not old and (
            old.rival is None
        ):
            # The peer deleted the old child meanwhile: this is a new one.
            sa.add_child(child)
            sa.announce_child(child, now)
            return None
        child.rekeys = old.ref
        sa.add_child(child)
        _settle_collision(sa, old, child, old.rival, now)
        return None


def _settle_collision(
    sa: RkmpSa, old: ChildSa, ours: ChildSa | None, theirs: ChildSa | None, now: float
) -> None:
    """Finish a rekey of ``old``: ``ours`` from our exchange, ``theirs`` from
    the peer's colliding one (either may be missing). Report the survivor
    as the rekey of ``old``; delete what we are responsible for."""
    old.rival = None
    loser: ChildSa | None = None
    winner: ChildSa | None
    if ours is not None and theirs is not None:
        # RFC 7296 §2.8.1: the one made with the lowest nonce is redundant.
        if ours.lowest_nonce < theirs.lowest_nonce:
            winner, loser = theirs, ours
        else:
            winner, loser = ours, theirs
    else:
        winner = ours if ours is not None else theirs
    assert winner is not None
    winner.rekeys = old.ref
    old_present = sa.find_child(old.protocol, old.ref.local_key_id, remote=False) is old
    old.state = ChildState.REKEYED
    sa.announce_child(winner, now)
    if loser is not None:
        loser.state = ChildState.REDUNDANT
        loser.reported = False
        if loser is ours:
            sa.queue_task(DeleteChildTask(loser, DeleteReason.REDUNDANT), now)
    if winner is ours and old_present:
        sa.queue_task(DeleteChildTask(old, DeleteReason.REKEYED), now)


def _settle_crossing(sa: RkmpSa, ours: ChildSa, theirs: ChildSa, now: float) -> None:
    """Both sides created a child for one protocol at once: like a rekey
    collision (RFC 7296 §2.8.1), the one made with the lowest nonce is
    redundant. We delete it even if the peer made it: had our first request
    been lost, the peer saw no crossing and keeps both (crossing deletes
    are harmless, §1.4.1)."""
    if ours.lowest_nonce < theirs.lowest_nonce:
        winner, loser = theirs, ours
    else:
        winner, loser = ours, theirs
    loser.state = ChildState.REDUNDANT
    loser.reported = False
    loser.announce_pending = False
    if winner.rekeys is None:
        winner.rekeys = ours.rekeys  # an orphan our request was to replace
    sa.announce_child(winner, now)
    sa.queue_task(DeleteChildTask(loser, DeleteReason.REDUNDANT), now)


def _still_held(sa: RkmpSa, child: ChildSa) -> bool:
    return (
        child.state is ChildState.ACTIVE
        and not child.reported
        and sa.find_child(child.protocol, child.ref.local_key_id, remote=False) is child
    )


def has_child(sa: RkmpSa, protocol: ProtocolId) -> bool:
    """Whether ``sa`` holds a live child SA for ``protocol`` (reported or
    about to be)."""
    return any(
        child.protocol == protocol and child.state in (ChildState.ACTIVE, ChildState.REKEYING)
        for child in sa.children.values()
    )


def _our_creation_in_flight(sa: RkmpSa, protocol: int) -> CreateChildTask | None:
    """Our request creating (not rekeying) a child for ``protocol`` on this
    SA, if it is out."""
    pending = sa.pending
    if pending is None:
        return None
    task = pending.task
    if isinstance(task, CreateChildTask) and task.rekey is None and task.protocol == protocol:
        return task
    return None


def first_child_offer(sa: RkmpSa, protocol: ProtocolId) -> tuple[CreateChildTask, Payload] | None:
    """The SAi2 of RKMP_SA_AUTH: a child offer without KE (RFC 7296 §1.2),
    handled afterwards like a CREATE_CHILD_SA answer."""
    policy = sa.policy.child_policy(protocol)
    if policy is None:
        return None
    task = CreateChildTask(protocol)
    task.policy = _without_pfs(policy)
    key_id = allocate_key_id(sa, policy, set())
    if key_id is None:
        return None
    task.key_id = key_id
    task._reserve(sa)
    task.ni = sa.ni  # KEYMAT uses the RKMP_SA_INIT nonces (§2.17)
    task.offer = build_child_proposal(task.policy, key_id, None)
    return task, SaPayload((task.offer,))


def finish_first_child(sa: RkmpSa, task: CreateChildTask, message: Message, now: float) -> None:
    """The responder's answer to SAi2, inside its RKMP_SA_AUTH response."""
    error = error_notify(message)
    if message.find(SaPayload) is None:
        task._release(sa)
        if error is not None and error.notify_type == NotifyType.NO_PROPOSAL_CHOSEN:
            assert task.key_id is not None
            retry = CreateChildTask(task.protocol, tried={task.key_id}, ensure=True)
            sa.queue_task(retry, now)
        else:
            reason = reason_for(error.notify_type) if error else FailureReason.NO_PROPOSAL_CHOSEN
            sa.engine.emit(ChildSaFailed(sa.peer, task.protocol, reason))
        return
    # KEYMAT = prf+(SK_d, Ni | Nr) with the nonces of RKMP_SA_INIT (§2.17).
    task._release(sa)
    result = task._accept(sa, message, now, nr=sa.nr)
    if isinstance(result, FailureReason):
        sa.engine.emit(ChildSaFailed(sa.peer, task.protocol, result))


# --- responder ----------------------------------------------------------------------------


def respond(
    sa: RkmpSa, message: Message, now: float
) -> tuple[tuple[Payload, ...], Callable[[], None] | None]:
    sa_payload = message.find(SaPayload)
    if sa_payload is None or not sa_payload.proposals:
        return (notify(NotifyType.INVALID_SYNTAX),), None
    if sa_payload.proposals[0].protocol_id == ProtocolId.IKE:
        return rekey_rkmp.respond(sa, message, sa_payload, now)
    if (
        sa.state is not SaState.ESTABLISHED
        or sa.successor is not None
        or (sa.pending is not None and isinstance(sa.pending.task, rekey_rkmp.RekeyRkmpTask))
    ):
        # RFC 7296 §2.25.2: no new child SAs on an RKMP SA being rekeyed.
        return (notify(NotifyType.TEMPORARY_FAILURE),), None
    return _respond_child(sa, message, sa_payload, now), None


def _respond_child(
    sa: RkmpSa, message: Message, sa_payload: SaPayload, now: float
) -> tuple[Payload, ...]:
    nonce = message.find(NoncePayload)
    if nonce is None:
        return (notify(NotifyType.INVALID_SYNTAX),)
    old: ChildSa | None = None
    rekey = message.notify(NotifyType.REKEY_SA)
    if rekey is not None:
        old = sa.find_child(rekey.protocol_id, spi_to_key_id(rekey.spi), remote=True)
        if old is None:  # RFC 7296 §2.25
            return (
                notify(NotifyType.CHILD_SA_NOT_FOUND, protocol_id=rekey.protocol_id, spi=rekey.spi),
            )
        if old.state not in (ChildState.ACTIVE, ChildState.REKEYING):
            return (notify(NotifyType.TEMPORARY_FAILURE),)  # §2.25.1: we are closing it
    ke = message.find(KePayload)
    accepted = accept_child_offer(
        sa, sa_payload, in_auth=False, ke_group=ke.group if ke is not None else None
    )
    if isinstance(accepted, NotifyPayload):
        return (accepted,)
    if old is not None and accepted.policy.protocol != old.protocol:
        return (notify(NotifyType.NO_PROPOSAL_CHOSEN),)
    selection = accepted.selection
    g_ir: bytes | None = None
    reply_ke: tuple[Payload, ...] = ()
    if selection.pfs_group is not None:
        if ke is None or ke.group != selection.pfs_group:
            return (notify(NotifyType.INVALID_KE_PAYLOAD, ke_group_data(selection.pfs_group)),)
        exchange_value = sa.engine.key_exchange(ke.group)
        try:
            g_ir = exchange_value.shared_secret(ke.data)
        except InvalidPublicValue:
            return (notify(NotifyType.INVALID_SYNTAX),)
        reply_ke = (KePayload(ke.group, exchange_value.public_bytes),)
    nr = sa.engine.random_bytes(sa.engine.config.nonce_size)
    child = make_child(
        sa,
        accepted.policy,
        selection,
        local_key_id=accepted.local_key_id,
        remote_key_id=accepted.remote_key_id,
        ni=nonce.data,
        nr=nr,
        g_ir=g_ir,
        initiator=False,
        now=now,
    )
    sa.add_child(child)
    if old is None:
        ours = _our_creation_in_flight(sa, child.protocol)
        if ours is not None and ours.rival is None:
            # Crossing creations: decided when ours completes.
            child.reported = False
            ours.rival = child
        else:
            sa.announce_child(child, now)
    else:
        child.rekeys = old.ref
        if old.state is ChildState.REKEYING and _our_rekey_in_flight(sa, old):
            # A collision: decided when our own rekey of ``old`` completes.
            child.reported = False
            old.rival = child
        else:
            old.state = ChildState.REKEYED  # the peer deletes it (§1.3.3)
            sa.announce_child(child, now)
    answer = build_child_answer(
        accepted.policy.protocol, accepted.proposal.number, accepted.local_key_id, selection
    )
    return (SaPayload((answer,)), NoncePayload(nr), *reply_ke)


def _our_rekey_in_flight(sa: RkmpSa, old: ChildSa) -> bool:
    """Whether our own rekey of ``old`` is in flight, on this SA or on one
    it replaced (children move, requests in flight do not)."""
    for other in sa.engine.sas_of(sa.peer):
        pending = other.pending
        if (
            pending is not None
            and isinstance(pending.task, CreateChildTask)
            and pending.task.rekey is old
        ):
            return True
    return False
