"""The core is either compiled as a whole or not at all (setup.py builds it
in one go); RKMP_EXPECT_BUILD=compiled|pure makes the expectation explicit,
e.g. in CI after a build with or without a compiler."""

from __future__ import annotations

import os

import pytest

from rkmp_frr.build import CORE_MODULES, compiled_modules


def test_core_is_compiled_all_or_nothing() -> None:
    assert compiled_modules() in ((), CORE_MODULES)


def test_expected_build() -> None:
    expected = os.environ.get("RKMP_EXPECT_BUILD")
    if expected is None:
        pytest.skip("RKMP_EXPECT_BUILD not set")
    assert expected in ("compiled", "pure")
    assert bool(compiled_modules()) == (expected == "compiled")
