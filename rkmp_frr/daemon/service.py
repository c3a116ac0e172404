"""The daemon object: the sans-I/O engine on asyncio, with the key table,
sinks, hooks, keylog, control server and triggers around it.

Data flow (DESIGN.md §3)::

    UDP endpoints --datagram--> Engine <--API-- control server, triggers
                                  |  one timer, re-armed from get_timer()
                                events
            +---------------------+----------------------+
         logging   keylog   KeyTableWiring (SQLite)   hooks   command waiters
                                  |  change notifications
                                sinks (FRR / BIRD renderers, appliers)

Every input (a datagram, the timer, an API call) ends in ``pump()``: send
the engine's datagrams, hand each event to the key table, re-arm the one
timer. The key table writes of one event-loop round share one transaction
(one fsync); ``flush()``, at the start of the next round, commits it, which
tells the sinks, and only then announces the round's events to the other
consumers (log, keylog, hooks, static-peer upkeep, command waiters), so
nothing is heard of before it is durable. Consumers are isolated: an
exception in the key table, a sink, a hook or the keylog is logged and the
next one still runs; nothing the network sends can stop the loop.

Clocks (injected, so tests can drive a Service with real UDP and short
timers): the engine's ``now`` is POSIX time advanced by the monotonic
clock from start (``EngineClock``: certificates are checked against it
and it never steps), and the key table wiring gets ``wall_now`` (the
real wall clock) with that same engine time as its ``mono_now``, so a
wall-clock step is seen and the table's lifetimes follow it
(``rkmp_frr.keytable.clock``).

Restart safety (DESIGN.md §2): the key table is reopened as it is and
nothing in it is withdrawn; its key IDs are kept out of new allocations
(the engine's ``key_ids_in_use`` hook); static peers are initiated again
and the engine sends INITIAL_CONTACT, so the peer replaces its stale SA
and keeps its keys, and new child SAs roll over from the kept rows.

SIGTERM (``stop``): deletes its RKMP SAs with the peers (an orderly delete
is not a failure: both sides keep their keys, draft-mahesh §3.3), then
closes; no key is withdrawn. SIGHUP (``reload``): see ``apply_config``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rkmp_frr.daemon import names
from rkmp_frr.daemon.config_model import DaemonConfig, PeerConfig, interfaces_of
from rkmp_frr.daemon.hooks import HookCall, HookRunner, hook_calls
from rkmp_frr.daemon.keylog import KeyLog
from rkmp_frr.daemon.udp import EndpointSet, UdpEndpoint, open_endpoint
from rkmp_frr.engine import (
    ChildRef,
    ChildSaCreated,
    ChildSaDeleted,
    ChildSaFailed,
    ChildSaRekeyed,
    DeleteReason,
    Engine,
    EngineError,
    Event,
    PeerAlive,
    PeerRestarted,
    RkmpSaDeleted,
    RkmpSaEstablished,
    RkmpSaFailed,
    RkmpSaRef,
    RkmpSaRekeyed,
)
from rkmp_frr.engine.types import Address
from rkmp_frr.keytable import DeleteCause, KeyRow, KeyTableStore, Sink
from rkmp_frr.keytable.changes import SinkErrors
from rkmp_frr.keytable.rollover import RolloverPolicy
from rkmp_frr.keytable.wiring import KeyTableWiring
from rkmp_frr.profiles import KEY_PROFILES
from rkmp_frr.wire.constants import ProtocolId

if TYPE_CHECKING:
    from rkmp_frr.daemon.control_server import ControlServer
    from rkmp_frr.daemon.triggers import NeighbourWatcher, PeerSelector, TriggerAction

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_PEERS_SEEN = 65536  # remembered peer addresses before pruning idle ones
# RKMP SA ends after which a static peer is set up again.
_REINITIATE_AFTER = frozenset({DeleteReason.REMOTE, DeleteReason.EXPIRED})


@dataclass(frozen=True, slots=True)
class Clock:
    """The two clocks the daemon reads (injected for tests)."""

    wall: Callable[[], float] = time.time
    mono: Callable[[], float] = time.monotonic


class EngineClock:
    """POSIX time that advances with the monotonic clock: the engine's
    ``now`` (never steps, close to real time for certificate checks)."""

    def __init__(self, clock: Clock) -> None:
        self._mono = clock.mono
        self._origin = clock.wall() - clock.mono()

    def now(self) -> float:
        return self._origin + self._mono()

    def to_loop_delay(self, deadline: float) -> float:
        return max(0.0, deadline - self.now())


@dataclass(frozen=True, slots=True)
class ServiceOptions:
    """How a Service runs, beyond its configuration file."""

    keylog: Path | None = None
    initiate_on_start: bool = True  # set up the static peers at start
    control_socket: bool = True  # serve rkmpctl
    triggers: bool = True  # watch netlink for prefix peers' neighbours
    delete_on_stop: bool = True  # orderly RKMP SA deletes on SIGTERM
    stop_grace: float = 1.0  # seconds to wait for those deletes
    tick_interval: float = 5.0  # key table upkeep (expiry, clock steps)
    reinitiate_delay: float = 2.0  # first retry of a failed static peer
    reinitiate_max: float = 60.0  # backoff cap
    command_timeout: float = 30.0  # generate-sa / rekey-sa wait at most this
    # New RKMP SAs being set up at once by start, reload, retries and
    # triggers: None takes ``[rkmp] max_half_open_initiations`` (read at
    # each use, so SIGHUP changes it). A slot frees itself after
    # ``setup_slot_timeout`` even if the peer does not answer, so dead
    # peers delay the others by at most that.
    max_setups: int | None = None
    setup_slot_timeout: float = 2.0
    hook_env: dict[str, str] = field(default_factory=dict)  # extra hook variables


class _Waiter:
    """A control command waiting for the engine event that answers it."""

    def __init__(self, match: Callable[[Event], object | None]) -> None:
        self.match = match
        self.future: asyncio.Future[object] = asyncio.get_running_loop().create_future()


@dataclass(slots=True)
class SaDetails:
    """What the events say about an RKMP SA (for ``rkmpctl sas``)."""

    local_identity: str
    remote_identity: str
    proposal: str
    initiator: bool
    established_at: float


class PeerIndex:
    """``DaemonConfig.peer_for`` and ``peer`` in constant time: the daemon
    asks for every event (log lines, hooks, key table interfaces), and a
    scan of a thousand peers per event would dominate its work. Same
    answer as ``DaemonConfig.peer_for``: an address beats any prefix, a
    longer prefix a shorter one, the file's order breaks ties."""

    MEMO_LIMIT = 65536

    def __init__(self, config: DaemonConfig) -> None:
        self._by_name = {peer.name: peer for peer in config.peers}
        self._static: dict[IPAddress, PeerConfig] = {}
        for peer in config.peers:
            if peer.address is not None:
                self._static.setdefault(ipaddress.ip_address(peer.address), peer)
        # Host prefixes (/32, /128: one per neighbour, an answering side's
        # way to pin each neighbour's identity) are looked up like
        # addresses: a scan of a thousand of them per new address made
        # setting up N peers O(N^2).
        self._hosts: dict[IPAddress, PeerConfig] = {}
        self._prefixes: list[tuple[IPNetwork, PeerConfig]] = []
        for peer in config.peers_by_specificity():
            if peer.prefix is None:
                continue
            network = ipaddress.ip_network(peer.prefix)
            if network.num_addresses == 1:
                self._hosts.setdefault(network.network_address, peer)
            else:
                self._prefixes.append((network, peer))
        self._memo: dict[str, PeerConfig | None] = {}

    def peer(self, name: str) -> PeerConfig | None:
        return self._by_name.get(name)

    def peer_for(self, host: str) -> PeerConfig | None:
        try:
            return self._memo[host]
        except KeyError:
            pass
        found = self._lookup(host)
        if len(self._memo) < self.MEMO_LIMIT:
            self._memo[host] = found
        return found

    def _lookup(self, host: str) -> PeerConfig | None:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return None
        found = self._static.get(address) or self._hosts.get(address)
        if found is not None:
            return found
        for network, peer in self._prefixes:
            if address.version == network.version and address in network:
                return peer
        return None


class Service:
    """One rkmpd: everything between the sockets and the key table."""

    def __init__(
        self,
        config: DaemonConfig,
        *,
        options: ServiceOptions | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        sinks: Sequence[Sink] = (),
        store: KeyTableStore | None = None,
    ) -> None:
        self.config = config
        self.peers = PeerIndex(config)
        self.options = options or ServiceOptions()
        self.clock = clock or Clock()
        self.engine_clock = EngineClock(self.clock)
        self.started_at = self.engine_clock.now()
        self._rng = rng
        self.sinks: list[Sink] = list(sinks)  # key table sinks (routing daemons ...)
        self._sink_subscriptions: dict[int, Callable[[], None]] = {}  # id(sink) -> unsubscribe
        self._given_store = store
        self.store: KeyTableStore | None = None
        self.wiring: KeyTableWiring | None = None
        self.engine: Engine | None = None
        self.endpoints = EndpointSet()
        self.hooks: HookRunner | None = None
        self.keylog: KeyLog | None = None
        self.control: ControlServer | None = None
        self.triggers: NeighbourWatcher | None = None
        self.sa_details: dict[tuple[bytes, bytes], SaDetails] = {}
        self.peers_seen: dict[Address, None] = {}  # every peer address the engine named
        self.event_listeners: list[Callable[[Event], None]] = []
        self._waiters: list[_Waiter] = []
        self._timer: asyncio.TimerHandle | None = None
        self._announce: list[Event] = []  # events whose key table batch is not yet committed
        self._flush_handle: asyncio.Handle | None = None
        self._timer_deadline: float | None = None
        self._tick: asyncio.TimerHandle | None = None
        self._retries: dict[Address, asyncio.TimerHandle] = {}
        self._setup_queue: dict[Address, None] = {}  # waiting for a slot, in order
        self._setting_up: dict[Address, asyncio.TimerHandle] = {}
        self._draining = False
        self._backoff: dict[Address, float] = {}
        self._stopped = asyncio.Event()
        self._running = False
        self._stopping = False  # deleting SAs on the way out: no new work

    # --- clocks ---------------------------------------------------------------------

    def now(self) -> float:
        """The engine's clock."""
        return self.engine_clock.now()

    def wall_now(self) -> float:
        return self.clock.wall()

    # --- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        """Open the key table, the endpoints, the control socket; start the
        triggers and set up the static peers. Raises OSError (e.g. a port in
        use) after undoing what it opened."""
        try:
            await self._start()
        except BaseException:
            await self._close_all()
            raise

    async def _start(self) -> None:
        config = self.config
        self.store = self._given_store or KeyTableStore.open(state_dir=config.local.state_dir)
        self.wiring = KeyTableWiring(
            self.store,
            KEY_PROFILES,
            rollover=self._rollover_for,
            interfaces=self._interfaces,
        )
        rows = self.store.rows() if self.sinks else ()
        for sink in self.sinks:
            self._attach_sink(sink, rows)
        self.engine = Engine(
            config.engine_config(),
            rng=self._rng,
            key_ids_in_use=self._key_ids_in_use,
        )
        if self.options.keylog is not None:
            self.keylog = KeyLog(self.options.keylog)
        self.hooks = HookRunner(
            config.local.hooks_dir, config.local.hook_timeout, extra_env=self._hook_env()
        )
        for endpoint in config.local.listen:
            await self._open_endpoint(endpoint.host, endpoint.port)
        if self.options.control_socket:
            from rkmp_frr.daemon.control_server import ControlServer

            control = ControlServer(self, config.local.control_socket)
            await control.start()
            self.control = control
        if self.options.triggers:
            await self._start_triggers()
        self._running = True
        log.info(
            "rkmpd up: identity %s, %d peer(s), listening on %s, key table %s (%d row(s))",
            config.local.identity,
            len(config.peers),
            ", ".join(e.label for e in self.endpoints.endpoints),
            self.store.path or "in memory",
            self.store.count(),
        )
        self._schedule_tick()
        if self.options.initiate_on_start:
            for peer in config.peers:
                if peer.address is not None:
                    self.set_up((peer.address, peer.port))
        self.pump()

    async def _open_endpoint(self, host: str, port: int) -> UdpEndpoint:
        endpoint = await open_endpoint(host, port, self._on_datagram)
        self.endpoints.add(endpoint)
        return endpoint

    def _hook_env(self) -> dict[str, str]:
        env = {
            "RKMP_CONFIG": str(self.config.file),
            "RKMP_LOCAL_IDENTITY": self.config.local.identity,
        }
        env.update(self.options.hook_env)
        return env

    async def _start_triggers(self) -> None:
        """The netlink neighbour watcher (``rkmp_frr.daemon.triggers``): a
        neighbour of a prefix peer appearing starts negotiation; a link
        going down or a neighbour failing starts a liveness check."""
        from rkmp_frr.daemon.triggers import NeighbourWatcher

        watcher = NeighbourWatcher(self._selectors(self.config), self._on_trigger)
        await watcher.start()
        self.triggers = watcher

    @staticmethod
    def _selectors(config: DaemonConfig) -> list[PeerSelector]:
        from rkmp_frr.daemon.triggers import PeerSelector

        return [PeerSelector(peer.name, peer.selector) for peer in config.peers]

    def _on_trigger(self, action: TriggerAction) -> None:
        from rkmp_frr.daemon.triggers import CheckLiveness, Negotiate

        peer = self.peers.peer(action.peer_name)
        if peer is None or not self._running or self._stopping:
            return
        if isinstance(action, Negotiate):
            self.set_up((action.address, peer.port))
        elif isinstance(action, CheckLiveness):
            for address in [a for a in self.peers_seen if a[0] == action.address]:
                self.check_liveness(address)

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    async def stop(self) -> None:
        """SIGTERM: orderly deletes of the RKMP SAs (peers keep their keys,
        and so do we), then close everything. Withdraws no key."""
        if not self._running or self._stopping:
            await self._close_all()
            return
        self._stopping = True
        for handle in self._retries.values():
            handle.cancel()
        self._retries.clear()
        engine = self.engine
        if engine is not None and self.options.delete_on_stop:
            peers = {ref.peer for ref in engine.rkmp_sas()}
            for peer in peers:
                self.engine_call(engine.delete_rkmp_sa, peer, self.now())
            self.pump()
            await self._wait_idle(self.options.stop_grace)
        self.flush()
        kept = self._row_count_text()
        await self._close_all()
        log.info("rkmpd stopped; the key table keeps %s", kept)

    async def stop_abruptly(self) -> None:
        """Close without a word to the peers, as a crash would (tests): the
        key table's open batch, announced to no one, is lost."""
        if self.store is not None:
            self.store.abort_batch()
        self._announce.clear()
        await self._close_all()

    def _row_count_text(self) -> str:
        if self.store is None:
            return "its keys"
        try:
            return f"{self.store.count()} key(s)"
        except Exception:
            return "its keys"

    async def _wait_idle(self, grace: float) -> None:
        engine = self.engine
        if engine is None:
            return
        loop = asyncio.get_running_loop()
        until = loop.time() + grace
        while not engine.idle() and loop.time() < until:
            await asyncio.sleep(0.02)

    async def _close_all(self) -> None:
        self._running = False
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        self._commit_key_table()  # durable, though nothing announces it any more
        self._announce.clear()
        for handle in (
            self._timer,
            self._tick,
            *self._retries.values(),
            *self._setting_up.values(),
        ):
            if handle is not None:
                handle.cancel()
        self._timer = self._tick = None
        self._retries.clear()
        self._setting_up.clear()
        self._setup_queue.clear()
        for waiter in self._waiters:
            if not waiter.future.done():
                waiter.future.cancel()
        self._waiters.clear()
        if self.triggers is not None:
            with contextlib.suppress(Exception):
                await self.triggers.close()
            self.triggers = None
        if self.control is not None:
            with contextlib.suppress(Exception):
                await self.control.close()
            self.control = None
        self.endpoints.close()
        if self.hooks is not None:
            await self.hooks.close(grace=min(2.0, self.config.local.hook_timeout))
        if self.keylog is not None:
            self.keylog.close()
            self.keylog = None
        for sink in self.sinks:
            await self._detach_sink(sink)
        if self.store is not None and self._given_store is None:
            self.store.close()
        self.store = None
        self._stopped.set()

    # --- sinks ----------------------------------------------------------------------

    def _attach_sink(self, sink: Sink, rows: Sequence[KeyRow]) -> None:
        """Subscribe ``sink`` to the key table; a sink with ``load`` (a
        batching sink) starts from the table as it is."""
        assert self.store is not None
        load = getattr(sink, "load", None)
        if callable(load):
            load(rows)
        self._sink_subscriptions[id(sink)] = self.store.subscribe(sink)

    async def _detach_sink(self, sink: Sink) -> None:
        """Unsubscribe ``sink`` and close it (an apply under way finishes)."""
        unsubscribe = self._sink_subscriptions.pop(id(sink), None)
        if unsubscribe is not None:
            unsubscribe()
        close = getattr(sink, "close", None)
        if callable(close):
            try:
                await close()
            except Exception:
                log.exception("closing a sink failed")

    async def replace_sinks(self, sinks: Sequence[Sink]) -> None:
        """SIGHUP: ``sinks`` from now on. Sinks no longer listed are
        unsubscribed and closed (what they applied stays in the routing
        daemon); new ones start from the key table as it is; sinks in both
        lists go on untouched."""
        keep = {id(sink) for sink in sinks}
        for sink in self.sinks:
            if id(sink) not in keep:
                await self._detach_sink(sink)
        old = {id(sink) for sink in self.sinks}
        self.sinks = list(sinks)
        if self.store is None:
            return
        rows = self.store.rows()
        for sink in self.sinks:
            if id(sink) not in old:
                self._attach_sink(sink, rows)

    # --- inputs ---------------------------------------------------------------------

    def _on_datagram(self, data: bytes, addr: Address, endpoint: UdpEndpoint) -> None:
        engine = self.engine
        if engine is None or not self._running:
            return
        self.endpoints.heard(addr, endpoint)
        try:
            engine.receive_datagram(data, addr, self.now())
        except Exception:  # the engine drops bad input itself; this is a bug
            log.exception("engine failed on a datagram from %s", addr[0])
        self.pump()

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_deadline = None
        engine = self.engine
        if engine is None or not self._running:
            return
        try:
            engine.handle_timer(self.now())
        except Exception:
            log.exception("engine failed on its timer")
        self.pump()

    def engine_call(self, call: Callable[..., None], *args: object) -> bool:
        """Run an engine API call; its errors are logged (False)."""
        try:
            call(*args)
        except EngineError as exc:
            log.warning("%s", exc)
            return False
        return True

    def initiate(self, peer: Address, protocols: Iterable[ProtocolId] | None = None) -> bool:
        """Set up the RKMP SA (and child SAs) with ``peer`` if needed."""
        engine = self.engine
        if engine is None or not self._running or self._stopping:
            return False
        protocol_list = list(protocols) if protocols is not None else None
        ok = self.engine_call(engine.initiate, peer, self.now(), protocol_list)
        self.pump()
        return ok

    def set_up(self, peer: Address) -> None:
        """Make sure an RKMP SA with ``peer`` exists, paced: with one
        already up this is ``initiate`` (missing child SAs); otherwise the
        peer waits for one of the half-open slots (``[rkmp]
        max_half_open_initiations``)."""
        engine = self.engine
        if engine is None or not self._running or self._stopping:
            return
        if engine.rkmp_sas(peer):
            self.initiate(peer)
            return
        if peer in self._setting_up or peer in self._setup_queue:
            return
        self._setup_queue[peer] = None
        self._drain_setups()

    def _drain_setups(self) -> None:
        if self._draining:
            return  # re-entered from an initiate's events: the loop below goes on
        self._draining = True
        try:
            loop = asyncio.get_running_loop()
            limit = self.options.max_setups or self.config.rkmp.max_half_open_initiations
            while self._setup_queue and len(self._setting_up) < limit:
                peer = next(iter(self._setup_queue))
                del self._setup_queue[peer]
                handle = loop.call_later(self.options.setup_slot_timeout, self._setup_done, peer)
                self._setting_up[peer] = handle
                if not self.initiate(peer):
                    self._setup_done(peer)
        finally:
            self._draining = False

    def _setup_done(self, peer: Address) -> None:
        handle = self._setting_up.pop(peer, None)
        if handle is None:
            return
        handle.cancel()
        if self._running and not self._stopping:
            self._drain_setups()

    def check_liveness(self, peer: Address) -> bool:
        engine = self.engine
        if engine is None or not self._running or not engine.rkmp_sas(peer):
            return False
        ok = self.engine_call(engine.check_liveness, peer, self.now())
        self.pump()
        return ok

    # --- the pump -------------------------------------------------------------------

    def pump(self) -> None:
        """Send what the engine has to send, deliver its events, re-arm the
        timer. Event consumers may call the engine again: loop until quiet."""
        engine = self.engine
        if engine is None:
            return
        for _ in range(1000):  # a bound against a consumer/engine ping-pong bug
            sent = False
            for datagram, addr in engine.datagrams_to_send():
                self.endpoints.send(datagram, addr)
                sent = True
            event = engine.next_event()
            if event is None and not sent:
                break
            while event is not None:
                self._dispatch(event)
                event = engine.next_event()
        self._arm_timer()

    def _arm_timer(self) -> None:
        engine = self.engine
        if engine is None or not self._running:
            return
        deadline = engine.get_timer()
        if deadline == self._timer_deadline and self._timer is not None:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_deadline = deadline
        if deadline is not None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self.engine_clock.to_loop_delay(deadline), self._on_timer)

    def _schedule_tick(self) -> None:
        loop = asyncio.get_running_loop()
        self._tick = loop.call_later(self.options.tick_interval, self._on_tick)

    def _on_tick(self) -> None:
        if not self._running or self.wiring is None:
            return
        try:
            self.wiring.tick(wall_now=self.wall_now(), mono_now=self.now())
        except Exception:
            log.exception("key table upkeep failed")
        self._schedule_tick()

    # --- events -----------------------------------------------------------------------

    def _dispatch(self, event: Event) -> None:
        """The key table takes the event now, inside this round's batch;
        everything that announces it (log line, keylog, hooks, static-peer
        upkeep, command waiters, listeners) waits for the batch's COMMIT
        (``flush``), so a key is durable before anyone hears of it and a
        crash loses nothing that was announced."""
        self._remember(event)
        self._consume(self._table_event, event)
        self._announce.append(event)
        self._schedule_flush()

    def _consume(self, consumer: Callable[[Event], None], event: Event) -> None:
        try:
            consumer(event)
        except Exception:
            log.exception("handling %s failed", type(event).__name__)

    def _schedule_flush(self) -> None:
        """Flush at the start of the next event-loop round: the datagrams
        this round delivers (many, under load) share one COMMIT."""
        if self._flush_handle is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a synchronous caller): at once
            self.flush()
            return
        self._flush_handle = loop.call_soon(self.flush)

    def flush(self) -> None:
        """Commit the key table's open batch (the sinks hear of its changes
        now), then announce the events it holds. Events the announcing
        causes (a static peer set up again ...) go to the next flush."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        self._commit_key_table()
        events, self._announce = self._announce, []
        consumers: tuple[Callable[[Event], None], ...] = (
            self._log_event,
            self._keylog_event,
            self._hook_event,
            self._peer_upkeep,
            self._answer_waiters,
            *self.event_listeners,
        )
        for event in events:
            for consumer in consumers:
                self._consume(consumer, event)

    def _open_batch(self) -> None:
        store = self.store
        if store is None or store.in_batch:
            return
        try:
            store.begin_batch()
        except Exception:  # e.g. the database is locked: one transaction per write
            log.exception("cannot open a key table batch")
            return
        self._schedule_flush()

    def _commit_key_table(self) -> None:
        store = self.store
        if store is None or not store.in_batch:
            return
        try:
            store.commit_batch()
        except SinkErrors:
            log.exception("a key table sink failed")
        except Exception:
            log.exception("key table commit failed: this round's key changes are lost")

    def _remember(self, event: Event) -> None:
        peer = _event_peer(event)
        if peer is not None and peer not in self.peers_seen:
            if len(self.peers_seen) >= MAX_PEERS_SEEN:
                self._prune_peers_seen()
            self.peers_seen[peer] = None
        match event:
            case RkmpSaEstablished(sa=sa, initiator=initiator, proposal=proposal):
                self.sa_details[(sa.spi_i, sa.spi_r)] = SaDetails(
                    event.local_identity, event.remote_identity, proposal, initiator, self.now()
                )
            case RkmpSaRekeyed(old=old, new=new, proposal=proposal):
                details = self.sa_details.pop((old.spi_i, old.spi_r), None)
                if details is not None:
                    details.proposal = proposal
                    details.established_at = self.now()
                    self.sa_details[(new.spi_i, new.spi_r)] = details
            case RkmpSaFailed(sa=sa) | RkmpSaDeleted(sa=sa):
                self.sa_details.pop((sa.spi_i, sa.spi_r), None)
            case PeerRestarted(stale=sa):
                self.sa_details.pop((sa.spi_i, sa.spi_r), None)
            case _:
                pass

    def _prune_peers_seen(self) -> None:
        """Forget addresses with nothing left in the engine (a prefix peer
        can name many neighbours over time)."""
        engine = self.engine
        if engine is None:
            return
        for peer in list(self.peers_seen):
            if not engine.sas_of(peer) and not engine.child_sas(peer):
                del self.peers_seen[peer]

    def peer_config(self, host: str) -> PeerConfig | None:
        return self.peers.peer_for(host)

    def peer_name(self, host: str) -> str | None:
        peer = self.peers.peer_for(host)
        return peer.name if peer is not None else None

    def _rollover_for(self, host: str, protocol: ProtocolId) -> RolloverPolicy:
        """``DaemonConfig.rollover_for`` through the peer index (the
        config's own lookup scans every peer: O(N) per key)."""
        return self.config.rollover_of(self.peers.peer_for(host), protocol)

    def _interfaces(self, child: ChildRef) -> frozenset[str]:
        """``DaemonConfig.interfaces_for`` through the peer index."""
        return interfaces_of(self.peers.peer_for(child.peer[0]), child.protocol)

    def _log_event(self, event: Event) -> None:
        text = describe_event(event, self.peer_name)
        if text is None:
            return
        level = logging.WARNING if isinstance(event, RkmpSaFailed | ChildSaFailed) else logging.INFO
        log.log(level, "%s", text)

    def _keylog_event(self, event: Event) -> None:
        if self.keylog is None or self.engine is None:
            return
        match event:
            case RkmpSaEstablished(sa=ref) | RkmpSaRekeyed(new=ref):
                for sa in self.engine.sas_of(ref.peer):
                    if (sa.spi_i, sa.spi_r) == (ref.spi_i, ref.spi_r) and sa.keys is not None:
                        assert sa.suite is not None
                        self.keylog.write(sa.spi_i, sa.spi_r, sa.keys, sa.suite)
            case _:
                pass

    def _table_event(self, event: Event) -> None:
        if self.wiring is None:
            return
        self._open_batch()
        self.wiring.handle(event, wall_now=self.wall_now(), mono_now=self.now())
        if isinstance(event, RkmpSaFailed) and event.revoked:
            self.revoke_leftover_rows(event.sa.peer[0])

    def revoke_leftover_rows(self, host: str) -> list[KeyRow]:
        """RP_revokeSA's sweep: after the wiring revoked the failed SA's
        rows, the peer's other RKMP-made rows go too (cause REVOKED): keys
        of rekeyed children still in their accept grace, rows linked to an
        SA that lost a collision or to the SA of an earlier run. Rows of an
        RKMP SA still established with the peer, and keys an operator
        entered by hand, stay."""
        store = self.store
        engine = self.engine
        if store is None:
            return []
        live = set()
        if engine is not None:
            for peer in [p for p in self.peers_seen if p[0] == host]:
                live |= {(sa.spi_i, sa.spi_r) for sa in engine.rkmp_sas(peer)}
        removed: list[KeyRow] = []
        for row in store.rows():
            link = row.link
            if host not in row.peers or link is None:
                continue
            if link.rkmp_sa is not None and (link.rkmp_sa.spi_i, link.rkmp_sa.spi_r) in live:
                continue
            removed += store.Keytable_delete(row.protocol, row.spi, host, cause=DeleteCause.REVOKED)
        if removed:
            log.warning("%d more key(s) of %s revoked with it", len(removed), host)
        return removed

    def _hook_event(self, event: Event) -> None:
        if self.hooks is not None:
            self.hooks.submit(hook_calls(event, self.peer_name))

    def submit_hooks(self, calls: Iterable[HookCall]) -> None:
        if self.hooks is not None:
            self.hooks.submit(calls)

    def _answer_waiters(self, event: Event) -> None:
        for waiter in list(self._waiters):
            if waiter.future.done():
                self._waiters.remove(waiter)
                continue
            answer = waiter.match(event)
            if answer is not None:
                self._waiters.remove(waiter)
                waiter.future.set_result(answer)

    async def wait_for(self, match: Callable[[Event], object | None], timeout: float) -> object:
        """The first non-None ``match(event)`` of a coming event; TimeoutError."""
        waiter = _Waiter(match)
        self._waiters.append(waiter)
        try:
            return await asyncio.wait_for(waiter.future, timeout)
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    # --- static peers ---------------------------------------------------------------

    def static_peer(self, peer: Address) -> PeerConfig | None:
        config = self.peers.peer_for(peer[0])
        if config is None or config.address is None or config.port != peer[1]:
            return None
        return config

    def _peer_upkeep(self, event: Event) -> None:
        """Keep static peers up: after a failure (or the peer's delete) set
        the RKMP SA up again, with exponential backoff."""
        match event:
            case RkmpSaEstablished(sa=sa):
                self._setup_done(sa.peer)
                self._backoff.pop(sa.peer, None)
                handle = self._retries.pop(sa.peer, None)
                if handle is not None:
                    handle.cancel()
            case RkmpSaFailed(sa=sa):
                self._setup_done(sa.peer)
                self._retry_later(sa.peer)
            case RkmpSaDeleted(sa=sa, reason=reason) if reason in _REINITIATE_AFTER:
                self._retry_later(sa.peer)
            case _:
                pass

    def _retry_later(self, peer: Address) -> None:
        if not self._running or self._stopping or self.static_peer(peer) is None:
            return
        if peer in self._retries:
            return
        delay = self._backoff.get(peer, self.options.reinitiate_delay)
        self._backoff[peer] = min(delay * 2, self.options.reinitiate_max)
        # up to 10 % jitter so that many peers do not retry in step
        delay *= 1 - 0.1 * random.random()
        log.info("setting up %s again in %.1fs", self.peer_name(peer[0]) or peer[0], delay)
        loop = asyncio.get_running_loop()
        self._retries[peer] = loop.call_later(delay, self._retry_now, peer)

    def _retry_now(self, peer: Address) -> None:
        self._retries.pop(peer, None)
        if self._running and not self._stopping and self.static_peer(peer) is not None:
            self.set_up(peer)

    # --- key IDs held by the table -------------------------------------------------

    def _key_ids_in_use(self, peer: Address, protocol: ProtocolId) -> list[tuple[int, int]]:
        """The key table's (local, remote) key IDs with ``peer``: the engine
        must not hand them out again (rows kept across a restart)."""
        store = self.store
        if store is None:
            return []
        pairs = []
        for row in store.Keytable_getSA(protocol, peer[0]):
            if row.link is not None:
                pairs.append((row.link.child.local_key_id, row.link.child.remote_key_id))
            else:
                pairs.append((row.spi, row.spi))
        return pairs

    # --- SIGHUP ---------------------------------------------------------------------

    async def reload(self, load: Callable[[], DaemonConfig]) -> bool:
        """Re-read the configuration; a bad file leaves everything as it is."""
        try:
            new = load()
        except Exception as exc:  # ConfigError: one line naming file, key, problem
            log.error("reload failed, configuration unchanged: %s", exc)
            return False
        await self.apply_config(new)
        return True

    async def apply_config(self, new: DaemonConfig) -> None:
        """Make ``new`` the configuration: removed peers (and protocols)
        are deleted with the peer, added ones set up; an SA whose peer and
        protocol are still configured is left alone (it keeps the policy
        it was made with until its next rekey). New endpoints open, gone
        ones close. ``state_dir`` and ``control_socket`` need a restart."""
        old = self.config
        engine = self.engine
        if engine is None:
            self.config = new
            return
        for warning in new.warnings:
            log.warning("%s", warning)
        if new.local.state_dir != old.local.state_dir:
            log.warning("state_dir changed: takes effect at the next restart")
        if new.local.control_socket != old.local.control_socket:
            log.warning("control_socket changed: takes effect at the next restart")
        await self._update_endpoints(new)
        old_peers = self.peers
        self.config = new
        self.peers = PeerIndex(new)
        engine.reconfigure(new.engine_config())
        if self.hooks is not None:
            self.hooks.hooks_dir = new.local.hooks_dir
            self.hooks.timeout = new.local.hook_timeout
        if self.triggers is not None:
            self.triggers.set_peers(self._selectors(new))
        self._drop_unconfigured(old_peers, self.peers)
        for peer in new.peers:
            if peer.address is None:
                continue
            before = old_peers.peer(peer.name)
            address = (peer.address, peer.port)
            if before != peer or not engine.rkmp_sas(address):
                self.set_up(address)
        self.pump()
        log.info("configuration reloaded: %d peer(s)", len(new.peers))

    async def _update_endpoints(self, new: DaemonConfig) -> None:
        wanted = {(e.host, e.port) for e in new.local.listen}
        for endpoint in self.endpoints.endpoints:
            if (endpoint.host, endpoint.port) not in wanted:
                log.info("no longer listening on %s", endpoint.label)
                self.endpoints.remove(endpoint)
        have = {(e.host, e.port) for e in self.endpoints.endpoints}
        for host, port in sorted(wanted - have):
            try:
                endpoint = await self._open_endpoint(host, port)
            except OSError as exc:
                log.error("cannot listen on %s:%d: %s", host, port, exc.strerror or exc)
                continue
            log.info("listening on %s", endpoint.label)

    def _drop_unconfigured(self, old: PeerIndex, new: PeerIndex) -> None:
        """Delete (with the peer) the SAs no longer configured: every SA of
        a peer that matches no [[peer]] any more or a different one, and
        child SAs of protocols a peer no longer has."""
        engine = self.engine
        assert engine is not None
        now = self.now()
        for peer in list(self.peers_seen):
            before = old.peer_for(peer[0])
            after = new.peer_for(peer[0])
            if before is None:
                continue
            gone = after is None or after.name != before.name
            if after is not None and after.address is not None and after.port != peer[1]:
                gone = True
            wanted = set() if gone or after is None else {p.protocol for p in after.protocols}
            for child in engine.child_sas(peer):
                protocol = child.ref.protocol
                if protocol not in wanted:
                    ref = child.ref
                    self.engine_call(
                        engine.delete_child, ref.peer, ref.protocol, ref.local_key_id, now
                    )
            if gone and engine.rkmp_sas(peer):
                log.info("peer %s removed from the configuration: deleting its SAs", before.name)
                self.engine_call(engine.delete_rkmp_sa, peer, now)


def _event_peer(event: Event) -> Address | None:
    match event:
        case RkmpSaEstablished(sa=sa) | RkmpSaFailed(sa=sa) | RkmpSaDeleted(sa=sa):
            return sa.peer
        case RkmpSaRekeyed(new=sa) | PeerRestarted(stale=sa) | PeerAlive(sa=sa):
            return sa.peer
        case ChildSaCreated(child=params) | ChildSaRekeyed(new=params):
            return params.ref.peer
        case ChildSaDeleted(child=child):
            return child.peer
        case ChildSaFailed(peer=peer):
            return peer
    return None


def _who(peer: Address, peer_name: Callable[[str], str | None]) -> str:
    name = peer_name(peer[0])
    host = f"[{peer[0]}]" if ":" in peer[0] else peer[0]
    return f"{name} ({host}:{peer[1]})" if name else f"{host}:{peer[1]}"


def _sa_text(sa: RkmpSaRef) -> str:
    return f"{sa.spi_i.hex()}_i {sa.spi_r.hex()}_r"


def _child_text(child: ChildRef) -> str:
    name = names.protocol_name(child.protocol)
    if child.local_key_id == child.remote_key_id:
        return f"{name} key {child.local_key_id}"
    return f"{name} key {child.local_key_id} (peer's {child.remote_key_id})"


def describe_event(event: Event, peer_name: Callable[[str], str | None]) -> str | None:
    """One log line for an engine event, without key material (None: not
    worth a line)."""
    match event:
        case RkmpSaEstablished(sa=sa, initiator=initiator, proposal=proposal):
            role = "initiator" if initiator else "responder"
            return (
                f"RKMP SA with {_who(sa.peer, peer_name)} established ({role}, {proposal}, "
                f"{event.local_identity} === {event.remote_identity}, {_sa_text(sa)})"
            )
        case RkmpSaRekeyed(old=old, new=new):
            return (
                f"RKMP SA with {_who(new.peer, peer_name)} rekeyed: "
                f"{_sa_text(old)} -> {_sa_text(new)}"
            )
        case RkmpSaFailed(sa=sa, reason=reason, children=children, revoked=revoked):
            action = "keys revoked" if revoked else "keys kept"
            return (
                f"RKMP SA with {_who(sa.peer, peer_name)} failed ({reason.value}): "
                f"{len(children)} child SA(s), {action}"
            )
        case RkmpSaDeleted(sa=sa, reason=reason, children=children):
            return (
                f"RKMP SA with {_who(sa.peer, peer_name)} deleted ({reason.value}); "
                f"{len(children)} child SA(s) kept"
            )
        case PeerRestarted(stale=sa, children=children):
            return (
                f"{_who(sa.peer, peer_name)} restarted (INITIAL_CONTACT): stale RKMP SA "
                f"replaced, {len(children)} child SA(s) kept until rekeyed"
            )
        case ChildSaCreated(child=params):
            return f"{_child_text(params.ref)} with {_who(params.ref.peer, peer_name)} created"
        case ChildSaRekeyed(old=old, new=params):
            return (
                f"{_child_text(old)} with {_who(old.peer, peer_name)} rekeyed: "
                f"new key {params.ref.local_key_id}"
            )
        case ChildSaDeleted(child=child, reason=reason):
            return f"{_child_text(child)} with {_who(child.peer, peer_name)} ended ({reason.value})"
        case ChildSaFailed(peer=peer, protocol=protocol, reason=reason):
            return (
                f"{names.protocol_name(protocol)} SA with {_who(peer, peer_name)} "
                f"failed ({reason.value})"
            )
        case PeerAlive():
            return None
    return None
