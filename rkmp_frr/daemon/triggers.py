"""Netlink triggers: neighbours and links -> "negotiate" / "check liveness".

Issue 5: a neighbour (RTM_NEWNEIGH) whose address matches a configured peer
address or prefix starts negotiation; a link going down or a neighbour
entering FAILED starts an immediate liveness check; static peers start at
boot; flapping neighbours are debounced.

Two layers:

- sans I/O: ``TriggerPolicy`` turns neighbour/link events into actions
  from state transitions (the kernel re-announces entries for many reasons,
  so only transitions count), and ``Triggers`` adds the ``Debouncer`` and
  takes ``now`` explicitly;
- I/O: ``NeighbourWatcher`` subscribes to RTMGRP_NEIGH and RTMGRP_LINK
  (IPv4 and IPv6) with pyroute2's ``AsyncIPRoute``, feeds ``Triggers`` and
  hands actions to a callback. A netlink error (ENOBUFS after a burst, a
  closed socket) is logged, the subscription is rebuilt and the tables are
  re-read; it never ends the daemon.

``Negotiate`` means "make sure an RKMP SA with this address exists": the
daemon treats it as idempotent, so a redundant one costs nothing.
``python -m rkmp_frr.daemon.triggers --peer NAME=ADDRESS|PREFIX ...`` runs the
watcher alone and prints actions as JSON lines (diagnostics, tests).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import logging
import signal
import socket
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum, IntFlag
from typing import Any, Protocol, TypeAlias

from rkmp_frr.daemon.debounce import DebounceConfig, Debouncer

log = logging.getLogger(__name__)

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network


class NudState(IntFlag):
    """Neighbour states (linux/neighbour.h NUD_*)."""

    NONE = 0x00
    INCOMPLETE = 0x01
    REACHABLE = 0x02
    STALE = 0x04
    DELAY = 0x08
    PROBE = 0x10
    FAILED = 0x20
    NOARP = 0x40
    PERMANENT = 0x80


# A neighbour entering one of these from any other state (or first seen in
# one) is a new neighbour. Moving among them is ordinary neighbour-cache
# churn (REACHABLE -> STALE -> DELAY -> PROBE -> REACHABLE), not a new one;
# PROBE is included so that churn stays quiet and a neighbour first seen
# while being probed (at start) still counts.
ALIVE_STATES = (
    NudState.REACHABLE | NudState.STALE | NudState.DELAY | NudState.PROBE | NudState.PERMANENT
)


class TriggerReason(Enum):
    STATIC_PEER = "static-peer"  # configured address: at start, or added by a reload
    NEIGHBOUR_UP = "neighbour-up"  # entered REACHABLE/STALE/DELAY/PROBE/PERMANENT
    NEIGHBOUR_CHANGED = "neighbour-changed"  # new link-layer address or interface
    PEER_ADDED = "peer-added"  # a known neighbour newly covered by the configuration
    LINK_UP = "link-up"  # its link came back and the entry survived (PERMANENT)
    NEIGHBOUR_FAILED = "neighbour-failed"  # entered FAILED
    LINK_DOWN = "link-down"  # its link went down or away


# --- peers --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PeerSelector:
    """A configured peer as the triggers see it: a name and an address
    ("192.0.2.1", a static peer) or a prefix ("192.0.2.0/24")."""

    name: str
    selector: str
    network: IPNetwork = field(init=False, repr=False, compare=False)
    static: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        static = "/" not in self.selector
        network = ipaddress.ip_network(self.selector, strict=False)  # ValueError if bad
        object.__setattr__(self, "network", network)
        object.__setattr__(self, "static", static)

    @property
    def address(self) -> IPAddress:
        """The static peer's address (the network's first for a prefix)."""
        return self.network.network_address

    @property
    def specificity(self) -> int:
        """Addresses beat every prefix, longer prefixes beat shorter ones."""
        return 129 if self.static else self.network.prefixlen


class PeerMatcher:
    """The most specific configured peer for an address."""

    def __init__(self, peers: Iterable[PeerSelector]) -> None:
        self._peers = tuple(sorted(peers, key=lambda peer: -peer.specificity))

    @property
    def peers(self) -> tuple[PeerSelector, ...]:
        return self._peers

    @property
    def static_peers(self) -> tuple[PeerSelector, ...]:
        return tuple(peer for peer in self._peers if peer.static)

    def match(self, address: IPAddress) -> PeerSelector | None:
        for peer in self._peers:
            if address.version == peer.network.version and address in peer.network:
                return peer
        return None


# --- events and actions -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NeighbourEvent:
    """RTM_NEWNEIGH / RTM_DELNEIGH (or a row of a neighbour dump)."""

    address: IPAddress
    ifindex: int
    state: NudState
    lladdr: str | None = None
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class LinkEvent:
    """RTM_NEWLINK / RTM_DELLINK; ``up``: administratively up and running
    (carrier present)."""

    ifindex: int
    up: bool
    deleted: bool = False


TriggerEvent: TypeAlias = NeighbourEvent | LinkEvent


@dataclass(frozen=True, slots=True)
class Negotiate:
    """Make sure an RKMP SA with ``address`` (peer ``peer_name``) exists."""

    peer_name: str
    address: str
    reason: TriggerReason


@dataclass(frozen=True, slots=True)
class CheckLiveness:
    """Check at once that the RKMP SA with ``address`` is still alive."""

    peer_name: str
    address: str
    reason: TriggerReason


TriggerAction: TypeAlias = Negotiate | CheckLiveness


def action_as_dict(action: TriggerAction) -> dict[str, str]:
    """JSON-able form (for logs, ``rkmpctl`` and the command-line tool)."""
    kind = "negotiate" if isinstance(action, Negotiate) else "check-liveness"
    return {
        "action": kind,
        "peer": action.peer_name,
        "address": action.address,
        "reason": action.reason.value,
    }


# --- the policy: transitions -> actions ----------------------------------------------


@dataclass(slots=True)
class _Neighbour:
    ifindex: int
    state: NudState | None  # None once deleted (kept: its link may go down later)
    lladdr: str | None
    # Seen alive since the last liveness check: FAILED or its link going down
    # then deserves a check. Never-alive addresses (a scan into a prefix, a
    # static peer that never answered) have no SA to check.
    seen_alive: bool = False

    @property
    def alive(self) -> bool:
        return self.state is not None and bool(self.state & ALIVE_STATES)


def _ignored(address: IPAddress) -> bool:
    return address.is_multicast or address.is_unspecified


class TriggerPolicy:
    """Neighbour and link state per address/ifindex; actions on transitions.

    Every unicast neighbour is tracked (not only matching ones), so a
    configuration reload can pick up neighbours already present. Pure: no
    time, no I/O; ``Triggers`` adds debouncing.
    """

    def __init__(self, peers: Iterable[PeerSelector]) -> None:
        self._matcher = PeerMatcher(peers)
        self._neighbours: dict[IPAddress, _Neighbour] = {}
        self._links: dict[int, bool] = {}

    @property
    def matcher(self) -> PeerMatcher:
        return self._matcher

    def static_negotiations(self) -> list[TriggerAction]:
        return [
            Negotiate(peer.name, str(peer.address), TriggerReason.STATIC_PEER)
            for peer in self._matcher.static_peers
        ]

    def is_alive(self, address: IPAddress) -> bool:
        record = self._neighbours.get(address)
        return record is not None and record.alive

    def refresh(self, action: Negotiate) -> Negotiate | None:
        """A debounced negotiation at release time: still wanted (neighbour
        alive, address still configured), with the peer name as of now."""
        address = ipaddress.ip_address(action.address)
        peer = self._matcher.match(address)
        if peer is None or not self.is_alive(address):
            return None
        return Negotiate(peer.name, action.address, action.reason)

    # --- neighbours -------------------------------------------------------------------

    def on_neighbour(self, event: NeighbourEvent) -> list[TriggerAction]:
        if _ignored(event.address):
            return []
        record = self._neighbours.get(event.address)
        if event.deleted:
            if record is not None:
                record.state = None
            return []
        if record is None:
            record = self._neighbours[event.address] = _Neighbour(event.ifindex, None, None)
        was_alive = record.alive
        previous_state = record.state
        moved = was_alive and (
            record.ifindex != event.ifindex
            or (None not in (record.lladdr, event.lladdr) and record.lladdr != event.lladdr)
        )
        record.ifindex = event.ifindex
        record.state = event.state
        if event.lladdr is not None:
            record.lladdr = event.lladdr

        if record.alive:
            record.seen_alive = True
            if not was_alive:
                return self._negotiate(event.address, TriggerReason.NEIGHBOUR_UP)
            if moved:
                return self._negotiate(event.address, TriggerReason.NEIGHBOUR_CHANGED)
            return []
        if event.state & NudState.FAILED and previous_state != NudState.FAILED:
            return self._check(event.address, record, TriggerReason.NEIGHBOUR_FAILED)
        return []

    # --- links ------------------------------------------------------------------------

    def on_link(self, event: LinkEvent) -> list[TriggerAction]:
        was_up = self._links.get(event.ifindex)
        up = event.up and not event.deleted
        if event.deleted:
            self._links.pop(event.ifindex, None)
        else:
            self._links[event.ifindex] = up
        if up:
            return self._link_up(event.ifindex) if was_up is False else []
        if was_up is False:
            return []  # already down: a repeated announcement
        actions: list[TriggerAction] = []
        for address, record in list(self._neighbours.items()):
            if record.ifindex != event.ifindex:
                continue
            actions += self._check(address, record, TriggerReason.LINK_DOWN)
            if record.state is None or event.deleted:
                del self._neighbours[address]  # gone with the link
        return actions

    def _link_up(self, ifindex: int) -> list[TriggerAction]:
        """Entries that survived the link going down (PERMANENT) announce no
        new state when it returns, so negotiate for them here."""
        actions: list[TriggerAction] = []
        for address, record in self._neighbours.items():
            if record.ifindex == ifindex and record.alive:
                record.seen_alive = True
                actions += self._negotiate(address, TriggerReason.LINK_UP)
        return actions

    # --- whole tables (start, and after a lost subscription) ---------------------------

    def on_snapshot(
        self, links: Iterable[LinkEvent], neighbours: Iterable[NeighbourEvent]
    ) -> list[TriggerAction]:
        """Reconcile with full link and neighbour dumps: what is known but not
        in a dump went away while we were not listening."""
        link_list, neighbour_list = list(links), list(neighbours)
        actions: list[TriggerAction] = []
        present_links = {link.ifindex for link in link_list}
        for ifindex in [i for i in self._links if i not in present_links]:
            actions += self.on_link(LinkEvent(ifindex, up=False, deleted=True))
        for link in link_list:
            actions += self.on_link(link)
        present = {n.address for n in neighbour_list if not n.deleted}
        for address, record in list(self._neighbours.items()):
            if address not in present and record.state is not None:
                actions += self.on_neighbour(
                    NeighbourEvent(address, record.ifindex, NudState.NONE, deleted=True)
                )
        for neighbour in neighbour_list:
            actions += self.on_neighbour(neighbour)
        return actions

    # --- configuration reload ------------------------------------------------------------

    def set_peers(self, peers: Iterable[PeerSelector]) -> list[TriggerAction]:
        """New peer list: negotiate for static peers that are new and for
        live neighbours that were not covered before."""
        old = self._matcher
        self._matcher = PeerMatcher(peers)
        old_static = {(p.name, p.address) for p in old.static_peers}
        actions: list[TriggerAction] = [
            action
            for action in self.static_negotiations()
            if (action.peer_name, ipaddress.ip_address(action.address)) not in old_static
        ]
        for address, record in self._neighbours.items():
            if record.alive and old.match(address) is None:
                actions += self._negotiate(address, TriggerReason.PEER_ADDED)
        return actions

    # --- helpers ----------------------------------------------------------------------

    def _negotiate(self, address: IPAddress, reason: TriggerReason) -> list[TriggerAction]:
        peer = self._matcher.match(address)
        return [] if peer is None else [Negotiate(peer.name, str(address), reason)]

    def _check(
        self, address: IPAddress, record: _Neighbour, reason: TriggerReason
    ) -> list[TriggerAction]:
        if not record.seen_alive:
            return []
        record.seen_alive = False
        peer = self._matcher.match(address)
        return [] if peer is None else [CheckLiveness(peer.name, str(address), reason)]


# --- policy + debouncing, with explicit time -------------------------------------------


class Triggers:
    """The sans-I/O trigger machine the watcher drives.

    Static-peer negotiations leave at once; negotiations from neighbour
    events go through the debouncer (per address, trailing edge) and are
    dropped at release time if the neighbour is no longer alive or no longer
    configured. Liveness checks leave at once too (leading edge), at most one
    per address per ``settle`` seconds, since a flapping neighbour fails on
    every flap and one check in progress covers them all; a liveness check
    cancels a pending negotiation for the same address.
    """

    def __init__(
        self, peers: Iterable[PeerSelector], debounce: DebounceConfig | None = None
    ) -> None:
        self._policy = TriggerPolicy(peers)
        self._debouncer: Debouncer[IPAddress, Negotiate] = Debouncer(debounce)
        self._last_check: dict[IPAddress, float] = {}

    @property
    def policy(self) -> TriggerPolicy:
        return self._policy

    def start(self, now: float) -> list[TriggerAction]:
        return self._route(self._policy.static_negotiations(), now)

    def handle(self, event: TriggerEvent, now: float) -> list[TriggerAction]:
        if isinstance(event, NeighbourEvent):
            return self._route(self._policy.on_neighbour(event), now)
        return self._route(self._policy.on_link(event), now)

    def snapshot(
        self, links: Iterable[LinkEvent], neighbours: Iterable[NeighbourEvent], now: float
    ) -> list[TriggerAction]:
        return self._route(self._policy.on_snapshot(links, neighbours), now)

    def set_peers(self, peers: Iterable[PeerSelector], now: float) -> list[TriggerAction]:
        return self._route(self._policy.set_peers(peers), now)

    def poll(self, now: float) -> list[TriggerAction]:
        released = (self._policy.refresh(action) for action in self._debouncer.poll(now))
        return [action for action in released if action is not None]

    def next_deadline(self) -> float | None:
        return self._debouncer.next_deadline()

    def pending(self) -> int:
        return len(self._debouncer)

    def _route(self, actions: Iterable[TriggerAction], now: float) -> list[TriggerAction]:
        immediate: list[TriggerAction] = []
        for action in actions:
            address = ipaddress.ip_address(action.address)
            if isinstance(action, CheckLiveness):
                self._debouncer.cancel(address)
                if self._check_allowed(address, now):
                    immediate.append(action)
            elif action.reason is TriggerReason.STATIC_PEER:
                immediate.append(action)
            else:
                self._debouncer.submit(address, action, now)
        return immediate

    def _check_allowed(self, address: IPAddress, now: float) -> bool:
        settle = self._debouncer.config.settle
        last = self._last_check.get(address)
        if last is not None and now - last < settle:
            return False
        self._last_check = {a: t for a, t in self._last_check.items() if now - t < settle}
        self._last_check[address] = now
        return True


# --- netlink messages -> events (pyroute2's decoded messages) ----------------------------

IFF_UP = 0x1  # linux/if.h
IFF_RUNNING = 0x40  # RFC 2863 operational state "up" (carrier, not dormant)
NTF_PROXY = 0x08  # linux/neighbour.h: a proxy-ARP/ND entry, not a neighbour


def neighbour_event(msg: Any) -> NeighbourEvent | None:
    """An ndmsg (RTM_NEWNEIGH/RTM_DELNEIGH) as a NeighbourEvent; None for
    bridge FDB rows, proxy entries and rows without a destination."""
    if msg["family"] not in (socket.AF_INET, socket.AF_INET6) or msg["flags"] & NTF_PROXY:
        return None
    destination = msg.get_attr("NDA_DST")
    if destination is None:
        return None
    lladdr = msg.get_attr("NDA_LLADDR")
    return NeighbourEvent(
        address=ipaddress.ip_address(destination),
        ifindex=int(msg["ifindex"]),
        state=NudState(int(msg["state"])),
        lladdr=str(lladdr) if lladdr else None,
        deleted=msg.get("event") == "RTM_DELNEIGH",
    )


def link_event(msg: Any) -> LinkEvent | None:
    """An ifinfomsg (RTM_NEWLINK/RTM_DELLINK) as a LinkEvent; None for the
    AF_BRIDGE port messages that share the group."""
    if msg["family"] != socket.AF_UNSPEC:
        return None
    flags = int(msg["flags"])
    return LinkEvent(
        ifindex=int(msg["index"]),
        up=bool(flags & IFF_UP) and bool(flags & IFF_RUNNING),
        deleted=msg.get("event") == "RTM_DELLINK",
    )


def event_from_message(msg: Any) -> TriggerEvent | None:
    kind = msg.get("event")
    if kind in ("RTM_NEWNEIGH", "RTM_DELNEIGH"):
        return neighbour_event(msg)
    if kind in ("RTM_NEWLINK", "RTM_DELLINK"):
        return link_event(msg)
    return None


# --- the netlink source ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Snapshot:
    links: tuple[LinkEvent, ...]
    neighbours: tuple[NeighbourEvent, ...]


class EventSource(Protocol):
    """One netlink subscription: ``open`` subscribes, then dumps the tables
    (so nothing falls between dump and subscription); ``next_events`` waits
    for the next batch; any exception means "rebuild me"."""

    async def open(self) -> Snapshot: ...

    async def next_events(self) -> list[TriggerEvent]: ...

    def close(self) -> None: ...


class PyrouteEventSource:
    """``EventSource`` over pyroute2 ``AsyncIPRoute`` (the only pyroute2 user here)."""

    def __init__(self) -> None:
        self._ipr: Any = None

    async def open(self) -> Snapshot:
        from pyroute2 import AsyncIPRoute
        from pyroute2.netlink.rtnl import RTMGRP_LINK, RTMGRP_NEIGH

        self._ipr = AsyncIPRoute()
        await self._ipr.bind(groups=RTMGRP_LINK | RTMGRP_NEIGH)  # both families
        links = [link async for m in await self._ipr.link("dump") if (link := link_event(m))]
        neighbours = [n async for m in await self._ipr.neigh("dump") if (n := neighbour_event(m))]
        return Snapshot(tuple(links), tuple(neighbours))

    async def next_events(self) -> list[TriggerEvent]:
        """The events of the next datagram (pyroute2's ``get`` yields one
        datagram's messages, and raises a queued socket error such as ENOBUFS)."""
        events: list[TriggerEvent] = []
        received = False
        async for msg in self._ipr.get():
            received = True
            event = event_from_message(msg)
            if event is not None:
                events.append(event)
        if not received:
            raise ConnectionError("netlink event stream ended")
        return events

    def close(self) -> None:
        ipr, self._ipr = self._ipr, None
        if ipr is not None:
            with contextlib.suppress(Exception):  # closing a broken socket may fail too
                ipr.close()


# --- the watcher ------------------------------------------------------------------------


class NeighbourWatcher:
    """Runs ``Triggers`` on live netlink events; calls ``on_action`` for
    each action (in the event loop's thread).

    ``start()`` emits the static peers' negotiations and subscribes in the
    background; ``close()`` stops it and drops pending (debounced) actions.
    Netlink failures are logged and the subscription rebuilt after
    ``resubscribe_delay`` seconds; ``failures`` counts them and
    ``subscribed`` is set while a subscription is live (for status).
    """

    def __init__(
        self,
        peers: Iterable[PeerSelector],
        on_action: Callable[[TriggerAction], None],
        *,
        debounce: DebounceConfig | None = None,
        resubscribe_delay: float = 1.0,
        on_event: Callable[[TriggerEvent], None] | None = None,
        source_factory: Callable[[], EventSource] = PyrouteEventSource,
    ) -> None:
        self._triggers = Triggers(peers, debounce)
        self._on_action = on_action
        self._on_event = on_event
        self._source_factory = source_factory
        self._resubscribe_delay = resubscribe_delay
        self._task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False
        self.failures = 0
        self.subscribed = asyncio.Event()

    @property
    def triggers(self) -> Triggers:
        return self._triggers

    async def start(self) -> None:
        if self._task is not None or self._closed:
            raise RuntimeError("NeighbourWatcher can be started once")
        loop = asyncio.get_running_loop()
        self._emit(self._triggers.start(loop.time()))
        self._task = loop.create_task(self._run(), name="rkmp-netlink-triggers")

    async def close(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.subscribed.clear()

    async def __aenter__(self) -> NeighbourWatcher:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def set_peers(self, peers: Iterable[PeerSelector]) -> None:
        """A configuration reload: new static peers and newly covered
        neighbours are negotiated."""
        self._emit(self._triggers.set_peers(peers, self._now()))
        self._arm_timer()

    # --- internals --------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._closed:
            source = self._source_factory()
            try:
                snapshot = await source.open()
                self._emit(
                    self._triggers.snapshot(snapshot.links, snapshot.neighbours, self._now())
                )
                self._arm_timer()
                self.subscribed.set()
                while True:
                    for event in await source.next_events():
                        self._feed(event)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # never let netlink trouble end the daemon
                self.failures += 1
                log.warning(
                    "netlink triggers: %s: %s; resubscribing in %.1f s",
                    type(exc).__name__,
                    exc,
                    self._resubscribe_delay,
                )
            finally:
                self.subscribed.clear()
                source.close()
            await asyncio.sleep(self._resubscribe_delay)

    def _feed(self, event: TriggerEvent) -> None:
        if self._on_event is not None:
            self._call(self._on_event, event)
        self._emit(self._triggers.handle(event, self._now()))
        self._arm_timer()

    def _on_timer(self) -> None:
        self._timer = None
        self._emit(self._triggers.poll(self._now()))
        self._arm_timer()

    def _arm_timer(self) -> None:
        if self._closed:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = self._triggers.next_deadline()
        if deadline is not None:
            self._timer = asyncio.get_running_loop().call_at(deadline, self._on_timer)

    def _emit(self, actions: Sequence[TriggerAction]) -> None:
        for action in actions:
            log.info("netlink trigger: %s", action_as_dict(action))
            self._call(self._on_action, action)

    @staticmethod
    def _call(callback: Callable[[Any], None], argument: object) -> None:
        try:
            callback(argument)
        except Exception:
            log.exception("netlink trigger callback failed")

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()


# --- command line ---------------------------------------------------------------------


def _parse_peer(text: str) -> PeerSelector:
    name, sep, selector = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=ADDRESS or NAME=PREFIX, got {text!r}")
    try:
        return PeerSelector(name, selector)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _event_as_dict(event: TriggerEvent) -> dict[str, object]:
    if isinstance(event, NeighbourEvent):
        return {
            "event": "neighbour",
            "address": str(event.address),
            "ifindex": event.ifindex,
            "state": event.state.name or str(int(event.state)),
            "deleted": event.deleted,
        }
    return {"event": "link", "ifindex": event.ifindex, "up": event.up, "deleted": event.deleted}


def _print_json(obj: object) -> None:
    print(json.dumps(obj), flush=True)


async def _watch(args: argparse.Namespace) -> None:
    watcher = NeighbourWatcher(
        args.peer,
        lambda action: _print_json(action_as_dict(action)),
        debounce=DebounceConfig(args.settle, max(args.max_delay, args.settle)),
        on_event=(lambda event: _print_json(_event_as_dict(event))) if args.events else None,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with watcher:
        await watcher.subscribed.wait()
        _print_json({"event": "ready"})
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rkmp_frr.daemon.triggers",
        description="Watch netlink neighbours/links and print trigger actions as JSON lines.",
    )
    parser.add_argument("--peer", type=_parse_peer, action="append", required=True)
    parser.add_argument("--settle", type=float, default=1.0, help="debounce quiet time (s)")
    parser.add_argument("--max-delay", type=float, default=10.0, help="debounce cap (s)")
    parser.add_argument("--events", action="store_true", help="also print the raw events")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    asyncio.run(_watch(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
