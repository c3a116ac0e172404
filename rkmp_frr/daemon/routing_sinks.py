"""rkmpd's routing-daemon sinks, built from ``[sinks.frr]`` and
``[sinks.bird]``.

At start (and at a SIGHUP that changes a sink's table) each configured
daemon is asked its version (``rkmp_frr.sinks.detect``), and every
configured ``[[peer.protocol]]`` is checked against what that version can
key: a protocol no configured sink can take is a ``ConfigError`` naming
``peer[i].protocol[j]`` (rkmpd exits 2), found before any key exists
rather than as a refused row at the first rekey. A daemon that cannot be
asked is a :class:`SinkStartError` (rkmpd exits 1).

Fail closed applies only to what rkmpd has keyed: each sink keeps the
neighbours and interfaces it ever put a key into in
``<state_dir>/frr-sink.keyed`` / ``bird-sink.keyed``
(``rkmp_frr.sinks.keyed``; read at start, unreadable = SinkStartError).
Anything else is left as the operator configured it, so a pair of rkmpd
whose RKMP SA never comes up (mismatched credentials) changes nothing.

Each sink is a :class:`RoutingSink`: the key table sink (a
``BatchingSink`` around the FRR or BIRD applier) plus what ``rkmpctl
status`` shows about it. Restart safety lives in the appliers: the first
apply after start adopts what FRR already runs (no password is set again,
no session reset), and BIRD reconfigured with an unchanged include file
restarts nothing; so a restarted rkmpd leaves the keys already in the
routing daemons alone.

The other way round, FRR restarted (or an operator removed a key by hand):
the FRR sink reads FRR's running config back every ``[sinks.frr]
check_interval`` and puts back what drifted (``FrrApplier.check_drift``);
``rkmpctl status`` counts the drifts. BIRD needs no check: it reads the
include file again when it restarts.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rkmp_frr.daemon.config_load import ConfigError
from rkmp_frr.daemon.config_model import BirdSink, DaemonConfig, FrrSink, PeerConfig
from rkmp_frr.daemon.control_protocol import SinkApplyInfo, SinkInfo
from rkmp_frr.keytable.changes import Change
from rkmp_frr.keytable.row import KeyRow
from rkmp_frr.keytable.utc import UtcSeconds
from rkmp_frr.sinks.batching import ApplyResult, ApplyStatus, BatchingSink
from rkmp_frr.sinks.bird_apply import BirdApplier, BirdApplierOptions, BirdcCommand
from rkmp_frr.sinks.bird_render import BirdRenderConfig
from rkmp_frr.sinks.detect import (
    DetectionError,
    check_bird,
    check_frr,
    detect_bird,
    detect_frr,
)
from rkmp_frr.sinks.features import Version
from rkmp_frr.sinks.frr_apply import FrrApplier, FrrApplierOptions, FrrApplyMode, VtyshCommand
from rkmp_frr.sinks.frr_config import FrrRenderConfig
from rkmp_frr.sinks.keyed import KeyedState, KeyedStateError
from rkmp_frr.sinks.render import (
    MissingSinkConfig,
    SinkError,
    TemplateRenderError,
    template_environment,
)
from rkmp_frr.sinks.runner import CommandRunner, run_command
from rkmp_frr.sinks.serving import Serving, servings
from rkmp_frr.wire.constants import ProtocolId

log = logging.getLogger(__name__)

SinkSettings = FrrSink | BirdSink


class SinkStartError(Exception):
    """A configured routing daemon could not be asked its version (one
    line, no key)."""


@dataclass(frozen=True, slots=True)
class Detection:
    """What a daemon said about itself at start."""

    product: str  # "FRR", "BIRD"
    version: Version
    answer: str  # its own words (first line)


class RoutingSink:
    """One routing daemon's key table sink as rkmpd runs it: a batching
    sink around the daemon's applier, the settings it was built from (a
    SIGHUP compares them), and its state for ``rkmpctl status``."""

    def __init__(
        self,
        settings: SinkSettings,
        detection: Detection,
        applier: FrrApplier | BirdApplier,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.detection = detection
        self.applier = applier
        self.serving = Serving(applier.options.render)  # all rows: the only sink
        self.batching = BatchingSink(_Served(self), wall=wall, on_result=self._on_result)
        if isinstance(applier, FrrApplier) and isinstance(settings, FrrSink):
            self.batching.checker = applier.check_drift
            self.batching.check_interval = settings.check_interval
        self._last_change: ApplyResult | None = None

    @property
    def name(self) -> str:
        return self.batching.name

    def describe(self) -> str:
        """One line: the sink, the daemon as it answered, how keys go in."""
        applier = self.applier
        if isinstance(applier, FrrApplier):
            how = f"{applier.options.mode.value} mode"
        else:
            how = f"include file {applier.options.include_file}"
        dry = ", dry run" if self.settings.dry_run else ""
        return f"{self.name} sink: {self.detection.answer} ({how}{dry})"

    # --- the key table sink -------------------------------------------------------------

    def __call__(self, change: Change) -> None:
        self.batching(change)

    def load(self, rows: Iterable[KeyRow]) -> None:
        """Start from the key table as it is: the daemon is brought to these
        rows (what it already runs is adopted, not applied again)."""
        self.batching.load(rows)

    async def drain(self) -> ApplyResult | None:
        return await self.batching.drain()

    async def close(self) -> None:
        await self.batching.close()

    def serve(self, serving: Serving) -> None:
        """Take only ``serving``'s share of the rows from now on (another
        sink came or went: rkmp_frr.sinks.serving)."""
        if serving != self.serving:
            self.serving = serving
            self.batching.refresh()

    def _on_result(self, result: ApplyResult) -> None:
        if result.status is not ApplyStatus.UNCHANGED:
            self._last_change = result

    # --- status ---------------------------------------------------------------------------

    def info(self) -> SinkInfo:
        status = self.batching.status()
        last_change = self._last_change
        return SinkInfo(
            name=self.name,
            daemon=self.detection.product,
            version=str(self.detection.version),
            detected=self.detection.answer,
            dry_run=self.settings.dry_run,
            ok=status.ok,
            rows=status.rows,
            pending=status.pending,
            applies=status.applies,
            failures=status.failures,
            last_error=status.last_error,
            last_apply=apply_info(status.last),
            last_change=apply_info(last_change),
            kernel_problems=last_change.kernel_problems if last_change is not None else (),
            drift_checks=status.checks,
            drifts=status.drifts,
            last_drift_at=status.last_drift.checked_at if status.last_drift else None,
            last_drift=status.last_drift.drift if status.last_drift else None,
            check_error=status.check_error,
        )


class _Served:
    """The applier as the batching sink sees it: given only the rows the
    sink serves."""

    def __init__(self, sink: RoutingSink) -> None:
        self.sink = sink

    @property
    def name(self) -> str:
        return self.sink.applier.name

    async def apply(self, rows: Sequence[KeyRow], now: UtcSeconds) -> ApplyResult:
        return await self.sink.applier.apply(self.sink.serving.rows(rows), now)


def apply_info(result: ApplyResult | None) -> SinkApplyInfo | None:
    """An apply result as ``rkmpctl status`` shows it (it carries no key)."""
    if result is None:
        return None
    return SinkApplyInfo(
        status=result.status.value,
        ok=result.ok,
        started_at=result.started_at,
        duration=result.duration,
        rows=result.rows,
        line=result.describe(),
        error=result.error,
        restore_error=result.restore_error,
        refused=result.refused,
        notes=result.notes,
        kernel_problems=result.kernel_problems,
    )


# --- building ----------------------------------------------------------------------------


async def build_routing_sinks(
    config: DaemonConfig,
    current: Sequence[RoutingSink] = (),
    *,
    runner: CommandRunner = run_command,
) -> list[RoutingSink]:
    """The sinks ``config`` asks for. A sink in ``current`` whose table is
    unchanged is kept as it is (only the peers are checked again); a
    changed one is rebuilt, detecting the daemon again and taking over
    what the old one applied. ConfigError: a configured protocol that no
    sink can key, or a template directory that is not there;
    SinkStartError: a daemon that does not tell its version."""
    built: list[RoutingSink] = []
    new: list[RoutingSink] = []
    for settings in (config.sinks.frr, config.sinks.bird):
        if settings is None:
            continue
        previous = next((s for s in current if type(s.settings) is type(settings)), None)
        render = render_config(config, settings)
        if (
            previous is not None
            and previous.settings == settings
            and previous.applier.options.render == render
        ):
            built.append(previous)
            continue
        sink = await _build(config, settings, render, runner)
        if previous is not None and settings.dry_run:
            sink.applier.keyed = previous.applier.keyed  # a dry run's is in memory only
        if previous is not None:
            _take_over(sink, previous)
        built.append(sink)
        new.append(sink)
    check_peers(config, built)
    shares = servings([sink.applier.options.render for sink in built])
    for sink, serving in zip(built, shares, strict=True):
        sink.serve(serving)
    for sink in new:
        log.info("%s", sink.describe())
    return built


def render_config(
    config: DaemonConfig, settings: SinkSettings
) -> FrrRenderConfig | BirdRenderConfig:
    """The renderer's configuration: the sink's table, and for FRR the OSPF
    interfaces the peers' protocols key (those it secures: without a key
    they are made passive, ``rkmp_frr.sinks.frr_render``), except those a
    BIRD sink lists (BIRD's, ``rkmp_frr.sinks.serving``)."""
    if isinstance(settings, BirdSink):
        return settings.render_config()
    bird = config.sinks.bird.render_config() if config.sinks.bird is not None else None
    wanted = {ProtocolId.OSPFV2: set[str](), ProtocolId.OSPFV3: set[str]()}
    for peer in config.peers:
        for protocol in peer.protocols:
            if protocol.protocol not in wanted or protocol.interface is None:
                continue
            if bird is not None and bird.has_interface(protocol.protocol, protocol.interface):
                continue
            wanted[protocol.protocol].add(protocol.interface)
    return dataclasses.replace(
        settings.render_config(),
        ospf_interfaces=tuple(sorted(wanted[ProtocolId.OSPFV2])),
        ospf6_interfaces=tuple(sorted(wanted[ProtocolId.OSPFV3])),
    )


async def _build(
    config: DaemonConfig,
    settings: SinkSettings,
    render: FrrRenderConfig | BirdRenderConfig,
    runner: CommandRunner,
) -> RoutingSink:
    section = "sinks.frr" if isinstance(settings, FrrSink) else "sinks.bird"
    if settings.templates_dir is not None:
        try:
            template_environment(settings.templates_dir)
        except TemplateRenderError as exc:
            raise ConfigError(str(config.file), f"{section}.templates_dir", str(exc)) from None
    try:
        keyed = keyed_state(config, settings)
        if isinstance(settings, FrrSink):
            assert isinstance(render, FrrRenderConfig)
            sink = await _build_frr(settings, render, runner)
        else:
            assert isinstance(render, BirdRenderConfig)
            sink = await _build_bird(settings, render, runner)
    except (DetectionError, KeyedStateError) as exc:
        raise SinkStartError(str(exc)) from None
    sink.applier.keyed = keyed
    return sink


KEYED_FILES = {FrrSink: "frr-sink.keyed", BirdSink: "bird-sink.keyed"}


def keyed_state_path(config: DaemonConfig, settings: SinkSettings) -> Path:
    """Where a sink keeps what it has keyed (``rkmp_frr.sinks.keyed``)."""
    return config.local.state_dir / KEYED_FILES[type(settings)]


def keyed_state(config: DaemonConfig, settings: SinkSettings) -> KeyedState:
    """A sink's keyed set as recorded; a dry run starts from the recorded
    set but never writes it."""
    sink = "frr" if isinstance(settings, FrrSink) else "bird"
    state = KeyedState.load(sink, keyed_state_path(config, settings))
    if settings.dry_run:
        return KeyedState(sink, None, state.items, state.closed)
    return state


async def _build_frr(
    settings: FrrSink, render: FrrRenderConfig, runner: CommandRunner
) -> RoutingSink:
    vtysh = VtyshCommand(settings.vtysh, settings.vty_socket, settings.pathspace)
    features, detected = await detect_frr(vtysh, runner)
    options = FrrApplierOptions(
        vtysh=vtysh,
        render=render,
        mode=FrrApplyMode(settings.mode.value),
        dry_run=settings.dry_run,
        templates_dir=settings.templates_dir,
    )
    applier = FrrApplier(options, features, runner=runner)
    return RoutingSink(settings, Detection("FRR", features.version, detected.answer), applier)


async def _build_bird(
    settings: BirdSink, render: BirdRenderConfig, runner: CommandRunner
) -> RoutingSink:
    birdc = BirdcCommand(settings.birdc, settings.socket)
    features, detected = await detect_bird(birdc.argv(), runner=runner)
    options = BirdApplierOptions(
        include_file=settings.include_file,
        birdc=birdc,
        render=render,
        confirm_timeout=settings.confirm_timeout,
        dry_run=settings.dry_run,
        templates_dir=settings.templates_dir,
    )
    applier = BirdApplier(options, features, runner=runner)
    return RoutingSink(settings, Detection("BIRD", features.version, detected.answer), applier)


def _take_over(sink: RoutingSink, previous: RoutingSink) -> None:
    """A rebuilt sink starts from what the old one applied when it talks
    to the same daemon the same way, so that its first apply changes only
    what the new settings change (and removes what they no longer want)."""
    new, old = sink.applier, previous.applier
    if isinstance(new, FrrApplier) and isinstance(old, FrrApplier):
        if new.options.vtysh == old.options.vtysh:
            new.current, new.synced = old.current, old.synced
    elif isinstance(new, BirdApplier) and isinstance(old, BirdApplier):
        same = (new.options.birdc, new.options.include_file)
        if same == (old.options.birdc, old.options.include_file):
            new.current = old.current


# --- the start-time check of the configured protocols --------------------------------------


def check_peers(config: DaemonConfig, sinks: Sequence[RoutingSink]) -> None:
    """ConfigError for the first ``[[peer.protocol]]`` that no sink can
    key (with more than one sink, each refusal is named)."""
    if not sinks:
        return
    for index, peer in enumerate(config.peers):
        for position, protocol in enumerate(peer.protocols):
            single = dataclasses.replace(peer, protocols=(protocol,))
            refusals = [_refusals(sink, single) for sink in sinks]
            if all(refusals):
                problem = "; ".join(
                    _explained(error, sink)
                    for sink, errors in zip(sinks, refusals, strict=True)
                    for error in errors
                )
                raise ConfigError(str(config.file), f"peer[{index}].protocol[{position}]", problem)


def _refusals(sink: RoutingSink, peer: PeerConfig) -> list[SinkError]:
    applier = sink.applier
    if isinstance(applier, FrrApplier):
        return check_frr((peer,), applier.options.render, applier.features)
    return check_bird((peer,), applier.options.render, applier.features)


def _explained(error: SinkError, sink: RoutingSink) -> str:
    if isinstance(error, MissingSinkConfig):
        bgp = error.what.startswith("BGP")
        if sink.name == "frr":
            section = "[[sinks.frr.bgp_neighbor]]"
        else:
            section = "[[sinks.bird.bgp]]" if bgp else "[[sinks.bird.ospf]]'s areas"
        return f"{error} (add it to {section})"
    return str(error)
