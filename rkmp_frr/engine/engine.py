"""The RKMP engine: a sans-I/O dispatcher over RKMP SAs.

Modelled on aioquic's ``QuicConnection``: every entry point takes an
explicit ``now`` and nothing here opens a socket, reads a clock or sleeps.

Inputs: ``receive_datagram(data, addr, now)``, ``handle_timer(now)`` and the
API calls (``initiate``, ``generate_sa``, ``rekey_child``, ``rekey_rkmp_sa``,
``delete_child``, ``delete_rkmp_sa``, ``check_liveness``).
Outputs: ``datagrams_to_send()``, ``get_timer()`` (one next deadline) and
``next_event()``.

``now`` is POSIX time in seconds (certificates are checked against it);
any clock works for everything else since only differences are used.
Datagrams are IKE messages without the non-ESP marker: the UDP edge adds
and strips it (RFC 7296 §2.23).
"""

from __future__ import annotations

import heapq
import itertools
import os
import random
from collections import deque
from collections.abc import Callable, Iterable
from functools import cache, lru_cache
from typing import Protocol

from cryptography import x509

from rkmp_frr.crypto import auth as authn
from rkmp_frr.crypto.certs import certreq_data, load_certificate
from rkmp_frr.crypto.dh import KeyExchange, get_ke_group
from rkmp_frr.crypto.proposals import (
    CryptoProposal,
    proposals_to_wire,
)
from rkmp_frr.engine.child_sa import ChildSa, ChildState
from rkmp_frr.engine.cookies import CookieJar
from rkmp_frr.engine.encoding import PreEncodedSa
from rkmp_frr.engine.errors import NotEstablished, PolicyError, UnknownChildSa, UnknownPeer
from rkmp_frr.engine.events import (
    ChildParams,
    ChildRef,
    ChildSaDeleted,
    ChildSaRekeyed,
    DeleteReason,
    Event,
    PeerRestarted,
    RkmpSaRef,
)
from rkmp_frr.engine.policy import (
    CertTrust,
    LocalConfig,
    PeerPolicy,
    identity_of,
    parsed_proposals,
)
from rkmp_frr.engine.reliability import ResponseCache
from rkmp_frr.engine.rkmp_sa import LINGER, RkmpSa
from rkmp_frr.engine.state import SaState
from rkmp_frr.engine.tasks import sa_init
from rkmp_frr.engine.tasks.create_child import CreateChildTask
from rkmp_frr.engine.tasks.informational import DeleteChildTask, DeleteRkmpTask, LivenessTask
from rkmp_frr.engine.tasks.rekey_rkmp import RekeyRkmpTask
from rkmp_frr.engine.tasks.sa_auth import SaAuthTask
from rkmp_frr.engine.types import Address
from rkmp_frr.wire import (
    Header,
    Identity,
    MalformedMessage,
    Message,
    NotifyPayload,
    SaPayload,
    UnsupportedCriticalPayload,
    decode_header,
    encode_message,
)
from rkmp_frr.wire.constants import (
    IKE_MAJOR_VERSION,
    IKE_SPI_LENGTH,
    ExchangeType,
    HeaderFlag,
    NotifyType,
    ProtocolId,
)
from rkmp_frr.wire.message import decode_message_with_header

ZERO_SPI = bytes(IKE_SPI_LENGTH)

KeyIdsInUse = Callable[[Address, ProtocolId], Iterable[tuple[int, int]]]
"""Key IDs held outside the engine (the key table): ``(local, remote)``
pairs for a peer and protocol, kept out of new allocations."""


class _Timed(Protocol):
    deadline: float | None

    def next_deadline(self) -> float | None: ...

    def on_timer(self, now: float) -> None: ...


class _Orphans:
    """Child SAs whose RKMP SA ended without a failure: they stay until
    their hard lifetime, or until a new child SA of the same protocol with
    the same peer replaces them."""

    def __init__(self, touch: Callable[[_Timed], None], emit: Callable[[Event], None]) -> None:
        self._touch = touch  # the engine's: our deadline may have moved
        self._emit = emit
        self.by_peer: dict[Address, list[ChildSa]] = {}
        self.deadline: float | None = None
        # Expiry heap; entries of children taken out early stay until they
        # reach the top, so that neither adding nor finding the next expiry
        # scans every orphan (after a restart there is one per peer).
        self._expiries: list[tuple[float, int, Address, ChildSa]] = []
        self._seq = itertools.count()

    def add(self, peer: Address, children: Iterable[ChildSa]) -> None:
        held = self.by_peer.setdefault(peer, [])
        for child in children:
            held.append(child)
            heapq.heappush(self._expiries, (child.expires, next(self._seq), peer, child))
        self._touch(self)

    def take(self, peer: Address, protocol: ProtocolId) -> ChildRef | None:
        child = self._pop(peer, lambda c: c.protocol == protocol)
        return child.ref if child is not None else None

    def remove(self, peer: Address, protocol: int, local_key_id: int) -> ChildSa | None:
        return self._pop(
            peer, lambda c: c.protocol == protocol and c.ref.local_key_id == local_key_id
        )

    def _pop(self, peer: Address, wanted: Callable[[ChildSa], bool]) -> ChildSa | None:
        children = self.by_peer.get(peer, [])
        for index, child in enumerate(children):
            if wanted(child):
                del children[index]
                if not children:
                    del self.by_peer[peer]
                self._touch(self)
                return child
        return None

    def of(self, peer: Address) -> list[ChildSa]:
        return self.by_peer.get(peer, [])

    def _top(self) -> tuple[float, Address, ChildSa] | None:
        """The earliest expiry of an orphan still held, dropping stale entries."""
        heap = self._expiries
        while heap:
            expires, _, peer, child = heap[0]
            if any(held is child for held in self.by_peer.get(peer, ())):
                return expires, peer, child
            heapq.heappop(heap)
        return None

    def next_deadline(self) -> float | None:
        top = self._top()
        return top[0] if top is not None else None

    def on_timer(self, now: float) -> None:
        while (top := self._top()) is not None and top[0] <= now:
            _, peer, child = top
            heapq.heappop(self._expiries)
            children = self.by_peer[peer]
            children.remove(child)
            if not children:
                del self.by_peer[peer]
            self._emit(ChildSaDeleted(child.ref, DeleteReason.EXPIRED))


class Engine:
    """All RKMP SAs of one router."""

    def __init__(
        self,
        config: LocalConfig,
        *,
        rng: random.Random | None = None,
        key_ids_in_use: KeyIdsInUse | None = None,
    ) -> None:
        self.config = config
        self.rng = rng if rng is not None else _SYSTEM_RANDOM
        self._system_rng = isinstance(self.rng, random.SystemRandom)
        # Draws that need no secrecy (retransmission and lifetime jitter, the
        # choice among free key IDs, which go on the wire in clear): from the
        # OS, each would be a system call; a PRNG seeded from ``rng`` does
        # as well. Nonces, SPIs, KE values and COOKIE secrets stay on ``rng``.
        # An injected rng (tests) serves both, so runs stay reproducible.
        self.draws: random.Random = (
            random.Random(self.rng.getrandbits(128)) if self._system_rng else self.rng
        )
        # Octets from ``rng``: SystemRandom's randbytes is os.urandom behind
        # a Python method; call it directly.
        self.random_bytes: Callable[[int], bytes] = (
            os.urandom if self._system_rng else self.rng.randbytes
        )
        self._external_key_ids = key_ids_in_use
        self._policies: dict[str, PeerPolicy | None] = {}
        self._sas: dict[bytes, RkmpSa] = {}  # by our SPI
        self._by_peer: dict[Address, list[RkmpSa]] = {}
        self._by_init: dict[tuple[Address, bytes], RkmpSa] = {}  # responder SAs by (addr, SPIi)
        self._half_open: dict[str, int] = {}  # by source host
        self._half_open_total = 0
        self._half_open_sas: set[RkmpSa] = set()
        self._lingering: dict[bytes, tuple[float, ResponseCache, Address]] = {}
        # Our key IDs offered and not yet answered: how many offers hold each.
        self._reserved: dict[tuple[Address, ProtocolId], dict[int, int]] = {}
        self._orphans = _Orphans(self.touch, self.emit)
        self._out: list[tuple[bytes, Address]] = []
        self._events: deque[Event] = deque()
        self._timers: list[tuple[float, int, _Timed]] = []
        self._seq = itertools.count()
        self._dirty: set[_Timed] = set()
        self._compact_at = _COMPACT_MIN  # heap size that triggers _compact_timers
        self.cookies = CookieJar(self.rng, config.dos.cookie_secret_lifetime)
        self.hash_algorithms_data = _HASH_ALGORITHMS

    # --- outputs -----------------------------------------------------------------------

    def datagrams_to_send(self, now: float | None = None) -> list[tuple[bytes, Address]]:
        """Datagrams to send, in order, each with its destination."""
        out, self._out = self._out, []
        return out

    def next_event(self) -> Event | None:
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        """When ``handle_timer`` must next be called, or None."""
        self._flush_timers()
        timers = self._timers
        while timers:
            when, _, target = timers[0]
            if target.deadline == when:
                return when
            heapq.heappop(timers)  # stale
        return None

    # --- inputs ------------------------------------------------------------------------

    def handle_timer(self, now: float) -> None:
        self._flush_timers()
        handled: set[int] = set()
        timers = self._timers
        while timers and timers[0][0] <= now:
            when, _, target = heapq.heappop(timers)
            if target.deadline != when or id(target) in handled:
                continue
            handled.add(id(target))
            target.deadline = None
            target.on_timer(now)
            self.touch(target)
            self._flush_timers()

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        try:
            header = decode_header(data)
        except MalformedMessage:
            return
        if header.major_version != IKE_MAJOR_VERSION:
            self._wrong_version(header, addr)
        elif header.exchange_type == ExchangeType.IKE_SA_INIT and not header.is_response:
            self._init_request(data, header, addr, now)
        else:
            local_spi = header.spi_r if header.is_initiator else header.spi_i
            sa = self._sas.get(local_spi)
            if sa is None:
                self._lingering_response(local_spi, data, header, addr, now)
            elif header.exchange_type == ExchangeType.IKE_SA_INIT or (
                sa.spi_i == header.spi_i and sa.spi_r == header.spi_r
            ):
                sa.receive(data, header, now)
        self._flush_timers()

    def _wrong_version(self, header: Header, addr: Address) -> None:
        """RFC 7296 §2.5: answer a request of a higher major version with
        INVALID_MAJOR_VERSION in a version 2 message."""
        if header.is_response or header.exchange_type != ExchangeType.IKE_SA_INIT:
            return
        if header.major_version < IKE_MAJOR_VERSION:
            return
        self._answer_init(header, addr, NotifyType.INVALID_MAJOR_VERSION)

    def _answer_init(
        self, header: Header, addr: Address, kind: NotifyType, data: bytes = b""
    ) -> None:
        reply = Header(header.spi_i, ZERO_SPI, ExchangeType.IKE_SA_INIT, HeaderFlag.RESPONSE, 0)
        message = Message(reply, (NotifyPayload(kind, data=data),))
        self.send(encode_message(message), addr)

    def _init_request(self, data: bytes, header: Header, addr: Address, now: float) -> None:
        if header.spi_r != ZERO_SPI or header.message_id != 0 or not header.is_initiator:
            return
        known = self._by_init.get((addr, header.spi_i))
        if known is not None:
            cached = known.cache.lookup(0, data)
            if cached is not None:
                self.send(cached, addr)  # a retransmitted request (RFC 7296 §2.1)
            return
        try:
            message = decode_message_with_header(data, header)
        except UnsupportedCriticalPayload as error:
            self._answer_init(
                header, addr, NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD, bytes((error.payload_type,))
            )
            return
        except MalformedMessage:
            self._answer_init(header, addr, NotifyType.INVALID_SYNTAX)
            return
        sa_init.respond(self, data, message, addr, now)

    def _lingering_response(
        self, local_spi: bytes, data: bytes, header: Header, addr: Address, now: float
    ) -> None:
        """A retransmitted request for an SA we closed right after answering
        it (e.g. its Delete): answer again from the kept response."""
        entry = self._lingering.get(local_spi)
        if entry is None or header.is_response:
            return
        until, response_cache, peer = entry
        if now > until:
            del self._lingering[local_spi]
            return
        cached = response_cache.lookup(header.message_id, data)
        if cached is not None:
            self.send(cached, peer)

    # --- API ---------------------------------------------------------------------------

    def initiate(
        self, peer: Address, now: float, protocols: Iterable[ProtocolId] | None = None
    ) -> None:
        """Make sure an RKMP SA with ``peer`` exists or is being set up, and
        ask for a child SA for each of ``protocols`` (default: every
        protocol of the peer's policy) that it does not have yet."""
        policy = self._policy(peer)
        wanted = list(protocols) if protocols is not None else [c.protocol for c in policy.children]
        sa = self._current_sa(peer)
        have: set[ProtocolId] = set()
        if sa is None:
            sa = self._start(peer, policy, now)
        else:
            have = _protocols_under_way(sa)
        for protocol in wanted:
            if protocol not in have:
                self._request_child(sa, protocol, now, ensure=True)
        self._flush_timers()

    def generate_sa(self, peer: Address, protocol: ProtocolId, now: float) -> None:
        """RKMP_generateSA: a new child SA for ``protocol`` with ``peer``,
        setting up the RKMP SA first if needed. The outcome is reported as
        ChildSaCreated (or ChildSaRekeyed when it replaces an orphan) or
        ChildSaFailed.

        While the RKMP SA is being set up, the request joins the child SA
        the handshake makes for ``protocol`` (RKMP_SA_AUTH's SAi2, or a
        CREATE_CHILD_SA already asked for): it is made only if, when its
        turn comes, there is none. A neighbour-up during the handshake thus
        never makes a second one; once the SA is up it is a new child SA."""
        policy = self._policy(peer)
        if policy.child_policy(protocol) is None:
            raise PolicyError(f"peer {policy.name} has no policy for {protocol.name}")
        sa = self._current_sa(peer) or self._start(peer, policy, now)
        self._request_child(sa, protocol, now, ensure=sa.state is not SaState.ESTABLISHED)
        self._flush_timers()

    def rekey_child(self, peer: Address, protocol: ProtocolId, key_id: int, now: float) -> None:
        """RKMP_rekeySA for the child SA with our key ID ``key_id``."""
        sa, child = self._child(peer, protocol, key_id)
        child.rekey_due = float("inf")
        sa.queue_task(CreateChildTask(protocol, rekey=child), now)
        self._flush_timers()

    def delete_child(self, peer: Address, protocol: ProtocolId, key_id: int, now: float) -> None:
        orphan = self._orphans.remove(peer, protocol, key_id)
        if orphan is not None:
            self.emit(ChildSaDeleted(orphan.ref, DeleteReason.LOCAL))
            return
        sa, child = self._child(peer, protocol, key_id)
        sa.queue_task(DeleteChildTask(child, DeleteReason.LOCAL), now)
        self._flush_timers()

    def rekey_rkmp_sa(self, peer: Address, now: float) -> None:
        sa = self._established(peer)
        if not sa.rekey_queued:
            sa.rekey_queued = True
            sa.queue_task(RekeyRkmpTask(), now)
        self._flush_timers()

    def delete_rkmp_sa(self, peer: Address, now: float) -> None:
        sa = self._current_sa(peer)
        if sa is None:
            raise NotEstablished(f"no RKMP SA with {peer}")
        if sa.state is SaState.ESTABLISHED:
            sa.queue_task(DeleteRkmpTask(DeleteReason.LOCAL), now)
        else:
            sa.delete_orderly(DeleteReason.LOCAL, now)  # not set up yet: just forget it
        self._flush_timers()

    def check_liveness(self, peer: Address, now: float) -> None:
        """Ask the peer for a sign of life: PeerAlive, or RkmpSaFailed with
        LIVENESS_TIMEOUT once the retransmissions are spent."""
        sa = self._established(peer)
        sa.queue_task(LivenessTask(report=True), now)
        self._flush_timers()

    # --- queries -----------------------------------------------------------------------

    def idle(self) -> bool:
        """No exchange of ours in flight, queued or waiting to be retried."""
        return all(
            sa.pending is None and not sa.queue and not sa.deferred for sa in self._sas.values()
        )

    def rkmp_sas(self, peer: Address | None = None) -> list[RkmpSaRef]:
        """The established RKMP SAs (not replaced, not being deleted)."""
        sas = self._sas.values() if peer is None else self._by_peer.get(peer, [])
        return [
            sa.ref
            for sa in sas
            if sa.state is SaState.ESTABLISHED and sa.successor is None and not sa.duplicate
        ]

    def child_sas(self, peer: Address) -> list[ChildParams]:
        """The reported child SAs with ``peer`` that are in use (not
        replaced by a rekey), including orphans."""
        result = []
        for sa in self._by_peer.get(peer, []):
            for child in sa.children.values():
                if child.reported and child.state in (
                    ChildState.ACTIVE,
                    ChildState.REKEYING,
                ):
                    result.append(child.params)
        result.extend(child.params for child in self._orphans.of(peer))
        return result

    # --- for SAs and tasks ----------------------------------------------------------------

    def send(self, datagram: bytes, addr: Address) -> None:
        self._out.append((datagram, addr))

    def emit(self, event: Event) -> None:
        self._events.append(event)

    def touch(self, target: _Timed) -> None:
        self._dirty.add(target)

    def _flush_timers(self) -> None:
        dirty = self._dirty
        if not dirty:
            return
        timers = self._timers
        while dirty:
            target = dirty.pop()
            deadline = target.next_deadline()
            if deadline != target.deadline:
                target.deadline = deadline
                if deadline is not None:
                    heapq.heappush(timers, (deadline, next(self._seq), target))
        if len(timers) > self._compact_at:
            self._compact_timers()

    def _compact_timers(self) -> None:
        """Drop stale heap entries (a deadline moved since it was pushed):
        they would only go once they reach the top. In place, so that a
        handle_timer loop holding the list keeps working."""
        timers = self._timers
        timers[:] = [entry for entry in timers if entry[2].deadline == entry[0]]
        heapq.heapify(timers)
        self._compact_at = max(_COMPACT_MIN, 2 * len(timers))

    def key_exchange(self, group: int) -> KeyExchange:
        """A fresh KE private value: from the OS by default, from the
        injected rng when one was given (deterministic tests)."""
        if self._system_rng:
            return get_ke_group(group).generate()
        return get_ke_group(group).generate(self.random_bytes)

    def new_spi(self) -> bytes:
        while True:
            spi = self.random_bytes(IKE_SPI_LENGTH)
            if spi != ZERO_SPI and spi not in self._sas:
                return spi

    def register(self, sa: RkmpSa, half_open_key: tuple[Address, bytes] | None = None) -> None:
        self._sas[sa.local_spi] = sa
        self._by_peer.setdefault(sa.peer, []).append(sa)
        if half_open_key is not None:
            self._by_init[half_open_key] = sa
            self._half_open_sas.add(sa)
            host = sa.peer[0]
            self._half_open[host] = self._half_open.get(host, 0) + 1
            self._half_open_total += 1
        self.touch(sa)

    def half_open_done(self, sa: RkmpSa) -> None:
        if sa in self._half_open_sas:
            self._half_open_sas.discard(sa)
            host = sa.peer[0]
            left = self._half_open[host] - 1
            if left:
                self._half_open[host] = left
            else:
                del self._half_open[host]
            self._half_open_total -= 1

    def unregister(self, sa: RkmpSa, now: float) -> None:
        if self._sas.get(sa.local_spi) is sa:
            del self._sas[sa.local_spi]
        peers = self._by_peer.get(sa.peer)
        if peers is not None and sa in peers:
            peers.remove(sa)
            if not peers:
                del self._by_peer[sa.peer]
        key = (sa.peer, sa.spi_i)
        if not sa.initiator and self._by_init.get(key) is sa:
            del self._by_init[key]
        self.half_open_done(sa)
        if sa.cache.response:
            self._prune_lingering(now)
            self._lingering[sa.local_spi] = (now + LINGER, sa.cache, sa.peer)
        if sa.peer in self._by_peer:
            self.settle_children(sa.peer, now)  # children it held back may go now

    def _prune_lingering(self, now: float) -> None:
        # Entries are added with now + LINGER, so insertion order is expiry
        # order and only the front needs looking at (should the clock step
        # back, an entry just goes later: lookups check its time).
        lingering = self._lingering
        while lingering:
            spi, (until, _, _) = next(iter(lingering.items()))
            if until >= now:
                return
            del lingering[spi]

    def sas_of(self, peer: Address) -> list[RkmpSa]:
        return list(self._by_peer.get(peer, []))

    def cookies_required(self, host: str) -> bool:
        dos = self.config.dos
        return (
            self._half_open_total >= dos.cookie_threshold
            or self._half_open.get(host, 0) >= dos.cookie_threshold_per_address
        )

    def proposals_for(self, policy: PeerPolicy) -> tuple[CryptoProposal, ...]:
        return parsed_proposals(policy.rkmp_proposals)

    def offer_payload(self, policy: PeerPolicy) -> SaPayload:
        """Our RKMP_SA_INIT offer for ``policy``, encoded once."""
        return _offer(policy.rkmp_proposals)

    def identity(self, text: str) -> Identity:
        return identity_of(text)

    def trust_anchors(self, trust: CertTrust) -> tuple[x509.Certificate, ...]:
        return _anchors(trust.anchors)

    def certreq_for(self, policy: PeerPolicy) -> bytes | None:
        """CERTREQ data naming our trust anchors, if we check certificates."""
        try:
            remote = self.config.remote_auth_for(policy)
        except ValueError:
            return None
        if not isinstance(remote, CertTrust):
            return None
        return certreq_data(self.trust_anchors(remote))

    # key IDs

    def key_ids_in_use(self, peer: Address, protocol: ProtocolId) -> tuple[set[int], set[int]]:
        """(our key IDs, the peer's key IDs) taken for this peer and protocol:
        live and orphaned child SAs, offers in flight, and the key table's."""
        local: set[int] = set()
        remote: set[int] = set()
        for sa in self._by_peer.get(peer, ()):
            for child in sa.children.values():
                if child.protocol == protocol:
                    local.add(child.ref.local_key_id)
                    remote.add(child.ref.remote_key_id)
        for child in self._orphans.of(peer):
            if child.protocol == protocol:
                local.add(child.ref.local_key_id)
                remote.add(child.ref.remote_key_id)
        reserved = self._reserved.get((peer, protocol))
        if reserved:
            local.update(reserved)
        if self._external_key_ids is not None:
            for ours, theirs in self._external_key_ids(peer, protocol):
                local.add(ours)
                remote.add(theirs)
        return local, remote

    def reserve_key_id(self, peer: Address, protocol: ProtocolId, key_id: int) -> None:
        reserved = self._reserved.setdefault((peer, protocol), {})
        reserved[key_id] = reserved.get(key_id, 0) + 1

    def release_key_id(self, peer: Address, protocol: ProtocolId, key_id: int) -> None:
        reserved = self._reserved.get((peer, protocol))
        if reserved is None or key_id not in reserved:
            return
        left = reserved[key_id] - 1
        if left > 0:
            reserved[key_id] = left
            return
        del reserved[key_id]
        if not reserved:
            del self._reserved[(peer, protocol)]

    # orphans

    def add_orphans(self, peer: Address, children: Iterable[ChildSa], now: float) -> None:
        """Keep children of an SA that ended without a failure. Children
        already replaced by a rekey (waiting for their Delete) just go."""
        live = [c for c in children if c.state in (ChildState.ACTIVE, ChildState.REKEYING)]
        for child in live:
            child.state = ChildState.ACTIVE
            child.rival = None
            # Its hard lifetime, also when its SA had already queued its
            # Delete (and set expires to infinity meanwhile).
            child.expires = child.params.expires_at
        if live:
            self._orphans.add(peer, live)

    def take_orphan(self, peer: Address, protocol: ProtocolId) -> ChildRef | None:
        return self._orphans.take(peer, protocol)

    # SA relations

    def has_other_sa(self, sa: RkmpSa) -> bool:
        return any(
            other is not sa
            and other.state
            in (SaState.ESTABLISHED, SaState.UNCONFIRMED, SaState.REKEYED, SaState.DELETING)
            for other in self._by_peer.get(sa.peer, ())
        )

    def initial_contact(self, sa: RkmpSa, now: float) -> None:
        """The peer says ``sa`` is its only SA with us (RFC 7296 §3.10.1):
        SAs established before this one began are stale. They go without a
        failure; their children stay until replaced (DESIGN.md §2)."""
        for other in self.sas_of(sa.peer):
            if other is sa or other.established_at is None:
                continue
            if other.established_at >= sa.created_at or other.state is SaState.CLOSED:
                continue
            children = [c for c in other.children.values() if c.reported]
            self.emit(PeerRestarted(other.ref, tuple(c.ref for c in children)))
            self.add_orphans(other.peer, children, now)
            other.children.clear()
            other.hand_over(sa, now)  # requests not yet answered go to the new SA
            other.close(now)

    def sa_established(self, sa: RkmpSa, now: float) -> None:
        """Simultaneous initiation left two RKMP SAs with one peer: the one
        made with the lowest nonce is redundant (the rule of RFC 7296
        §2.8.1); its initiator deletes it and the children move to the other.

        Both ends decide alike: an end has both SAs established only once
        the peer has authenticated both too, and both know all four nonces.

        An SA of ours still waiting for its RKMP_SA_INIT response is given
        up instead (e.g. its first request went to a peer not yet listening,
        which then initiated itself): it would only make a late duplicate."""
        for other in self.sas_of(sa.peer):
            if (
                other is sa
                or other.state is not SaState.ESTABLISHED
                or other.successor is not None
                or other.duplicate
            ):
                continue
            if sa.lowest_nonce < other.lowest_nonce:
                self._retire_duplicate(sa, other, now)
                break
            self._retire_duplicate(other, sa, now)
        for other in self.sas_of(sa.peer):
            if other.initiator and other.state is SaState.INIT_SENT and other.successor is None:
                self._abandon(other, sa.home(), now)

    def _abandon(self, sa: RkmpSa, survivor: RkmpSa, now: float) -> None:
        """Forget ``sa`` (RKMP_SA_INIT unanswered) silently; the child SAs
        asked of it are asked of ``survivor`` if it has none of them. Under
        FIFO delivery the peer either never answered it, or answered after
        its own SA was up (then its half-open SA times out silently and
        delays nothing: ``_contests``)."""
        wanted = sa.wanted_children
        sa.wanted_children = ()
        sa.hand_over(survivor, now)
        sa.close(now)
        for protocol in wanted:
            survivor.queue_task(CreateChildTask(protocol, ensure=True), now)

    def _retire_duplicate(self, loser: RkmpSa, winner: RkmpSa, now: float) -> None:
        loser.duplicate = True
        for child in loser.children.values():
            child.from_duplicate = True
        winner.children.update(loser.children)
        loser.children.clear()
        winner.wanted_children += loser.wanted_children
        loser.wanted_children = ()
        loser.successor = winner
        loser.set_state(SaState.REKEYED)
        loser.migrate_tasks(now)
        if loser.initiator:
            loser.queue_task(DeleteRkmpTask(DeleteReason.REDUNDANT), now)
        else:
            loser.linger(now)
        self.touch(winner)

    # child SAs made by a collision

    def settle_children(self, peer: Address, now: float) -> None:
        """Report the child SAs with ``peer`` that wait to be reported, after
        dropping the ones a collision made redundant.

        Children wait while another RKMP SA with the peer is being set up
        (``_contests``): after simultaneous initiation only the surviving
        SA's children reach the key table, on both ends, instead of one end
        taking the loser's key and rolling over to the winner's later.
        Children made on the SA that lost (``from_duplicate``) are dropped
        on both ends: both know on which SA each child was made, whichever
        order the exchanges completed in. A protocol the survivor has no
        child for is asked for again there by the dropped child's initiator."""
        sas = self._by_peer.get(peer)
        if not sas:
            return
        for sa in list(sas):
            if sa.successor is not None or sa.state not in _SETTLED:
                continue
            waiting = False
            doubtful = False
            for child in sa.children.values():
                waiting = waiting or child.announce_pending
                doubtful = doubtful or (child.from_duplicate and child.state in _LIVE_CHILD)
            if doubtful:
                self._drop_redundant_children(sa, now)
            if not waiting:
                continue
            held = any(other is not sa and self._contests(other, sa, now) for other in sas)
            for child in list(sa.children.values()):
                # A rekey replaces a key already in use: never held back.
                if child.announce_pending and (not held or child.rekeys is not None):
                    sa.report_child(child)

    def _contests(self, other: RkmpSa, sa: RkmpSa, now: float) -> bool:
        """Whether ``other``, being set up with the same peer, may yet make
        ``sa`` redundant, so that ``sa``'s new children wait: it is past its
        RKMP_SA_INIT, or the peer's RKMP_SA_INIT for it came before ``sa``
        was established (simultaneous initiation) and not long ago. A
        peer's RKMP_SA_INIT that comes later was sent before it knew ``sa``:
        both ends have reported ``sa``'s children by then, and a rekey to
        the survivor's is the same on both. The peer's RKMP_SA_AUTH follows
        our response at once, unless the response was lost and the peer gave
        its SA up (``_abandon``): then children wait ``CONTEST_WINDOW``, not
        the whole half-open timeout."""
        if other.state in _AUTHENTICATING:
            return True
        if other.state is not SaState.INIT_ANSWERED:
            return False
        established = sa.established_at
        if established is not None and other.created_at > established:
            return False
        until = other.created_at + CONTEST_WINDOW
        if now >= until:
            return False
        if other.contest_until != until:
            other.contest_until = until  # settle again then
            self.touch(other)
        return True

    def _drop_redundant_children(self, sa: RkmpSa, now: float) -> None:
        doomed = [
            c
            for c in sa.children.values()
            if c.from_duplicate and c.state in _LIVE_CHILD and (c.reported or c.announce_pending)
        ]
        for child in doomed:
            survivors = [
                c
                for c in sa.children.values()
                if c.protocol == child.protocol
                and not c.from_duplicate
                and c.state in _LIVE_CHILD
                and (c.reported or c.announce_pending)
            ]
            self._drop_redundant_child(sa, child, survivors, now)

    def _drop_redundant_child(
        self, sa: RkmpSa, child: ChildSa, survivors: list[ChildSa], now: float
    ) -> None:
        """``child``, made on an SA that lost the tie-break, gives way. A key
        already reported is taken over by the survivor's child of the same
        protocol (reported as its rekey, so the key table rolls over), or
        kept like an orphan until a child made on the survivor replaces it.
        The initiator of the exchange that made it deletes it (RFC 7296
        §2.8.1) and, if the survivor has no child for the protocol, asks
        for one there."""
        heir = next((c for c in survivors if c.announce_pending), None)
        if heir is None and survivors:
            heir = survivors[0]
        if child.reported and heir is None:
            del sa.children[child.key]
            child.from_duplicate = False
            self.add_orphans(sa.peer, [child], now)
        else:
            if child.reported and heir is not None:
                if heir.announce_pending:
                    if heir.rekeys is None:
                        heir.rekeys = child.ref
                else:
                    self.emit(ChildSaRekeyed(child.ref, heir.params))
            child.state = ChildState.REDUNDANT
            child.reported = False
            child.announce_pending = False
            child.rival = None
            if child.params.initiator:
                sa.queue_task(DeleteChildTask(child, DeleteReason.REDUNDANT), now)
        if heir is None and child.params.initiator:
            sa.queue_task(CreateChildTask(child.protocol, ensure=True), now)

    def reconfigure(self, config: LocalConfig) -> None:
        """Use ``config`` from now on (a reloaded configuration). SAs that
        exist keep the peer policy they were made with; new SAs and policy
        look-ups take the new one."""
        self.config = config
        self._policies.clear()

    # --- helpers -----------------------------------------------------------------------------

    def policy_for(self, host: str) -> PeerPolicy | None:
        """The peer policy for ``host`` (memoised: the configuration is
        immutable and address parsing is not free)."""
        # ``in`` rather than try/except: the compiled core builds a traceback
        # for every exception, and each new peer would raise one here.
        if host in self._policies:
            return self._policies[host]
        policy = self.config.peer_for(host)
        if len(self._policies) < 65536:
            self._policies[host] = policy
        return policy

    def _policy(self, peer: Address) -> PeerPolicy:
        policy = self.policy_for(peer[0])
        if policy is None:
            raise UnknownPeer(f"no peer policy for {peer[0]}")
        return policy

    def _current_sa(self, peer: Address) -> RkmpSa | None:
        """The SA new work for ``peer`` goes to: an established one, else
        one being set up."""
        candidates = [
            sa for sa in self._by_peer.get(peer, []) if sa.successor is None and not sa.duplicate
        ]
        for state in (
            SaState.ESTABLISHED,
            SaState.UNCONFIRMED,
            SaState.AUTH_SENT,
            SaState.INIT_SENT,
            SaState.INIT_ANSWERED,
        ):
            for sa in reversed(candidates):
                if sa.state is state:
                    return sa
        return None

    def _established(self, peer: Address) -> RkmpSa:
        sa = self._current_sa(peer)
        if sa is None or sa.state is not SaState.ESTABLISHED:
            raise NotEstablished(f"no established RKMP SA with {peer}")
        return sa

    def _child(self, peer: Address, protocol: ProtocolId, key_id: int) -> tuple[RkmpSa, ChildSa]:
        sa = self._established(peer)
        child = sa.find_child(protocol, key_id, remote=False)
        if child is None or not child.reported:
            raise UnknownChildSa(f"no {protocol.name} child SA with key ID {key_id}")
        return sa, child

    def _start(self, peer: Address, policy: PeerPolicy, now: float) -> RkmpSa:
        sa = RkmpSa(
            self,
            policy,
            peer,
            initiator=True,
            spi_i=self.new_spi(),
            spi_r=ZERO_SPI,
            state=SaState.INIT_SENT,
            now=now,
        )
        self.register(sa)
        sa.queue_task(sa_init.SaInitTask(), now)
        sa.queue_task(SaAuthTask(), now)
        return sa

    def _request_child(
        self, sa: RkmpSa, protocol: ProtocolId, now: float, ensure: bool = False
    ) -> None:
        """Ask for a child SA; with ``ensure`` only if, when its turn comes,
        the SA (or the one it moves to) has none of ``protocol`` yet."""
        if sa.initiator and sa.state is SaState.INIT_SENT:
            sa.wanted_children += (protocol,)  # SAi2 of RKMP_SA_AUTH
        else:
            sa.queue_task(CreateChildTask(protocol, ensure=ensure), now)


def _protocols_under_way(sa: RkmpSa) -> set[ProtocolId]:
    """Protocols ``sa`` has a child SA for or is making one for: children
    (a responder's first one too, held until confirmed), those waiting for
    RKMP_SA_AUTH, the one an RKMP_SA_AUTH in flight carries, and
    CREATE_CHILD_SA requests queued or in flight."""
    have = {c.protocol for c in sa.children.values()}
    have.update(sa.wanted_children)
    for task in sa.tasks():
        if isinstance(task, CreateChildTask):
            have.add(task.protocol)
        elif isinstance(task, SaAuthTask) and task.child_task is not None:
            have.add(task.child_task.protocol)
    return have


# How long children wait for the RKMP_SA_AUTH of a half-open SA with the
# same peer (``Engine._contests``): the peer's first retransmission of its
# RKMP_SA_INIT (4 s by default) if our response was lost.
CONTEST_WINDOW = 5.0

# RKMP SA states while its AUTH exchange is under way, and states whose
# children are reported.
_AUTHENTICATING = frozenset({SaState.AUTH_SENT, SaState.UNCONFIRMED})
_SETTLED = frozenset({SaState.ESTABLISHED, SaState.DELETING})
_LIVE_CHILD = frozenset({ChildState.ACTIVE, ChildState.REKEYING})


# Timer heap entries before stale ones are dropped (then twice the live ones).
_COMPACT_MIN = 256

# The OS's random source; it keeps no state, so engines can share it.
_SYSTEM_RANDOM = random.SystemRandom()

# RFC 7427 §4 notify data: the hashes of every signature scheme we accept.
_HASH_ALGORITHMS = authn.encode_signature_hash_algorithms(authn.supported_hash_algorithms())


@lru_cache(maxsize=1024)
def _offer(texts: tuple[str, ...]) -> SaPayload:
    return PreEncodedSa(proposals_to_wire(parsed_proposals(texts)))


@cache
def _anchors(ders: tuple[bytes, ...]) -> tuple[x509.Certificate, ...]:
    return tuple(load_certificate(der) for der in ders)
