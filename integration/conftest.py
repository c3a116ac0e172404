"""Fixtures for integration tests: namespaces, work dirs, skip rules.

Tests here skip only when the machine cannot run them at all (not root, no
network namespaces, a required program missing); the reason is printed in
pytest's summary (`-ra`). Everything they create is removed in teardown,
even when the test fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.harness.netns import Link, NamespacePool, sweep_stale_namespaces, two_node_network
from integration.harness.requirements import netns_unavailable_reason
from integration.harness.skips import require_netns
from integration.harness.workdir import make_work_dir, remove_work_dir

INTEGRATION_DIR = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under integration/ carries the `integration` marker."""
    for item in items:
        if INTEGRATION_DIR in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session", autouse=True)
def _sweep_stale_namespaces() -> None:
    """Remove namespaces left by killed earlier runs (dead owner PID only)."""
    if netns_unavailable_reason() is None:
        removed = sweep_stale_namespaces()
        if removed:
            print(f"removed stale test namespaces: {', '.join(removed)}")


@pytest.fixture
def work_dir(request: pytest.FixtureRequest) -> Iterator[Path]:
    """A short unique directory under /tmp for this test, removed afterwards."""
    path = make_work_dir(request.node.name)
    yield path
    remove_work_dir(path)


@pytest.fixture
def netns_pool() -> Iterator[NamespacePool]:
    """Create namespaces with `netns_pool.create(role)`; all removed at teardown."""
    require_netns()
    pool = NamespacePool()
    yield pool
    pool.close()


@pytest.fixture
def two_nodes() -> Iterator[Link]:
    """Two namespaces joined by a veth pair (10.250.0.1/24 <-> 10.250.0.2/24)."""
    require_netns()
    with two_node_network() as link:
        yield link
