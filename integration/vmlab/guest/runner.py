"""The guest's test runner, started by /init: run scenarios, report, power off.

The kernel command line names what to run:

    rkmp.scenarios=smoke,other   modules under integration.vmlab.scenarios
    rkmp.timeout=240             seconds for a scenario that sets no TIMEOUT

Each scenario's `ScenarioResult` goes to the host as one frame on ttyS1 as
soon as it is finished (see `integration.vmlab.results`), then a final
`done` frame with the boot facts; a summary goes to the console between
CONSOLE_BEGIN/END. Whatever happens, the guest powers off at the end.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import os
import platform
import signal
import subprocess
import sys
import termios
import time
import traceback
import tty
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

from integration.vmlab.guest.lab import Lab
from integration.vmlab.results import (
    CONSOLE_BEGIN,
    CONSOLE_END,
    KIND_DONE,
    ScenarioResult,
    encode_frame,
)

RESULT_PORT = "/dev/ttyS1"
WORK_ROOT = Path("/tmp/vmlab")
SCENARIO_PACKAGE = "integration.vmlab.scenarios"
DEFAULT_TIMEOUT = 240.0
# Loaded before any scenario: what the lab exists for (TCP-AO is built in).
BASE_MODULES = ("veth", "xfrm_user", "esp4", "esp6", "ah4", "ah6", "sch_netem")
LINUX_REBOOT_CMD_POWER_OFF = 0x4321FEDC


class ScenarioTimeout(Exception):
    """The scenario ran past its deadline."""


@dataclass(frozen=True)
class RunRequest:
    scenarios: tuple[str, ...]
    timeout: float


def parse_cmdline(cmdline: str) -> RunRequest:
    """The `rkmp.*` parameters of a kernel command line."""
    values: dict[str, str] = {}
    for word in cmdline.split():
        key, _, value = word.partition("=")
        if key.startswith("rkmp."):
            values[key.removeprefix("rkmp.")] = value
    names = tuple(n for n in values.get("scenarios", "").split(",") if n)
    return RunRequest(scenarios=names, timeout=float(values.get("timeout", DEFAULT_TIMEOUT)))


def console(message: str) -> None:
    print(message, flush=True)


def load_modules(names: tuple[str, ...]) -> dict[str, str]:
    """modprobe each module; name -> "ok" or the error text."""
    states: dict[str, str] = {}
    for name in names:
        result = subprocess.run(
            ["modprobe", name], capture_output=True, text=True, timeout=60, check=False
        )
        states[name] = "ok" if result.returncode == 0 else (result.stderr.strip() or "failed")
    return states


def boot_facts() -> dict[str, Any]:
    return {
        "kernel": platform.release(),
        "python": platform.python_version(),
        "uptime_s": float(Path("/proc/uptime").read_text().split()[0]),
        "cpus": os.cpu_count(),
    }


@contextlib.contextmanager
def alarm(seconds: float) -> Iterator[None]:
    """Raise ScenarioTimeout in this thread after `seconds`."""

    def expire(signum: int, frame: FrameType | None) -> None:
        raise ScenarioTimeout(f"scenario timed out after {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def import_scenario(name: str) -> ModuleType:
    if not name.isidentifier():
        raise ValueError(f"bad scenario name {name!r}")
    return importlib.import_module(f"{SCENARIO_PACKAGE}.{name}")


def run_scenario(name: str, default_timeout: float) -> ScenarioResult:
    """Import and run one scenario; never raises."""
    started = time.monotonic()
    work = WORK_ROOT / name
    work.mkdir(parents=True, exist_ok=True)
    lab: Lab | None = None
    error: str | None = None
    try:
        module = import_scenario(name)
        modules = tuple(getattr(module, "KERNEL_MODULES", ()))
        timeout = float(getattr(module, "TIMEOUT", default_timeout))
        lab = Lab(scenario=name, work=work, deadline=started + timeout)
        extra = load_modules(tuple(m for m in modules if m not in BASE_MODULES))
        if extra:
            lab.fact("extra_modules", extra)
        try:
            with alarm(timeout):
                module.run(lab)
        finally:
            lab.close()  # outside the alarm: cleanup is never cut short
    except BaseException as exc:  # a scenario must not take the runner down
        error = f"{type(exc).__name__}: {exc}"
        console(traceback.format_exc())
        if lab is not None:
            lab.log_text("scenario-traceback", traceback.format_exc())
            with contextlib.suppress(Exception):
                lab.close()
    return ScenarioResult(
        name=name,
        checks=tuple(lab.checks) if lab else (),
        seconds=time.monotonic() - started,
        facts=dict(lab.facts) if lab else {},
        logs=lab.collect_logs() if lab else {},
        error=error,
    )


class ResultPort:
    """ttyS1 in raw mode: frames pass unchanged (no CR/LF translation)."""

    def __init__(self, path: str = RESULT_PORT) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_NOCTTY)
        tty.setraw(self.fd)

    def send(self, document: Mapping[str, Any]) -> None:
        data = encode_frame(document)
        while data:
            written = os.write(self.fd, data)
            data = data[written:]
        termios.tcdrain(self.fd)

    def close(self) -> None:
        os.close(self.fd)


def power_off() -> None:
    os.sync()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.reboot(LINUX_REBOOT_CMD_POWER_OFF)
    # Only reached if the syscall failed: /init's fallback takes over.


def main() -> int:
    request = parse_cmdline(Path("/proc/cmdline").read_text())
    facts = boot_facts()
    console(f"rkmp-vmlab: guest up after {facts['uptime_s']:.1f} s, kernel {facts['kernel']}")
    facts["modules"] = load_modules(BASE_MODULES)
    port = ResultPort()
    results: list[ScenarioResult] = []
    try:
        for name in request.scenarios:
            console(f"rkmp-vmlab: scenario {name}")
            result = run_scenario(name, request.timeout)
            results.append(result)
            port.send(result.to_json())
        facts["uptime_end_s"] = float(Path("/proc/uptime").read_text().split()[0])
        port.send({"kind": KIND_DONE, "facts": facts, "scenarios": [r.name for r in results]})
    finally:
        port.close()
    console(CONSOLE_BEGIN)
    for result in results:
        console(result.summary())
    console(CONSOLE_END)
    return 0


if __name__ == "__main__":
    try:
        status = main()
    except BaseException:
        traceback.print_exc()
        status = 1
    sys.stdout.flush()
    sys.stderr.flush()
    power_off()
    sys.exit(status)
