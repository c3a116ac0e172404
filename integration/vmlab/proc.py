"""Host commands of the builder: bounded by a timeout, logged, killed by PID.

Every command runs in its own session (process group); on timeout that group,
and only it, is killed through the child's PID.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from integration.vmlab.errors import LabError

TAIL_LINES = 30
# Where the builder and the boot report what they are doing (one line each).
Progress = Callable[[str], None]


def _tail(text: str, lines: int = TAIL_LINES) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def run_command(
    argv: Sequence[str],
    *,
    log: Path,
    timeout: float,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    error: type[LabError] = LabError,
) -> str:
    """Run `argv`; return its stdout (both stdout and stderr also go to `log`).

    A non-zero exit or a timeout raises `error` with the command and the
    end of its output.
    """
    command = shlex.join(argv)
    with log.open("ab") as sink:
        sink.write(f"\n$ {command}\n".encode())
    process = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        start_new_session=True,
    )
    try:
        output, stderr_data = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        with log.open("ab") as sink:
            sink.write(f"(killed after {timeout:.0f} s)\n".encode())
        raise error(f"{command}: no result after {timeout:.0f} s (log {log})") from None
    except BaseException:
        _kill_group(process)
        raise
    text = output.decode(errors="replace")
    with log.open("ab") as sink:
        sink.write(output + stderr_data)
    if process.returncode != 0:
        both = text + stderr_data.decode(errors="replace")
        raise error(f"{command} exited with {process.returncode} (log {log}):\n{_tail(both)}")
    return text
