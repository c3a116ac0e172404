"""One apply per routing daemon for many key table changes.

The key table tells its sinks about every change synchronously, inside
the daemon's event processing (``rkmp_frr.keytable.changes``). A routing
daemon must not be reconfigured once per change: a rekey of 100 peers is
100 changes and should be one vtysh run or one ``birdc configure``.

:class:`BatchingSink` is the key table sink for one routing daemon:

- ``sink(change)`` (the ``Sink`` call) only updates the sink's view of the
  rows and marks it dirty; it never blocks and never raises for a daemon
  problem.
- The apply runs later, on the event loop: ``call_soon`` after the first
  change of a round, so every change made in the same event-processing
  round (one ``Service.pump``) lands in one apply. ``flush()`` asks for the
  apply explicitly, ``await drain()`` waits until the daemon has what the
  table has (or the apply failed).
- One apply runs at a time per daemon; changes arriving meanwhile are
  coalesced into the next one.
- Appliers are idempotent: each apply is given the whole set of rows the
  daemon should have (not the changes), and works out the difference to
  what it applied last.
- Renderings that depend on the time (key chain windows, the MD5 key ospfd
  sends with) tell when they change (``ApplyResult.next_change_at``); the
  sink applies again then. An apply whose outcome is unknown (the daemon
  did not answer, the restore was not confirmed) is retried with backoff,
  and so is one the applier held back because the daemon was not ready
  for it (``ApplyStatus.NOT_READY``: still starting, nothing applied); a
  refused change that was undone waits for the rows to change.

Drift. A sink given a ``checker`` and a ``check_interval`` also compares,
that often, what the daemon runs with what it applied last (FRR keeps
rkmpd's keys in its running configuration only, so an FRR restart loses
them). The check runs in the same task as the applies, so never during
one; when it finds drift (the checker has then marked the drifted parts
as not applied), the sink logs one line and applies again at once, and an
apply that fails after a drift is retried with backoff until the daemon
takes it (a daemon still starting refuses it for a while, or the applier
holds the apply back until it is fully started).

The sink's ``status()`` is what ``rkmpctl status`` shows for the daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from rkmp_frr.keytable.changes import (
    Change,
    LifetimesShifted,
    RowInserted,
    RowRekeyed,
    RowsDeleted,
)
from rkmp_frr.keytable.row import KeyRow
from rkmp_frr.keytable.utc import UtcSeconds

log = logging.getLogger(__name__)

RETRY_FIRST = 2.0  # seconds until a failed apply is tried again
RETRY_MAX = 60.0


class ApplyStatus(Enum):
    APPLIED = "applied"  # the daemon took the change and shows it
    UNCHANGED = "unchanged"  # nothing to do: the daemon already has it
    DRY_RUN = "dry-run"  # rendered and logged, not applied
    FAILED_RESTORED = "failed-restored"  # refused; the previous config is back
    FAILED = "failed"  # refused, and the previous config could not be confirmed
    # The daemon is starting or its configuration is changing (e.g. FRR
    # still loading it after a restart): nothing was applied.
    NOT_READY = "not-ready"

    @property
    def ok(self) -> bool:
        return self in (ApplyStatus.APPLIED, ApplyStatus.UNCHANGED, ApplyStatus.DRY_RUN)


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """One apply to one routing daemon. Carries no key (``change`` is the
    masked rendering)."""

    sink: str  # "frr", "bird"
    status: ApplyStatus
    started_at: float  # wall clock
    duration: float  # seconds
    rows: int  # rows the daemon was to have
    change: str = ""  # what was (or was to be) applied, keys masked
    error: str | None = None  # why it failed (one line)
    restore_error: str | None = None  # why the restore failed, if it did
    refused: tuple[str, ...] = ()  # rows the daemon cannot take (left out)
    notes: tuple[str, ...] = ()  # e.g. "BGP sessions reset: 10.0.0.2"
    kernel_problems: tuple[str, ...] = ()  # TCP-MD5 kernel check findings
    next_change_at: UtcSeconds | None = None

    @property
    def ok(self) -> bool:
        return self.status.ok and not self.refused and not self.kernel_problems

    def describe(self) -> str:
        """One line for the log and ``rkmpctl status``."""
        text = f"{self.sink}: {self.status.value} ({self.rows} row(s), {self.duration:.2f} s)"
        if self.error:
            text += f": {self.error}"
        if self.restore_error:
            text += f"; restore failed: {self.restore_error}"
        if self.refused:
            text += f"; refused: {'; '.join(self.refused)}"
        if self.kernel_problems:
            text += f"; kernel: {'; '.join(self.kernel_problems)}"
        return text


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One comparison of what a routing daemon runs with what the sink
    applied last. No key: ``drift`` is the checker's masked line."""

    sink: str
    checked_at: float  # wall clock
    drift: str | None = None  # what drifted, one line; None: in sync (or unreadable)
    error: str | None = None  # the daemon's configuration could not be read

    @property
    def drifted(self) -> bool:
        return self.drift is not None


Checker = Callable[[], Awaitable[CheckResult | None]]
"""Compares the daemon with the last apply; None: nothing to compare now
(no apply yet, a dry run, the state unknown until the next apply)."""


class Applier(Protocol):
    """Brings one routing daemon to a set of rows."""

    @property
    def name(self) -> str: ...

    async def apply(self, rows: Sequence[KeyRow], now: UtcSeconds) -> ApplyResult: ...


@dataclass(frozen=True, slots=True)
class SinkStatus:
    """A sink's state for ``rkmpctl status`` (no keys)."""

    sink: str
    rows: int
    pending: bool  # changes not applied yet
    applies: int  # applies run so far
    failures: int  # of which failed
    last: ApplyResult | None
    last_error: str | None  # the most recent failure's line, until an apply succeeds
    checks: int = 0  # drift checks run so far
    drifts: int = 0  # of which found drift
    last_drift: CheckResult | None = None  # the latest check that found drift
    check_error: str | None = None  # the latest check could not read the daemon

    @property
    def ok(self) -> bool:
        return self.last_error is None

    def describe(self) -> str:
        state = "nothing applied yet" if self.last is None else self.last.describe()
        if self.last_error and (self.last is None or self.last.ok):
            state += f"; last error: {self.last_error}"
        return f"{state}{' (changes pending)' if self.pending else ''}"


class RowView:
    """The rows of the key table as the change notifications tell them,
    by AdminKeyName (unique in the table)."""

    def __init__(self, rows: Iterable[KeyRow] = ()) -> None:
        self._rows: dict[str, KeyRow] = {row.admin_key_name: row for row in rows}

    def update(self, change: Change) -> None:
        match change:
            case RowInserted(row=row):
                self._rows[row.admin_key_name] = row
            case RowRekeyed(old=old, new=new):
                self._rows[old.admin_key_name] = old
                self._rows[new.admin_key_name] = new
            case RowsDeleted(rows=rows):
                for row in rows:
                    self._rows.pop(row.admin_key_name, None)
            case LifetimesShifted(rows=rows):
                for row in rows:
                    self._rows[row.admin_key_name] = row

    def replace(self, rows: Iterable[KeyRow]) -> None:
        self._rows = {row.admin_key_name: row for row in rows}

    def rows(self) -> tuple[KeyRow, ...]:
        return tuple(self._rows.values())

    def __len__(self) -> int:
        return len(self._rows)


@dataclass
class _Timers:
    change: asyncio.TimerHandle | None = None
    retry: asyncio.TimerHandle | None = None
    check: asyncio.TimerHandle | None = None

    def cancel(self) -> None:
        for handle in (self.change, self.retry, self.check):
            if handle is not None:
                handle.cancel()
        self.change = self.retry = self.check = None


@dataclass
class BatchingSink:
    """The key table sink for one routing daemon (see the module doc).

    ``wall`` is the wall clock (key table lifetimes are wall-clock UTC);
    ``on_result`` hears every apply's result (logging, hooks, status);
    ``checker`` compares the daemon with the last apply every
    ``check_interval`` seconds (0: never)."""

    applier: Applier
    wall: Callable[[], float] = time.time
    on_result: Callable[[ApplyResult], None] | None = None
    retry_first: float = RETRY_FIRST
    retry_max: float = RETRY_MAX
    checker: Checker | None = None
    check_interval: float = 0.0
    _view: RowView = field(default_factory=RowView)
    _dirty: bool = False
    _scheduled: bool = False
    _task: asyncio.Task[None] | None = None
    _timers: _Timers = field(default_factory=_Timers)
    _backoff: float = 0.0
    _applies: int = 0
    _failures: int = 0
    _last: ApplyResult | None = None
    _last_error: str | None = None
    _closed: bool = False
    _check_due: bool = False
    _checking: bool = False
    _repairing: bool = False  # applying again after a drift, until an apply succeeds
    _checks: int = 0
    _drifts: int = 0
    _last_drift: CheckResult | None = None
    _check_error: str | None = None

    @property
    def name(self) -> str:
        return self.applier.name

    # --- the Sink ---------------------------------------------------------------------

    def __call__(self, change: Change) -> None:
        """Take a committed key table change (cheap; applied later)."""
        self._view.update(change)
        self._mark_dirty()

    def load(self, rows: Iterable[KeyRow]) -> None:
        """Start from the key table as it is (at daemon start or reload):
        the daemon is brought to exactly these rows."""
        self._view.replace(rows)
        self._mark_dirty()

    def refresh(self) -> None:
        """Apply the same rows again (what the applier makes of them
        changed, e.g. which rows are its to take)."""
        self._mark_dirty()

    def _mark_dirty(self) -> None:
        self._dirty = True
        if self._closed or self._scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop yet: flush() or drain() picks it up
        self._scheduled = True
        loop.call_soon(self._kick)

    # --- applying ---------------------------------------------------------------------

    def flush(self) -> None:
        """Apply what changed, soon (needs a running event loop). Never
        blocks; several calls before the apply starts make one apply."""
        if self._dirty and not self._closed:
            self._kick()

    def _kick(self) -> None:
        self._scheduled = False
        if self._closed or not (self._dirty or self._check_due):
            return
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"rkmp-sink-{self.name}"
            )

    async def _run(self) -> None:
        while not self._closed:
            if self._dirty:
                await self._apply()
            elif self._check_due:
                await self._check()
            else:
                break

    async def _apply(self) -> None:
        """One apply of the rows as they are now."""
        self._dirty = False
        rows = self._view.rows()
        now = int(self.wall())
        try:
            result = await self.applier.apply(rows, now)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # an applier bug must not kill the sink
            log.exception("%s sink: apply failed unexpectedly", self.name)
            result = ApplyResult(
                sink=self.name,
                status=ApplyStatus.FAILED,
                started_at=float(now),
                duration=0.0,
                rows=len(rows),
                error=f"{type(exc).__name__}: {exc}",
            )
        self._record(result)

    def _record(self, result: ApplyResult) -> None:
        self._applies += 1
        self._last = result
        if result.status is not ApplyStatus.UNCHANGED or not result.ok:
            level = logging.INFO if result.ok else logging.WARNING
            log.log(level, "%s", result.describe())
        if result.ok:
            self._last_error = None
            self._backoff = 0.0
        else:
            self._failures += 1
            self._last_error = result.describe()
        if self.on_result is not None:
            try:
                self.on_result(result)
            except Exception:
                log.exception("%s sink: result listener failed", self.name)
        self._arm_timers(result)

    def _arm_timers(self, result: ApplyResult) -> None:
        loop = asyncio.get_running_loop()
        if result.status.ok:
            self._repairing = False
        if self._timers.check is None:
            self._arm_check()
        if self._timers.change is not None:
            self._timers.change.cancel()
            self._timers.change = None
        if result.next_change_at is not None:
            delay = max(0.0, result.next_change_at - self.wall())
            self._timers.change = loop.call_later(delay, self._mark_dirty)
        # A refused change that was undone fails the same way until the rows
        # change; only an apply whose outcome is unknown is tried again.
        # After a drift the daemon may refuse until it is fully up again:
        # tried again too, or the drifted keys would stay out until a rekey.
        # Not ready: nothing was applied, so the same rows are tried again.
        failed = result.status in (ApplyStatus.FAILED, ApplyStatus.NOT_READY) or (
            self._repairing and not result.status.ok
        )
        if failed and self._timers.retry is None:
            self._backoff = min(self.retry_max, max(self.retry_first, self._backoff * 2))
            self._timers.retry = loop.call_later(self._backoff, self._retry)

    def _retry(self) -> None:
        self._timers.retry = None
        self._mark_dirty()

    # --- drift checks -----------------------------------------------------------------

    def _arm_check(self) -> None:
        if self.checker is None or self.check_interval <= 0 or self._closed:
            return
        loop = asyncio.get_running_loop()
        self._timers.check = loop.call_later(self.check_interval, self._check_timer)

    def _check_timer(self) -> None:
        self._timers.check = None
        self._check_due = True
        if self._task is None or self._task.done():
            self._kick()  # else the running task does it after its apply

    async def _check(self) -> None:
        """Compare the daemon with the last apply; on drift, apply again."""
        self._check_due = False
        assert self.checker is not None
        self._checking = True
        try:
            result = await self.checker()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a checker bug must not kill the sink
            log.exception("%s sink: drift check failed unexpectedly", self.name)
            result = CheckResult(self.name, self.wall(), error=f"{type(exc).__name__}: {exc}")
        finally:
            self._checking = False
        if result is not None:
            self._record_check(result)
        self._arm_check()

    def _record_check(self, result: CheckResult) -> None:
        self._checks += 1
        if result.error is not None:
            if result.error != self._check_error:  # once, not every interval
                log.warning("%s sink: drift check: %s", self.name, result.error)
            self._check_error = result.error
            return
        self._check_error = None
        if result.drift is None:
            return
        self._drifts += 1
        self._last_drift = result
        self._repairing = True
        log.warning(
            "%s sink: the daemon no longer runs what rkmpd applied (%s); applying again",
            self.name,
            result.drift,
        )
        self._dirty = True  # the loop in _run applies next

    async def drain(self) -> ApplyResult | None:
        """Apply what is pending and wait until the daemon is up to date
        (or the apply failed); the last result."""
        while not self._closed:
            if self._dirty and (self._task is None or self._task.done()):
                self._kick()
            task = self._task
            if task is None or task.done():
                if not self._dirty:
                    break
                continue
            await asyncio.shield(task)
            if not self._dirty:
                break
        return self._last

    async def close(self) -> None:
        """Stop applying (an apply under way finishes first)."""
        self._closed = True
        self._timers.cancel()
        task = self._task
        if task is not None and not task.done():
            with contextlib.suppress(Exception):
                await task

    # --- status -------------------------------------------------------------------------

    def status(self) -> SinkStatus:
        return SinkStatus(
            sink=self.name,
            rows=len(self._view),
            pending=self._dirty
            or (self._task is not None and not self._task.done() and not self._checking),
            applies=self._applies,
            failures=self._failures,
            last=self._last,
            last_error=self._last_error,
            checks=self._checks,
            drifts=self._drifts,
            last_drift=self._last_drift,
            check_error=self._check_error,
        )
