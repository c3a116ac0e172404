"""In-memory test bed for engines: a virtual clock and a network that can
lose, duplicate, delay and reorder datagrams.

A discrete-event simulation: every datagram is delivered at
``send time + latency (+ extra delay)``; engine timers fire at their
deadlines; ``run*`` advances the virtual clock from one event to the next.
Nothing sleeps and nothing reads a real clock.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from rkmp_frr.engine import Engine
from rkmp_frr.engine.events import Event
from rkmp_frr.engine.types import Address
from rkmp_frr.wire import Header, MalformedMessage, decode_header
from rkmp_frr.wire.constants import ExchangeType

START_TIME = 1_700_000_000.0  # a POSIX time, so certificate checks see a real date


@dataclass(frozen=True, slots=True)
class Packet:
    """One datagram on the simulated wire. ``index`` counts every datagram
    sent, from 0, in sending order."""

    index: int
    src: Address
    dst: Address
    data: bytes
    sent_at: float

    @property
    def header(self) -> Header | None:
        try:
            return decode_header(self.data)
        except MalformedMessage:
            return None

    @property
    def exchange(self) -> int | None:
        header = self.header
        return header.exchange_type if header else None

    @property
    def is_response(self) -> bool:
        header = self.header
        return bool(header and header.is_response)

    def describe(self) -> str:
        header = self.header
        if header is None:
            return f"#{self.index} {self.src}->{self.dst} (undecodable)"
        try:
            name = ExchangeType(header.exchange_type).name
        except ValueError:
            name = str(header.exchange_type)
        kind = "response" if header.is_response else "request"
        return f"#{self.index} {self.src[0]}->{self.dst[0]} {name} {kind} mid={header.message_id}"


PacketFilter = Callable[[Packet], bool]


@dataclass(eq=False)
class Node:
    name: str
    address: Address
    engine: Engine
    events: list[Event] = field(default_factory=list)

    def of_type(self, kind: type) -> list:  # type: ignore[type-arg]
        return [event for event in self.events if isinstance(event, kind)]


class Network:
    """Engines attached by address, a clock, and fault injection hooks.

    - ``drop``: a predicate; matching packets are lost.
    - ``duplicate``: matching packets are delivered twice (the copy
      ``duplicate_delay`` later).
    - ``delay``: extra delay per packet (reordering: delay one packet past
      the ones sent after it).
    """

    def __init__(self, latency: float = 0.005, start: float = START_TIME) -> None:
        self.now = start
        self.latency = latency
        self.nodes: dict[Address, Node] = {}
        self.sent: list[Packet] = []
        self.delivered: list[Packet] = []
        self.dropped: list[Packet] = []
        self.drop: PacketFilter | None = None
        self.duplicate: PacketFilter | None = None
        self.duplicate_delay = 0.5
        self.delay: Callable[[Packet], float] | None = None
        self._queue: list[tuple[float, int, Packet]] = []
        self._seq = itertools.count()

    # --- set-up ---------------------------------------------------------------

    def add(self, name: str, engine: Engine, address: Address) -> Node:
        node = Node(name, address, engine)
        self.nodes[address] = node
        return node

    def drop_indices(self, *indices: int) -> None:
        """Lose the datagrams with these send indices."""
        wanted = set(indices)
        self.drop = lambda packet: packet.index in wanted

    # --- running --------------------------------------------------------------

    def flush(self) -> None:
        """Collect what every engine wants to send and its events."""
        for node in self.nodes.values():
            for data, dst in node.engine.datagrams_to_send(self.now):
                packet = Packet(len(self.sent), node.address, dst, data, self.now)
                self.sent.append(packet)
                if self.drop is not None and self.drop(packet):
                    self.dropped.append(packet)
                    continue
                extra = self.delay(packet) if self.delay is not None else 0.0
                self._enqueue(self.now + self.latency + extra, packet)
                if self.duplicate is not None and self.duplicate(packet):
                    self._enqueue(self.now + self.latency + extra + self.duplicate_delay, packet)
            while (event := node.engine.next_event()) is not None:
                node.events.append(event)

    def _enqueue(self, when: float, packet: Packet) -> None:
        heapq.heappush(self._queue, (when, next(self._seq), packet))

    def _next_time(self) -> float | None:
        times = [self._queue[0][0]] if self._queue else []
        for node in self.nodes.values():
            timer = node.engine.get_timer()
            if timer is not None:
                times.append(timer)
        return min(times) if times else None

    def step(self, limit: float) -> bool:
        """Process everything due at the next event time, if it is not after
        ``limit``. False when there is nothing to do until then."""
        self.flush()
        when = self._next_time()
        if when is None or when > limit:
            return False
        self.now = max(self.now, when)
        while self._queue and self._queue[0][0] <= self.now:
            _, _, packet = heapq.heappop(self._queue)
            node = self.nodes.get(packet.dst)
            if node is None:
                continue  # nobody there: a silent peer
            self.delivered.append(packet)
            node.engine.receive_datagram(packet.data, packet.src, self.now)
            self.flush()
        for node in self.nodes.values():
            timer = node.engine.get_timer()
            if timer is not None and timer <= self.now:
                node.engine.handle_timer(self.now)
        self.flush()
        return True

    def run(self, duration: float, max_steps: int = 100_000) -> None:
        """Run for ``duration`` virtual seconds."""
        limit = self.now + duration
        for _ in range(max_steps):
            if not self.step(limit):
                break
        else:
            raise AssertionError("simulation did not settle (engine loop?)")
        self.now = max(self.now, limit)

    def run_until(
        self, condition: Callable[[], bool], timeout: float = 600.0, max_steps: int = 100_000
    ) -> None:
        """Run until ``condition()`` holds; AssertionError after ``timeout``
        virtual seconds."""
        limit = self.now + timeout
        for _ in range(max_steps):
            self.flush()
            if condition():
                return
            if not self.step(limit):
                break
        self.flush()
        if not condition():
            raise AssertionError(f"condition not reached within {timeout} s (now {self.now})")

    def idle(self) -> bool:
        """No datagram in flight and no engine with an exchange of its own
        in flight or queued."""
        return not self._queue and all(node.engine.idle() for node in self.nodes.values())

    def settle(self, timeout: float = 600.0) -> None:
        """Run until the network is idle (long-term timers such as rekeys
        and liveness checks stay pending)."""
        self.run_until(self.idle, timeout)


# --- ready-made set-ups --------------------------------------------------------------

import random  # noqa: E402

from rkmp_frr.engine import ChildPolicy, LocalConfig, PeerPolicy, PskCredential  # noqa: E402
from rkmp_frr.wire.constants import IntegId, ProtocolId, RkmpOptionId  # noqa: E402

ADDR_A: Address = ("192.0.2.1", 500)
ADDR_B: Address = ("192.0.2.2", 500)
PSK = PskCredential(b"correct horse battery staple")

TCP_AO = ChildPolicy(
    ProtocolId.TCP_AO,
    integ=(IntegId.HMAC_SHA1_96, IntegId.AES_CMAC_96),
    options=(RkmpOptionId.TCP_AO_INCLUDE_OPTIONS,),
)
OSPFV2 = ChildPolicy(ProtocolId.OSPFV2, integ=(IntegId.RKMP_HMAC_SHA2_256,))
BFD = ChildPolicy(ProtocolId.BFD, integ=(IntegId.RKMP_KEYED_MD5,))


def peer_policy(address: Address, **overrides: object) -> PeerPolicy:
    fields: dict[str, object] = {
        "name": f"peer-{address[0]}",
        "address": address[0],
        "children": (TCP_AO,),
    }
    fields.update(overrides)
    return PeerPolicy(**fields)  # type: ignore[arg-type]


def make_engine(
    identity: str,
    peer: PeerPolicy,
    seed: int,
    credential: object = PSK,
    **config: object,
) -> Engine:
    local = LocalConfig(identity=identity, credential=credential, peers=(peer,), **config)  # type: ignore[arg-type]
    return Engine(local, rng=random.Random(seed))


def pair(
    seed: int = 1,
    a_policy: Mapping[str, object] | None = None,
    b_policy: Mapping[str, object] | None = None,
    a_config: Mapping[str, object] | None = None,
    b_config: Mapping[str, object] | None = None,
    latency: float = 0.005,
) -> tuple[Network, Node, Node]:
    """Two engines, A (192.0.2.1) and B (192.0.2.2), with PSK and a TCP-AO
    child policy unless overridden."""
    net = Network(latency=latency)
    engine_a = make_engine(
        ADDR_A[0], peer_policy(ADDR_B, **(a_policy or {})), seed, **(a_config or {})
    )
    engine_b = make_engine(
        ADDR_B[0], peer_policy(ADDR_A, **(b_policy or {})), seed + 1000, **(b_config or {})
    )
    return net, net.add("A", engine_a, ADDR_A), net.add("B", engine_b, ADDR_B)
