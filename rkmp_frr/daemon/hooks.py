"""Hooks: executables in ``hooks_dir`` run on RKMP events, like
strongSwan's updown scripts.

Events (``RKMP_EVENT``)::

    rkmp-up      an RKMP SA was established
    rkmp-down    an RKMP SA ended (failure, delete, peer restart; RKMP_REASON)
    child-up     a routing-protocol SA (a key) was created
    child-rekey  a routing-protocol SA was replaced by a new one (new key)
    child-down   a routing-protocol SA ended without a successor
    revoke       RP_revokeSA: the peer's keys were withdrawn (RKMP_REASON)

Every hook gets the event in its environment (see ``HookCall.environment``
for the names: RKMP_EVENT, RKMP_PEER_NAME, RKMP_PEER_ADDRESS,
RKMP_PEER_PORT, RKMP_PROTOCOL, RKMP_LOCAL_KEY_ID, RKMP_REMOTE_KEY_ID,
RKMP_OLD_LOCAL_KEY_ID, RKMP_OLD_REMOTE_KEY_ID, RKMP_REASON, RKMP_LOCAL_ID,
RKMP_REMOTE_ID, RKMP_SPI_I, RKMP_SPI_R, RKMP_KEYS_REVOKED) plus PATH. Key
material never: a hook that needs a key asks ``rkmpctl keys
--show-secrets``, where the socket's permissions decide.

Which files run: regular executable files directly in ``hooks_dir``, in
name order, skipping names starting with ``.`` and editor or package
manager leftovers (``~``, ``.dpkg-*``, ``.rpm*``, ``.swp``). The directory
is read for every event, so hooks can be added without a restart.

Isolation: hooks run as asyncio subprocesses (the loop never waits for
one), each in its own session; one still running after the timeout is
killed with its process group (by its ID). A hook that fails, hangs or
cannot be started is logged and the next one runs. Events are handled in
order by one worker, the hooks of one event in name order, so a hanging
hook delays later hooks by at most the timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import stat
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from rkmp_frr.daemon import names
from rkmp_frr.engine.events import (
    ChildRef,
    ChildSaCreated,
    ChildSaDeleted,
    ChildSaRekeyed,
    DeleteReason,
    Event,
    RkmpSaDeleted,
    RkmpSaEstablished,
    RkmpSaFailed,
    RkmpSaRef,
)
from rkmp_frr.engine.types import Address

log = logging.getLogger(__name__)

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MAX_OUTPUT = 4096  # octets of a hook's output kept for the log
_SKIPPED_SUFFIXES = ("~", ".swp", ".bak", ".orig", ".rpmnew", ".rpmsave", ".disabled")


class HookEvent(Enum):
    RKMP_UP = "rkmp-up"
    RKMP_DOWN = "rkmp-down"
    CHILD_UP = "child-up"
    CHILD_REKEY = "child-rekey"
    CHILD_DOWN = "child-down"
    REVOKE = "revoke"


@dataclass(frozen=True, slots=True)
class HookCall:
    """One event as hooks see it. Holds no key material."""

    event: HookEvent
    peer_address: str
    peer_port: int
    peer_name: str | None = None
    protocol: str | None = None
    local_key_id: int | None = None
    remote_key_id: int | None = None
    old_local_key_id: int | None = None
    old_remote_key_id: int | None = None
    reason: str | None = None
    local_identity: str | None = None
    remote_identity: str | None = None
    spi_i: str | None = None
    spi_r: str | None = None
    keys_revoked: int | None = None

    def environment(self) -> dict[str, str]:
        """The ``RKMP_*`` variables (unset fields are left out)."""
        values: dict[str, object | None] = {
            "RKMP_EVENT": self.event.value,
            "RKMP_PEER_NAME": self.peer_name,
            "RKMP_PEER_ADDRESS": self.peer_address,
            "RKMP_PEER_PORT": self.peer_port,
            "RKMP_PROTOCOL": self.protocol,
            "RKMP_LOCAL_KEY_ID": self.local_key_id,
            "RKMP_REMOTE_KEY_ID": self.remote_key_id,
            "RKMP_OLD_LOCAL_KEY_ID": self.old_local_key_id,
            "RKMP_OLD_REMOTE_KEY_ID": self.old_remote_key_id,
            "RKMP_REASON": self.reason,
            "RKMP_LOCAL_ID": self.local_identity,
            "RKMP_REMOTE_ID": self.remote_identity,
            "RKMP_SPI_I": self.spi_i,
            "RKMP_SPI_R": self.spi_r,
            "RKMP_KEYS_REVOKED": self.keys_revoked,
        }
        return {name: str(value) for name, value in values.items() if value is not None}

    def describe(self) -> str:
        parts = [self.event.value, self.peer_name or self.peer_address]
        if self.protocol:
            parts.append(self.protocol)
        if self.local_key_id is not None:
            parts.append(f"key {self.local_key_id}")
        if self.reason:
            parts.append(f"({self.reason})")
        return " ".join(parts)


# --------------------------------------------------------------------------- events -> calls

PeerNamer = Callable[[str], str | None]

# Deletes that are not the end of a peering or a key (a successor exists).
_QUIET_RKMP_DELETES = frozenset({DeleteReason.REKEYED, DeleteReason.REDUNDANT})
_CHILD_DOWN = frozenset(
    {DeleteReason.LOCAL, DeleteReason.REMOTE, DeleteReason.REVOKED, DeleteReason.EXPIRED}
)


def _sa_call(event: HookEvent, sa: RkmpSaRef, peer_name: PeerNamer, **extra: object) -> HookCall:
    return HookCall(
        event,
        peer_address=sa.peer[0],
        peer_port=sa.peer[1],
        peer_name=peer_name(sa.peer[0]),
        spi_i=sa.spi_i.hex(),
        spi_r=sa.spi_r.hex(),
        **extra,  # type: ignore[arg-type]
    )


def _child_call(
    event: HookEvent, child: ChildRef, peer_name: PeerNamer, **extra: object
) -> HookCall:
    return HookCall(
        event,
        peer_address=child.peer[0],
        peer_port=child.peer[1],
        peer_name=peer_name(child.peer[0]),
        protocol=names.protocol_name(child.protocol),
        local_key_id=child.local_key_id,
        remote_key_id=child.remote_key_id,
        **extra,  # type: ignore[arg-type]
    )


def hook_calls(event: Event, peer_name: PeerNamer) -> list[HookCall]:
    """The hook calls an engine event makes (pure; most events make none)."""
    match event:
        case RkmpSaEstablished(sa=sa, local_identity=local, remote_identity=remote):
            return [
                _sa_call(
                    HookEvent.RKMP_UP, sa, peer_name, local_identity=local, remote_identity=remote
                )
            ]
        case RkmpSaFailed(sa=sa, reason=reason, children=children, revoked=revoked):
            calls = [_sa_call(HookEvent.RKMP_DOWN, sa, peer_name, reason=reason.value)]
            if revoked:
                calls.append(
                    _sa_call(
                        HookEvent.REVOKE,
                        sa,
                        peer_name,
                        reason=reason.value,
                        keys_revoked=len(children),
                    )
                )
            return calls
        case RkmpSaDeleted(sa=sa, reason=reason) if reason not in _QUIET_RKMP_DELETES:
            return [_sa_call(HookEvent.RKMP_DOWN, sa, peer_name, reason=reason.value)]
        case ChildSaCreated(child=params):
            return [_child_call(HookEvent.CHILD_UP, params.ref, peer_name)]
        case ChildSaRekeyed(old=old, new=params):
            return [
                _child_call(
                    HookEvent.CHILD_REKEY,
                    params.ref,
                    peer_name,
                    old_local_key_id=old.local_key_id,
                    old_remote_key_id=old.remote_key_id,
                )
            ]
        case ChildSaDeleted(child=child, reason=reason) if reason in _CHILD_DOWN:
            return [_child_call(HookEvent.CHILD_DOWN, child, peer_name, reason=reason.value)]
        case _:
            return []


def revoke_call(peer: Address, peer_name: str | None, reason: str, keys: int) -> HookCall:
    """The hook call of an operator's ``rkmpctl revoke``."""
    return HookCall(
        HookEvent.REVOKE,
        peer_address=peer[0],
        peer_port=peer[1],
        peer_name=peer_name,
        reason=reason,
        keys_revoked=keys,
    )


# --------------------------------------------------------------------------- running


def _runnable(path: Path) -> bool:
    name = path.name
    if name.startswith(".") or name.endswith(_SKIPPED_SUFFIXES) or ".dpkg-" in name:
        return False
    try:
        info = path.stat()
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and os.access(path, os.X_OK)


def list_hooks(hooks_dir: Path) -> list[Path]:
    """The hooks that run, in name order (none if the directory is missing)."""
    try:
        entries = list(hooks_dir.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        log.warning("hooks directory %s: %s", hooks_dir, exc.strerror or exc)
        return []
    return sorted((p for p in entries if _runnable(p)), key=lambda p: p.name)


@dataclass(frozen=True, slots=True)
class HookResult:
    hook: str
    returncode: int | None  # None: killed at the timeout or not started
    timed_out: bool
    output: str


def _kill_group(pid: int) -> None:
    """SIGKILL the hook's process group (its session leader's ID is its
    PID: ``start_new_session``)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


async def run_hook(path: Path, env: Mapping[str, str], timeout: float) -> HookResult:
    """Run one hook to completion or to ``timeout``."""
    try:
        proc = await asyncio.create_subprocess_exec(
            str(path),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=dict(env),
            cwd="/",
            start_new_session=True,
        )
    except OSError as exc:
        return HookResult(path.name, None, False, f"cannot start: {exc.strerror or exc}")
    deadline = asyncio.get_running_loop().time() + timeout
    try:
        async with asyncio.timeout_at(deadline):
            output = await _read_output(proc)
            await proc.wait()
    except TimeoutError:
        _kill_group(proc.pid)
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        return HookResult(path.name, None, True, "")
    except asyncio.CancelledError:
        _kill_group(proc.pid)
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        raise
    return HookResult(path.name, proc.returncode, False, output.decode("utf-8", "replace"))


async def _read_output(proc: asyncio.subprocess.Process) -> bytes:
    """The hook's output up to EOF; only the first MAX_OUTPUT octets are kept."""
    assert proc.stdout is not None
    kept = bytearray()
    while chunk := await proc.stdout.read(65536):
        if len(kept) < MAX_OUTPUT:
            kept += chunk[: MAX_OUTPUT - len(kept)]
    return bytes(kept)


class HookRunner:
    """Runs the hooks of queued events, one event at a time, in order."""

    def __init__(
        self,
        hooks_dir: Path,
        timeout: float,
        *,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.hooks_dir = hooks_dir
        self.timeout = timeout
        self._extra_env = dict(extra_env or {})
        self._queue: asyncio.Queue[HookCall] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self.results: list[tuple[HookCall, HookResult]] = []  # the last few, for tests/status
        self._keep = 64

    def submit(self, calls: Iterable[HookCall]) -> None:
        """Queue calls; never waits."""
        for call in calls:
            self._queue.put_nowait(call)
        if self._worker is None and not self._queue.empty():
            self._worker = asyncio.get_running_loop().create_task(self._work(), name="rkmpd-hooks")

    def environment(self, call: HookCall) -> dict[str, str]:
        env = {"PATH": DEFAULT_PATH, **self._extra_env}
        env.update(call.environment())
        return env

    async def _work(self) -> None:
        while True:
            call = await self._queue.get()
            try:
                await self._run_all(call)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug here must not stop later hooks
                log.exception("hooks for %s failed", call.describe())
            finally:
                self._queue.task_done()

    async def _run_all(self, call: HookCall) -> None:
        hooks = list_hooks(self.hooks_dir)
        if not hooks:
            return
        env = self.environment(call)
        for path in hooks:
            result = await run_hook(path, env, self.timeout)
            self._record(call, result)

    def _record(self, call: HookCall, result: HookResult) -> None:
        self.results.append((call, result))
        del self.results[: -self._keep]
        output = " | ".join(line for line in result.output.splitlines() if line.strip())
        if result.timed_out:
            log.warning("hook %s (%s) killed after %gs", result.hook, call.describe(), self.timeout)
        elif result.returncode is None:
            log.error("hook %s (%s): %s", result.hook, call.describe(), output)
        elif result.returncode != 0:
            log.warning(
                "hook %s (%s) exited %d%s",
                result.hook,
                call.describe(),
                result.returncode,
                f": {output}" if output else "",
            )
        else:
            log.info(
                "hook %s (%s) ok%s", result.hook, call.describe(), f": {output}" if output else ""
            )

    async def drain(self) -> None:
        """Wait until every queued call has run (tests, shutdown)."""
        await self._queue.join()

    async def close(self, grace: float = 0.0) -> None:
        """Stop; running hooks get ``grace`` seconds, then are killed."""
        if self._worker is None:
            return
        if grace > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._queue.join()), grace)
        self._worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._worker
        self._worker = None
