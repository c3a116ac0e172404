"""Apply key table rows to FRR: vtysh (default) or frr-reload.py.

Each apply brings FRR from the plan it applied last to the plan for the
rows it is given (``rkmp_frr.sinks.frr_plan``; the change between two
plans: ``rkmp_frr.sinks.frr_render``):

0. When FRR may have (re)started since rkmpd last saw it settled (the
   first apply, after a drift, after FRR could not be read or an apply
   failed), wait until it is fully started: two reads of the running
   config ``settle_time`` apart agree, and it has the operator lines the
   change builds on (``rkmp_frr.sinks.frr_readiness``). Otherwise nothing
   is applied: the result is ``NOT_READY`` and the batching sink tries
   again with backoff. A restarted FRR loads its configuration over time,
   and a repair made against half of it goes wrong (below).
1. Render the change (vtysh commands, keys masked for the log) and the
   lines ``show running-config`` must then show. Rows FRR cannot take are
   left out and reported. When the change would close a neighbour or
   interface that rkmpd has not closed itself (its keys revoked), the
   running config is read first: one the operator has closed already keeps
   the operator's line, and is not rkmpd's to lift later
   (``rkmp_frr.sinks.frr_discovery``).
2. Check it: ``vtysh --dryrun -f`` parses the commands without touching
   the daemons; a refusal here changes nothing.
3. Apply it: ``vtysh -f /dev/stdin`` (keys on stdin, never in argv), or in
   ``frr-reload`` mode, ``frr-reload.py --reload`` on a full configuration
   (the running one with the sink's lines replaced), run by
   ``rkmp_frr.sinks.frr_reload.FrrReloader``: frr-reload.py reads the
   running config itself and removes every line the file lacks, so just
   before it runs the running config is read again and the file is checked
   to remove or add nothing that is not rkmpd's (lines that came in after
   the file was made, FRR still loading or an operator typing, would be
   lost). If it would, nothing is applied (``NOT_READY``, tried again
   later). What frr-reload.py then says it removed is checked too, and a
   key chain it cannot delete is deleted with vtysh (that module's doc
   says how). The lines that open
   neighbours and interfaces (``no neighbor X shutdown``, ``no ip ospf
   passive``, ``no ipv6 ospf6 passive``) go in a second run, only after
   the first run's keys were read back: ``vtysh -f`` goes on past a failed
   line, and a key that did not go in must not be followed by an open
   session. In ``frr-reload`` mode the first reload is given the running
   config with the new keys but the shutdown and passive lines rkmpd put
   there still in place; the second, the full configuration.
4. Verify: read ``show running-config`` back and compare.
5. On a refusal or a failed verification, restore: the inverse change
   (from the attempted plan back to the applied one), verified the same
   way. The result says whether the previous configuration is back. In
   ``frr-reload`` mode the restore's file is the running config with the
   lines of both the attempted and the applied plan taken out and the
   applied plan's put back: frr-reload.py removes the running lines a file
   does not have, so what the failed attempt added goes as well.
6. For TCP-MD5 changes, ask the kernel (``rkmp_frr.daemon.kernel_check``)
   whether bgpd's sockets carry the new key; FRR resets the session on a
   password change (DESIGN.md §5), so an established socket is given a few
   seconds to be replaced.

The first apply after start adopts what FRR already runs when it matches
(a restarted rkmpd must not reset BGP sessions by setting the same
passwords again).

Old keys. rkmpd records the key lines it puts in (``ip ospf
message-digest-key`` IDs, key chain names: ``rkmp_frr.sinks.keyed``)
before they go in. Those the applied plan does not hold (after a restart:
all of them) are looked for in the running config at the next apply
(``frr_discovery.leftover_keys``; after a start also the key chains that
rkmpd's naming gives its keyed interfaces, which older state files do not
record), and the change removes those the desired plan does not hold: a
new key ID after a restart, or a revoke, leaves no old key of rkmpd's in
FRR. A record is dropped once its line was read back gone (one not found
while FRR may still have been loading its configuration is looked for
again at the next apply).

Drift (:meth:`FrrApplier.check_drift`, run every ``check_interval`` by the
batching sink, never during an apply): rkmpd's lines live in FRR's running
configuration only, so an FRR restart loses them, and an operator may
remove one by hand. The check reads ``show running-config`` and compares
it with the plan applied last (the lines a first apply compares). The
parts that drifted are taken out of the applied plan, so the next apply
renders them the way a first apply does (keys, read back, then opens;
restore on failure) and touches nothing else: no password is set again on
a neighbour that did not drift, and a check that finds nothing runs no
command but the read. Drift most likely means FRR restarted, so that
apply first waits for FRR to settle (step 0).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import jinja2

from rkmp_frr.keytable.row import KeyRow
from rkmp_frr.keytable.utc import UtcSeconds
from rkmp_frr.sinks.batching import ApplyResult, ApplyStatus, CheckResult
from rkmp_frr.sinks.features import FrrFeatures
from rkmp_frr.sinks.frr_config import PLAIN_NAME, BgpRouter, FrrBgpNeighbor, FrrRenderConfig
from rkmp_frr.sinks.frr_discovery import (
    bgp_neighbor_name,
    bgp_router_of,
    leftover_keys,
    operator_closed,
)
from rkmp_frr.sinks.frr_plan import (
    CHAIN_DAEMON,
    EMPTY_PLAN,
    NO_LEFTOVERS,
    FrrPlan,
    PartKind,
    frr_plan,
    key_records,
    leftover_records,
    plan_without,
    with_operator_closed,
)
from rkmp_frr.sinks.frr_readiness import (
    NotReady,
    NotReadyKind,
    change_dependencies,
    readiness,
)
from rkmp_frr.sinks.frr_reload import (
    FrrReloader,
    ReloadFailed,
    ReloadRefused,
    lines_text,
    scrubbed,
)
from rkmp_frr.sinks.frr_render import FrrChange, applied_expectations, frr_change
from rkmp_frr.sinks.frr_running_config import ConfigExpectation, find_drift, unmet_expectations
from rkmp_frr.sinks.keyed import KeyedState, KeyRecord, Secured, SecuredKind, frr_bgp, key_chain
from rkmp_frr.sinks.md5_verify import Md5Checker, default_md5_check, md5_problem
from rkmp_frr.sinks.render import SinkError, template_environment
from rkmp_frr.sinks.runner import CommandError, CommandResult, CommandRunner, run_command

log = logging.getLogger(__name__)

SINK = "frr"
DEFAULT_FRR_RELOAD = "/usr/lib/frr/frr-reload.py"
KERNEL_CHECK_WINDOW = 5.0  # seconds for FRR to replace a session after a password change
# Seconds between the two reads that must agree before FRR counts as fully
# started. vtysh -b feeds a configuration without pauses (4,000 bgpd lines
# in ~0.2 s on FRR 8.4 here), so a load under way changes it well within
# this. Commands FRR 8.4 runs through its northbound layer (prefix lists,
# route maps) stay out of the running config until the end of the file:
# no reload can remove them meanwhile.
SETTLE_TIME = 1.0


class FrrApplyMode(Enum):
    VTYSH = "vtysh"  # targeted vtysh commands
    FRR_RELOAD = "frr-reload"  # full configuration through frr-reload.py


@dataclass(frozen=True, slots=True)
class VtyshCommand:
    """How to reach the FRR daemons: ``vtysh [--vty_socket DIR] [-N NAME]``.
    ``wrapper`` runs it elsewhere (``ip netns exec NS`` when FRR is in
    another network namespace than this process)."""

    vtysh: str = "vtysh"
    vty_socket: Path | None = None
    pathspace: str | None = None
    wrapper: tuple[str, ...] = ()

    def argv(self, *args: str) -> list[str]:
        argv = [*self.wrapper, self.vtysh]
        if self.vty_socket is not None:
            argv += ["--vty_socket", str(self.vty_socket)]
        if self.pathspace is not None:
            argv += ["-N", self.pathspace]
        return [*argv, *args]

    def show(self, command: str) -> list[str]:
        return self.argv("-c", command)


@dataclass(frozen=True, slots=True)
class FrrApplierOptions:
    """The FRR sink's settings (``[sinks.frr]`` plus the renderer's share)."""

    vtysh: VtyshCommand = field(default_factory=VtyshCommand)
    render: FrrRenderConfig = field(default_factory=FrrRenderConfig)
    mode: FrrApplyMode = FrrApplyMode.VTYSH
    dry_run: bool = False
    frr_reload: str = DEFAULT_FRR_RELOAD
    templates_dir: Path | None = None
    kernel_check: bool = True  # TCP-MD5: ask the kernel after each apply
    kernel_check_window: float = KERNEL_CHECK_WINDOW
    command_timeout: float = 30.0
    settle_time: float = SETTLE_TIME


class ApplyFailed(Exception):
    """One step of an apply failed; the message is one line without keys."""


class FrrNotReady(ApplyFailed):
    """FRR is not ready for the change (still starting, its configuration
    changing): nothing was applied. One line without keys."""

    def __init__(self, problem: NotReady) -> None:
        super().__init__(problem.describe())
        self.problem = problem


@dataclass
class FrrApplier:
    """Brings FRR to a set of rows (the ``Applier`` of a ``BatchingSink``)."""

    options: FrrApplierOptions
    features: FrrFeatures
    runner: CommandRunner = run_command
    md5_check: Md5Checker | None = None  # default: the sock_diag check in this namespace
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    current: FrrPlan = EMPTY_PLAN
    synced: bool = False  # the first apply compares with what FRR runs
    # FRR may have (re)started since rkmpd last saw it settled: the next
    # apply waits until it is fully started (step 0 of the module doc).
    unsettled: bool = True
    # What rkmpd has keyed (fail closed applies to these only); persisted
    # under state_dir by rkmpd, in memory by default.
    keyed: KeyedState = field(default_factory=lambda: KeyedState(SINK))
    # Keyed BGP neighbours no [[sinks.frr.bgp_neighbor]] lists any more, and
    # the router bgp each was found in (rkmp_frr.sinks.frr_discovery): they
    # stay secured there, closed without a key.
    unlisted: dict[Secured, BgpRouter] = field(default_factory=dict)
    _unlisted_missing: set[Secured] = field(default_factory=set, repr=False)  # logged once
    # Recorded key lines this apply did not find while FRR may have been
    # loading its configuration: kept, looked for again next time.
    _unseen_keys: frozenset[KeyRecord] = field(default=frozenset(), repr=False)
    _env: jinja2.Environment | None = field(default=None, repr=False)
    # The applied plan's expectations, rendered once per plan for the checks.
    _applied: tuple[FrrPlan, tuple[ConfigExpectation, ...]] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return SINK

    def _environment(self) -> jinja2.Environment:
        if self._env is None:
            self._env = template_environment(self.options.templates_dir)
        return self._env

    # --- the apply ---------------------------------------------------------------------

    async def apply(self, rows: Sequence[KeyRow], now: UtcSeconds) -> ApplyResult:
        result = await self._apply(rows, now)
        if not result.status.ok:  # FRR down, restarting, or refusing: settle first next time
            self.unsettled = True
        return result

    async def _apply(self, rows: Sequence[KeyRow], now: UtcSeconds) -> ApplyResult:
        started, clock = time.time(), time.monotonic()
        config, features = self.options.render, self.features
        # What only FRR's running config tells, read once and only if needed.
        running = _ReadOnce(self.running_config)
        try:
            unlisted = await self._unlisted_neighbors(running)
            desired = frr_plan(
                rows, config, features, now, keyed=self.keyed.items,
                rkmpd_closed=self.keyed.closed, unlisted=unlisted,
            )  # fmt: skip
            desired = await self._whose_closing(desired, running)
            desired = await self._with_leftovers(desired, running)
        except FrrNotReady as exc:  # nothing was touched
            return self._result(ApplyStatus.NOT_READY, started, clock, rows, error=str(exc))
        try:
            change = frr_change(self.current, desired, config, features, env=self._environment())
        except SinkError as exc:  # a template problem: nothing was touched
            return self._result(ApplyStatus.FAILED_RESTORED, started, clock, rows, error=str(exc))
        refused = tuple(str(error) for error in desired.refused)
        base = {"refused": refused, "notes": change.notes, "next_change_at": change.next_change_at}

        if change.empty:  # on a first apply: nothing of rkmpd's to compare either
            self.synced = self.synced or not self.options.dry_run
            self.current = _held(desired)
            if not self.options.dry_run:
                self._forget_gone_keys(desired)
            return self._result(ApplyStatus.UNCHANGED, started, clock, rows, **base)
        shown = change.masked_text()
        if self.options.dry_run:
            log.info("frr sink (dry run) would apply:\n%s", shown)
            self.current = _held(desired)
            self._record_keyed(desired)
            self._record_reopened(desired)
            return self._result(ApplyStatus.DRY_RUN, started, clock, rows, change=shown, **base)
        if self.unsettled:
            try:
                await self._wait_settled(desired)
            except FrrNotReady as exc:
                return self._result(
                    ApplyStatus.NOT_READY, started, clock, rows, change=shown, error=str(exc),
                    **base,
                )  # fmt: skip
        if not self.synced:
            adopted = await self._adopt_if_running(desired)
            if adopted:
                return self._result(ApplyStatus.UNCHANGED, started, clock, rows, **base)

        try:
            await self._check(change)
            # Written down before any key goes in: a crash after the push
            # must not leave a keyed neighbour that a restart would not close.
            newly_keyed = self._record_keyed(desired)
        except ApplyFailed as exc:  # nothing was applied
            return self._result(
                ApplyStatus.FAILED_RESTORED, started, clock, rows, change=shown, error=str(exc),
                **base,
            )  # fmt: skip
        try:
            await self._push(change, desired, present=(self.current,))
        except FrrNotReady as exc:  # refused before anything went in
            self._forget_keyed(newly_keyed)
            return self._result(
                ApplyStatus.NOT_READY, started, clock, rows, change=shown, error=str(exc), **base
            )
        except ApplyFailed as exc:
            restore_error = await self._restore(desired, newly_keyed)
            status = ApplyStatus.FAILED if restore_error else ApplyStatus.FAILED_RESTORED
            if restore_error is None:  # the keys never stayed: still the operator's
                self._forget_keyed(newly_keyed)
            return self._result(
                status, started, clock, rows, change=shown, error=str(exc),
                restore_error=restore_error, **base,
            )  # fmt: skip
        self.current = _held(desired)
        self.synced = True
        self._record_reopened(desired)
        self._forget_gone_keys(desired)
        notes = change.notes
        if change.reset_neighbors:
            notes += (f"BGP sessions reset by the key change: {', '.join(change.reset_neighbors)}",)
        kernel = await self._kernel_check(change, desired)
        return self._result(
            ApplyStatus.APPLIED, started, clock, rows, change=shown, refused=refused,
            notes=notes, kernel_problems=kernel, next_change_at=change.next_change_at,
        )  # fmt: skip

    def _result(
        self,
        status: ApplyStatus,
        started: float,
        clock: float,
        rows: Sequence[KeyRow],
        **fields: object,
    ) -> ApplyResult:
        return ApplyResult(
            sink=SINK,
            status=status,
            started_at=started,
            duration=time.monotonic() - clock,
            rows=len(rows),
            **fields,  # type: ignore[arg-type]
        )

    # --- drift ---------------------------------------------------------------------------

    async def check_drift(self) -> CheckResult | None:
        """Compare FRR's running config with the plan applied last; on
        drift, take the drifted parts out of it so that the next apply puts
        them back (see the module doc). None: nothing to compare (a dry
        run, no apply yet, or the state is unknown until the next apply)."""
        if self.options.dry_run or not self.synced:
            return None
        try:
            expectations = self._applied_expectations()
        except SinkError as exc:  # a template problem: the next apply reports it
            return CheckResult(SINK, time.time(), error=str(exc))
        missing = self._unlisted_items() - set(self.unlisted)  # not found in FRR yet
        if not expectations and not missing:
            return CheckResult(SINK, time.time())  # nothing of rkmpd's in FRR
        try:
            running = await self.running_config()
        except ApplyFailed as exc:  # FRR down or restarting: look again next time
            self.unsettled = True
            return CheckResult(SINK, time.time(), error=str(exc))
        drift = find_drift(running, expectations)
        appeared = sorted(
            (item for item in missing if bgp_router_of(running, item) is not None),
            key=lambda item: item.sort_key,
        )
        if drift is None and not appeared:
            return CheckResult(SINK, time.time())
        found: list[str] = []
        if drift is not None:
            self.current = plan_without(self.current, drift.parts)
            for part in drift.parts:  # found again where FRR has it now
                if part.kind is PartKind.BGP and part.router is not None:
                    self.unlisted.pop(frr_bgp(part.name, part.router.vrf), None)
            found.append(drift.describe())
        found += (
            f"BGP neighbour {item.name}: keyed by rkmpd, in no [[sinks.frr.bgp_neighbor]],"
            " now configured in FRR"
            for item in appeared
        )
        self.unsettled = True  # most likely FRR restarted: the repair waits for it
        return CheckResult(SINK, time.time(), drift="; ".join(found))

    def _applied_expectations(self) -> tuple[ConfigExpectation, ...]:
        cached = self._applied
        if cached is not None and cached[0] is self.current:
            return cached[1]
        expectations = applied_expectations(
            self.current, self.options.render, self.features, env=self._environment()
        )
        self._applied = (self.current, expectations)
        return expectations

    # --- steps -----------------------------------------------------------------------------

    async def _whose_closing(self, desired: FrrPlan, running: _ReadOnce) -> FrrPlan:
        """``desired`` with what it closes that the operator had closed
        already (``rkmp_frr.sinks.frr_discovery``): known from the applied
        plan, else read from the running config for the items it closes
        anew that rkmpd has not recorded as its own. FrrNotReady if FRR
        cannot be read (then nothing can be applied either). A dry run
        reads nothing: it counts each such closing as rkmpd's."""
        closing = desired.closed_items()
        known = self.current.closed_items()
        carried = self.current.operator_closed & known & closing
        unknown = closing - known - self.keyed.closed
        if not unknown or self.options.dry_run:
            return with_operator_closed(desired, carried)
        found = operator_closed(desired, await running(), unknown)
        return with_operator_closed(desired, carried | found)

    async def _with_leftovers(self, desired: FrrPlan, running: _ReadOnce) -> FrrPlan:
        """``desired`` with rkmpd's key lines that FRR runs and the applied
        plan does not hold (``FrrPlan.leftovers``): recorded ones, and
        after a start the key chains rkmpd's naming gives its keyed
        interfaces (older state files record no key lines). Read from the
        running config only when there are any; a dry run reads nothing."""
        self._unseen_keys = frozenset()
        candidates = self._leftover_candidates()
        if not candidates or self.options.dry_run:
            return desired
        loading = self.unsettled  # FRR may still be loading what it runs
        leftovers = leftover_keys(await running(), candidates)
        if loading:
            self._unseen_keys = candidates - leftover_records(leftovers)
        return dataclasses.replace(desired, leftovers=leftovers)

    def _leftover_candidates(self) -> frozenset[KeyRecord]:
        records = set(self.keyed.keys)
        if not self.synced:
            chain_name = self.options.render.chain_name
            records.update(
                key_chain(item.kind, chain_name(CHAIN_DAEMON[item.kind], item.name))
                for item in self.keyed.items
                if item.kind in CHAIN_DAEMON and PLAIN_NAME.fullmatch(item.name)
            )
        return frozenset(records) - key_records(self.current)

    def _forget_gone_keys(self, applied: FrrPlan) -> None:
        """After ``applied`` went in and was read back (or was found in
        place): of rkmpd's recorded key lines, FRR runs those it holds, and
        perhaps ones not found while FRR was loading; the others are gone."""
        gone = self.keyed.keys - key_records(applied) - self._unseen_keys
        try:
            self.keyed.forget_keys(gone)
        except OSError as exc:  # they stay recorded: looked for, not found, next time
            log.warning("frr sink: cannot update %s: %s", self.keyed.path, exc.strerror or exc)

    def _unlisted_items(self) -> frozenset[Secured]:
        """The keyed BGP neighbours no ``bgp_neighbors`` entry lists."""
        listed = {frr_bgp(n.address, n.router.vrf) for n in self.options.render.bgp_neighbors}
        keyed = {item for item in self.keyed.items if item.kind is SecuredKind.BGP}
        return frozenset(keyed - listed)

    async def _unlisted_neighbors(self, running: _ReadOnce) -> tuple[FrrBgpNeighbor, ...]:
        """The keyed neighbours no ``[[sinks.frr.bgp_neighbor]]`` lists any
        more, each in the ``router bgp`` it is in: the one the applied plan
        had it in (a SIGHUP dropped its entry), else the one FRR's running
        config configures it in (``frr_discovery.bgp_router_of``; a dry run
        reads nothing). One FRR does not configure has nothing to close: it
        is looked for again at the next apply and drift check."""
        wanted = self._unlisted_items()
        for gone in set(self.unlisted) - wanted:  # listed again, or given back
            del self.unlisted[gone]
        applied = {
            frr_bgp(address, router.vrf): router
            for router, address in (*self.current.bgp, *self.current.bgp_closed)
        }
        for item in sorted(wanted - set(self.unlisted), key=lambda i: i.sort_key):
            router, where = applied.get(item), "the configuration rkmpd applied"
            if router is None and not self.options.dry_run:
                router, where = bgp_router_of(await running(), item), "FRR's running config"
            if router is None:
                if item not in self._unlisted_missing:
                    self._unlisted_missing.add(item)
                    log.warning(
                        "frr sink: BGP neighbour %s was keyed by rkmpd and no"
                        " [[sinks.frr.bgp_neighbor]] lists it any more; FRR configures no such"
                        " neighbour, so there is nothing to close (rkmpd looks for it again)",
                        item.name,
                    )
                continue
            self._unlisted_missing.discard(item)
            self.unlisted[item] = router
            log.warning(
                "frr sink: BGP neighbour %s was keyed by rkmpd and no [[sinks.frr.bgp_neighbor]]"
                " lists it any more: it stays secured in '%s' (found in %s), shut without a key"
                " (fail closed). To give it back: stop rkmpd, delete its line from %s, start"
                " rkmpd, and lift the shutdown by hand",
                item.name, router.header, where, self.keyed.path or "the state file",
            )  # fmt: skip
        return tuple(
            FrrBgpNeighbor(bgp_neighbor_name(item)[0], router.asn, router.vrf or None)
            for item, router in sorted(self.unlisted.items(), key=lambda x: x[0].sort_key)
        )

    def _record_keyed(self, plan: FrrPlan) -> frozenset[Secured]:
        """Note what ``plan`` keys (``rkmp_frr.sinks.keyed``); ApplyFailed
        if that cannot be written (then no key may go in)."""
        try:
            # What the plan closes is noted as closed by rkmpd before the
            # closing lines go in: a restart must reopen it with its keys.
            # What the operator had closed already is not rkmpd's to reopen.
            closing = plan.closed_items() - plan.operator_closed
            # Its key lines too: a restarted rkmpd removes them when unused.
            self.keyed.record_keys(key_records(plan))
            return self.keyed.record(plan.keyed_items(), closing=closing)
        except OSError as exc:
            raise ApplyFailed(
                f"cannot record the keyed neighbours in {self.keyed.path}: {exc.strerror or exc}"
            ) from None

    def _record_reopened(self, plan: FrrPlan) -> None:
        """After ``plan`` was applied and read back: what it gives keys to
        and leaves open is no longer closed by rkmpd."""
        try:
            self.keyed.reopened(plan.keyed_items() - plan.closed_items())
        except OSError as exc:  # recorded as closed: reopened explicitly after a restart
            log.warning("frr sink: cannot update %s: %s", self.keyed.path, exc.strerror or exc)

    def _forget_keyed(self, items: frozenset[Secured]) -> None:
        try:
            self.keyed.forget(items)
        except OSError as exc:  # they stay recorded: closed without a key (safe side)
            log.warning("frr sink: cannot update %s: %s", self.keyed.path, exc.strerror or exc)

    async def _run(self, argv: Sequence[str], input_text: str | None = None) -> CommandResult:
        try:
            return await self.runner(
                argv, input_text=input_text, timeout=self.options.command_timeout
            )
        except CommandError as exc:
            raise ApplyFailed(str(exc)) from None

    async def running_config(self) -> str:
        result = await self._run(self.options.vtysh.show("show running-config"))
        if not result.ok:
            raise ApplyFailed(f"cannot read the running config: {result.describe()}")
        return result.stdout

    async def _wait_settled(self, desired: FrrPlan) -> None:
        """Return once FRR looks fully started (``frr_readiness``): two
        reads ``settle_time`` apart agree, and the running config has the
        operator lines the change builds on. FrrNotReady otherwise."""
        try:
            first = await self.running_config()
            await self.sleep(self.options.settle_time)
            second = await self.running_config()
        except ApplyFailed as exc:
            raise FrrNotReady(NotReady(NotReadyKind.UNREACHABLE, str(exc))) from None
        problem = readiness(first, second, change_dependencies(self.current, desired))
        if problem is not None:
            raise FrrNotReady(problem)
        self.unsettled = False

    async def _adopt_if_running(self, desired: FrrPlan) -> bool:
        """First apply: when FRR already runs exactly the desired plan (a
        restarted rkmpd), take it as applied without touching FRR."""
        self.synced = True
        full = self._full(desired)
        if full.empty:
            return False
        try:
            running = await self.running_config()
        except ApplyFailed:
            return False
        if unmet_expectations(running, full.running_config_expectations):
            return False
        try:
            self._record_keyed(desired)
        except ApplyFailed:
            return False  # the full apply records it (or fails visibly)
        self.current = _held(desired)
        self._record_reopened(desired)
        self._forget_gone_keys(desired)
        return True

    def _full(self, plan: FrrPlan) -> FrrChange:
        """Every line of ``plan`` (the change from nothing to it)."""
        return frr_change(
            EMPTY_PLAN, plan, self.options.render, self.features, env=self._environment()
        )

    async def _check(self, change: FrrChange) -> None:
        """vtysh --dryrun: the commands parse (nothing is applied)."""
        if self.options.mode is not FrrApplyMode.VTYSH:
            return
        both = lines_text((*change.key_commands(), *change.open_commands()))
        result = await self._run(self.options.vtysh.argv("--dryrun", "-f", "/dev/stdin"), both)
        if not result.ok:
            raise ApplyFailed(f"vtysh rejected the change: {scrubbed(result, change)}")

    async def _push(self, change: FrrChange, desired: FrrPlan, present: Sequence[FrrPlan]) -> None:
        """Apply and verify. vtysh mode: the keys first, read back; only
        then, in a second run, the lines that open neighbours and
        interfaces (``vtysh -f`` goes on past a failed line, and a key that
        did not go in must not be followed by an open session).
        ``present``: the plans whose lines FRR may run now (frr-reload
        mode replaces them all with ``desired``'s)."""
        opens = change.open_commands()
        if self.options.mode is FrrApplyMode.FRR_RELOAD:
            # FrrNotReady from the first reload: nothing went in. From the
            # second: the keys did, so it is a failure to undo.
            if opens:  # the same two phases: keys (still closed), read back, then open
                hold = change.opening_expectations()
                await self._reload(change, desired, present, hold=hold)
                await self._verify(change.key_expectations())
                await _after_a_first_step(self._reload(change, desired, present))
            else:
                await self._reload(change, desired, present)
            await self._verify(change.running_config_expectations)
            return
        await self._vtysh_file(lines_text(change.key_commands()), change)
        if opens:
            await self._verify(change.key_expectations())
            await self._vtysh_file(lines_text(opens), change)
        await self._verify(change.running_config_expectations)

    async def _vtysh_file(self, text: str, change: FrrChange) -> None:
        result = await self._run(self.options.vtysh.argv("-f", "/dev/stdin"), text)
        if not result.ok:
            raise ApplyFailed(f"FRR refused the change: {scrubbed(result, change)}")

    async def _verify(self, expectations: Iterable[ConfigExpectation]) -> None:
        running = await self.running_config()
        unmet = unmet_expectations(running, expectations)
        if unmet:
            shown = "; ".join(
                f"{' / '.join(e.context) or 'top'}: {e.shown!r}"
                f" {'missing' if e.present else 'still there'}"
                for e in unmet[:5]
            )
            raise ApplyFailed(f"running-config does not show the change ({shown})")

    async def _restore(self, attempted: FrrPlan, newly_keyed: frozenset[Secured]) -> str | None:
        """Undo a failed apply: the change from ``attempted`` back to the
        applied plan, verified. None when the previous config is back.
        What the attempt keyed for the first time is handed back as it was
        (its key removed, not shut); what rkmpd keyed before stays closed
        if the applied plan has no key for it."""
        previous = dataclasses.replace(self.current, keyed=self.keyed.items - newly_keyed)
        try:
            inverse = frr_change(
                attempted, previous, self.options.render, self.features,
                env=self._environment(),
            )  # fmt: skip
            if not inverse.empty:
                # Lines of the failed change that never took fail again when
                # undone (a block FRR refused to enter): what counts is the
                # running config afterwards.
                # Keys first and opens only after them here too: a restore
                # never opens a neighbour whose key did not go back in.
                # frr-reload mode: the attempt's lines may be in the running
                # config, whole or in part; they are replaced with the
                # previous plan's like the applied plan's.
                with contextlib.suppress(ApplyFailed):
                    await self._push(inverse, previous, present=(attempted, self.current))
            await self._verify(inverse.running_config_expectations)
        except (ApplyFailed, SinkError) as exc:
            self.synced = False  # compare with FRR again next time
            return str(exc)
        return None

    async def _reload(
        self,
        change: FrrChange,
        desired: FrrPlan,
        present: Sequence[FrrPlan],
        hold: Iterable[ConfigExpectation] = (),
    ) -> None:
        """frr-reload.py --reload (``FrrReloader``) on the running config
        with the lines of the ``present`` plans replaced by the desired
        ones; the running lines ``hold`` says must not go yet (shutdown,
        passive) stay."""
        options = self.options
        reloader = FrrReloader(options.vtysh, options.frr_reload, self._run, self.running_config)
        owned = tuple(self._full(plan) for plan in present)
        try:
            await reloader.reload(change, owned, self._full(desired), hold)
        except ReloadRefused as exc:
            raise FrrNotReady(exc.problem) from None
        except ReloadFailed as exc:
            raise ApplyFailed(str(exc)) from None

    async def _kernel_check(self, change: FrrChange, desired: FrrPlan) -> tuple[str, ...]:
        if not self.options.kernel_check or not change.reset_neighbors:
            return ()
        checker = self.md5_check or default_md5_check
        problems: list[str] = []
        keys = {entry.neighbor: entry.key for entry in desired.bgp.values()}
        for neighbor in change.reset_neighbors:
            key = keys.get(neighbor)
            if key is None:
                continue  # the password was removed: nothing to expect
            problem = await md5_problem(
                checker, neighbor, key.encode(), self.options.kernel_check_window, self.sleep
            )
            if problem is not None:
                problems.append(problem)
        return tuple(problems)


def _held(plan: FrrPlan) -> FrrPlan:
    """``plan`` as applied: its leftovers are gone (or replaced) then."""
    return dataclasses.replace(plan, leftovers=NO_LEFTOVERS) if plan.leftovers else plan


class _ReadOnce:
    """FRR's running config for one apply: read at the first call only.
    FrrNotReady if it cannot be read (nothing was applied)."""

    def __init__(self, read: Callable[[], Awaitable[str]]) -> None:
        self._read = read
        self._text: str | None = None

    async def __call__(self) -> str:
        if self._text is None:
            try:
                self._text = await self._read()
            except ApplyFailed as exc:
                raise FrrNotReady(NotReady(NotReadyKind.UNREACHABLE, str(exc))) from None
        return self._text


async def _after_a_first_step(step: Awaitable[None]) -> None:
    """A step after a first one went in: FRR not being ready is then a
    failure like any other (the restore undoes the first step)."""
    try:
        await step
    except FrrNotReady as exc:
        problem = exc.problem
        raise ApplyFailed(f"FRR not ready ({problem.kind.value}): {problem.detail}") from None
