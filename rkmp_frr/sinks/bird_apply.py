"""Apply key table rows to BIRD: one include file, checked, then configured.

Each apply renders the whole include file for the rows
(``rkmp_frr.sinks.bird_render``); the operator's bird.conf includes it.

1. Same bytes as the file in place: nothing to do.
2. Write it atomically: a temporary file in the same directory (mode 0640,
   group ``bird`` when that group exists, so an unprivileged BIRD can read
   it), fsync, rename over the include file. The previous content is kept
   in memory.
3. ``birdc configure check``: BIRD parses its whole configuration with the
   new file. A refusal puts the previous file back; BIRD never saw it.
4. ``birdc configure`` (or ``configure timeout N``: BIRD undoes it by
   itself unless confirmed within N seconds).
5. Verify: every protocol the file defines is listed by ``birdc show
   protocols``, and for TCP-MD5 changes the kernel holds the key on BIRD's
   sockets (``rkmp_frr.daemon.kernel_check``). Then ``configure confirm``.
6. On a failure after the file was replaced: ``configure undo`` (with a
   timeout) and the previous file back, ``birdc configure`` again, and
   the result says whether that worked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from rkmp_frr.keytable.row import KeyRow
from rkmp_frr.keytable.utc import UtcSeconds
from rkmp_frr.sinks.atomic_file import write_atomically
from rkmp_frr.sinks.batching import ApplyResult, ApplyStatus
from rkmp_frr.sinks.bird_render import BirdConfig, BirdRenderConfig, render_bird
from rkmp_frr.sinks.features import BirdFeatures
from rkmp_frr.sinks.keyed import KeyedState, Secured
from rkmp_frr.sinks.md5_verify import Md5Checker, default_md5_check, md5_problem
from rkmp_frr.sinks.render import SinkError, template_environment
from rkmp_frr.sinks.runner import CommandError, CommandResult, CommandRunner, run_command
from rkmp_frr.sinks.secrets import mask_secrets

log = logging.getLogger(__name__)

SINK = "bird"
FILE_MODE = 0o640
BIRD_GROUP = "bird"
KERNEL_CHECK_WINDOW = 5.0  # BIRD restarts a session whose password changed
_CONFIGURED = ("Reconfigured", "Reconfiguration in progress", "Reconfiguration already in progress")
_PROTOCOL_LINE = re.compile(r"^(\S+)\s+\S+\s+\S+\s+(\S+)", re.M)


@dataclass(frozen=True, slots=True)
class BirdcCommand:
    """``birdc [-s SOCKET]``; ``wrapper`` runs it elsewhere (``ip netns
    exec NS`` when BIRD is in another network namespace)."""

    birdc: str = "birdc"
    socket: Path | None = None
    wrapper: tuple[str, ...] = ()

    def argv(self, *words: str) -> list[str]:
        argv = [*self.wrapper, self.birdc]
        if self.socket is not None:
            argv += ["-s", str(self.socket)]
        return [*argv, *words]


@dataclass(frozen=True, slots=True)
class BirdApplierOptions:
    """The BIRD sink's settings (``[sinks.bird]`` plus the renderer's share)."""

    include_file: Path
    birdc: BirdcCommand = field(default_factory=BirdcCommand)
    render: BirdRenderConfig = field(default_factory=BirdRenderConfig)
    confirm_timeout: float | None = None  # None: plain ``configure``
    dry_run: bool = False
    templates_dir: Path | None = None
    kernel_check: bool = True
    kernel_check_window: float = KERNEL_CHECK_WINDOW
    command_timeout: float = 30.0
    file_group: str | None = BIRD_GROUP


class ApplyFailed(Exception):
    """One step failed; the message is one line without keys."""


@dataclass
class BirdApplier:
    """Brings BIRD to a set of rows (the ``Applier`` of a ``BatchingSink``)."""

    options: BirdApplierOptions
    features: BirdFeatures
    runner: CommandRunner = run_command
    md5_check: Md5Checker | None = None  # default: the sock_diag check in this namespace
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    current: BirdConfig | None = None  # what BIRD was last configured with
    # What rkmpd has keyed (fail closed applies to these only); persisted
    # under state_dir by rkmpd, in memory by default.
    keyed: KeyedState = field(default_factory=lambda: KeyedState(SINK))
    _env: jinja2.Environment | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return SINK

    def _environment(self) -> jinja2.Environment:
        if self._env is None:
            self._env = template_environment(self.options.templates_dir)
        return self._env

    async def apply(self, rows: Sequence[KeyRow], now: UtcSeconds) -> ApplyResult:
        started, clock = time.time(), time.monotonic()

        def result(status: ApplyStatus, **fields: object) -> ApplyResult:
            return ApplyResult(
                sink=SINK,
                status=status,
                started_at=started,
                duration=time.monotonic() - clock,
                rows=len(rows),
                **fields,  # type: ignore[arg-type]
            )

        try:
            rendered = render_bird(
                rows, self.options.render, self.features, now,
                env=self._environment(), strict=False, keyed=self.keyed.items,
            )  # fmt: skip
        except SinkError as exc:  # nothing was touched
            return result(ApplyStatus.FAILED_RESTORED, error=str(exc))
        base: dict[str, object] = {
            "refused": tuple(str(e) for e in rendered.refused),
            "notes": rendered.notes,
            "next_change_at": rendered.next_change_at,
        }
        path = self.options.include_file
        previous = _read(path)
        # The first apply configures even an unchanged file: BIRD may not
        # have loaded it (rkmpd stopped between write and configure), and
        # reconfiguring with the same file restarts nothing.
        if previous == rendered.text and self.current is not None:
            self.current = rendered
            return result(ApplyStatus.UNCHANGED, **base)
        if self.options.dry_run:
            log.info("bird sink (dry run) would write %s:\n%s", path, rendered.masked_text)
            self.current = rendered
            self.keyed.record(rendered.keyed)  # in memory: no state file in a dry run
            return result(ApplyStatus.DRY_RUN, change=rendered.masked_text, **base)

        change = rendered.masked_text
        secrets = _secrets(rendered, self.current)
        try:
            # Written down before any key goes in: a crash after configure
            # must not leave a keyed session that a restart would not close.
            newly_keyed = self.keyed.record(rendered.keyed)
        except OSError as exc:
            return result(
                ApplyStatus.FAILED_RESTORED, change=change,
                error=f"cannot record the keyed sessions in {self.keyed.path}: "
                f"{exc.strerror or exc}", **base,
            )  # fmt: skip
        try:
            write_atomically(path, rendered.text, mode=FILE_MODE, group=self.options.file_group)
        except OSError as exc:
            self._forget_keyed(newly_keyed)
            return result(
                ApplyStatus.FAILED_RESTORED, change=change,
                error=f"cannot write {path}: {exc.strerror or exc}", **base,
            )  # fmt: skip
        try:
            await self._birdc_expect(("configure", "check"), ("Configuration OK",), secrets)
        except ApplyFailed as exc:  # BIRD never loaded it
            restore_error = self._put_back(path, previous)
            status = ApplyStatus.FAILED if restore_error else ApplyStatus.FAILED_RESTORED
            if restore_error is None:
                self._forget_keyed(newly_keyed)
            return result(
                status, change=change, error=str(exc), restore_error=restore_error, **base
            )
        try:
            await self._configure(secrets)
            await self._verify(rendered)
            if self.options.confirm_timeout is not None:
                await self._birdc_expect(("configure", "confirm"), ("confirmed",), secrets)
        except ApplyFailed as exc:
            restore_error = await self._restore(path, previous, secrets)
            status = ApplyStatus.FAILED if restore_error else ApplyStatus.FAILED_RESTORED
            if restore_error is None:
                self._forget_keyed(newly_keyed)
            return result(
                status, change=change, error=str(exc), restore_error=restore_error, **base
            )
        restarted = rendered.md5_changes_since(self.current)
        previous_config, self.current = self.current, rendered
        notes = rendered.notes
        if restarted:
            notes += (f"BGP sessions restarted by the key change: {', '.join(restarted)}",)
        kernel = await self._kernel_check(rendered, previous_config)
        return result(
            ApplyStatus.APPLIED,
            change=change,
            refused=base["refused"],
            notes=notes,
            kernel_problems=kernel,
            next_change_at=rendered.next_change_at,
        )

    def _forget_keyed(self, items: frozenset[Secured]) -> None:
        """An apply that keyed ``items`` for the first time was undone."""
        try:
            self.keyed.forget(items)
        except OSError as exc:  # they stay recorded: closed without a key (safe side)
            log.warning("bird sink: cannot update %s: %s", self.keyed.path, exc.strerror or exc)

    # --- steps --------------------------------------------------------------------------

    async def _birdc(self, words: Sequence[str]) -> CommandResult:
        try:
            return await self.runner(
                self.options.birdc.argv(*words), timeout=self.options.command_timeout
            )
        except CommandError as exc:
            raise ApplyFailed(str(exc)) from None

    async def _birdc_expect(
        self, words: Sequence[str], answers: Sequence[str], secrets: set[str]
    ) -> CommandResult:
        answer = await self._birdc(words)
        if not answer.ok or not any(a in answer.stdout for a in answers):
            raise ApplyFailed(f"birdc {' '.join(words)}: {_answer(answer, secrets)}")
        return answer

    async def _configure(self, secrets: set[str]) -> None:
        words = ["configure"]
        if self.options.confirm_timeout is not None:
            words += ["timeout", str(max(1, round(self.options.confirm_timeout)))]
        await self._birdc_expect(words, _CONFIGURED, secrets)

    async def _verify(self, rendered: BirdConfig) -> None:
        """Every protocol of the file is one BIRD runs now."""
        wanted = {s.name for s in self.options.render.bgp} | {
            o.name for o in self.options.render.ospf
        }
        if not wanted:
            return
        answer = await self._birdc(("show", "protocols"))
        if not answer.ok:
            raise ApplyFailed(f"birdc show protocols: {_answer(answer, set())}")
        listed = {m[1] for m in _PROTOCOL_LINE.finditer(answer.stdout)}
        missing = sorted(wanted - listed)
        if missing:
            raise ApplyFailed(f"BIRD does not run protocol(s) {', '.join(missing)} after configure")
        del rendered

    def _put_back(self, path: Path, previous: str | None) -> str | None:
        try:
            if previous is None:
                path.unlink(missing_ok=True)
            else:
                write_atomically(path, previous, mode=FILE_MODE, group=self.options.file_group)
        except OSError as exc:
            return f"cannot put back {path}: {exc.strerror or exc}"
        return None

    async def _restore(self, path: Path, previous: str | None, secrets: set[str]) -> str | None:
        """The previous file back and BIRD configured with it."""
        if self.options.confirm_timeout is not None:
            with contextlib.suppress(ApplyFailed):
                await self._birdc_expect(("configure", "undo"), ("Undo", "Nothing"), secrets)
        problem = self._put_back(path, previous)
        if problem is not None:
            return problem
        try:
            await self._birdc_expect(("configure",), _CONFIGURED, secrets)
        except ApplyFailed as exc:
            return str(exc)
        return None

    async def _kernel_check(
        self, rendered: BirdConfig, previous: BirdConfig | None
    ) -> tuple[str, ...]:
        if not self.options.kernel_check:
            return ()
        changed = rendered.md5_changes_since(previous)
        neighbors = {s.name: s.neighbor for s in self.options.render.bgp}
        checker = self.md5_check or default_md5_check
        problems: list[str] = []
        for name in changed:
            key = rendered.md5_passwords.get(name)
            neighbor = neighbors.get(name)
            if key is None or neighbor is None:
                continue
            problem = await md5_problem(
                checker, neighbor, key.encode(), self.options.kernel_check_window, self.sleep
            )
            if problem is not None:
                problems.append(f"protocol {name}: {problem}")
        return tuple(problems)


def _answer(result: CommandResult, secrets: set[str]) -> str:
    """birdc's answer without its greeting, on one line, masked (rkmpd's
    keys ``secrets``, and anything after a password keyword)."""
    lines = [
        line.strip()
        for line in mask_secrets(result.output, secrets).splitlines()
        if line.strip() and not line.startswith("BIRD ") and "Reading configuration" not in line
    ]
    return " / ".join(lines) or f"exit status {result.returncode}"


def _secrets(*configs: BirdConfig | None) -> set[str]:
    """The keys in renderings (to mask in messages: BIRD quotes the
    offending line of a config it rejects)."""
    found: set[str] = set()
    for config in configs:
        if config is None:
            continue
        found.update(config.md5_passwords.values())
        found.update(re.findall(r'(?:password|secret) "([^"]*)"', config.text))
    return found


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except FileNotFoundError:
        return None
