"""The batching sink's drift checks: run every ``check_interval`` between
applies (never during one), a drift applies again at once, a failed
repair is tried again, and the status counts it all. Waits are on events,
not on the clock (the interval is tiny so the loop reaches them soon)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from rkmp_frr.keytable.changes import RowInserted
from rkmp_frr.keytable.row import KeyRow
from rkmp_frr.keytable.utc import UtcSeconds
from rkmp_frr.sinks.batching import ApplyResult, ApplyStatus, BatchingSink, CheckResult
from rkmp_frr.wire.constants import ProtocolId

from .sink_rows import T0, make_row, since
from .test_batching import RecordingApplier

TINY = 0.001  # seconds: the loop runs the checks back to back


@dataclass
class TrackingApplier(RecordingApplier):
    """Knows whether an apply is under way."""

    active: bool = False

    async def apply(self, rows: Sequence[KeyRow], now: UtcSeconds) -> ApplyResult:
        self.active = True
        try:
            return await super().apply(rows, now)
        finally:
            self.active = False


class ScriptedChecker:
    """Answers each check from ``answers`` (then "in sync"); notes whether
    an apply was running; sets ``done`` after ``wanted`` checks."""

    def __init__(
        self, applier: TrackingApplier, answers: list[CheckResult | None], wanted: int
    ) -> None:
        self.applier = applier
        self.answers = answers
        self.wanted = wanted
        self.calls = 0
        self.during_apply = 0
        self.applies_seen: list[int] = []
        self.done = asyncio.Event()

    async def __call__(self) -> CheckResult | None:
        self.calls += 1
        if self.applier.active:
            self.during_apply += 1
        self.applies_seen.append(len(self.applier.calls))
        if self.calls >= self.wanted:
            self.done.set()
        return self.answers.pop(0) if self.answers else CheckResult("test", float(T0))


def row() -> RowInserted:
    return RowInserted(make_row(ProtocolId.TCP_MD5, 1, since(T0)))


def test_checks_run_after_the_first_apply_and_never_during_one() -> None:
    async def main() -> None:
        gate = asyncio.Event()
        applier = TrackingApplier(gate=gate)
        checker = ScriptedChecker(applier, [], wanted=3)
        sink = BatchingSink(applier, wall=lambda: T0, checker=checker, check_interval=TINY)
        sink(row())
        await asyncio.sleep(0)
        assert checker.calls == 0  # no check before the first apply has a result
        gate.set()
        await sink.drain()
        sink(row())  # a second apply: the checks wait for it
        await checker.done.wait()
        await sink.close()
        assert checker.during_apply == 0
        status = sink.status()
        assert status.checks >= 3 and status.drifts == 0 and status.last_drift is None
        assert status.check_error is None and not status.pending

    asyncio.run(main())


def test_no_checks_without_an_interval() -> None:
    async def main() -> None:
        applier = TrackingApplier()
        checker = ScriptedChecker(applier, [], wanted=1)
        sink = BatchingSink(applier, wall=lambda: T0, checker=checker, check_interval=0)
        sink(row())
        await sink.drain()
        for _ in range(20):
            await asyncio.sleep(0)
        await sink.close()
        assert checker.calls == 0 and sink.status().checks == 0

    asyncio.run(main())


def test_drift_applies_again_and_is_counted(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        applier = TrackingApplier()
        drift = CheckResult("test", float(T0 + 5), drift="BGP neighbour 192.0.2.1: missing")
        checker = ScriptedChecker(applier, [drift], wanted=2)
        sink = BatchingSink(applier, wall=lambda: T0, checker=checker, check_interval=TINY)
        sink(row())
        await sink.drain()
        await checker.done.wait()
        await sink.close()
        # The first check found drift; the apply after it came before the next check.
        assert checker.applies_seen[:2] == [1, 2]
        status = sink.status()
        assert status.drifts == 1 and status.last_drift == drift and status.ok

    with caplog.at_level(logging.WARNING, logger="rkmp_frr.sinks.batching"):
        asyncio.run(main())
    lines = [r.getMessage() for r in caplog.records if "no longer runs" in r.getMessage()]
    assert lines == [
        "test sink: the daemon no longer runs what rkmpd applied"
        " (BGP neighbour 192.0.2.1: missing); applying again"
    ]


def test_a_refused_repair_is_tried_again() -> None:
    """After a drift the daemon may refuse while it starts; the repair is
    retried (a refused change is otherwise left until the rows change)."""

    async def main() -> None:
        applier = TrackingApplier(statuses=[ApplyStatus.APPLIED, ApplyStatus.FAILED_RESTORED])
        drift = CheckResult("test", float(T0), drift="key chain rkmp-ospf6-eth1: missing")
        checker = ScriptedChecker(applier, [drift], wanted=1)
        sink = BatchingSink(
            applier, wall=lambda: T0, checker=checker, check_interval=TINY, retry_first=TINY
        )
        sink(row())
        await sink.drain()
        await checker.done.wait()
        while len(applier.calls) < 3:
            await asyncio.sleep(TINY)
        await sink.close()
        status = sink.status()
        assert status.failures == 1 and status.ok  # the third apply succeeded

    asyncio.run(main())


def test_an_unreadable_daemon_is_reported_once(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        applier = TrackingApplier()
        down = CheckResult("test", float(T0), error="cannot read the running config: down")
        checker = ScriptedChecker(applier, [down, down, down], wanted=4)
        sink = BatchingSink(applier, wall=lambda: T0, checker=checker, check_interval=TINY)
        sink(row())
        await sink.drain()
        await checker.done.wait()
        await sink.close()
        assert len(applier.calls) == 1  # an unreadable daemon is not drift
        assert sink.status().check_error is None  # the fourth check read it again
        assert sink.status().drifts == 0

    with caplog.at_level(logging.WARNING, logger="rkmp_frr.sinks.batching"):
        asyncio.run(main())
    warnings = [r for r in caplog.records if "drift check" in r.getMessage()]
    assert len(warnings) == 1
