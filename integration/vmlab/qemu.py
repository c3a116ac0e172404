"""Boot the lab guest under QEMU and collect what it reports.

The guest's console (ttyS0) goes to `console.log`; its reports come on a
second serial port (ttyS1) that QEMU writes to `reports.bin`. QEMU runs
without network (`-nic none`) and without a monitor, is bounded by a
timeout, and is killed by its PID when the timeout passes.

Acceleration: this machine's /dev/kvm cannot boot a stock kernel (a PVM
host), so TCG is the default. KVM is used only after a real boot under it
produced the guest's final report; that verdict is kept in the cache per
host kernel and QEMU version, so the probe runs once.
"""

from __future__ import annotations

import enum
import json
import os
import platform
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from integration.vmlab.config import ACCEL_ENV
from integration.vmlab.errors import LabError, LabUnavailable
from integration.vmlab.proc import Progress
from integration.vmlab.results import KIND_DONE, JsonObject, decode_frames

QEMU = "qemu-system-x86_64"
MEMORY_MB = 1024
CPUS = 2
KVM_PROBE_TIMEOUT = 90.0
CONSOLE = "console.log"
REPORTS = "reports.bin"


class Accel(enum.Enum):
    TCG = "tcg"
    KVM = "kvm"


def qemu_binary() -> str:
    path = shutil.which(QEMU)
    if path is None:
        raise LabUnavailable(f"{QEMU} not installed (Debian package qemu-system-x86)")
    return path


def kernel_cmdline(scenarios: Sequence[str], scenario_timeout: float) -> str:
    return " ".join([
        "console=ttyS0", "quiet", "loglevel=3", "panic=-1", "rdinit=/init",
        "mitigations=off",  # nothing to protect in a throwaway guest; TCG runs faster
        f"rkmp.scenarios={','.join(scenarios)}", f"rkmp.timeout={scenario_timeout:.0f}",
    ])  # fmt: skip


def qemu_argv(accel: Accel, vmlinuz: Path, initrd: Path, cmdline: str, reports: Path) -> list[str]:
    accel_option = "tcg,thread=multi,tb-size=256" if accel is Accel.TCG else "kvm"
    cpu = "max" if accel is Accel.TCG else "host"
    return [
        qemu_binary(),
        "-accel", accel_option, "-cpu", cpu, "-smp", str(CPUS), "-m", str(MEMORY_MB),
        "-nographic", "-no-reboot", "-monitor", "none", "-nic", "none",
        "-serial", "stdio", "-serial", f"file:{reports}",
        "-kernel", str(vmlinuz), "-initrd", str(initrd), "-append", cmdline,
    ]  # fmt: skip


@dataclass(frozen=True)
class Boot:
    """One guest run as the host saw it."""

    accel: Accel
    seconds: float
    timed_out: bool
    exit_status: int | None
    console: str
    frames: tuple[JsonObject, ...]

    @property
    def done(self) -> JsonObject | None:
        """The guest's final report, if it got that far."""
        return next((f for f in self.frames if f.get("kind") == KIND_DONE), None)


def combine_initrd(parts: Sequence[Path], output: Path) -> None:
    """Concatenate cpio archives (each already padded to 512 octets)."""
    with output.open("wb") as out:
        for part in parts:
            with part.open("rb") as source:
                shutil.copyfileobj(source, out, 1 << 20)


def boot(
    *,
    accel: Accel,
    vmlinuz: Path,
    initrd: Path,
    cmdline: str,
    timeout: float,
    run_dir: Path,
) -> Boot:
    """Run the guest to power-off (or `timeout`); return what it reported."""
    console_path = run_dir / CONSOLE
    reports = run_dir / REPORTS
    reports.unlink(missing_ok=True)
    argv = qemu_argv(accel, vmlinuz, initrd, cmdline, reports)
    started = time.monotonic()
    with console_path.open("wb") as console:
        console.write(f"$ {' '.join(argv)}\n".encode())
        console.flush()
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        timed_out = False
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
        except BaseException:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            raise
    seconds = time.monotonic() - started
    data = reports.read_bytes() if reports.exists() else b""
    return Boot(
        accel=accel,
        seconds=seconds,
        timed_out=timed_out,
        exit_status=None if timed_out else process.returncode,
        console=console_path.read_text(errors="replace"),
        frames=tuple(decode_frames(data)),
    )


def _host_identity() -> dict[str, str]:
    version = subprocess.run(
        [qemu_binary(), "--version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout.splitlines()
    return {"host_kernel": platform.release(), "qemu": version[0] if version else "?"}


def choose_accel(
    accel_file: Path, vmlinuz: Path, initrd: Path, run_dir: Path, progress: Progress
) -> Accel:
    """TCG, unless $RKMP_VMLAB_ACCEL says otherwise or KVM booted the
    guest here before (a real boot decides, never the mere /dev/kvm)."""
    wanted = os.environ.get(ACCEL_ENV, "auto")
    if wanted in (Accel.TCG.value, Accel.KVM.value):
        return Accel(wanted)
    if wanted != "auto":
        raise LabError(f"{ACCEL_ENV}={wanted!r}: use tcg, kvm or auto")
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return Accel.TCG
    identity = _host_identity()
    try:
        verdict = json.loads(accel_file.read_text())
    except (OSError, ValueError):
        verdict = {}
    if verdict.get("identity") != identity:
        progress("checking whether KVM can boot the guest here (once per host)")
        probe_dir = run_dir / "kvm-probe"
        probe_dir.mkdir(exist_ok=True)
        result = boot(
            accel=Accel.KVM, vmlinuz=vmlinuz, initrd=initrd, cmdline=kernel_cmdline((), 30),
            timeout=KVM_PROBE_TIMEOUT, run_dir=probe_dir,
        )  # fmt: skip
        verdict = {
            "identity": identity,
            "kvm_boots": result.done is not None,
            "checked": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        accel_file.write_text(json.dumps(verdict, indent=1))
        progress(f"KVM {'boots' if verdict['kvm_boots'] else 'does not boot'} the guest")
    return Accel.KVM if verdict.get("kvm_boots") else Accel.TCG
