"""The BIRD applier's decisions (atomic file, check, configure, verify,
restore) against a scripted birdc. The real BIRD is in
integration/test_bird_*.py."""

from __future__ import annotations

import asyncio
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rkmp_frr.keytable.row import KeyRow
from rkmp_frr.sinks.batching import ApplyStatus
from rkmp_frr.sinks.bird_apply import BirdApplier, BirdApplierOptions, BirdcCommand
from rkmp_frr.sinks.bird_render import BirdBgpSession, BirdRenderConfig
from rkmp_frr.sinks.features import Version, bird_features
from rkmp_frr.sinks.keyed import KeyedState
from rkmp_frr.sinks.runner import CommandResult
from rkmp_frr.wire.constants import ProtocolId

from .sink_rows import PEER, T0, make_row, since

FEATURES = bird_features(Version(2, 0, 12))
RENDER = BirdRenderConfig(bgp=(BirdBgpSession("peer1", PEER, neighbor_as=65002, local_as=65001),))
GREETING = "BIRD 2.0.12 ready.\n"


@dataclass
class FakeBirdc:
    """birdc answers; ``check_error`` / ``configure_error`` make BIRD refuse
    (BIRD quotes the offending line, keys and all)."""

    include: Path
    check_error: str | None = None
    configure_error: str | None = None
    protocols: tuple[str, ...] = ("device1", "peer1")
    calls: list[tuple[str, ...]] = field(default_factory=list)
    loaded: list[str | None] = field(default_factory=list)  # the file at each configure

    async def __call__(
        self, argv: Sequence[str], *, input_text: str | None = None, timeout: float = 30.0
    ) -> CommandResult:
        words = tuple(argv[argv.index("birdc") + 1 :])
        if words[:1] == ("-s",):
            words = words[2:]
        self.calls.append(words)
        text = self.include.read_text() if self.include.exists() else None
        if words == ("configure", "check"):
            if self.check_error:
                return CommandResult(
                    words, 1, GREETING + f"{self.include}:3:1 {self.check_error}\n", ""
                )
            return CommandResult(words, 0, GREETING + "Configuration OK\n", "")
        if words[:1] == ("configure",) and words[1:2] in ((), ("timeout",)):
            if self.configure_error:
                error, self.configure_error = self.configure_error, None
                return CommandResult(words, 1, GREETING + error + "\n", "")
            self.loaded.append(text)
            return CommandResult(words, 0, GREETING + "Reconfigured\n", "")
        if words == ("configure", "confirm"):
            return CommandResult(words, 0, GREETING + "Reconfiguration confirmed\n", "")
        if words == ("configure", "undo"):
            return CommandResult(words, 0, GREETING + "Undo requested\nReconfigured\n", "")
        if words == ("show", "protocols"):
            rows = "".join(
                f"{p:<10} BGP        ---        up     12:00:00.000\n" for p in self.protocols
            )
            return CommandResult(
                words,
                0,
                GREETING + "Name       Proto      Table      State  Since         Info\n" + rows,
                "",
            )
        raise AssertionError(f"unexpected birdc {words}")


def md5(key_id: int) -> KeyRow:
    return make_row(ProtocolId.TCP_MD5, key_id, since(T0))


def applier(tmp_path: Path, fake: FakeBirdc, confirm: float | None = None) -> BirdApplier:
    options = BirdApplierOptions(
        include_file=tmp_path / "rkmp.conf",
        birdc=BirdcCommand(socket=tmp_path / "bird.ctl"),
        render=RENDER,
        confirm_timeout=confirm,
        kernel_check=False,
        file_group=None,
    )
    return BirdApplier(options, FEATURES, runner=fake)


def test_apply_writes_checks_configures_and_verifies(tmp_path: Path) -> None:
    fake = FakeBirdc(tmp_path / "rkmp.conf")
    bird = applier(tmp_path, fake)
    row = md5(1)
    result = asyncio.run(bird.apply([row], T0))
    assert result.status is ApplyStatus.APPLIED, result.describe()
    text = fake.include.read_text()
    assert f'password "{row.key}";' in text
    assert stat.S_IMODE(fake.include.stat().st_mode) == 0o640
    assert fake.calls == [("configure", "check"), ("configure",), ("show", "protocols")]
    assert fake.loaded == [text]
    assert any("peer1" in note for note in result.notes)  # the session restarts
    assert row.key not in result.describe() and row.key not in result.change
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left
    fake.calls.clear()
    again = asyncio.run(bird.apply([row], T0 + 5))
    assert again.status is ApplyStatus.UNCHANGED and fake.calls == []


def test_a_file_bird_refuses_is_taken_back(tmp_path: Path) -> None:
    fake = FakeBirdc(tmp_path / "rkmp.conf")
    bird = applier(tmp_path, fake)
    asyncio.run(bird.apply([md5(1)], T0))
    previous = fake.include.read_text()
    new = md5(2)
    fake.check_error = f'syntax error near "{new.key}"'
    fake.calls.clear()
    result = asyncio.run(bird.apply([new], T0 + 10))
    assert result.status is ApplyStatus.FAILED_RESTORED, result.describe()
    assert fake.include.read_text() == previous
    assert fake.calls == [("configure", "check")]  # BIRD never loaded it
    assert new.key not in result.describe() and "syntax error" in result.describe()


def test_a_failed_configure_is_undone(tmp_path: Path) -> None:
    fake = FakeBirdc(tmp_path / "rkmp.conf")
    bird = applier(tmp_path, fake)
    asyncio.run(bird.apply([md5(1)], T0))
    previous = fake.include.read_text()
    fake.configure_error = "Reconfiguration rejected"
    result = asyncio.run(bird.apply([md5(2)], T0 + 10))
    assert result.status is ApplyStatus.FAILED_RESTORED, result.describe()
    assert fake.include.read_text() == previous
    assert fake.loaded[-1] == previous  # BIRD configured with the previous file again


def test_a_protocol_missing_after_configure_is_a_failure(tmp_path: Path) -> None:
    fake = FakeBirdc(tmp_path / "rkmp.conf", protocols=("device1",))
    result = asyncio.run(applier(tmp_path, fake).apply([md5(1)], T0))
    assert result.status is ApplyStatus.FAILED_RESTORED
    assert "peer1" in (result.error or "")
    assert not fake.include.exists()  # there was no file before


def test_confirm_timeout(tmp_path: Path) -> None:
    fake = FakeBirdc(tmp_path / "rkmp.conf")
    result = asyncio.run(applier(tmp_path, fake, confirm=30).apply([md5(1)], T0))
    assert result.status is ApplyStatus.APPLIED
    assert fake.calls == [
        ("configure", "check"),
        ("configure", "timeout", "30"),
        ("show", "protocols"),
        ("configure", "confirm"),
    ]


def test_confirm_timeout_failure_undoes(tmp_path: Path) -> None:
    fake = FakeBirdc(tmp_path / "rkmp.conf", protocols=("device1",))
    result = asyncio.run(applier(tmp_path, fake, confirm=30).apply([md5(1)], T0))
    assert result.status is ApplyStatus.FAILED_RESTORED
    assert ("configure", "undo") in fake.calls
    assert ("configure", "confirm") not in fake.calls


# --- fail closed only what rkmpd keyed ------------------------------------------------------


def test_keyed_sessions_are_recorded_and_stay_disabled_after_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "bird-sink.keyed"
    fake = FakeBirdc(tmp_path / "rkmp.conf")
    bird = applier(tmp_path, fake)
    bird.keyed = KeyedState.load("bird", state)
    # Never keyed: the session as configured, no "disabled".
    first = asyncio.run(bird.apply([], T0))
    assert first.status is ApplyStatus.APPLIED and "disabled" not in fake.include.read_text()
    assert not state.exists()
    assert asyncio.run(bird.apply([md5(1)], T0 + 5)).status is ApplyStatus.APPLIED
    assert state.read_text().endswith("\nkeyed bgp peer1\n")
    restarted = applier(tmp_path, fake)
    restarted.keyed = KeyedState.load("bird", state)
    result = asyncio.run(restarted.apply([], T0 + 10))  # revoked while rkmpd was down
    assert result.status is ApplyStatus.APPLIED, result.describe()
    assert "\tdisabled;\n" in fake.include.read_text()


def test_a_refused_first_key_is_forgotten(tmp_path: Path) -> None:
    state = tmp_path / "bird-sink.keyed"
    fake = FakeBirdc(tmp_path / "rkmp.conf", check_error="syntax error")
    bird = applier(tmp_path, fake)
    bird.keyed = KeyedState.load("bird", state)
    result = asyncio.run(bird.apply([md5(1)], T0))
    assert result.status is ApplyStatus.FAILED_RESTORED
    assert bird.keyed.items == frozenset() and KeyedState.load("bird", state).items == frozenset()
    fake.check_error = None
    asyncio.run(bird.apply([], T0 + 5))
    assert "disabled" not in fake.include.read_text()
