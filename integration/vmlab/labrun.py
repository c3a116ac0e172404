"""Build (or reuse) the guest, boot it, return the scenarios' results.

    from integration.vmlab.labrun import run_lab
    run = run_lab(["smoke"], run_dir=Path("/tmp/x"))
    run.scenario("smoke").check("bird_bgp_tcp_ao").detail

Raises LabUnavailable when this machine cannot run the lab at all (tests
skip with its message) and LabError when the lab ran and broke (tests
fail). A scenario that ran but failed checks is not an exception: its
`ScenarioResult` says what failed.
"""

from __future__ import annotations

import ast
import os
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from integration.vmlab import qemu
from integration.vmlab.base import ensure_base
from integration.vmlab.cache import LabCache
from integration.vmlab.errors import LabError, LabUnavailable
from integration.vmlab.layer import ensure_layer
from integration.vmlab.proc import Progress
from integration.vmlab.results import KIND_SCENARIO, ScenarioResult

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SCENARIO_DIR = Path(__file__).parent / "scenarios"
DEFAULT_SCENARIO_TIMEOUT = 240.0
BOOT_MARGIN = 120.0  # kernel boot, module loading, reporting, power-off under TCG


def stderr_progress(message: str) -> None:
    print(f"vmlab {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def unavailable_reason() -> str | None:
    """Why this machine cannot run the lab, or None (no network is touched)."""
    if os.geteuid() != 0:
        return "the VM lab needs root (debootstrap, chroot)"
    for program, package in (
        (qemu.QEMU, "qemu-system-x86"),
        ("debootstrap", "debootstrap"),
        ("dpkg-deb", "dpkg"),
        ("apt-get", "apt"),
        ("chroot", "coreutils"),
    ):
        if shutil.which(program) is None:
            return f"{program} not installed (Debian package {package})"
    return None


def scenario_names() -> list[str]:
    """The scenarios the project has (modules in integration/vmlab/scenarios)."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.py") if not p.name.startswith("_"))


def scenario_timeout(module: Path, default: float) -> float:
    """The scenario module's literal `TIMEOUT = N` (read, not imported), or `default`."""
    for node in ast.parse(module.read_text()).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if (
            isinstance(target, ast.Name)
            and target.id == "TIMEOUT"
            and isinstance(value, ast.Constant)
            and isinstance(value.value, int | float)
        ):
            return float(value.value)
    return default


@dataclass(frozen=True)
class LabRun:
    """What one boot of the lab produced."""

    scenarios: tuple[ScenarioResult, ...]
    guest_facts: Mapping[str, Any]
    accel: qemu.Accel
    base_key: str
    layer_key: str
    base_built: bool
    timings: Mapping[str, float]
    console: str = field(repr=False)
    run_dir: Path

    def scenario(self, name: str) -> ScenarioResult:
        for result in self.scenarios:
            if result.name == name:
                return result
        raise KeyError(f"scenario {name!r} did not report; got {[s.name for s in self.scenarios]}")

    def write_logs(self) -> list[Path]:
        """Each scenario's files (logs, configs) under run_dir/<scenario>/."""
        written: list[Path] = []
        for result in self.scenarios:
            directory = self.run_dir / result.name
            directory.mkdir(parents=True, exist_ok=True)
            for name, text in result.logs.items():
                path = directory / name.replace("/", "_")
                path.write_text(text)
                written.append(path)
        return written


BOOT_ATTEMPTS = 2
_KERNEL_CRASH_MARKERS = ("Kernel panic", "Oops:", "Fatal exception")


def _guest_kernel_crashed(console: str) -> bool:
    return any(marker in console for marker in _KERNEL_CRASH_MARKERS)


def run_lab(
    scenarios: Sequence[str],
    *,
    run_dir: Path,
    default_timeout: float = DEFAULT_SCENARIO_TIMEOUT,
    project_root: Path = PROJECT_ROOT,
    cache: LabCache | None = None,
    progress: Progress = stderr_progress,
) -> LabRun:
    """Build or reuse the image, boot once, run `scenarios` in order.

    Each scenario has its module's TIMEOUT (else `default_timeout`) seconds
    in the guest; QEMU gets their sum plus BOOT_MARGIN before it is killed.
    """
    reason = unavailable_reason()
    if reason is not None:
        raise LabUnavailable(reason)
    unknown = sorted(set(scenarios) - set(scenario_names()))
    if unknown:
        raise LabError(f"no such scenario(s) {unknown}; have {scenario_names()}")
    cache = cache or LabCache()
    run_dir.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}

    started = time.monotonic()
    base, built = ensure_base(cache, project_root, progress)
    timings["base"] = time.monotonic() - started
    started = time.monotonic()
    layer = ensure_layer(cache, base, project_root, progress)
    timings["layer"] = time.monotonic() - started

    initrd = run_dir / "initrd.cpio"
    qemu.combine_initrd([base.initrd, layer.path], initrd)
    try:
        accel = qemu.choose_accel(cache.accel_file, base.vmlinuz, initrd, run_dir, progress)
        for attempt in range(1, BOOT_ATTEMPTS + 1):
            progress(f"booting ({accel.value}) for {', '.join(scenarios)}")
            boot = qemu.boot(
                accel=accel,
                vmlinuz=base.vmlinuz,
                initrd=initrd,
                cmdline=qemu.kernel_cmdline(scenarios, default_timeout),
                timeout=BOOT_MARGIN
                + sum(
                    scenario_timeout(SCENARIO_DIR / f"{s}.py", default_timeout) for s in scenarios
                ),
                run_dir=run_dir,
            )
            if boot.done is not None or not _guest_kernel_crashed(boot.console):
                break
            # Seen about once in 15 boots: an Oops in the guest's own kernel
            # under multi-threaded TCG, before any scenario could report.
            # That is the emulator's fault, not the project's: boot again.
            progress(f"guest kernel crashed (attempt {attempt}); booting again")
    finally:
        initrd.unlink(missing_ok=True)
    timings["boot"] = boot.seconds
    results = tuple(
        ScenarioResult.from_json(f) for f in boot.frames if f.get("kind") == KIND_SCENARIO
    )
    done = boot.done
    if done is None:
        state = "timed out" if boot.timed_out else f"exited with {boot.exit_status}"
        tail = "\n".join(boot.console.splitlines()[-40:])
        raise LabError(
            f"the guest gave no final report (QEMU {state} after {boot.seconds:.0f} s; "
            f"{len(results)} scenario report(s)); console ({run_dir / qemu.CONSOLE}):\n{tail}"
        )
    run = LabRun(
        scenarios=results,
        guest_facts=dict(done.get("facts") or {}),
        accel=accel,
        base_key=base.key,
        layer_key=layer.key,
        base_built=built,
        timings=timings,
        console=boot.console,
        run_dir=run_dir,
    )
    run.write_logs()
    return run
