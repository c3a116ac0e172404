"""The API a scenario gets inside the guest: named checks, facts, logs.

A scenario is a module `integration.vmlab.scenarios.<name>` with

    KERNEL_MODULES: tuple[str, ...] = ("veth", ...)   # optional, loaded first
    TIMEOUT = 240.0                                   # optional, seconds (a literal:
                                                      # the host reads it to bound the boot)
    def run(lab: Lab) -> None: ...

and does its work in `with lab.check("name") as check:` blocks. A block that
raises is recorded as a failed check (the exception is its error) and the
scenario goes on with the next block; `check.detail` carries what the host
test asserts on (counters, states, versions). Processes started with
`lab.start` and namespaces made with `lab.namespace` are stopped and removed
when the scenario ends, and their logs go back to the host.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from integration.harness.netns import NamespacePool, NetNs
from integration.harness.process import ManagedProcess, run, start_process
from integration.vmlab.results import CheckResult

# Logs sent back to the host are cut to their last octets (the serial line
# is slow under emulation and the host keeps only what explains a failure).
MAX_LOG_OCTETS = 96 * 1024


class CheckFailed(Exception):
    """A scenario check saw something other than what it requires."""


@dataclass
class Check:
    """The open check of a `with lab.check(...)` block."""

    name: str
    detail: dict[str, Any] = field(default_factory=dict)

    def require(self, condition: object, message: str) -> None:
        """Fail this check with `message` unless `condition` holds."""
        if not condition:
            raise CheckFailed(message)


@dataclass
class Lab:
    """One scenario's run: its work directory, checks, facts and cleanups."""

    scenario: str
    work: Path
    deadline: float
    checks: list[CheckResult] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    _attached: dict[str, Path] = field(default_factory=dict)
    _processes: list[ManagedProcess] = field(default_factory=list)
    _namespaces: NamespacePool = field(default_factory=NamespacePool)

    def remaining(self) -> float:
        """Seconds left before the scenario's deadline."""
        return max(0.0, self.deadline - time.monotonic())

    def log(self, message: str) -> None:
        """A progress line on the guest console (and so in the host's console log)."""
        print(f"[{self.scenario}] {message}", file=sys.stderr, flush=True)

    def fact(self, key: str, value: Any) -> None:
        """Something true of the whole run (a version, a kernel setting)."""
        self.facts[key] = value

    @contextlib.contextmanager
    def check(self, name: str) -> Iterator[Check]:
        """Record the block as check `name`: passed unless it raises."""
        current = Check(name)
        started = time.monotonic()
        self.log(f"check {name} ...")
        try:
            yield current
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            self._record(current, started, error)
            self.log(f"check {name} FAILED: {error}")
            self.log_text(f"traceback-{name}", traceback.format_exc())
        else:
            self._record(current, started, None)
            self.log(f"check {name} ok")

    def _record(self, current: Check, started: float, error: str | None) -> None:
        self.checks.append(
            CheckResult(
                name=current.name,
                passed=error is None,
                seconds=time.monotonic() - started,
                detail=dict(current.detail),
                error=error,
            )
        )

    def attach(self, name: str, path: Path) -> None:
        """Send `path` back to the host as file `name` when the scenario ends."""
        self._attached[name] = path

    def log_text(self, name: str, text: str) -> Path:
        """Write `text` as an attached log file; returns its path."""
        path = self.work / f"{name}.log"
        path.write_text(text)
        self.attach(path.name, path)
        return path

    def namespace(self, role: str) -> NetNs:
        """A fresh network namespace (lo up), removed at the end."""
        return self._namespaces.create(role)

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        netns: NetNs | None = None,
        env: Mapping[str, str] | None = None,
    ) -> ManagedProcess:
        """Start a background process; its output is attached as `name`.log."""
        log_path = self.work / f"{name}.log"
        process = start_process(
            name, argv, log_path=log_path, netns=netns.name if netns else None, env=env
        )
        self._processes.append(process)
        self.attach(log_path.name, log_path)
        return process

    def run(
        self,
        argv: Sequence[str],
        *,
        netns: NetNs | None = None,
        timeout: float = 30.0,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command to completion (HarnessError on non-zero with `check`)."""
        return run(argv, netns=netns.name if netns else None, timeout=timeout, check=check)

    def close(self) -> None:
        """Stop every process (by PID) and remove every namespace."""
        while self._processes:
            process = self._processes.pop()
            try:
                process.stop(timeout=5.0)
            except Exception as exc:  # cleanup goes on; the failure is logged
                self.log(f"stopping {process.name} failed: {exc}")
        self._namespaces.close()

    def collect_logs(self) -> dict[str, str]:
        """The attached files' text (each cut to its last MAX_LOG_OCTETS)."""
        logs: dict[str, str] = {}
        for name, path in self._attached.items():
            try:
                data = path.read_bytes()
            except OSError as exc:
                logs[name] = f"(cannot read {path}: {exc})"
                continue
            if len(data) > MAX_LOG_OCTETS:
                data = b"(cut)...\n" + data[-MAX_LOG_OCTETS:]
            logs[name] = data.decode(errors="replace")
        return logs
