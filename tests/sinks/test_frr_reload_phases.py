"""frr-reload mode applies keys before opening, as vtysh mode does: a
neighbour rkmpd shut (fail closed) gets its key in a first reload that
keeps the shutdown line, read back, and only a second reload lifts it.
frr-reload.py is scripted: it reads the configuration file it is given
and bgpd takes the password and shutdown lines in it."""

from __future__ import annotations

import asyncio
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
    reload_config,
)
from rkmp_frr.sinks.frr_render import EMPTY_PLAN, frr_change, frr_plan
from rkmp_frr.sinks.keyed import KeyedState, frr_bgp
from rkmp_frr.sinks.runner import CommandResult

from .sink_rows import PEER, PEER_B, T0
from .test_frr_apply import FEATURES, HEADER, KEY_1, RENDER, FakeBgpd, md5

SHUT = "rkmpd: no usable key"


@dataclass
class ReloadingBgpd(FakeBgpd):
    """FakeBgpd behind frr-reload.py: each reload makes bgpd's password and
    shutdown lines those of the file; the state after each is recorded."""

    reloads: list[tuple[dict[str, str], dict[str, str]]] = field(default_factory=list)

    def reload(self, text: str) -> CommandResult:
        passwords, shutdown = {}, {}
        for line in text.splitlines():
            words = line.split()
            if words[:1] == ["neighbor"] and words[2:3] == ["password"]:
                passwords[words[1]] = words[3]
            elif words[:1] == ["neighbor"] and words[2:4] == ["shutdown", "message"]:
                shutdown[words[1]] = " ".join(words[4:])
        self.passwords, self.shutdown = passwords, shutdown
        self.reloads.append((dict(passwords), dict(shutdown)))
        return CommandResult((), 0, "", "")

    async def __call__(
        self, argv: Sequence[str], *, input_text: str | None = None, timeout: float = 30.0
    ) -> CommandResult:
        if argv and argv[0] == DEFAULT_FRR_RELOAD:
            self.calls.append((tuple(argv), None))
            return self.reload(Path(argv[-1]).read_text())
        return await super().__call__(argv, input_text=input_text, timeout=timeout)


def reload_applier(fake: ReloadingBgpd) -> FrrApplier:
    opts = FrrApplierOptions(
        vtysh=VtyshCommand(), render=RENDER, kernel_check=False, mode=FrrApplyMode.FRR_RELOAD
    )
    frr = FrrApplier(opts, FEATURES, runner=fake)
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
    held = reload_config(running, owned, wanted, change.opening_expectations())
    assert f" neighbor {PEER} password {KEY_1}" in held
    assert f" neighbor {PEER} shutdown message {SHUT}" in held
    opened = reload_config(running, owned, wanted)
    assert f" neighbor {PEER} password {KEY_1}" in opened
    assert "shutdown" not in opened
