"""NeighbourWatcher's loop with a scripted event source, and the translation
of pyroute2's decoded rtnetlink messages (real encodings, no sockets)."""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import socket
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from pyroute2.netlink.rtnl import RTM_DELLINK, RTM_DELNEIGH, RTM_NEWLINK, RTM_NEWNEIGH
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
from pyroute2.netlink.rtnl.marshal import MarshalRtnl
from pyroute2.netlink.rtnl.ndmsg import ndmsg

from rkmp_frr.daemon.debounce import DebounceConfig
from rkmp_frr.daemon.triggers import (
    CheckLiveness,
    EventSource,
    LinkEvent,
    Negotiate,
    NeighbourEvent,
    NeighbourWatcher,
    NudState,
    PeerSelector,
    Snapshot,
    TriggerAction,
    TriggerEvent,
    TriggerReason,
    event_from_message,
)

A2 = ipaddress.ip_address("10.250.0.2")
A3 = ipaddress.ip_address("10.250.0.3")
PEERS = (PeerSelector("lan", "10.250.0.0/24"), PeerSelector("r9", "10.250.0.9"))
HARNESS_TIMEOUT = 5.0  # a deadline for a broken test, not a timing assertion


# --- pyroute2 messages -> events ----------------------------------------------------------


def _decode(msg: Any) -> Any:
    """Encode a pyroute2 message and decode it as the socket would deliver it."""
    msg.encode()
    (decoded,) = MarshalRtnl().parse(msg.data)
    return decoded


def _neighbour_message(
    msg_type: int,
    family: int,
    dst: str | None,
    state: int,
    flags: int = 0,
    lladdr: str | None = "02:00:00:00:00:01",
) -> Any:
    msg = ndmsg()
    msg["family"] = family
    msg["ifindex"] = 4
    msg["state"] = state
    msg["flags"] = flags
    attrs = (("NDA_DST", dst), ("NDA_LLADDR", lladdr))
    msg["attrs"] = [(name, value) for name, value in attrs if value is not None]
    msg["header"]["type"] = msg_type
    return _decode(msg)


def _link_message(msg_type: int, flags: int, family: int = socket.AF_UNSPEC) -> Any:
    msg = ifinfmsg()
    msg["family"] = family
    msg["index"] = 4
    msg["flags"] = flags
    msg["change"] = 0
    msg["attrs"] = [("IFLA_IFNAME", "veth0")]
    msg["header"]["type"] = msg_type
    return _decode(msg)


def test_neighbour_messages_translate() -> None:
    new = _neighbour_message(RTM_NEWNEIGH, socket.AF_INET, "10.250.0.2", 0x02)
    assert event_from_message(new) == NeighbourEvent(
        A2, 4, NudState.REACHABLE, "02:00:00:00:00:01", deleted=False
    )
    gone = _neighbour_message(RTM_DELNEIGH, socket.AF_INET6, "fd00::2", 0x20, lladdr=None)
    assert event_from_message(gone) == NeighbourEvent(
        ipaddress.ip_address("fd00::2"), 4, NudState.FAILED, None, deleted=True
    )


def test_non_neighbour_rows_are_ignored() -> None:
    proxy = _neighbour_message(RTM_NEWNEIGH, socket.AF_INET, "10.250.0.2", 0x80, flags=0x08)
    assert event_from_message(proxy) is None
    fdb = _neighbour_message(RTM_NEWNEIGH, socket.AF_BRIDGE, None, 0x80)
    assert event_from_message(fdb) is None
    no_dst = _neighbour_message(RTM_NEWNEIGH, socket.AF_INET, None, 0x02)
    assert event_from_message(no_dst) is None


@pytest.mark.parametrize(
    ("msg_type", "flags", "expected"),
    [
        (RTM_NEWLINK, 0x1043, LinkEvent(4, up=True)),  # UP|BROADCAST|RUNNING|MULTICAST
        (RTM_NEWLINK, 0x1003, LinkEvent(4, up=False)),  # up, no carrier
        (RTM_NEWLINK, 0x1002, LinkEvent(4, up=False)),  # administratively down
        (RTM_DELLINK, 0x1043, LinkEvent(4, up=True, deleted=True)),
    ],
)
def test_link_messages_translate(msg_type: int, flags: int, expected: LinkEvent) -> None:
    assert event_from_message(_link_message(msg_type, flags)) == expected


def test_bridge_port_link_messages_are_ignored() -> None:
    assert event_from_message(_link_message(RTM_DELLINK, 0x1043, socket.AF_BRIDGE)) is None


# --- the watcher loop ---------------------------------------------------------------------


class ScriptedSource:
    """One subscription: a snapshot, then batches (or exceptions) from a queue."""

    def __init__(self, snapshot: Snapshot | BaseException) -> None:
        self.snapshot = snapshot
        self.queue: asyncio.Queue[list[TriggerEvent] | BaseException] = asyncio.Queue()
        self.closed = False

    async def open(self) -> Snapshot:
        if isinstance(self.snapshot, BaseException):
            raise self.snapshot
        return self.snapshot

    async def next_events(self) -> list[TriggerEvent]:
        item = await self.queue.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        self.closed = True


class Harness:
    """A watcher whose sources come from a list; actions collected."""

    def __init__(self, sources: list[ScriptedSource]) -> None:
        self.sources = sources
        self.opened: list[ScriptedSource] = []
        self.actions: list[TriggerAction] = []
        self.changed = asyncio.Event()
        self.watcher = NeighbourWatcher(
            PEERS,
            self._record,
            debounce=DebounceConfig(settle=0.0, max_delay=0.0),
            resubscribe_delay=0.0,
            source_factory=self._factory,
        )

    def _factory(self) -> EventSource:
        source = self.sources.pop(0) if self.sources else ScriptedSource(Snapshot((), ()))
        self.opened.append(source)
        self.changed.set()
        return source

    def _record(self, action: TriggerAction) -> None:
        self.actions.append(action)
        self.changed.set()

    async def until(self, what: str, predicate: Callable[[], bool]) -> None:
        async def wait() -> None:
            while not predicate():
                self.changed.clear()
                await self.changed.wait()

        try:
            await asyncio.wait_for(wait(), HARNESS_TIMEOUT)
        except TimeoutError:
            pytest.fail(f"harness deadline: {what}; actions so far {self.actions}")


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario())


def _up(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> NeighbourEvent:
    return NeighbourEvent(address, 2, NudState.REACHABLE, "02:00:00:00:00:01")


def test_watcher_emits_static_snapshot_and_event_actions() -> None:
    async def scenario() -> None:
        source = ScriptedSource(Snapshot((LinkEvent(2, up=True),), (_up(A2),)))
        harness = Harness([source])
        await harness.watcher.start()
        assert harness.actions == [Negotiate("r9", "10.250.0.9", TriggerReason.STATIC_PEER)]
        await harness.until("snapshot negotiation", lambda: len(harness.actions) == 2)
        assert harness.actions[1] == Negotiate("lan", str(A2), TriggerReason.NEIGHBOUR_UP)
        assert harness.watcher.subscribed.is_set()

        source.queue.put_nowait([_up(A3)])
        await harness.until("event negotiation", lambda: len(harness.actions) == 3)
        source.queue.put_nowait([LinkEvent(2, up=False)])
        await harness.until("link-down checks", lambda: len(harness.actions) == 5)
        assert set(harness.actions[3:]) == {
            CheckLiveness("lan", str(A2), TriggerReason.LINK_DOWN),
            CheckLiveness("lan", str(A3), TriggerReason.LINK_DOWN),
        }
        await harness.watcher.close()
        assert source.closed
        assert not harness.watcher.subscribed.is_set()

    run(scenario)


def test_watcher_resubscribes_after_netlink_errors_and_reconciles() -> None:
    async def scenario() -> None:
        first = ScriptedSource(Snapshot((LinkEvent(2, up=True),), (_up(A2),)))
        refused = ScriptedSource(PermissionError(errno.EPERM, "Operation not permitted"))
        # A3 appeared and A2 vanished while events were lost.
        third = ScriptedSource(Snapshot((LinkEvent(2, up=True),), (_up(A3),)))
        harness = Harness([first, refused, third])
        await harness.watcher.start()
        await harness.until("first snapshot", lambda: len(harness.actions) == 2)

        first.queue.put_nowait(OSError(errno.ENOBUFS, "No buffer space available"))
        await harness.until("third subscription", lambda: len(harness.actions) == 3)
        assert harness.actions[2] == Negotiate("lan", str(A3), TriggerReason.NEIGHBOUR_UP)
        assert harness.watcher.failures == 2
        assert first.closed and refused.closed and not third.closed
        # A2 was reconciled as gone: its return is a new neighbour.
        third.queue.put_nowait([_up(A2)])
        await harness.until("A2 again", lambda: len(harness.actions) == 4)
        assert harness.actions[3] == Negotiate("lan", str(A2), TriggerReason.NEIGHBOUR_UP)
        await harness.watcher.close()
        assert third.closed

    run(scenario)


def test_watcher_survives_a_failing_callback() -> None:
    async def scenario() -> None:
        source = ScriptedSource(Snapshot((), ()))
        seen: list[TriggerAction] = []
        done = asyncio.Event()

        def on_action(action: TriggerAction) -> None:
            seen.append(action)
            if len(seen) == 3:
                done.set()
            raise RuntimeError("daemon bug")

        watcher = NeighbourWatcher(
            PEERS,
            on_action,
            debounce=DebounceConfig(settle=0.0, max_delay=0.0),
            source_factory=lambda: source,
        )
        async with watcher:
            source.queue.put_nowait([_up(A2)])
            source.queue.put_nowait([_up(A3)])
            await asyncio.wait_for(done.wait(), HARNESS_TIMEOUT)
        assert [a.address for a in seen] == ["10.250.0.9", str(A2), str(A3)]
        assert watcher.failures == 0

    run(scenario)


def test_close_drops_pending_actions_and_stops_the_loop() -> None:
    async def scenario() -> None:
        source = ScriptedSource(Snapshot((), ()))
        actions: list[TriggerAction] = []
        watcher = NeighbourWatcher(
            PEERS,
            actions.append,
            debounce=DebounceConfig(settle=3600.0, max_delay=3600.0),
            source_factory=lambda: source,
        )
        await watcher.start()
        await asyncio.wait_for(watcher.subscribed.wait(), HARNESS_TIMEOUT)
        source.queue.put_nowait([_up(A2)])

        async def until_pending() -> None:
            while watcher.triggers.pending() == 0:
                await asyncio.sleep(0)

        await asyncio.wait_for(until_pending(), HARNESS_TIMEOUT)
        await watcher.close()
        assert source.closed
        assert [a.reason for a in actions] == [TriggerReason.STATIC_PEER]
        with pytest.raises(RuntimeError):
            await watcher.start()

    run(scenario)
