"""frr-reload mode applies keys before opening, as vtysh mode does: a
neighbour rkmpd shut (fail closed) gets its key in a first reload that
keeps the shutdown line, read back, and only a second reload lifts it.
A failed reload is rolled back whole: the restore's file is the previous
plan's configuration, so what the failed attempt added goes too.
frr-reload.py is scripted: it reads the configuration file it is given
and bgpd takes the password and shutdown lines in it (but not a password
for a neighbour it has no ``remote-as`` for: frr-reload.py goes on with
the other lines and exits 1)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rkmp_frr.sinks.batching import ApplyStatus
from rkmp_frr.sinks.frr_apply import (
    DEFAULT_FRR_RELOAD,
    FrrApplier,
    FrrApplierOptions,
    FrrApplyMode,
    VtyshCommand,
)
from rkmp_frr.sinks.frr_config import FrrBgpNeighbor, FrrRenderConfig
from rkmp_frr.sinks.frr_plan import EMPTY_PLAN, frr_plan
from rkmp_frr.sinks.frr_reload import reload_config
from rkmp_frr.sinks.frr_render import frr_change
from rkmp_frr.sinks.keyed import KeyedState, frr_bgp
from rkmp_frr.sinks.runner import CommandResult
from rkmp_frr.wire.constants import ProtocolId

from .sink_rows import PEER, PEER_B, T0, make_row, since
from .test_frr_apply import FEATURES, HEADER, KEY_1, KEY_2, RENDER, FakeBgpd, md5, no_sleep

SHUT = "rkmpd: no usable key"
PEER_C = "192.0.2.3"  # in the sink's configuration, not in bgpd's: its password fails
KEY_3 = "33" * 16
RENDER_3 = FrrRenderConfig(bgp_neighbors=(*RENDER.bgp_neighbors, FrrBgpNeighbor(PEER_C, 65001)))


@dataclass
class ReloadingBgpd(FakeBgpd):
    """FakeBgpd behind frr-reload.py: each reload makes bgpd's password and
    shutdown lines those of the file; the state after each is recorded."""

    reloads: list[tuple[dict[str, str], dict[str, str]]] = field(default_factory=list)
    echo: bool = False  # a failed reload logs the lines it ran, keys included

    def reload(self, text: str) -> CommandResult:
        before = dict(self.passwords)
        passwords, shutdown, failed = {}, {}, []
        for line in text.splitlines():
            words = line.split()
            if words[:1] == ["neighbor"] and words[2:3] == ["password"]:
                if words[1] in self.refuse_neighbors:
                    failed.append(line.strip())
                else:
                    passwords[words[1]] = words[3]
            elif words[:1] == ["neighbor"] and words[2:4] == ["shutdown", "message"]:
                shutdown[words[1]] = " ".join(words[4:])
        self.passwords, self.shutdown = passwords, shutdown
        self.reloads.append((dict(passwords), dict(shutdown)))
        if not failed:
            return CommandResult((), 0, "", "")
        ran = [f'Executed "no neighbor {n} password {k}"' for n, k in before.items()]
        ran += text.splitlines()
        shown = "\n".join(ran) if self.echo else ""
        return CommandResult((), 1, "", f"Failed to execute {failed[0]}\n{shown}")

    async def __call__(
        self, argv: Sequence[str], *, input_text: str | None = None, timeout: float = 30.0
    ) -> CommandResult:
        if argv and argv[0] == DEFAULT_FRR_RELOAD:
            self.calls.append((tuple(argv), None))
            return self.reload(Path(argv[-1]).read_text())
        return await super().__call__(argv, input_text=input_text, timeout=timeout)


def reload_applier(fake: ReloadingBgpd, render: FrrRenderConfig = RENDER) -> FrrApplier:
    opts = FrrApplierOptions(
        vtysh=VtyshCommand(), render=render, kernel_check=False, mode=FrrApplyMode.FRR_RELOAD
    )
    frr = FrrApplier(opts, FEATURES, runner=fake, sleep=no_sleep)
    frr.keyed = KeyedState("frr", None, {frr_bgp(PEER)})
    return frr


def test_a_shut_neighbour_gets_its_key_in_a_first_reload_and_opens_in_a_second() -> None:
    fake = ReloadingBgpd()
    frr = reload_applier(fake)
    closed = asyncio.run(frr.apply([], T0))  # no key: PEER shut (fail closed)
    assert closed.status is ApplyStatus.APPLIED, closed.describe()
    assert fake.shutdown == {PEER: SHUT} and len(fake.reloads) == 1
    fake.reloads.clear()
    result = asyncio.run(frr.apply([md5(PEER, 1, KEY_1)], T0 + 10))
    assert result.status is ApplyStatus.APPLIED, result.describe()
    assert fake.reloads == [
        ({PEER: KEY_1}, {PEER: SHUT}),  # the key in, the neighbour still shut
        ({PEER: KEY_1}, {}),  # then opened
    ]


def test_a_change_that_opens_nothing_is_one_reload() -> None:
    fake = ReloadingBgpd()
    frr = reload_applier(fake)
    frr.keyed = KeyedState("frr")  # never keyed: a first key opens nothing
    result = asyncio.run(frr.apply([md5(PEER_B, 1, KEY_1)], T0))
    assert result.status is ApplyStatus.APPLIED, result.describe()
    assert fake.reloads == [({PEER_B: KEY_1}, {})]


def test_a_key_that_does_not_go_in_leaves_the_neighbour_shut() -> None:
    """The first reload's read-back fails: no second reload opens it."""
    fake = ReloadingBgpd()
    frr = reload_applier(fake)
    asyncio.run(frr.apply([], T0))
    fake.reloads.clear()
    real = fake.reload

    def keyless(text: str) -> CommandResult:
        return real("\n".join(line for line in text.splitlines() if "password" not in line))

    fake.reload = keyless  # type: ignore[method-assign]
    result = asyncio.run(frr.apply([md5(PEER, 1, KEY_1)], T0 + 10))
    assert result.status is not ApplyStatus.APPLIED
    assert all(shutdown == {PEER: SHUT} for _, shutdown in fake.reloads), fake.reloads
    assert fake.shutdown == {PEER: SHUT}


def test_a_failed_reload_takes_out_what_it_added() -> None:
    """PEER_C's password fails, PEER_B's (a new neighbour) went in: the
    restore removes it again, and the previous configuration is back."""
    fake = ReloadingBgpd(refuse_neighbors={PEER_C})
    frr = reload_applier(fake, RENDER_3)
    asyncio.run(frr.apply([md5(PEER, 1, KEY_1)], T0))
    attempt = [md5(PEER, 1, KEY_1), md5(PEER_B, 2, KEY_2), md5(PEER_C, 3, KEY_3)]
    result = asyncio.run(frr.apply(attempt, T0 + 10))
    assert result.status is ApplyStatus.FAILED_RESTORED, result.describe()
    assert "frr-reload.py failed" in (result.error or "") and result.restore_error is None
    assert fake.reloads[-2][0] == {PEER: KEY_1, PEER_B: KEY_2}  # the failed attempt
    assert fake.passwords == {PEER: KEY_1} and fake.shutdown == {}
    assert frr.keyed.items == {frr_bgp(PEER)}  # PEER_B handed back as it was
    # The operator configures PEER_C; the next apply starts from what FRR runs.
    fake.refuse_neighbors.clear()
    fake.neighbors += (PEER_C,)
    again = asyncio.run(frr.apply(attempt, T0 + 20))
    assert again.status is ApplyStatus.APPLIED, again.describe()
    assert fake.passwords == {PEER: KEY_1, PEER_B: KEY_2, PEER_C: KEY_3}


def test_a_failed_first_reload_leaves_the_neighbour_shut_and_keyless() -> None:
    """The keys of the first of two reloads (the neighbour still shut)
    went in, one failed: the restore takes the keys out, the shutdown
    stays, and no reload ever opened the neighbour."""
    fake = ReloadingBgpd(refuse_neighbors={PEER_C})
    frr = reload_applier(fake, RENDER_3)
    asyncio.run(frr.apply([], T0))  # PEER shut (fail closed)
    fake.reloads.clear()
    attempt = [md5(PEER, 1, KEY_1), md5(PEER_B, 2, KEY_2), md5(PEER_C, 3, KEY_3)]
    result = asyncio.run(frr.apply(attempt, T0 + 10))
    assert result.status is ApplyStatus.FAILED_RESTORED, result.describe()
    assert fake.reloads[0] == ({PEER: KEY_1, PEER_B: KEY_2}, {PEER: SHUT})
    assert all(shutdown == {PEER: SHUT} for _, shutdown in fake.reloads), fake.reloads
    assert fake.passwords == {} and fake.shutdown == {PEER: SHUT}


def test_a_failed_restore_shows_no_key() -> None:
    """frr-reload.py logs the lines it runs, the keys being removed
    included: neither the attempt's keys nor the applied ones show in the
    result, the restore's error included."""
    fake = ReloadingBgpd(refuse_neighbors={PEER_C}, echo=True)
    frr = reload_applier(fake, RENDER_3)
    asyncio.run(frr.apply([md5(PEER, 1, KEY_1)], T0))
    fake.refuse_neighbors.add(PEER)  # the restore fails too
    result = asyncio.run(frr.apply([md5(PEER_B, 2, KEY_2), md5(PEER_C, 3, KEY_3)], T0 + 10))
    assert result.status is ApplyStatus.FAILED, result.describe()
    assert result.restore_error
    for key in (KEY_1, KEY_2, KEY_3):
        assert key not in result.describe()
        assert key not in (result.error or "") + result.restore_error


def test_reload_config_holds_the_lines_it_is_told_to() -> None:
    running = (
        HEADER + "router bgp 65001\n neighbor 192.0.2.1 remote-as 65002\n"
        f" neighbor {PEER} shutdown message {SHUT}\nexit\n!\nend\n"
    )
    keyed = {frr_bgp(PEER)}
    shut = frr_plan([], RENDER, FEATURES, T0, keyed=keyed)
    back = frr_plan([md5(PEER, 1, KEY_1)], RENDER, FEATURES, T0, keyed=keyed)
    owned = frr_change(EMPTY_PLAN, shut, RENDER, FEATURES)
    wanted = frr_change(EMPTY_PLAN, back, RENDER, FEATURES)
    change = frr_change(shut, back, RENDER, FEATURES)
    held = reload_config(running, (owned,), wanted, change.opening_expectations())
    assert f" neighbor {PEER} password {KEY_1}" in held
    assert f" neighbor {PEER} shutdown message {SHUT}" in held
    opened = reload_config(running, (owned,), wanted)
    assert f" neighbor {PEER} password {KEY_1}" in opened
    assert "shutdown" not in opened


def test_a_rollback_file_has_none_of_the_attempts_lines() -> None:
    """Running: the applied plan plus what a failed attempt put in (a new
    neighbour's password, a key chain and its interface binding). The
    rollback file is the applied plan's configuration: frr-reload.py
    removes the rest."""
    eth1 = frozenset({"eth1"})
    render = dataclasses.replace(RENDER, ospf6_interfaces=("eth1",))
    base = (
        HEADER + "interface eth1\n ipv6 address 2001:db8::1/64\nexit\n!\n"
        "router bgp 65001\n neighbor 192.0.2.1 remote-as 65002\n"
        " neighbor 192.0.2.2 remote-as 65002\nexit\n!\nend\n"
    )
    applied = frr_plan([md5(PEER, 1, KEY_1)], render, FEATURES, T0)
    ospf6 = make_row(ProtocolId.OSPFV3, 7, since(T0), interfaces=eth1)
    attempt_rows = [md5(PEER, 1, KEY_1), md5(PEER_B, 2, KEY_2), ospf6]
    attempted = frr_plan(attempt_rows, render, FEATURES, T0)
    assert attempted.key_chains and not attempted.refused
    full_applied = frr_change(EMPTY_PLAN, applied, render, FEATURES)
    full_attempted = frr_change(EMPTY_PLAN, attempted, render, FEATURES)
    running = reload_config(base, (), full_attempted)
    assert f"neighbor {PEER_B} password {KEY_2}" in running and "key chain" in running
    rollback = reload_config(running, (full_attempted, full_applied), full_applied)
    assert f" neighbor {PEER} password {KEY_1}" in rollback
    for gone in (PEER_B + " password", "key chain", "ospf6 authentication", ospf6.key):
        assert gone not in rollback, gone
    for kept in (" ipv6 address 2001:db8::1/64", f" neighbor {PEER_B} remote-as 65002"):
        assert kept in rollback


def test_frr_reload_is_given_a_private_frr_conf_as_its_confdir() -> None:
    """frr-reload.py runs ``vtysh write`` (the running config, keys
    included, into FRR's frr.conf) unless the file it is given is
    <confdir>/frr.conf: it is, in a private directory removed after."""
    fake = ReloadingBgpd()
    seen: list[tuple[str, str, int, int]] = []
    real = fake.reload

    def watching(text: str) -> CommandResult:
        argv = fake.calls[-1][0]
        path = Path(argv[-1])
        confdir = argv[argv.index("--confdir") + 1]
        mode = path.stat().st_mode & 0o777, path.parent.stat().st_mode & 0o777
        seen.append((str(path), confdir, *mode))
        return real(text)

    fake.reload = watching  # type: ignore[method-assign]
    frr = reload_applier(fake)
    result = asyncio.run(frr.apply([md5(PEER, 1, KEY_1)], T0))
    assert result.status is ApplyStatus.APPLIED, result.describe()
    assert seen
    for path, confdir, file_mode, dir_mode in seen:
        assert Path(path) == Path(confdir) / "frr.conf"
        assert (file_mode, dir_mode) == (0o600, 0o700)
        assert not Path(confdir).exists()
