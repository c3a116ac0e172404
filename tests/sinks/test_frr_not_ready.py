"""The FRR applier holds back while FRR is not ready: it waits for FRR to
settle before a first apply and a repair (two reads ``settle_time`` apart,
the operator lines the change needs), and in frr-reload mode refuses a
reload whose file would touch lines that came in after it was made.
Against a scripted vtysh / frr-reload.py whose configuration can be made
to grow between reads (a restarted FRR still loading it)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from rkmp_frr.keytable.row import KeyRow
from rkmp_frr.sinks.batching import ApplyStatus
from rkmp_frr.sinks.frr_apply import (
    SETTLE_TIME,
    FrrApplier,
    FrrApplierOptions,
    FrrApplyMode,
    VtyshCommand,
)
from rkmp_frr.sinks.keyed import KeyedState, frr_bgp
from rkmp_frr.sinks.runner import CommandResult

from .sink_rows import PEER, PEER_B, T0
from .test_frr_apply import FEATURES, KEY_1, KEY_2, RENDER, md5
from .test_frr_reload_phases import SHUT, ReloadingBgpd

AS_PATH = "bgp as-path access-list op seq 5 permit ^65002$"  # an operator line


@dataclass
class LoadingFrr(ReloadingBgpd):
    """bgpd behind vtysh and frr-reload.py, with operator lines outside
    ``router bgp``. ``loads``: lines that come in at each read of the
    running config, one list per read (a configuration still loading);
    ``loads_after_reload``: the same, set once the next reload has run."""

    operator: list[str] = field(default_factory=list)
    loads: list[list[str]] = field(default_factory=list)
    loads_after_reload: list[list[str]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # what frr-reload.py was given
    answers: bool = True  # False: the daemons do not answer
    reload_log: str = ""  # what frr-reload.py logs on stderr

    def running_config(self) -> str:
        if self.loads:
            self.operator += self.loads.pop(0)
        text = super().running_config()
        return text.replace(
            "!\nend\n", "!\n" + "".join(f"{x}\n!\n" for x in self.operator) + "end\n"
        )

    def reload(self, text: str) -> CommandResult:
        self.files.append(text)
        if self.loads_after_reload:
            self.loads, self.loads_after_reload = self.loads_after_reload, []
        result = super().reload(text)
        return dataclasses.replace(result, stderr=f"{result.stderr}{self.reload_log}")

    async def __call__(
        self, argv: Sequence[str], *, input_text: str | None = None, timeout: float = 30.0
    ) -> CommandResult:
        if not self.answers:
            self.calls.append((tuple(argv), input_text))
            return CommandResult(tuple(argv), 1, "", "Exiting: failed to connect to any daemons.")
        return await super().__call__(argv, input_text=input_text, timeout=timeout)

    def reads(self) -> int:
        return sum(1 for argv, _ in self.calls if argv[-1:] == ("show running-config",))


@dataclass
class Naps:
    """The applier's sleep: recorded, takes no time."""

    taken: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.taken.append(seconds)


def applier(fake: LoadingFrr, naps: Naps, mode: FrrApplyMode = FrrApplyMode.VTYSH) -> FrrApplier:
    opts = FrrApplierOptions(vtysh=VtyshCommand(), render=RENDER, kernel_check=False, mode=mode)
    return FrrApplier(opts, FEATURES, runner=fake, sleep=naps, keyed=KeyedState("frr", None))


def apply(frr: FrrApplier, rows: Sequence[KeyRow], now: int) -> tuple[ApplyStatus, str]:
    result = asyncio.run(frr.apply(rows, now))
    assert KEY_1 not in result.describe() and KEY_2 not in result.describe()
    return result.status, result.error or ""


def test_a_first_apply_waits_until_two_reads_agree() -> None:
    fake, naps = LoadingFrr(loads=[[], [AS_PATH]]), Naps()
    frr = applier(fake, naps)
    status, error = apply(frr, [md5(PEER, 1, KEY_1)], T0)
    assert status is ApplyStatus.NOT_READY, error
    assert "FRR not ready (loading)" in error and "as-path" in error
    assert naps.taken == [SETTLE_TIME] and fake.applies() == [] and fake.passwords == {}
    assert frr.keyed.items == frozenset()
    status, error = apply(frr, [md5(PEER, 1, KEY_1)], T0 + 2)  # the load is over
    assert status is ApplyStatus.APPLIED, error
    assert fake.passwords == {PEER: KEY_1} and naps.taken == [SETTLE_TIME] * 2
    # Settled: a key change now costs no wait and no extra read.
    reads = fake.reads()
    status, _ = apply(frr, [md5(PEER, 2, KEY_2)], T0 + 10)
    assert status is ApplyStatus.APPLIED and naps.taken == [SETTLE_TIME] * 2
    assert fake.reads() == reads + 1  # the read-back alone


def test_a_repair_waits_for_the_restarted_frr_to_load_the_neighbour() -> None:
    fake, naps = LoadingFrr(), Naps()
    frr = applier(fake, naps)
    assert apply(frr, [md5(PEER, 1, KEY_1)], T0)[0] is ApplyStatus.APPLIED
    # FRR restarts: its daemons answer before the operator's router block
    # is in. The check sees rkmpd's key gone; the repair must not go in.
    fake.passwords.clear()
    fake.neighbors = ()
    check = asyncio.run(frr.check_drift())
    assert check is not None and check.drifted
    status, error = apply(frr, [md5(PEER, 1, KEY_1)], T0 + 10)
    assert status is ApplyStatus.NOT_READY, error
    assert f"router bgp 65001: neighbor {PEER} remote-as" in error
    assert fake.applies() == [f"router bgp 65001\nneighbor {PEER} password {KEY_1}\nexit\n"]
    fake.neighbors = (PEER, PEER_B)  # loaded
    status, error = apply(frr, [md5(PEER, 1, KEY_1)], T0 + 20)
    assert status is ApplyStatus.APPLIED, error
    assert fake.passwords == {PEER: KEY_1}


def test_an_frr_that_does_not_answer_is_not_ready() -> None:
    fake, naps = LoadingFrr(answers=False), Naps()
    frr = applier(fake, naps)
    status, error = apply(frr, [md5(PEER, 1, KEY_1)], T0)
    assert status is ApplyStatus.NOT_READY and "not answering" in error
    assert "failed to connect" in error and naps.taken == []
    fake.answers = True
    assert apply(frr, [md5(PEER, 1, KEY_1)], T0 + 5)[0] is ApplyStatus.APPLIED
    # Down during a check: the next apply settles first again.
    fake.answers = False
    check = asyncio.run(frr.check_drift())
    assert check is not None and check.error is not None and frr.unsettled
    fake.answers = True
    assert apply(frr, [md5(PEER, 2, KEY_2)], T0 + 10)[0] is ApplyStatus.APPLIED
    assert naps.taken == [SETTLE_TIME, SETTLE_TIME]


def test_a_reload_is_held_back_when_the_configuration_changed_since_it_was_read() -> None:
    fake, naps = LoadingFrr(), Naps()
    frr = applier(fake, naps, FrrApplyMode.FRR_RELOAD)
    assert apply(frr, [md5(PEER, 1, KEY_1)], T0)[0] is ApplyStatus.APPLIED
    reloads = len(fake.files)
    # Between the read the file is made from and the one just before
    # frr-reload.py, an operator line comes in: frr-reload.py would
    # remove it.
    fake.loads = [[], [AS_PATH]]
    rows = [md5(PEER, 1, KEY_1), md5(PEER_B, 2, KEY_2)]
    status, error = apply(frr, rows, T0 + 10)
    assert status is ApplyStatus.NOT_READY, error
    assert "FRR not ready (changed)" in error and "remove 1 and add 0 line(s)" in error
    assert AS_PATH in error and "nothing applied" in error
    assert len(fake.files) == reloads and fake.passwords == {PEER: KEY_1}
    assert frr.keyed.items == {frr_bgp(PEER)}  # PEER_B's key never went in
    # Tried again: settled, the operator's line is kept in the file.
    status, error = apply(frr, rows, T0 + 20)
    assert status is ApplyStatus.APPLIED, error
    assert AS_PATH in fake.files[-1] and fake.passwords == {PEER: KEY_1, PEER_B: KEY_2}


def test_a_second_reload_held_back_is_undone_like_any_failure() -> None:
    """Reopening a neighbour takes two reloads; the keys went in with the
    first, so a change seen before the second is a failure the restore
    undoes (the neighbour stays shut, without the new key)."""
    fake, naps = LoadingFrr(), Naps()
    frr = applier(fake, naps, FrrApplyMode.FRR_RELOAD)
    frr.keyed = KeyedState("frr", None, {frr_bgp(PEER)})
    assert apply(frr, [], T0)[0] is ApplyStatus.APPLIED  # no key: PEER shut
    assert fake.shutdown == {PEER: SHUT}
    # After the first reload: the read-back, the second reload's read, its
    # guard's read (with a new operator line).
    fake.loads_after_reload = [[], [], [AS_PATH]]
    result = asyncio.run(frr.apply([md5(PEER, 1, KEY_1)], T0 + 10))
    assert result.status is ApplyStatus.FAILED_RESTORED, result.describe()
    assert "FRR not ready (changed)" in (result.error or "")
    assert "nothing applied" not in (result.error or "") and result.restore_error is None
    assert fake.reloads[-2] == ({PEER: KEY_1}, {PEER: SHUT})  # the first reload: keys, shut
    assert fake.shutdown == {PEER: SHUT} and fake.passwords == {}
    assert AS_PATH in fake.files[-1]  # the restore kept the operator's line


def test_operator_lines_frr_reload_removed_anyway_are_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The guard's read and frr-reload.py's own are a moment apart: what
    frr-reload.py says it removed is checked too, and lines that were not
    rkmpd's are reported (they cannot be put back)."""
    fake, naps = LoadingFrr(), Naps()
    frr = applier(fake, naps, FrrApplyMode.FRR_RELOAD)
    assert apply(frr, [md5(PEER, 1, KEY_1)], T0)[0] is ApplyStatus.APPLIED
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    fake.reload_log = (
        '2026-11-28 07:58:29,775  INFO: Executed "no bgp as-path access-list op seq 5 permit ^1$"\n'
        f'2026-11-28 07:58:29,878  INFO: Executed "router bgp 65001  no neighbor {PEER} password'
        f' {KEY_1}"\n'
    )
    with caplog.at_level(logging.ERROR):
        assert apply(frr, [md5(PEER, 2, KEY_2)], T0 + 10)[0] is ApplyStatus.APPLIED
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, errors
    assert "removed 1 line(s) that are not rkmpd's" in errors[0]
    assert "bgp as-path access-list op seq 5" in errors[0] and KEY_1 not in errors[0]
