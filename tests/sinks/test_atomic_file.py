"""rkmp_frr.sinks.atomic_file: all or nothing, with the mode asked for."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from rkmp_frr.sinks import atomic_file
from rkmp_frr.sinks.atomic_file import write_atomically


def test_replaces_the_file_with_the_mode_asked_for(tmp_path: Path) -> None:
    target = tmp_path / "include.conf"
    target.write_text("old\n")
    write_atomically(target, "new\n", mode=0o640, group="no-such-group-rkmp")
    assert target.read_text() == "new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["include.conf"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "keyed"
    target.write_text("old\n")

    def refuse(_src: object, _dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic_file.os, "replace", refuse)  # type: ignore[attr-defined]
    with pytest.raises(OSError):
        write_atomically(target, "new\n", mode=0o600)
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["keyed"]
