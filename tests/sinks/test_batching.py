"""The batching sink: many key table changes, one apply per daemon."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from rkmp_frr.keytable.changes import (
    DeleteCause,
    LifetimesShifted,
    RowInserted,
    RowRekeyed,
    RowsDeleted,
)
from rkmp_frr.keytable.row import KeyRow
from rkmp_frr.keytable.utc import UtcSeconds
from rkmp_frr.sinks.batching import ApplyResult, ApplyStatus, BatchingSink, RowView
from rkmp_frr.wire.constants import ProtocolId

from .sink_rows import T0, inserted, make_row, rekeyed, since


@dataclass
class RecordingApplier:
    """Records each apply's rows; answers with ``statuses`` in turn."""

    statuses: list[ApplyStatus] = field(default_factory=list)
    next_change_at: UtcSeconds | None = None
    calls: list[tuple[str, ...]] = field(default_factory=list)
    gate: asyncio.Event | None = None  # an apply waits for it (to overlap changes)
    fail_with: Exception | None = None

    @property
    def name(self) -> str:
        return "test"

    async def apply(self, rows: Sequence[KeyRow], now: UtcSeconds) -> ApplyResult:
        self.calls.append(tuple(sorted(r.admin_key_name for r in rows)))
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_with is not None:
            raise self.fail_with
        status = self.statuses.pop(0) if self.statuses else ApplyStatus.APPLIED
        return ApplyResult(
            sink="test",
            status=status,
            started_at=float(now),
            duration=0.0,
            rows=len(rows),
            error=None if status.ok else "refused",
            next_change_at=self.next_change_at,
        )


def md5_rows(count: int) -> list[KeyRow]:
    return [make_row(ProtocolId.TCP_MD5, i, since(T0), peer=f"10.0.{i // 250}.{i % 250 + 1}")
            for i in range(1, count + 1)]  # fmt: skip


def test_a_round_of_changes_is_one_apply() -> None:
    async def main() -> None:
        applier = RecordingApplier()
        sink = BatchingSink(applier, wall=lambda: T0)
        rows = md5_rows(100)
        for row in rows:  # one event-processing round: no await in between
            sink(RowInserted(row))
        await sink.drain()
        assert len(applier.calls) == 1
        assert applier.calls[0] == tuple(sorted(r.admin_key_name for r in rows))
        assert sink.status().applies == 1 and sink.status().ok

    asyncio.run(main())


def test_changes_during_an_apply_make_one_more_apply() -> None:
    async def main() -> None:
        gate = asyncio.Event()
        applier = RecordingApplier(gate=gate)
        sink = BatchingSink(applier, wall=lambda: T0)
        first, *rest = md5_rows(6)
        sink(RowInserted(first))
        for _ in range(10):  # the apply starts and waits at the gate
            await asyncio.sleep(0)
        assert len(applier.calls) == 1
        for row in rest:
            sink(RowInserted(row))
            sink.flush()
        assert sink.status().pending
        gate.set()
        await sink.drain()
        assert len(applier.calls) == 2
        assert len(applier.calls[1]) == 6
        assert not sink.status().pending

    asyncio.run(main())


def test_changes_before_the_loop_runs_are_applied_by_drain() -> None:
    applier = RecordingApplier()
    sink = BatchingSink(applier, wall=lambda: T0)
    sink(RowInserted(md5_rows(1)[0]))  # no running loop: nothing scheduled
    assert applier.calls == []
    result = asyncio.run(sink.drain())
    assert result is not None and result.status is ApplyStatus.APPLIED
    assert len(applier.calls) == 1


def test_row_view_follows_the_changes() -> None:
    old = make_row(ProtocolId.OSPFV2, 1, inserted(T0), interfaces=frozenset({"eth0"}))
    new = make_row(ProtocolId.OSPFV2, 2, inserted(T0), interfaces=frozenset({"eth0"}))
    view = RowView()
    view.update(RowInserted(old))
    ended, started = rekeyed(old, new, T0 + 100)
    view.update(RowRekeyed(ended, started))
    assert {r.admin_key_name: r for r in view.rows()} == {
        ended.admin_key_name: ended,
        started.admin_key_name: started,
    }
    moved = started.with_lifetimes(started.lifetimes.shifted(60))
    view.update(LifetimesShifted(60, (moved,)))
    assert moved in view.rows()
    view.update(RowsDeleted((ended,), DeleteCause.EXPIRED))
    assert view.rows() == (moved,)


def test_refused_change_waits_for_new_rows_unknown_outcome_is_retried() -> None:
    async def main() -> None:
        applier = RecordingApplier(statuses=[ApplyStatus.FAILED_RESTORED])
        sink = BatchingSink(applier, wall=lambda: T0, retry_first=0.01)
        sink(RowInserted(md5_rows(1)[0]))
        await sink.drain()
        await asyncio.sleep(0.05)
        assert len(applier.calls) == 1  # no retry of a refused, undone change
        assert sink.status().last_error is not None
        assert "refused" in sink.status().describe()

        applier = RecordingApplier(statuses=[ApplyStatus.FAILED, ApplyStatus.APPLIED])
        sink = BatchingSink(applier, wall=lambda: T0, retry_first=0.01)
        sink(RowInserted(md5_rows(1)[0]))
        await sink.drain()
        for _ in range(100):
            if len(applier.calls) == 2:
                break
            await asyncio.sleep(0.01)
        await sink.drain()
        assert len(applier.calls) == 2
        status = sink.status()
        assert status.failures == 1 and status.last_error is None and status.ok

    asyncio.run(main())


def test_a_daemon_not_ready_is_tried_again_with_backoff() -> None:
    """Nothing was applied (the daemon still starting): the same rows again
    later, though no drift check asked for a repair."""

    async def main() -> None:
        statuses = [ApplyStatus.NOT_READY, ApplyStatus.NOT_READY, ApplyStatus.APPLIED]
        applier = RecordingApplier(statuses=statuses)
        sink = BatchingSink(applier, wall=lambda: T0, retry_first=0.01)
        sink(RowInserted(md5_rows(1)[0]))
        await sink.drain()
        assert not sink.status().ok and "not-ready" in sink.status().describe()
        for _ in range(300):
            if len(applier.calls) == 3:
                break
            await asyncio.sleep(0.01)
        await sink.drain()
        assert len(applier.calls) == 3 and len(set(applier.calls)) == 1
        status = sink.status()
        assert status.failures == 2 and status.ok and not status.pending

    asyncio.run(main())


def test_time_driven_reapply() -> None:
    """A rendering that changes at next_change_at is applied again then."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        applier = RecordingApplier(next_change_at=T0 + 1)
        # The wall clock runs 0.98 s ahead of the loop: the change is 20 ms away.
        sink = BatchingSink(applier, wall=lambda: T0 + 0.98 + (loop.time() - start))
        sink(RowInserted(md5_rows(1)[0]))
        await sink.drain()
        applier.next_change_at = None
        for _ in range(200):
            if len(applier.calls) == 2:
                break
            await asyncio.sleep(0.01)
        assert len(applier.calls) == 2
        await sink.close()

    asyncio.run(main())


def test_an_applier_bug_is_a_failed_result_not_a_dead_sink() -> None:
    async def main() -> None:
        applier = RecordingApplier(fail_with=RuntimeError("boom"))
        seen: list[ApplyResult] = []
        sink = BatchingSink(applier, wall=lambda: T0, on_result=seen.append, retry_first=10)
        sink(RowInserted(md5_rows(1)[0]))
        result = await sink.drain()
        assert result is not None and result.status is ApplyStatus.FAILED
        assert "boom" in (result.error or "")
        assert seen == [result]
        applier.fail_with = None
        sink(RowInserted(md5_rows(2)[1]))
        result = await sink.drain()
        assert result is not None and result.status is ApplyStatus.APPLIED
        await sink.close()

    asyncio.run(main())


def test_load_replaces_the_view() -> None:
    async def main() -> None:
        applier = RecordingApplier()
        sink = BatchingSink(applier, wall=lambda: T0)
        rows = md5_rows(3)
        sink(RowInserted(rows[0]))
        sink.load(rows[1:])
        await sink.drain()
        assert applier.calls == [tuple(sorted(r.admin_key_name for r in rows[1:]))]

    asyncio.run(main())
