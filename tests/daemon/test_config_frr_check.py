"""``[sinks.frr] check_interval``: how often rkmpd reads FRR's running
config back to put back what drifted. A duration like the other keys,
"0" turns the checks off; broken values give one line naming the key (the
style of test_config_errors)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from rkmp_frr.daemon.config import ConfigError, check_config, load_config

from .test_config_support import BASE, setup_dir

FRR = BASE + '\n[sinks.frr]\nvtysh = "vtysh"\n'


def load_frr(tmp_path: Path, extra: str) -> float:
    config = load_config(setup_dir(tmp_path, FRR + extra))
    assert config.sinks.frr is not None
    return config.sinks.frr.check_interval


def test_default_is_thirty_seconds(tmp_path: Path) -> None:
    assert load_frr(tmp_path, "") == 30.0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [('"0"', 0.0), ("0", 0.0), ('"5s"', 5.0), ('"2m"', 120.0), ("1.5", 1.5), ('"1s"', 1.0)],
)
def test_durations(tmp_path: Path, text: str, seconds: float) -> None:
    assert load_frr(tmp_path, f"check_interval = {text}\n") == seconds


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('"soon"', "is not a duration"),
        ("true", "not a boolean"),
        ("-5", "non-negative"),
        ('"500ms"', '500ms is too short: "0" (no checks) or at least 1s'),
        ("[1]", "expected a duration"),
    ],
)
def test_broken_check_interval(tmp_path: Path, text: str, problem: str) -> None:
    path = setup_dir(tmp_path, FRR + f"check_interval = {text}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    error = info.value
    assert (error.file, error.key) == (str(path), "sinks.frr.check_interval")
    assert problem in error.problem
    assert str(error) == f"{path}: sinks.frr.check_interval: {error.problem}"
    out, err = io.StringIO(), io.StringIO()
    assert check_config(path, stdout=out, stderr=err) == 2
    assert err.getvalue() == f"{error}\n"
