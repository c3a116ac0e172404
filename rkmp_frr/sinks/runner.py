"""Running the routing daemons' command-line tools (vtysh, birdc, bird,
frr-reload.py) from the appliers.

One seam, :class:`CommandRunner`, so the appliers' decisions (check,
apply, verify, restore) can be tested with scripted answers, and the real
tools are driven by the integration tests. Keys travel on standard input
or in files the applier writes with mode 0600/0640, never in argv (argv is
world-readable through /proc). What a tool says is shown only masked
(``rkmp_frr.sinks.secrets``): it may echo keys, the operator's too.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from rkmp_frr.sinks.secrets import mask_secrets

DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What a tool did. ``stdin`` is not kept (it may hold keys)."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str = field(repr=False)
    stderr: str = field(repr=False)

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def output(self) -> str:
        return (self.stdout + self.stderr).strip()

    def describe(
        self, limit: int = 400, *, keys: Iterable[str] = (), known: Iterable[str] = ()
    ) -> str:
        """One line: the command, its status and (the start of) its output,
        every secret in it masked (``mask_secrets``: rkmpd's ``keys``,
        ``known`` others, and whatever follows a password keyword)."""
        text = " ".join(mask_secrets(self.output, keys, known).split())
        if len(text) > limit:
            text = text[:limit] + "..."
        return f"`{shlex.join(self.argv)}` exited with {self.returncode}: {text or '(no output)'}"


class CommandError(Exception):
    """A tool could not be run at all (not found, timed out)."""


class CommandRunner(Protocol):
    async def __call__(
        self, argv: Sequence[str], *, input_text: str | None = None, timeout: float = ...
    ) -> CommandResult: ...


async def run_command(
    argv: Sequence[str], *, input_text: str | None = None, timeout: float = DEFAULT_TIMEOUT
) -> CommandResult:
    """Run ``argv`` to completion (no shell), feeding ``input_text`` on stdin."""
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if input_text is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        raise CommandError(f"cannot run {argv[0]}: {exc.strerror or exc}") from None
    data = input_text.encode() if input_text is not None else None
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(data), timeout)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise CommandError(f"{shlex.join(argv)} did not finish within {timeout:g} s") from None
    assert process.returncode is not None
    return CommandResult(
        tuple(argv),
        process.returncode,
        stdout.decode(errors="replace"),
        stderr.decode(errors="replace"),
    )
