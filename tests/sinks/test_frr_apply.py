"""The FRR applier's decisions (check, apply, verify, restore, adopt,
kernel check) against a scripted vtysh that models bgpd's password lines.
The real vtysh and FRR are in integration/test_frr_*.py."""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rkmp_frr.daemon.kernel_check import (
    Md5CheckResult,
    Md5Verdict,
    SocketVerdict,
    TcpSocket,
    TcpState,
)
from rkmp_frr.keytable.row import KeyRow
from rkmp_frr.sinks.batching import ApplyStatus
from rkmp_frr.sinks.features import Version, frr_features
from rkmp_frr.sinks.frr_apply import (
    FrrApplier,
    FrrApplierOptions,
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

FEATURES = frr_features(Version(8, 4, 4))
RENDER = FrrRenderConfig(bgp_neighbors=(FrrBgpNeighbor(PEER, 65001), FrrBgpNeighbor(PEER_B, 65001)))
HEADER = (
    "Building configuration...\n\nCurrent configuration:\n!\nfrr version 8.4.4\nhostname r1\n!\n"
)


@dataclass
class FakeBgpd:
    """vtysh in front of one `router bgp 65001` with two neighbours:
    interprets the password and shutdown commands, refuses what bgpd would."""

    passwords: dict[str, str] = field(default_factory=dict)
    shutdown: dict[str, str] = field(default_factory=dict)  # neighbour -> message
    refuse_neighbors: set[str] = field(default_factory=set)  # "Specify remote-as first"
    neighbors: tuple[str, ...] = (PEER, PEER_B)  # with a remote-as line
    dryrun_ok: bool = True
    drop_on_apply: bool = False  # accepts the commands but does not keep them
    calls: list[tuple[tuple[str, ...], str | None]] = field(default_factory=list)

    def running_config(self) -> str:
        lines = [f" neighbor {n} remote-as 65002" for n in self.neighbors]
        lines += [f" neighbor {n} password {k}" for n, k in sorted(self.passwords.items())]
        lines += [f" neighbor {n} shutdown message {m}" for n, m in sorted(self.shutdown.items())]
        return HEADER + "router bgp 65001\n" + "\n".join(lines) + "\nexit\n!\nend\n"

    def run_file(self, text: str) -> CommandResult:
        errors, router = [], None
        for number, line in enumerate(text.splitlines(), start=1):
            words = line.split()
            if words[:2] == ["router", "bgp"]:
                router = words[2]
                if router != "65001":
                    errors.append(f"line {number}: BGP is already running; AS is 65001")
                    router = None
            elif words == ["exit"]:
                router = None
            elif router is None:
                errors.append(f"line {number}: % Unknown command: {line}")
            elif words[0] == "neighbor" and words[2] == "password":
                if words[1] in self.refuse_neighbors:
                    errors.append(f"line {number}: % Specify remote-as: {line}")
                elif not self.drop_on_apply:
                    self.passwords[words[1]] = words[3]
            elif words[0] == "neighbor" and words[2:4] == ["shutdown", "message"]:
                self.shutdown[words[1]] = " ".join(words[4:])
            elif words[:1] == ["no"] and words[3] == "password":
                self.passwords.pop(words[2], None)
            elif words[:1] == ["no"] and words[3] == "shutdown":
                self.shutdown.pop(words[2], None)
        return CommandResult((), 13 if errors else 0, "", "\n".join(errors))

    async def __call__(
        self, argv: Sequence[str], *, input_text: str | None = None, timeout: float = 30.0
    ) -> CommandResult:
        self.calls.append((tuple(argv), input_text))
        if "--dryrun" in argv:
            return CommandResult(tuple(argv), 0 if self.dryrun_ok else 2, "", "line 1: % bad")
        if "-f" in argv:
            assert input_text is not None
            return self.run_file(input_text)
        if list(argv[-2:]) == ["-c", "show running-config"]:
            return CommandResult(tuple(argv), 0, self.running_config(), "")
        raise AssertionError(f"unexpected command {argv}")

    def applies(self) -> list[str]:
        return [text or "" for argv, text in self.calls if "-f" in argv and "--dryrun" not in argv]


async def no_sleep(_: float) -> None:
    """The applier's sleep (settling, kernel check windows) in no time."""


def md5(peer: str, key_id: int, key: str) -> KeyRow:
    """A TCP-MD5 row for ``peer`` with a key of our choosing."""
    return dataclasses.replace(make_row(ProtocolId.TCP_MD5, key_id, since(T0), peer=peer), key=key)


def applier(
    fake: FakeBgpd, *, dry_run: bool = False, keyed: KeyedState | None = None
) -> FrrApplier:
    opts = FrrApplierOptions(
        vtysh=VtyshCommand(), render=RENDER, kernel_check=False, dry_run=dry_run
    )
    frr = FrrApplier(opts, FEATURES, runner=fake, sleep=no_sleep)
    if keyed is not None:
        frr.keyed = keyed
    return frr


KEY_1, KEY_2 = "11" * 16, "22" * 16


def test_apply_sets_the_password_on_stdin_and_verifies() -> None:
    fake = FakeBgpd()
    frr = applier(fake)
    result = asyncio.run(frr.apply([md5(PEER, 1, KEY_1)], T0 + 10))
    assert result.status is ApplyStatus.APPLIED, result.describe()
    assert fake.passwords == {PEER: KEY_1}
    assert any(PEER in note and "reset" in note for note in result.notes)
    for argv, _ in fake.calls:  # keys travel on stdin only
        assert KEY_1 not in " ".join(argv)
    assert KEY_1 not in result.change and KEY_1 not in result.describe()
    # The same rows again: nothing to do, nothing run.
    before = len(fake.calls)
    again = asyncio.run(frr.apply([md5(PEER, 1, KEY_1)], T0 + 20))
    assert again.status is ApplyStatus.UNCHANGED
    assert len(fake.calls) == before


def test_a_refused_change_is_undone() -> None:
    fake = FakeBgpd(refuse_neighbors={PEER_B})
    frr = applier(fake)
    asyncio.run(frr.apply([md5(PEER, 1, KEY_1)], T0 + 10))
    result = asyncio.run(frr.apply([md5(PEER, 2, KEY_2), md5(PEER_B, 3, KEY_2)], T0 + 20))
    assert result.status is ApplyStatus.FAILED_RESTORED, result.describe()
    assert "Specify remote-as" in (result.error or "")
    assert KEY_2 not in result.describe()
    assert fake.passwords == {PEER: KEY_1}  # PEER's new key was rolled back
    assert len(fake.applies()) == 3  # first apply, the failed one, the restore
    # The next apply starts from what FRR has, not from the refused plan.
    fake.refuse_neighbors.clear()
    result = asyncio.run(frr.apply([md5(PEER, 2, KEY_2)], T0 + 30))
    assert result.status is ApplyStatus.APPLIED
    assert fake.passwords == {PEER: KEY_2}


def test_dryrun_refusal_touches_nothing() -> None:
    fake = FakeBgpd(dryrun_ok=False)
    result = asyncio.run(applier(fake).apply([md5(PEER, 1, KEY_1)], T0))
    assert result.status is ApplyStatus.FAILED_RESTORED
    assert "vtysh rejected" in (result.error or "")
    assert fake.applies() == []


def test_a_change_the_running_config_does_not_show_fails() -> None:
    fake = FakeBgpd(drop_on_apply=True)
    result = asyncio.run(applier(fake).apply([md5(PEER, 1, KEY_1)], T0))
    assert result.status is ApplyStatus.FAILED_RESTORED
    assert "does not show the change" in (result.error or "")
    assert KEY_1 not in (result.error or "")


def test_first_apply_adopts_what_frr_runs() -> None:
    shut = {PEER_B: "rkmpd: no usable key"}  # fail closed: no key for PEER_B
    fake = FakeBgpd(passwords={PEER: KEY_1}, shutdown=shut)
    keyed = KeyedState("frr", None, {frr_bgp(PEER), frr_bgp(PEER_B)})
    result = asyncio.run(applier(fake, keyed=keyed).apply([md5(PEER, 1, KEY_1)], T0))
    assert result.status is ApplyStatus.UNCHANGED  # no session reset after a restart
    assert fake.applies() == []


def test_dry_run_option_runs_nothing() -> None:
    fake = FakeBgpd()
    result = asyncio.run(applier(fake, dry_run=True).apply([md5(PEER, 1, KEY_1)], T0))
    assert result.status is ApplyStatus.DRY_RUN
    assert fake.calls == [] and "password <key:" in result.change


def check_result(verdict: Md5Verdict) -> Md5CheckResult:
    sock = TcpSocket(TcpState.LISTEN, ipaddress.ip_address("0.0.0.0"), 179,
                     ipaddress.ip_address("0.0.0.0"), 0)  # fmt: skip
    return Md5CheckResult(PEER, 179, (SocketVerdict(sock, verdict),))


def test_kernel_check_after_a_password_change() -> None:
    answers = [Md5Verdict.MISMATCH, Md5Verdict.OK]
    asked: list[tuple[str, bytes]] = []

    async def checker(peer: str, key: bytes) -> Md5CheckResult:
        asked.append((peer, key))
        return check_result(answers.pop(0) if answers else Md5Verdict.MISMATCH)

    fake = FakeBgpd()
    opts = FrrApplierOptions(render=RENDER, kernel_check=True)
    frr = FrrApplier(opts, FEATURES, runner=fake, md5_check=checker, sleep=no_sleep)
    result = asyncio.run(frr.apply([md5(PEER, 1, KEY_1)], T0))
    assert result.ok and asked[0] == (PEER, KEY_1.encode())
    # A key the kernel never shows is reported (without the key).
    opts = FrrApplierOptions(render=RENDER, kernel_check=True, kernel_check_window=0.0)
    frr = FrrApplier(opts, FEATURES, runner=FakeBgpd(), md5_check=checker, sleep=no_sleep)
    result = asyncio.run(frr.apply([md5(PEER, 1, KEY_2)], T0))
    assert result.status is ApplyStatus.APPLIED and not result.ok
    assert "mismatch" in result.kernel_problems[0] and KEY_2 not in result.describe()


def test_reload_config_replaces_only_the_sinks_lines() -> None:
    running = (
        HEADER + "router bgp 65001\n neighbor 192.0.2.1 remote-as 65002\n"
        " neighbor 192.0.2.1 password " + KEY_1 + "\n neighbor 192.0.2.1 timers connect 1\n"
        "exit\n!\ninterface eth0\n ip address 10.0.0.1/24\nexit\n!\nend\n"
    )
    old = frr_plan([md5(PEER, 1, KEY_1)], RENDER, FEATURES, T0)
    new = frr_plan([md5(PEER, 2, KEY_2), md5(PEER_B, 3, KEY_1)], RENDER, FEATURES, T0)
    owned = frr_change(EMPTY_PLAN, old, RENDER, FEATURES)
    wanted = frr_change(EMPTY_PLAN, new, RENDER, FEATURES)
    text = reload_config(running, (owned,), wanted)
    assert f" neighbor {PEER} password {KEY_2}" in text
    assert f" neighbor {PEER_B} password {KEY_1}" in text
    assert f"password {KEY_1}\n neighbor {PEER} timers" not in text
    assert text.count(f"neighbor {PEER} password") == 1
    for kept in (
        " neighbor 192.0.2.1 timers connect 1",
        "interface eth0",
        " ip address 10.0.0.1/24",
    ):
        assert kept in text
    assert "Building configuration" not in text


# --- fail closed only what rkmpd keyed ------------------------------------------------------


def test_never_keyed_neighbours_are_not_touched() -> None:
    fake = FakeBgpd(passwords={PEER: "operator-typed"})
    result = asyncio.run(applier(fake).apply([], T0))
    assert result.status is ApplyStatus.UNCHANGED and result.notes == ()
    assert fake.calls == [] and fake.passwords == {PEER: "operator-typed"}


def test_keys_are_recorded_before_they_go_in_and_a_restart_keeps_them_closed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "frr-sink.keyed"
    fake = FakeBgpd()
    recorded_at_push: list[str] = []
    run_file = fake.run_file

    def recording(text: str) -> CommandResult:
        recorded_at_push.append(path.read_text() if path.exists() else "")
        return run_file(text)

    fake.run_file = recording  # type: ignore[method-assign]
    first = applier(fake, keyed=KeyedState.load("frr", path))
    assert asyncio.run(first.apply([md5(PEER, 1, KEY_1)], T0)).status is ApplyStatus.APPLIED
    assert f"bgp {PEER}\n" in recorded_at_push[0]
    assert fake.shutdown == {}  # PEER_B was never keyed: left alone
    # rkmpd restarts after the key was revoked: PEER is shut, PEER_B is not.
    restarted = applier(fake, keyed=KeyedState.load("frr", path))
    result = asyncio.run(restarted.apply([], T0 + 10))
    assert result.status is ApplyStatus.APPLIED, result.describe()
    assert fake.shutdown == {PEER: "rkmpd: no usable key"} and fake.passwords == {}
    assert f"BGP neighbour {PEER}: no usable key, shut down (fail closed)" in result.notes


def test_a_refused_first_key_is_undone_without_shutting_the_neighbour(tmp_path: Path) -> None:
    path = tmp_path / "frr-sink.keyed"
    fake = FakeBgpd(refuse_neighbors={PEER})
    frr = applier(fake, keyed=KeyedState.load("frr", path))
    result = asyncio.run(frr.apply([md5(PEER, 1, KEY_1)], T0))
    assert result.status is ApplyStatus.FAILED_RESTORED, result.describe()
    assert fake.shutdown == {} and fake.passwords == {}
    assert frr.keyed.items == frozenset() and KeyedState.load("frr", path).items == frozenset()
    # The key gone from the table: nothing to do, the neighbour is the operator's.
    assert asyncio.run(frr.apply([], T0 + 10)).status is ApplyStatus.UNCHANGED
    assert fake.shutdown == {}


def test_no_key_goes_in_unless_it_is_recorded(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    fake = FakeBgpd()
    frr = applier(fake, keyed=KeyedState("frr", blocker / "frr-sink.keyed"))
    result = asyncio.run(frr.apply([md5(PEER, 1, KEY_1)], T0))
    assert result.status is ApplyStatus.FAILED_RESTORED
    assert "cannot record the keyed neighbours" in (result.error or "")
    assert fake.applies() == [] and fake.passwords == {}


# --- keys first, opening lines in a second run ----------------------------------------------


def revoked_then(fake: FakeBgpd, tmp_path: Path) -> FrrApplier:
    """An applier whose neighbour PEER was keyed, then revoked (shut)."""
    frr = applier(fake, keyed=KeyedState.load("frr", tmp_path / "frr-sink.keyed"))
    asyncio.run(frr.apply([md5(PEER, 1, KEY_1)], T0))
    asyncio.run(frr.apply([], T0 + 10))
    assert fake.shutdown == {PEER: "rkmpd: no usable key"} and fake.passwords == {}
    fake.calls.clear()
    return frr


def test_a_neighbour_is_opened_only_after_its_key_is_read_back(tmp_path: Path) -> None:
    fake = FakeBgpd()
    frr = revoked_then(fake, tmp_path)
    result = asyncio.run(frr.apply([md5(PEER, 2, KEY_2)], T0 + 20))
    assert result.status is ApplyStatus.APPLIED, result.describe()
    assert fake.passwords == {PEER: KEY_2} and fake.shutdown == {}
    kinds = [
        "dryrun" if "--dryrun" in argv else "apply" if "-f" in argv else "read"
        for argv, _ in fake.calls
    ]
    assert kinds == ["dryrun", "apply", "read", "apply", "read"]
    first, second = fake.applies()
    assert f"password {KEY_2}" in first and "shutdown" not in first
    assert second == f"router bgp 65001\nno neighbor {PEER} shutdown\nexit\n"


def test_a_key_line_that_fails_is_not_followed_by_the_opening(tmp_path: Path) -> None:
    """vtysh -f goes on past a failed line: the opening must be a run of its own."""
    fake = FakeBgpd()
    frr = revoked_then(fake, tmp_path)
    fake.refuse_neighbors.add(PEER)  # bgpd refuses the password line
    result = asyncio.run(frr.apply([md5(PEER, 2, KEY_2)], T0 + 20))
    assert result.status is ApplyStatus.FAILED_RESTORED, result.describe()
    assert fake.shutdown == {PEER: "rkmpd: no usable key"} and fake.passwords == {}
    assert not any(f"no neighbor {PEER} shutdown" in text for text in fake.applies())
