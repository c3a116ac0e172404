"""Processes started by tests: run in a namespace, log to a file, stop by PID.

Every process a test starts is tracked by its own PID (the Popen object) and
stopped through it: never by name or pattern, since other work may run the
same daemons on this machine.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

DEFAULT_STOP_TIMEOUT = 10.0


class HarnessError(Exception):
    """The test environment did not behave (a daemon died, a wait timed out)."""


def wait_until(
    predicate: Callable[[], T | bool | None],
    *,
    timeout: float,
    what: str,
    interval: float = 0.02,
    diagnostics: Callable[[], str] | None = None,
) -> T:
    """Poll `predicate` until it returns something truthy; return that.

    A harness deadline, not a test assertion on timing: on timeout it raises
    HarnessError naming `what`, plus whatever `diagnostics` says.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            extra = f"\n{diagnostics()}" if diagnostics is not None else ""
            raise HarnessError(f"timed out after {timeout:.1f} s waiting for {what}{extra}")
        time.sleep(interval)


def tail(path: Path, lines: int = 40) -> str:
    """The last lines of a log file, for failure messages."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return f"({path} does not exist)"
    return "\n".join(text.splitlines()[-lines:])


def netns_argv(netns: str | None, argv: Sequence[str]) -> list[str]:
    """`argv` run inside network namespace `netns` (or as is for None)."""
    if netns is None:
        return list(argv)
    return ["ip", "netns", "exec", netns, *argv]


def private_mounts_argv(bind_mounts: Mapping[str, Path], argv: Sequence[str]) -> list[str]:
    """`argv` in a private mount namespace with host dirs bound over paths.

    For daemons with compiled-in state paths (charon's /run/charon.pid, FRR's
    /run/frr): each instance gets its own directory there. `unshare` and
    `sh -c ... exec` both exec in place, so the PID stays the daemon's.
    """
    if not bind_mounts:
        return list(argv)
    mounts = " && ".join(
        f"mount --bind {shlex.quote(str(src))} {shlex.quote(dst)}"
        for dst, src in bind_mounts.items()
    )
    return [
        "unshare", "--mount", "--propagation", "private",
        "sh", "-c", f'{mounts} && exec "$@"', "sh", *argv,
    ]  # fmt: skip


@dataclass
class ManagedProcess:
    """A process this test started; stopped by its PID only."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    stopped: bool = field(default=False)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        return (
            f"--- {self.name} (pid {self.pid}) log {self.log_path}:\n{tail(self.log_path, lines)}"
        )

    def check_alive(self) -> None:
        if not self.running():
            raise HarnessError(
                f"{self.name} exited with status {self.popen.returncode}\n{self.log_tail()}"
            )

    def stop(self, timeout: float = DEFAULT_STOP_TIMEOUT) -> int:
        """SIGTERM, wait, then SIGKILL if needed; returns the exit status."""
        if self.stopped:
            return self.popen.returncode
        self.stopped = True
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout)
        return self.popen.returncode


def start_process(
    name: str,
    argv: Sequence[str],
    *,
    log_path: Path,
    netns: str | None = None,
    env: Mapping[str, str] | None = None,
    bind_mounts: Mapping[str, Path] | None = None,
    cwd: Path | None = None,
) -> ManagedProcess:
    """Start `argv` (in `netns`, with private `bind_mounts`), output to `log_path`.

    `env` is added to the current environment (`ip netns exec` keeps it).
    """
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    command = netns_argv(netns, private_mounts_argv(bind_mounts or {}, argv))
    with log_path.open("ab") as log:
        popen = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=cwd,
            start_new_session=True,  # a ^C to pytest must not hit it first
        )
    return ManagedProcess(name=name, popen=popen, log_path=log_path)


def run(
    argv: Sequence[str],
    *,
    netns: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 30.0,
    check: bool = True,
    input_text: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion (in `netns`), capturing text output.

    With `check`, a non-zero exit raises HarnessError showing the output.
    """
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    command = netns_argv(netns, argv)
    result = subprocess.run(
        command,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input_text,
        check=False,
    )
    if check and result.returncode != 0:
        raise HarnessError(
            f"{shlex.join(command)} exited with {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result
