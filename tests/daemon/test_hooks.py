"""Hooks: which events make which calls, the environment, which files run
and in what order, and isolation (failures, hangs, the loop)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from rkmp_frr.daemon.hooks import (
    HookCall,
    HookEvent,
    HookRunner,
    hook_calls,
    list_hooks,
    revoke_call,
    run_hook,
)
from rkmp_frr.engine import (
    ChildParams,
    ChildRef,
    ChildSaCreated,
    ChildSaDeleted,
    ChildSaRekeyed,
    DeleteReason,
    FailureReason,
    PeerAlive,
    RkmpSaDeleted,
    RkmpSaEstablished,
    RkmpSaFailed,
    RkmpSaRef,
)
from rkmp_frr.wire.constants import IntegId, ProtocolId

PEER = ("192.0.2.2", 500)
SA = RkmpSaRef(PEER, bytes.fromhex("0102030405060708"), bytes.fromhex("1112131415161718"))
REF = ChildRef(PEER, ProtocolId.TCP_AO, 7, 9)
KEY = bytes(range(100, 132))


def params(ref: ChildRef = REF) -> ChildParams:
    return ChildParams(
        ref=ref,
        integ=IntegId.HMAC_SHA2_256_128,
        options=(),
        pfs_group=None,
        rekey_at=100.0,
        expires_at=200.0,
        initiator=True,
        master_key=KEY,
    )


def name_of(host: str) -> str | None:
    return "r2" if host == PEER[0] else None


def run(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(coro)


def test_events_map_to_calls() -> None:
    up = hook_calls(RkmpSaEstablished(SA, True, "r1.example", "r2.example", "aes"), name_of)
    assert [c.event for c in up] == [HookEvent.RKMP_UP]
    assert up[0].environment() == {
        "RKMP_EVENT": "rkmp-up",
        "RKMP_PEER_NAME": "r2",
        "RKMP_PEER_ADDRESS": "192.0.2.2",
        "RKMP_PEER_PORT": "500",
        "RKMP_LOCAL_ID": "r1.example",
        "RKMP_REMOTE_ID": "r2.example",
        "RKMP_SPI_I": "0102030405060708",
        "RKMP_SPI_R": "1112131415161718",
    }
    failed = hook_calls(RkmpSaFailed(SA, FailureReason.LIVENESS_TIMEOUT, (REF,), True), name_of)
    assert [c.event for c in failed] == [HookEvent.RKMP_DOWN, HookEvent.REVOKE]
    assert failed[1].environment()["RKMP_REASON"] == "liveness-timeout"
    assert failed[1].environment()["RKMP_KEYS_REVOKED"] == "1"
    kept = hook_calls(RkmpSaFailed(SA, FailureReason.TIMEOUT, (REF,), False), name_of)
    assert [c.event for c in kept] == [HookEvent.RKMP_DOWN]

    created = hook_calls(ChildSaCreated(params()), name_of)
    assert created[0].environment()["RKMP_PROTOCOL"] == "tcp-ao"
    assert created[0].environment()["RKMP_LOCAL_KEY_ID"] == "7"
    assert created[0].environment()["RKMP_REMOTE_KEY_ID"] == "9"
    new = ChildRef(PEER, ProtocolId.TCP_AO, 8, 10)
    rekeyed = hook_calls(ChildSaRekeyed(REF, params(new)), name_of)
    env = rekeyed[0].environment()
    assert (env["RKMP_EVENT"], env["RKMP_LOCAL_KEY_ID"], env["RKMP_OLD_LOCAL_KEY_ID"]) == (
        "child-rekey",
        "8",
        "7",
    )
    assert hook_calls(ChildSaDeleted(REF, DeleteReason.REMOTE), name_of)[0].reason == "remote"
    # successors exist: no "down"
    assert hook_calls(ChildSaDeleted(REF, DeleteReason.REKEYED), name_of) == []
    assert hook_calls(RkmpSaDeleted(SA, DeleteReason.REKEYED, ()), name_of) == []
    assert hook_calls(RkmpSaDeleted(SA, DeleteReason.REMOTE, ()), name_of)[0].event is (
        HookEvent.RKMP_DOWN
    )
    assert hook_calls(PeerAlive(SA), name_of) == []


def test_no_key_material_in_hook_environment() -> None:
    calls = hook_calls(ChildSaCreated(params()), name_of) + hook_calls(
        ChildSaRekeyed(REF, params(ChildRef(PEER, ProtocolId.TCP_AO, 8, 10))), name_of
    )
    for call in calls:
        text = repr(call) + repr(call.environment())
        assert KEY.hex() not in text and KEY.hex().upper() not in text


def _script(directory: Path, name: str, body: str, mode: int = 0o755) -> Path:
    path = directory / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(mode)
    return path


def test_which_files_run_and_in_what_order(tmp_path: Path) -> None:
    for name in ("20-b", "10-a", "30-c.sh"):
        _script(tmp_path, name, "true\n")
    _script(tmp_path, "15-not-executable", "true\n", mode=0o644)
    _script(tmp_path, ".hidden", "true\n")
    _script(tmp_path, "25-old~", "true\n")
    _script(tmp_path, "26-x.dpkg-old", "true\n")
    (tmp_path / "40-dir").mkdir()
    assert [p.name for p in list_hooks(tmp_path)] == ["10-a", "20-b", "30-c.sh"]
    assert list_hooks(tmp_path / "missing") == []


def test_hooks_run_in_order_and_a_failure_does_not_stop_the_next(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    hooks = tmp_path / "hooks.d"
    hooks.mkdir()
    _script(hooks, "10-first", f'echo "first $RKMP_EVENT $RKMP_PEER_NAME" >> {out}\nexit 3\n')
    _script(hooks, "20-second", f'echo "second $RKMP_EVENT $RKMP_EXTRA" >> {out}\n')

    async def main() -> None:
        runner = HookRunner(hooks, 5.0, extra_env={"RKMP_EXTRA": "x"})
        runner.submit([revoke_call(PEER, "r2", "admin", 2)])
        runner.submit([HookCall(HookEvent.CHILD_UP, PEER[0], PEER[1])])
        await runner.drain()
        await runner.close()
        assert [r.returncode for _, r in runner.results] == [3, 0, 3, 0]

    run(main())
    assert out.read_text().splitlines() == [
        "first revoke r2",
        "second revoke x",
        "first child-up ",
        "second child-up x",
    ]


def test_a_hanging_hook_is_killed_with_its_children_and_the_loop_runs_on(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    pids = tmp_path / "pids"
    hooks = tmp_path / "hooks.d"
    hooks.mkdir()
    # a hook that starts a child in its process group and then hangs
    _script(hooks, "10-hang", f"sleep 60 &\necho $! > {pids}\necho $$ >> {pids}\nsleep 60\n")
    _script(hooks, "20-after", f"echo after >> {out}\n")

    async def main() -> None:
        runner = HookRunner(hooks, 0.5)
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        runner.submit([HookCall(HookEvent.REVOKE, PEER[0], PEER[1])])
        await runner.drain()
        task.cancel()
        await runner.close()
        hang, after = (r for _, r in runner.results)
        assert hang.timed_out and hang.returncode is None
        assert after.returncode == 0
        assert ticks > 10  # the loop kept running while the hook hung

    run(main())
    assert out.read_text() == "after\n"
    for pid in (int(p) for p in pids.read_text().split()):
        for _ in range(100):
            if not _alive(pid):
                break
            time.sleep(0.01)
        else:
            raise AssertionError(f"hook process {pid} survived the timeout")


def _alive(pid: int) -> bool:
    """Running (a killed orphan may stay a zombie until PID 1 reaps it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_hook_that_cannot_start_is_reported(tmp_path: Path) -> None:
    hook = tmp_path / "10-bad"
    hook.write_text("#!/nonexistent/interpreter\n")
    hook.chmod(0o755)

    async def main() -> None:
        result = await run_hook(hook, {"PATH": "/usr/bin:/bin"}, 1.0)
        assert result.returncode is None and not result.timed_out
        assert "cannot start" in result.output

    run(main())
