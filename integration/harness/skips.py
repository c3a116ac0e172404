"""pytest skips for machines that cannot run a test (reason printed by -ra)."""

from __future__ import annotations

import pytest

from integration.harness.requirements import (
    netns_unavailable_reason,
    strongswan_unavailable_reason,
    tshark_unavailable_reason,
)


def require_netns() -> None:
    """Skip unless root with network namespace support."""
    reason = netns_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)


def require_strongswan() -> None:
    """Skip unless namespaces, charon, swanctl and dumpcap are all usable."""
    require_netns()
    reason = strongswan_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)


def require_tshark() -> None:
    reason = tshark_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
