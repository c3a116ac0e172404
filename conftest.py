"""Checks for every test run (tests/ and integration/)."""

from __future__ import annotations

import pytest

from rkmp_frr.build import stale_build_reason


def pytest_configure(config: pytest.Config) -> None:
    """A compiled core older than its sources would test old code."""
    reason = stale_build_reason()
    if reason is not None:
        pytest.exit(
            f"{reason}: run scripts/setup.sh to rebuild it "
            "(RKMP_MYPYC=0 scripts/setup.sh for pure Python)",
            returncode=2,
        )
