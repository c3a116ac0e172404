"""A small UDP edge that runs the sans-I/O `Engine` against real peers.

Until the daemon exists this is how integration tests put the engine on a
network: one UDP socket inside a test namespace and one thread running the
engine's loop on the real clock:

    select(socket, wake pipe; timeout = engine.get_timer() - now)
    -> receive_datagram(data, (host, port), now) / handle_timer(now)
    -> send datagrams_to_send(), collect next_event()s

The socket is made in a short-lived helper thread that first moves itself
into the namespace with setns(2) (network namespaces are per thread); the
socket stays in that namespace whichever thread uses it afterwards, so
everything else runs in the test process and tests read real event
objects. The engine is not thread-safe: the loop and `call` share a lock,
and `call` wakes the loop so new output and deadlines are seen at once.

`now` is POSIX time (the engine checks certificates against it) advanced
by the monotonic clock, so it never steps backwards.

Port 500 needs no non-ESP marker; on any other port every datagram
carries the 4-octet zero marker (RFC 7296 §2.23), as strongSwan expects.

Key material stays in memory: `keys_for` hands the test the RkmpKeys of an
SA (snapshotted when it is established) to compare with charon's log. The
text log (`log_path`) has datagram headers and event reprs only; events
keep keys out of their reprs.
"""

from __future__ import annotations

import contextlib
import ctypes
import enum
import os
import select
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO, TypeVar

from integration.harness.netns import NETNS_RUN_DIR, NetNs
from integration.harness.process import HarnessError, wait_until
from rkmp_frr.crypto import RkmpKeys
from rkmp_frr.engine import Engine, Event, RkmpSaEstablished, RkmpSaRef
from rkmp_frr.engine.types import Address
from rkmp_frr.wire import MalformedMessage, decode_header
from rkmp_frr.wire.constants import ExchangeType

T = TypeVar("T")
E = TypeVar("E")

IKE_PORT = 500
NON_ESP_MARKER = b"\x00\x00\x00\x00"  # RFC 7296 §2.23
MAX_DATAGRAM = 65535
CLONE_NEWNET = 0x40000000  # <sched.h>
STOP_TIMEOUT = 5.0
DEFAULT_WAIT = 15.0


class EndpointError(HarnessError):
    """The endpoint's loop died (an exception out of the engine)."""


class Direction(enum.Enum):
    IN = "in"
    OUT = "out"


@dataclass(frozen=True, slots=True)
class WireRecord:
    """One IKE message the endpoint received or sent (header fields only,
    plus the raw message for the cleartext checks a test may make)."""

    direction: Direction
    peer: Address
    exchange: int
    is_response: bool
    from_initiator: bool
    message_id: int
    spi_i: bytes
    spi_r: bytes
    at: float
    data: bytes = field(repr=False)

    def describe(self) -> str:
        try:
            name = ExchangeType(self.exchange).name
        except ValueError:
            name = str(self.exchange)
        kind = "response" if self.is_response else "request"
        arrow = "<-" if self.direction is Direction.IN else "->"
        return (
            f"{arrow} {self.peer[0]}:{self.peer[1]} {name} {kind} mid={self.message_id} "
            f"{self.spi_i.hex()}_i {self.spi_r.hex()}_r ({len(self.data)} octets)"
        )


@dataclass(frozen=True, slots=True)
class SaKeys:
    """An established SA's negotiated suite and keys, as the engine holds them."""

    ref: RkmpSaRef
    initiator: bool
    keys: RkmpKeys = field(repr=False)


class _Clock:
    """POSIX time that advances with the monotonic clock."""

    def __init__(self) -> None:
        self._wall = time.time()
        self._mono = time.monotonic()

    def now(self) -> float:
        return self._wall + (time.monotonic() - self._mono)


# --- a socket inside a namespace ----------------------------------------------------------


def _setns_net(ns: NetNs) -> None:
    """Move the calling thread into `ns` (setns(2); Python 3.11 has no os.setns)."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(NETNS_RUN_DIR / ns.name, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"setns({ns.name}): {os.strerror(errno)}")
    finally:
        os.close(fd)


def bound_udp_socket(ns: NetNs, host: str, port: int) -> socket.socket:
    """A UDP socket made in namespace `ns` and bound to (host, port).

    The work happens in a throw-away thread, so the caller's thread (and the
    rest of the test process) never changes namespace.
    """
    result: list[socket.socket | BaseException] = []

    def make() -> None:
        try:
            _setns_net(ns)
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_DGRAM)
            try:
                sock.bind((host, port))
            except BaseException:
                sock.close()
                raise
            result.append(sock)
        except BaseException as exc:  # handed to the caller below
            result.append(exc)

    helper = threading.Thread(target=make, name=f"setns-{ns.name}", daemon=True)
    helper.start()
    helper.join()
    outcome = result[0]
    if isinstance(outcome, BaseException):
        raise HarnessError(f"cannot bind UDP {host}:{port} in {ns.name}: {outcome}") from outcome
    return outcome


# --- the endpoint ----------------------------------------------------------------------------


class EngineEndpoint:
    """An Engine on a UDP socket in a namespace, run by a background thread.

    Use as a context manager (or `start`/`stop`). Tests drive the engine
    with `call(lambda engine, now: engine.initiate(peer, now))` and read
    `events()` / `wait_event(...)` and `wire()`.
    """

    def __init__(
        self,
        engine: Engine,
        ns: NetNs,
        host: str,
        *,
        port: int = IKE_PORT,
        log_path: Path | None = None,
    ) -> None:
        self.engine = engine
        self.ns = ns
        self.host = host
        self.port = port
        self.log_path = log_path
        self._clock = _Clock()
        self._lock = threading.Lock()
        self._events: list[Event] = []
        self._wire: list[WireRecord] = []
        self._keys: dict[tuple[bytes, bytes], SaKeys] = {}
        self._error: str | None = None
        self._stopping = False
        self._sock: socket.socket | None = None
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._thread: threading.Thread | None = None
        self._log: TextIO | None = None

    # --- life cycle --------------------------------------------------------------------------

    def start(self) -> EngineEndpoint:
        self._sock = bound_udp_socket(self.ns, self.host, self.port)
        self._sock.setblocking(False)
        if self.log_path is not None:
            self._log = self.log_path.open("a", buffering=1)
        self._thread = threading.Thread(
            target=self._run, name=f"engine-{self.ns.name}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping = True
        self._wake()
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT)
            if self._thread.is_alive():
                raise HarnessError("engine endpoint thread did not stop")
            self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._wake_r = self._wake_w = -1
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> EngineEndpoint:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- driving the engine ------------------------------------------------------------------

    def now(self) -> float:
        return self._clock.now()

    def call(self, action: Callable[[Engine, float], T]) -> T:
        """Run `action(engine, now)` under the loop's lock, then let the loop
        send what it produced and pick up the new deadline."""
        self._check()
        with self._lock:
            result = action(self.engine, self._clock.now())
            self._drain_locked()
        self._wake()
        return result

    # --- what happened ----------------------------------------------------------------------

    def events(self) -> list[Event]:
        with self._lock:
            return list(self._events)

    def events_of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events() if isinstance(e, kind)]

    def wire(self) -> list[WireRecord]:
        with self._lock:
            return list(self._wire)

    def wait_event(
        self,
        kind: type[E],
        where: Callable[[E], bool] | None = None,
        *,
        timeout: float = DEFAULT_WAIT,
        diagnostics: Callable[[], str] | None = None,
    ) -> E:
        """The first event of type `kind` (matching `where`) seen so far or
        within `timeout`; events stay in the log (waiting does not consume)."""

        def found() -> E | None:
            self._check()
            return next((e for e in self.events_of(kind) if where is None or where(e)), None)

        def explain() -> str:
            lines = [self.describe()]
            if diagnostics is not None:
                lines.append(diagnostics())
            return "\n".join(lines)

        return wait_until(found, timeout=timeout, what=f"engine event {kind.__name__}",
                          diagnostics=explain)  # fmt: skip

    def wait_wire(
        self, where: Callable[[WireRecord], bool], *, count: int = 1, timeout: float = DEFAULT_WAIT,
        what: str = "datagram",
    ) -> list[WireRecord]:  # fmt: skip
        """Wire records matching `where`, once there are at least `count`."""

        def found() -> list[WireRecord] | None:
            self._check()
            hits = [r for r in self.wire() if where(r)]
            return hits if len(hits) >= count else None

        return wait_until(found, timeout=timeout, what=what, diagnostics=self.describe)

    def keys_for(self, ref: RkmpSaRef) -> SaKeys:
        """The keys of the SA `ref` names, as the engine derived them."""
        with self._lock:
            found = self._keys.get((ref.spi_i, ref.spi_r))
        if found is None:
            raise HarnessError(f"no keys recorded for SA {ref.spi_i.hex()}_i {ref.spi_r.hex()}_r")
        return found

    def describe(self) -> str:
        """Wire log and events, for failure messages (no key material)."""
        with self._lock:
            wire = [r.describe() for r in self._wire]
            events = [repr(e) for e in self._events]
            error = self._error
        parts = ["--- engine endpoint wire log:", *wire, "--- engine events:", *events]
        if error:
            parts += ["--- engine endpoint loop error:", error]
        return "\n".join(parts)

    # --- the loop -------------------------------------------------------------------------------

    def _check(self) -> None:
        if self._error is not None:
            raise EndpointError(f"engine endpoint loop failed:\n{self._error}")

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_w, b"x")

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException:
            self._error = traceback.format_exc()
            self._note(f"loop failed:\n{self._error}")

    def _loop(self) -> None:
        sock = self._sock
        assert sock is not None
        while not self._stopping:
            with self._lock:
                deadline = self.engine.get_timer()
            timeout = None if deadline is None else max(0.0, deadline - self._clock.now())
            readable, _, _ = select.select([sock.fileno(), self._wake_r], [], [], timeout)
            if self._wake_r in readable:
                with contextlib.suppress(BlockingIOError):
                    os.read(self._wake_r, 4096)
            with self._lock:
                if sock.fileno() in readable:
                    self._receive_locked(sock)
                now = self._clock.now()
                deadline = self.engine.get_timer()
                if deadline is not None and deadline <= now:
                    self.engine.handle_timer(now)
                self._drain_locked()

    def _receive_locked(self, sock: socket.socket) -> None:
        while True:
            try:
                data, addr = sock.recvfrom(MAX_DATAGRAM)
            except BlockingIOError:
                return
            if self.port != IKE_PORT:
                if not data.startswith(NON_ESP_MARKER):
                    continue  # ESP or a keepalive: not ours
                data = data[len(NON_ESP_MARKER) :]
            peer: Address = (str(addr[0]), int(addr[1]))
            now = self._clock.now()
            self._record(Direction.IN, peer, data, now)
            self.engine.receive_datagram(data, peer, now)

    def _drain_locked(self) -> None:
        """Send queued datagrams and collect events (caller holds the lock)."""
        sock = self._sock
        assert sock is not None
        now = self._clock.now()
        for data, peer in self.engine.datagrams_to_send(now):
            self._record(Direction.OUT, peer, data, now)
            wire = data if self.port == IKE_PORT else NON_ESP_MARKER + data
            try:
                sock.sendto(wire, peer)
            except OSError as exc:  # e.g. no route yet: the engine retransmits
                self._note(f"sendto {peer}: {exc}")
        while (event := self.engine.next_event()) is not None:
            self._events.append(event)
            self._note(f"event {event!r}")
            if isinstance(event, RkmpSaEstablished):
                self._snapshot_keys(event)

    def _snapshot_keys(self, event: RkmpSaEstablished) -> None:
        ref = event.sa
        for sa in self.engine.sas_of(ref.peer):
            if sa.spi_i == ref.spi_i and sa.spi_r == ref.spi_r and sa.keys is not None:
                self._keys[(ref.spi_i, ref.spi_r)] = SaKeys(ref, sa.initiator, sa.keys)

    def _record(self, direction: Direction, peer: Address, data: bytes, now: float) -> None:
        try:
            header = decode_header(data)
        except MalformedMessage:
            self._note(f"{direction.value} {peer}: undecodable ({len(data)} octets)")
            return
        record = WireRecord(
            direction=direction,
            peer=peer,
            exchange=header.exchange_type,
            is_response=header.is_response,
            from_initiator=header.is_initiator,
            message_id=header.message_id,
            spi_i=header.spi_i,
            spi_r=header.spi_r,
            at=now,
            data=data,
        )
        self._wire.append(record)
        self._note(record.describe())

    def _note(self, line: str) -> None:
        if self._log is not None:
            self._log.write(f"{self._clock.now():.6f} {line}\n")


@contextlib.contextmanager
def engine_endpoint(
    engine: Engine, ns: NetNs, host: str, *, port: int = IKE_PORT, log_path: Path | None = None
) -> Iterator[EngineEndpoint]:
    """A started endpoint, stopped (socket, thread, pipe) on exit."""
    endpoint = EngineEndpoint(engine, ns, host, port=port, log_path=log_path)
    try:
        yield endpoint.start()
    finally:
        endpoint.stop()
