"""The core is either compiled as a whole or not at all (setup.py builds it
in one go); RKMP_EXPECT_BUILD=compiled|pure makes the expectation explicit,
e.g. in CI after a build with or without a compiler."""

from __future__ import annotations

import os
from pathlib import Path

from rkmp_frr.build import (
    COMPILED_PACKAGES,
    CORE_MODULES,
    NOT_COMPILED,
    STAMP,
    compiled_modules,
    compiled_sources,
    in_tree_modules,
    source_digest,
    stale_build_reason,
)


def test_core_is_compiled_all_or_nothing() -> None:
    assert compiled_modules() in ((), CORE_MODULES)


def test_the_build_that_runs_is_the_one_expected() -> None:
    """RKMP_EXPECT_BUILD=compiled|pure says which (scripts/test.sh sets it
    for its pure-Python run); by default compiled modules in the tree must
    be the ones that run."""
    expected = os.environ.get("RKMP_EXPECT_BUILD") or ("compiled" if in_tree_modules() else "pure")
    assert expected in ("compiled", "pure")
    assert bool(compiled_modules()) == (expected == "compiled")


def _checkout(root: Path) -> None:
    """A minimal checkout: the pyproject and one source per compiled package."""
    (root / "pyproject.toml").write_text("[project]\n")
    (root / "setup.py").write_text("setup()\n")
    for package in COMPILED_PACKAGES:
        (root / package).mkdir(parents=True)
        (root / package / "mod.py").write_text("X = 1\n")
    for name in NOT_COMPILED:
        (root / name).write_text("Y = 2\n")


def test_compiled_sources_leave_out_what_stays_pure(tmp_path: Path) -> None:
    _checkout(tmp_path)
    sources = compiled_sources(tmp_path)
    assert sources == sorted(f"{package}/mod.py" for package in COMPILED_PACKAGES)
    assert not NOT_COMPILED & set(sources)


def test_stale_build_is_found_by_digest(tmp_path: Path) -> None:
    _checkout(tmp_path)
    assert stale_build_reason(tmp_path) is None  # pure: nothing to be stale
    (tmp_path / "rkmp_frr/wire/mod.cpython-311-x86_64-linux-gnu.so").write_bytes(b"")
    assert "no build stamp" in (stale_build_reason(tmp_path) or "")
    (tmp_path / STAMP).parent.mkdir()
    (tmp_path / STAMP).write_text(source_digest(tmp_path) + "\n")
    assert stale_build_reason(tmp_path) is None
    # A source the build did not compile but takes types from counts too.
    (tmp_path / sorted(NOT_COMPILED)[0]).write_text("Y = 3\n")
    assert "older than their sources" in (stale_build_reason(tmp_path) or "")
