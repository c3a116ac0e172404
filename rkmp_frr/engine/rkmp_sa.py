"""One RKMP SA (an IKE SA, RFC 7296): its state, keys, message IDs,
retransmission, response cache, task queue, child SAs and timers.

The SA is driven by its engine: ``receive`` (a datagram addressed to it),
``on_timer``, and tasks queued for the engine's API calls. Exchanges live
in ``tasks``; this module is the machinery they share.

Message IDs and window (RFC 7296 §2.3): one request of ours in flight at a
time; the peer's requests are processed in order, the last one's response
is cached and resent for a retransmitted request, anything else is
dropped. Responses are matched to the request in flight by message ID and
exchange type; unauthenticated messages are dropped without a state change
(RFC 7296 §2.21.2).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from rkmp_frr.crypto.errors import IntegrityError
from rkmp_frr.crypto.keyschedule import RkmpKeys
from rkmp_frr.crypto.prf import Prf
from rkmp_frr.crypto.proposals import CryptoProposal
from rkmp_frr.crypto.protection import SkCipher
from rkmp_frr.crypto.suites import CryptoSuite
from rkmp_frr.engine import draws
from rkmp_frr.engine.child_sa import ChildSa, ChildState
from rkmp_frr.engine.events import (
    ChildParams,
    ChildRef,
    ChildSaCreated,
    ChildSaDeleted,
    ChildSaRekeyed,
    DeleteReason,
    FailureReason,
    RkmpSaDeleted,
    RkmpSaEstablished,
    RkmpSaFailed,
    RkmpSaRef,
)
from rkmp_frr.engine.policy import OnFailure, PeerPolicy
from rkmp_frr.engine.reliability import OutstandingRequest, ResponseCache, wait_time
from rkmp_frr.engine.state import USABLE, SaState, check_transition
from rkmp_frr.engine.tasks import create_child, informational, sa_auth
from rkmp_frr.engine.tasks.base import Task, notify
from rkmp_frr.engine.tasks.create_child import CreateChildTask
from rkmp_frr.engine.tasks.informational import DeleteChildTask, DeleteRkmpTask, LivenessTask
from rkmp_frr.engine.tasks.rekey_rkmp import RekeyRkmpTask
from rkmp_frr.engine.types import Address
from rkmp_frr.wire import (
    Header,
    MalformedMessage,
    Message,
    NotifyPayload,
    Payload,
    UnsupportedCriticalPayload,
)
from rkmp_frr.wire.constants import (
    IKE_MAJOR_VERSION,
    IKE_MINOR_VERSION,
    ExchangeType,
    HeaderFlag,
    NotifyType,
    ProtocolId,
)
from rkmp_frr.wire.header import make_header
from rkmp_frr.wire.message import decode_message_with_header

if TYPE_CHECKING:
    from rkmp_frr.engine.engine import Engine

INFINITY = math.inf

# After a TEMPORARY_FAILURE, wait before retrying (RFC 7296 §2.25: "MUST
# wait"); strongSwan waits a random time in a few seconds.
RETRY_DELAY = (2.0, 6.0)
# A rekeyed or redundant SA waits this long for the peer's Delete.
LINGER = 30.0


class RkmpSa:
    __slots__ = (
        "cache",
        "children",
        "contest_until",
        "created_at",
        "deadline",
        "deferred",
        "duplicate",
        "engine",
        "established_at",
        "expected_request_id",
        "expire_at",
        "half_open_until",
        "inbound",
        "init_request",
        "init_response",
        "initiator",
        "keys",
        "last_inbound",
        "linger_until",
        "liveness_queued",
        "next_request_id",
        "ni",
        "nr",
        "outbound",
        "peer",
        "peer_hashes",
        "peer_rkmp",
        "pending",
        "policy",
        "queue",
        "rekey_at",
        "rekey_queued",
        "rekey_rival",
        "remote_identity",
        "retransmit",
        "spi_i",
        "spi_r",
        "state",
        "successor",
        "suite",
        "wanted_children",
    )

    def __init__(
        self,
        engine: Engine,
        policy: PeerPolicy,
        peer: Address,
        *,
        initiator: bool,
        spi_i: bytes,
        spi_r: bytes,
        state: SaState,
        now: float,
    ) -> None:
        self.engine = engine
        self.policy = policy
        self.peer = peer
        self.initiator = initiator  # the original initiator (RFC 7296 §2.2)
        self.spi_i = spi_i
        self.spi_r = spi_r
        self.state = state
        self.created_at = now
        self.established_at: float | None = None
        self.retransmit = engine.config.retransmit_for(policy)
        self.suite: CryptoSuite | None = None
        self.keys: RkmpKeys | None = None
        self.outbound: SkCipher | None = None  # seals our messages
        self.inbound: SkCipher | None = None  # opens the peer's
        self.ni = b""
        self.nr = b""
        self.init_request = b""  # our or the peer's RKMP_SA_INIT request, as sent
        self.init_response = b""
        self.peer_rkmp = False  # the peer sent RKMP_SUPPORTED
        self.peer_hashes: tuple[int, ...] = ()  # its SIGNATURE_HASH_ALGORITHMS
        self.remote_identity = ""
        self.next_request_id = 0
        self.expected_request_id = 0
        self.pending: OutstandingRequest | None = None
        self.queue: deque[Task] = deque()
        # Tuples, not lists: most SAs never defer or wait for a child SA, and
        # the empty tuple is one shared object the collector does not track.
        self.deferred: tuple[tuple[float, Task], ...] = ()
        self.cache = ResponseCache()
        self.children: dict[tuple[ProtocolId, int], ChildSa] = {}
        self.wanted_children: tuple[ProtocolId, ...] = ()  # for RKMP_SA_AUTH
        self.rekey_at = INFINITY
        self.expire_at = INFINITY
        self.half_open_until = INFINITY
        self.linger_until = INFINITY
        # Half-open, and children of another SA with the peer wait for it
        # until then (Engine.settle_children).
        self.contest_until = INFINITY
        self.last_inbound = now
        self.liveness_queued = False
        self.rekey_queued = False
        self.successor: RkmpSa | None = None
        self.rekey_rival: RkmpSa | None = None
        # Lost the tie-break after simultaneous initiation (waits for, or
        # sends, its Delete).
        self.duplicate = False
        self.deadline: float | None = None

    # --- identity and keys ------------------------------------------------------

    @property
    def ref(self) -> RkmpSaRef:
        return RkmpSaRef(self.peer, self.spi_i, self.spi_r)

    @property
    def local_spi(self) -> bytes:
        return self.spi_i if self.initiator else self.spi_r

    @property
    def prf(self) -> Prf:
        assert self.suite is not None
        return self.suite.prf

    @property
    def lowest_nonce(self) -> bytes:
        return min(self.ni, self.nr)

    @property
    def usable(self) -> bool:
        return self.state in USABLE

    def install_keys(self, suite: CryptoSuite, keys: RkmpKeys) -> None:
        self.suite = suite
        self.keys = keys
        initiator = SkCipher(suite, keys.sk_ei, keys.sk_ai)
        responder = SkCipher(suite, keys.sk_er, keys.sk_ar)
        self.outbound, self.inbound = (
            (initiator, responder) if self.initiator else (responder, initiator)
        )

    def set_state(self, new: SaState) -> None:
        check_transition(self.state, new)
        self.state = new
        self.engine.touch(self)

    # --- sending ------------------------------------------------------------------

    def header(self, exchange: int, message_id: int, response: bool) -> Header:
        flags = _HEADER_FLAGS[self.initiator, response]
        spi_i, spi_r = self.spi_i, self.spi_r
        return make_header(
            spi_i, spi_r, exchange, flags, message_id, IKE_MAJOR_VERSION, IKE_MINOR_VERSION
        )

    def seal(self, header: Header, payloads: tuple[Payload, ...]) -> bytes:
        outbound = self.outbound
        assert outbound is not None
        return outbound.seal(header, payloads, outbound.next_iv(self.engine.random_bytes))

    def _send_request(self, task: Task, payloads: tuple[Payload, ...], now: float) -> None:
        header = self.header(task.exchange, self.next_request_id, response=False)
        datagram = self.seal(header, payloads) if task.encrypted else task.encode(header, payloads)
        wait = wait_time(self.retransmit, 0, self.engine.draws)
        if task.first_wait is not None:
            wait = min(wait, task.first_wait)
        deadline = now + wait
        self.pending = OutstandingRequest(self.next_request_id, datagram, task, deadline)
        task.sent(self, datagram)
        self.engine.send(datagram, self.peer)
        self.engine.touch(self)

    def send_oneway(self, exchange: ExchangeType, payloads: tuple[Payload, ...]) -> None:
        """A request we do not wait for: the initiator's AUTHENTICATION_FAILED
        after the responder's AUTH did not verify (RFC 7296 §2.21.2)."""
        header = self.header(exchange, self.next_request_id, response=False)
        self.next_request_id += 1
        self.engine.send(self.seal(header, payloads), self.peer)

    # --- tasks ----------------------------------------------------------------------

    def queue_task(self, task: Task, now: float, front: bool = False) -> None:
        if task.migratable and self.successor is not None:
            self.home().queue_task(task, now, front)  # this SA is on its way out
            return
        if front:
            self.queue.appendleft(task)
        else:
            self.queue.append(task)
        self.kick(now)

    def defer(self, task: Task, now: float) -> None:
        """Retry ``task`` a few seconds from now (after TEMPORARY_FAILURE)."""
        home = self.home() if task.migratable else self
        home.deferred += ((now + draws.uniform(self.engine.draws, *RETRY_DELAY), task),)
        self.engine.touch(home)

    def tasks(self) -> list[Task]:
        """Our exchanges: in flight, queued and deferred."""
        found = [self.pending.task] if self.pending is not None else []
        return found + list(self.queue) + [task for _, task in self.deferred]

    def kick(self, now: float) -> None:
        """Start the next queued task if none is in flight."""
        queue = self.queue
        while self.pending is None and queue:
            state = self.state
            for task in queue:
                if state in task.allowed_states:
                    break
            else:
                break  # nothing may run in this state yet
            queue.remove(task)
            payloads = task.build(self, now)
            if payloads is not None:
                self._send_request(task, payloads, now)
        self.engine.touch(self)

    def hand_over(self, successor: RkmpSa, now: float) -> None:
        """Before this SA is dropped: its successor takes the queued tasks
        and, to be sent again there, the one in flight."""
        self.successor = successor
        pending = self.pending
        if pending is not None and pending.task.migratable:
            self.pending = None
            pending.task.on_abort(self, now)
            successor.queue.appendleft(pending.task)
        self.migrate_tasks(now)

    def migrate_tasks(self, now: float) -> None:
        """Hand queued tasks to the successor SA (RFC 7296 §1.4.1: control
        messages for child SAs go under the SA's successor)."""
        successor = self.successor
        if successor is None:
            return
        keep: deque[Task] = deque()
        for task in self.queue:
            if task.migratable:
                successor.queue_task(task, now)
            else:
                keep.append(task)
        self.queue = keep
        successor.deferred += tuple((w, t) for w, t in self.deferred if t.migratable)
        self.deferred = tuple((w, t) for w, t in self.deferred if not t.migratable)
        self.engine.touch(successor)

    # --- receiving ------------------------------------------------------------------

    def receive(self, data: bytes, header: Header, now: float) -> None:
        if header.exchange_type == ExchangeType.IKE_SA_INIT:
            self._receive_init_response(data, header, now)
            return
        if self.inbound is None or self.state is SaState.CLOSED:
            return
        if header.is_response:
            self._receive_response(data, header, now)
        else:
            self._receive_request(data, header, now)
        self.engine.touch(self)

    def _receive_init_response(self, data: bytes, header: Header, now: float) -> None:
        pending = self.pending
        if (
            not header.is_response
            or pending is None
            or pending.task.exchange != ExchangeType.IKE_SA_INIT
            or header.message_id != pending.message_id
        ):
            return
        try:
            message = decode_message_with_header(data, header)
        except MalformedMessage:
            return  # unauthenticated: keep waiting for a good one
        self._complete(message, data, now)

    def _receive_response(self, data: bytes, header: Header, now: float) -> None:
        pending = self.pending
        if (
            pending is None
            or header.message_id != pending.message_id
            or header.exchange_type != pending.task.exchange
        ):
            return  # a late duplicate or a response to nothing we asked
        assert self.inbound is not None
        try:
            message = self.inbound.open(data, header=header)
        except IntegrityError:
            return
        except MalformedMessage:
            # Authentic but undecodable: the exchange fails as if the peer
            # had answered INVALID_SYNTAX.
            message = Message(header, (notify(NotifyType.INVALID_SYNTAX),))
        self.last_inbound = now
        if self.state is SaState.UNCONFIRMED:
            self.confirm(now)
        self._complete(message, data, now)

    def _complete(self, message: Message, data: bytes, now: float) -> None:
        pending = self.pending
        assert pending is not None
        self.pending = None
        self.next_request_id = pending.message_id + 1
        if not pending.task.on_response(self, message, data, now):
            # Not a usable answer: keep waiting for another one.
            self.pending = pending
            self.next_request_id = pending.message_id
            return
        if self.state is not SaState.CLOSED:
            self.kick(now)

    def _receive_request(self, data: bytes, header: Header, now: float) -> None:
        if self.state is SaState.INIT_SENT or self.state is SaState.AUTH_SENT:
            # We have not authenticated the responder yet: answering would
            # tell it we accepted its AUTH. It retransmits; we answer once
            # its RKMP_SA_AUTH response has been checked.
            return
        message_id = header.message_id
        if message_id != self.expected_request_id:
            cached = self.cache.lookup(message_id, data)
            if cached is not None:
                self.engine.send(cached, self.peer)  # RFC 7296 §2.1
            return
        assert self.inbound is not None
        after: Callable[[], None] | None = None
        try:
            message = self.inbound.open(data, header=header)
        except IntegrityError:
            return
        except UnsupportedCriticalPayload as error:  # RFC 7296 §2.5
            payloads: tuple[Payload, ...] = (
                notify(NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD, bytes((error.payload_type,))),
            )
            message = None
        except MalformedMessage:
            payloads = (notify(NotifyType.INVALID_SYNTAX),)
            message = None
        self.last_inbound = now
        if message is not None:
            if self.state is SaState.UNCONFIRMED and not _reports_auth_failure(message):
                self.confirm(now)
            payloads, after = self._respond(message, now)
        response = self.seal(self.header(header.exchange_type, message_id, True), payloads)
        self.expected_request_id = message_id + 1
        self.cache.store(message_id, data, response)
        self.engine.send(response, self.peer)
        if after is not None:
            after()
        if self.state is not SaState.CLOSED:
            self.kick(now)

    def _respond(
        self, message: Message, now: float
    ) -> tuple[tuple[Payload, ...], Callable[[], None] | None]:
        exchange = message.header.exchange_type
        if exchange == ExchangeType.IKE_AUTH:
            return sa_auth.respond(self, message, now)
        if self.state is SaState.INIT_ANSWERED or self.state is SaState.UNCONFIRMED:
            # Only RKMP_SA_AUTH (or AUTHENTICATION_FAILED) is valid before
            # the SA is established.
            if exchange == ExchangeType.INFORMATIONAL:
                return informational.respond(self, message, now)
            return (notify(NotifyType.INVALID_SYNTAX),), None
        if exchange == ExchangeType.CREATE_CHILD_SA:
            return create_child.respond(self, message, now)
        if exchange == ExchangeType.INFORMATIONAL:
            return informational.respond(self, message, now)
        return (notify(NotifyType.INVALID_SYNTAX),), None

    # --- timers ---------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        state = self.state
        if state is SaState.CLOSED:
            return None
        deadline = min(self.half_open_until, self.linger_until, self.contest_until)
        pending = self.pending
        if pending is not None and pending.deadline < deadline:
            deadline = pending.deadline
        for when, _ in self.deferred:
            if when < deadline:
                deadline = when
        if state is SaState.ESTABLISHED:
            if not self.rekey_queued and self.rekey_at < deadline:
                deadline = self.rekey_at
            if self.expire_at < deadline:
                deadline = self.expire_at
            interval = self.policy.liveness_interval
            if interval is not None and not self.liveness_queued:
                deadline = min(deadline, self.last_inbound + interval)
            for child in self.children.values():
                if child.state is ChildState.ACTIVE and child.rekey_due < deadline:
                    deadline = child.rekey_due
                if child.expires < deadline:
                    deadline = child.expires
        return None if deadline == INFINITY else deadline

    def on_timer(self, now: float) -> None:
        pending = self.pending
        if pending is not None and now >= pending.deadline:
            if pending.on_deadline(self.retransmit, self.engine.draws, now):
                self.engine.send(pending.datagram, self.peer)
            else:
                self.pending = None
                pending.task.on_timeout(self, now)
                if self.state is SaState.CLOSED:
                    return
        if self.deferred:
            due = [t for when, t in self.deferred if when <= now]
            self.deferred = tuple((w, t) for w, t in self.deferred if w > now)
            for task in due:
                self.queue.append(task)
        if now >= self.contest_until:
            self.contest_until = INFINITY
            self.engine.settle_children(self.peer, now)  # no longer waited for
        if now >= self.half_open_until:
            self.half_open_until = INFINITY
            if self.state is SaState.INIT_ANSWERED:
                self.close(now)  # RFC 7296 §2.6: half-open SAs time out silently
                return
        if now >= self.linger_until:
            self.close(now)
            return
        if self.state is SaState.ESTABLISHED:
            if now >= self.expire_at:
                # Not rekeyed in time: delete it (RFC 7296 §2.8); its
                # children stay until their own lifetime.
                self.expire_at = INFINITY
                self.queue_task(DeleteRkmpTask(DeleteReason.EXPIRED), now)
            if now >= self.rekey_at and not self.rekey_queued:
                self.rekey_queued = True
                self.queue_task(RekeyRkmpTask(), now)
            interval = self.policy.liveness_interval
            if (
                interval is not None
                and not self.liveness_queued
                and now >= self.last_inbound + interval
            ):
                self.liveness_queued = True
                self.queue_task(LivenessTask(report=False), now)
            for child in list(self.children.values()):
                if now >= child.expires:
                    child.expires = INFINITY
                    self.queue_task(DeleteChildTask(child, DeleteReason.EXPIRED), now)
                elif child.state is ChildState.ACTIVE and now >= child.rekey_due:
                    child.rekey_due = INFINITY
                    self.queue_task(CreateChildTask(child.protocol, rekey=child), now)
        self.kick(now)

    # --- life cycle -------------------------------------------------------------------

    def establish(self, now: float) -> None:
        """The SA is authenticated both ways: start its lifetimes and tell."""
        if self.state is not SaState.ESTABLISHED:
            self.set_state(SaState.ESTABLISHED)
        self.half_open_until = INFINITY
        self.established_at = now
        self.last_inbound = now
        self.init_request = self.init_response = b""  # only AUTH needed them
        self.start_lifetime(now)
        self.engine.emit(
            RkmpSaEstablished(
                self.ref,
                self.initiator,
                self.engine.config.identity_for(self.policy),
                self.remote_identity,
                self.suite_name,
            )
        )
        # Duplicates are settled first, so that a child of the SA that loses
        # is never reported; then the children held back until now.
        self.engine.sa_established(self, now)
        self.engine.settle_children(self.peer, now)

    def start_lifetime(self, now: float) -> None:
        lifetime = self.policy.rkmp_lifetime
        self.rekey_at = (
            now + lifetime.rekey_time - draws.uniform(self.engine.draws, 0.0, lifetime.jitter)
        )
        self.expire_at = now + lifetime.hard_time
        self.rekey_queued = False

    @property
    def suite_name(self) -> str:
        assert self.suite is not None
        return _suite_name(self.suite)

    def confirm(self, now: float) -> None:
        """The initiator showed it accepted our AUTH: report the SA and the
        child SAs held back until now."""
        self.set_state(SaState.ESTABLISHED)
        self.establish(now)

    def fail(self, reason: FailureReason, now: float) -> None:
        """The SA failed (RP_revokeSA): revoke or keep its children per
        policy, tell, and forget the SA."""
        if self.state is SaState.CLOSED:
            return
        reported = [c for c in self.children.values() if c.reported]
        revoke = self.policy.on_failure is OnFailure.REVOKE
        self.engine.emit(RkmpSaFailed(self.ref, reason, tuple(c.ref for c in reported), revoke))
        if revoke:
            for child in reported:
                self.engine.emit(ChildSaDeleted(child.ref, DeleteReason.REVOKED))
        else:
            self.engine.add_orphans(self.peer, reported, now)
        self.children.clear()
        self.close(now)

    def delete_orderly(self, reason: DeleteReason, now: float) -> None:
        """An orderly end (not a failure): the children stay until their own
        lifetime or until new child SAs replace them (draft-mahesh §3.3)."""
        if self.state is SaState.CLOSED:
            return
        reported = [c for c in self.children.values() if c.reported]
        self.engine.emit(RkmpSaDeleted(self.ref, reason, tuple(c.ref for c in reported)))
        self.engine.add_orphans(self.peer, reported, now)
        self.children.clear()
        self.close(now)

    def close(self, now: float) -> None:
        """Forget the SA without telling anyone."""
        if self.state is SaState.CLOSED:
            return
        successor = self.successor
        if successor is not None and successor.state is not SaState.CLOSED:
            self.hand_over(successor, now)  # e.g. the peer deleted us after a rekey
        self.set_state(SaState.CLOSED)
        tasks = self.tasks()
        self.pending = None
        self.queue.clear()
        self.deferred = ()
        self.engine.unregister(self, now)
        for task in tasks:
            task.on_abort(self, now)

    def linger(self, now: float) -> None:
        """Wait a while for the peer's Delete, then forget the SA."""
        self.linger_until = now + LINGER
        self.engine.touch(self)

    # --- child SAs ----------------------------------------------------------------------

    def home(self) -> RkmpSa:
        """The SA new and moved children belong to: this one, or the SA that
        replaced it."""
        sa = self
        while sa.successor is not None:
            sa = sa.successor
        return sa

    def add_child(self, child: ChildSa) -> None:
        if self.duplicate:
            child.from_duplicate = True  # made on an SA that lost the tie-break
        home = self.home()
        home.children[child.key] = child
        self.engine.touch(home)

    def remove_child(self, child: ChildSa) -> None:
        sa: RkmpSa | None = self
        while sa is not None:
            if sa.children.get(child.key) is child:
                del sa.children[child.key]
                return
            sa = sa.successor

    def find_child(self, protocol: int, key_id: int, *, remote: bool) -> ChildSa | None:
        """A child of this SA or its successors by our key ID or the peer's."""
        sa: RkmpSa | None = self
        while sa is not None:
            for child in sa.children.values():
                ref = child.ref
                if ref.protocol == protocol and (
                    (ref.remote_key_id if remote else ref.local_key_id) == key_id
                ):
                    return child
            sa = sa.successor
        return None

    def announce_child(self, child: ChildSa, now: float) -> None:
        """A new child SA is ready to be reported: at once, or once no other
        RKMP SA with the peer is being authenticated (simultaneous
        initiation: only the survivor's children are reported)."""
        child.reported = False
        child.announce_pending = True
        self.engine.settle_children(self.peer, now)

    def report_child(self, child: ChildSa) -> None:
        """Report a new child SA: as a rekey of the child it replaces (or of
        an orphan of the same protocol and peer), else as created."""
        child.announce_pending = False
        child.reported = True
        replaced: ChildRef | None = child.rekeys
        if replaced is None:
            replaced = self.engine.take_orphan(self.peer, child.protocol)
        if replaced is not None:
            self.engine.emit(ChildSaRekeyed(replaced, child.params))
        else:
            self.engine.emit(ChildSaCreated(child.params))

    def new_child_params(
        self,
        ref: ChildRef,
        integ: int,
        option: int | None,
        pfs_group: int | None,
        master_key: bytes,
        initiator: bool,
        now: float,
    ) -> ChildParams:
        policy = self.policy.child_policy(ref.protocol)
        assert policy is not None
        lifetime = policy.lifetime
        rekey_at = (
            now + lifetime.rekey_time - draws.uniform(self.engine.draws, 0.0, lifetime.jitter)
        )
        return ChildParams(
            ref=ref,
            integ=integ,
            options=() if option is None else (option,),
            pfs_group=pfs_group,
            rekey_at=rekey_at,
            expires_at=now + lifetime.hard_time,
            initiator=initiator,
            master_key=master_key,
        )


# Suite names by the identity of the (immutable, shared) suite object: the
# negotiation hands out the same few objects, and hashing a suite hashes
# each of its algorithms in Python. Each entry keeps its suite alive, so an
# id is never reused while cached.
_suite_names: dict[int, tuple[CryptoSuite, str]] = {}


def _suite_name(suite: CryptoSuite) -> str:
    entry = _suite_names.get(id(suite))
    if entry is None or entry[0] is not suite:
        if len(_suite_names) >= 64:
            _suite_names.clear()
        entry = (suite, str(CryptoProposal.from_suite(suite)))
        _suite_names[id(suite)] = entry
    return entry[1]


# Header flags by (original initiator, response) (RFC 7296 §3.1).
_HEADER_FLAGS = {
    (True, False): HeaderFlag.INITIATOR,
    (True, True): HeaderFlag.INITIATOR | HeaderFlag.RESPONSE,
    (False, False): HeaderFlag.NONE,
    (False, True): HeaderFlag.RESPONSE,
}


def _reports_auth_failure(message: Message) -> bool:
    return any(
        isinstance(p, NotifyPayload) and p.notify_type == NotifyType.AUTHENTICATION_FAILED
        for p in message.payloads
    )
