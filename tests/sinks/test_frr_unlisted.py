"""A keyed BGP neighbour that ``[[sinks.frr.bgp_neighbor]]`` no longer
lists stays secured (rkmp_frr.sinks.frr_discovery): without a key it is
shut in the ``router bgp`` it is in, found in FRR's running config after a
restart (the entry was what said which), or in the plan applied before a
SIGHUP. One FRR does not configure is left, looked for again. Given back
(its state line deleted), it is the operator's again."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from rkmp_frr.keytable.row import KeyRow
from rkmp_frr.sinks.batching import ApplyStatus
from rkmp_frr.sinks.frr_apply import FrrApplier, FrrApplierOptions, VtyshCommand
from rkmp_frr.sinks.frr_config import BgpRouter, FrrBgpNeighbor, FrrRenderConfig
from rkmp_frr.sinks.frr_discovery import bgp_router_of
from rkmp_frr.sinks.keyed import KeyedState, frr_bgp

from .frr84_running import FULL
from .sink_rows import PEER, PEER_B, T0
from .test_frr_apply import FEATURES, KEY_1, KEY_2, RENDER, FakeBgpd, md5, no_sleep

ONLY_PEER = FrrRenderConfig(bgp_neighbors=(FrrBgpNeighbor(PEER, 65001),))
SHUT = "rkmpd: no usable key"


def applier(fake: FakeBgpd, render: FrrRenderConfig, state: Path) -> FrrApplier:
    options = FrrApplierOptions(vtysh=VtyshCommand(), render=render, kernel_check=False)
    keyed = KeyedState.load("frr", state)
    return FrrApplier(options, FEATURES, runner=fake, sleep=no_sleep, keyed=keyed)


def ok(frr: FrrApplier, rows: list[KeyRow], now: int) -> None:
    result = asyncio.run(frr.apply(rows, now))
    assert result.status in (ApplyStatus.APPLIED, ApplyStatus.UNCHANGED), result.describe()


# --- where a neighbour is -----------------------------------------------------------------

VRF_BLOCK = """router bgp 65001 vrf red
 neighbor 10.250.0.2 remote-as 65009
 neighbor 2001:db8::7 remote-as 65010
exit
!
router bgp 65002 view v1
 neighbor 10.250.0.4 remote-as 65011
exit
!
"""
RUNNING = FULL.replace("router ospf\n", VRF_BLOCK + "router ospf\n", 1)


def test_bgp_router_of_finds_the_block_of_the_neighbours_vrf() -> None:
    assert bgp_router_of(RUNNING, frr_bgp("10.250.0.2")) == BgpRouter(65001)
    assert bgp_router_of(RUNNING, frr_bgp("10.250.0.3")) == BgpRouter(65001)  # peer-group member
    assert bgp_router_of(RUNNING, frr_bgp("10.250.0.2", "red")) == BgpRouter(65001, "red")
    assert bgp_router_of(RUNNING, frr_bgp("2001:db8::7", "red")) == BgpRouter(65001, "red")
    assert bgp_router_of(RUNNING, frr_bgp("2001:db8::7")) is None  # not in the default VRF
    assert bgp_router_of(RUNNING, frr_bgp("10.250.0.4")) is None  # views are not searched
    assert bgp_router_of(RUNNING, frr_bgp("10.250.0.9")) is None


# --- the applier ----------------------------------------------------------------------------


def test_after_a_restart_an_unlisted_neighbour_is_shut_where_frr_has_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """PEER_B was keyed; its entry is gone from the configuration (and rkmpd
    restarted): its key leaves, and it is shut in its router bgp."""
    state = tmp_path / "frr-sink.keyed"
    fake = FakeBgpd()
    ok(applier(fake, RENDER, state), [md5(PEER, 1, KEY_1), md5(PEER_B, 2, KEY_2)], T0)
    restarted = applier(fake, ONLY_PEER, state)
    with caplog.at_level(logging.WARNING):
        result = asyncio.run(restarted.apply([md5(PEER, 1, KEY_1)], T0 + 10))
    assert result.status is ApplyStatus.APPLIED, result.describe()
    assert fake.passwords == {PEER: KEY_1} and fake.shutdown == {PEER_B: SHUT}
    assert restarted.keyed.closed == frozenset({frr_bgp(PEER_B)})
    assert restarted.unlisted == {frr_bgp(PEER_B): BgpRouter(65001)}
    assert "'router bgp 65001' (found in FRR's running config)" in caplog.text
    assert str(state) in caplog.text and "To give it back" in caplog.text
    # It stays so: the next apply changes nothing, a drift check finds nothing.
    fake.calls.clear()
    assert asyncio.run(restarted.apply([md5(PEER, 1, KEY_1)], T0 + 20)).status is (
        ApplyStatus.UNCHANGED
    )
    check = asyncio.run(restarted.check_drift())
    assert check is not None and check.drift is None
    # Opened by hand while it has no key: drift, shut again.
    fake.shutdown.pop(PEER_B)
    check = asyncio.run(restarted.check_drift())
    assert check is not None and check.drift is not None and PEER_B in check.drift
    ok(restarted, [md5(PEER, 1, KEY_1)], T0 + 30)
    assert fake.shutdown == {PEER_B: SHUT}


def test_after_a_sighup_the_applied_plan_says_where_it_is(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = tmp_path / "frr-sink.keyed"
    fake = FakeBgpd()
    old = applier(fake, RENDER, state)
    ok(old, [md5(PEER, 1, KEY_1), md5(PEER_B, 2, KEY_2)], T0)
    new = applier(fake, ONLY_PEER, state)
    new.current, new.synced = old.current, old.synced  # routing_sinks._take_over
    with caplog.at_level(logging.WARNING):
        ok(new, [md5(PEER, 1, KEY_1)], T0 + 10)
    assert fake.passwords == {PEER: KEY_1} and fake.shutdown == {PEER_B: SHUT}
    assert "(found in the configuration rkmpd applied)" in caplog.text
    # Still in the plan afterwards (the drift check guards it).
    assert any(neighbor == PEER_B for _, neighbor in new.current.bgp_closed)


def test_an_unlisted_neighbour_frr_does_not_have_is_looked_for_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = tmp_path / "frr-sink.keyed"
    state.write_text(f"keyed bgp {PEER}\nkeyed bgp {PEER_B}\n")
    fake = FakeBgpd(neighbors=(PEER,))
    frr = applier(fake, ONLY_PEER, state)
    with caplog.at_level(logging.WARNING):
        ok(frr, [md5(PEER, 1, KEY_1)], T0)
        ok(frr, [md5(PEER, 1, KEY_1)], T0 + 10)
    assert caplog.text.count("FRR configures no such neighbour") == 1
    assert fake.shutdown == {} and frr.unlisted == {}
    # The operator configures it again in FRR (or FRR finished loading): the
    # drift check sees it, and the repair shuts it.
    fake.neighbors = (PEER, PEER_B)
    check = asyncio.run(frr.check_drift())
    assert check is not None and check.drift is not None
    assert f"BGP neighbour {PEER_B}: keyed by rkmpd" in check.drift
    ok(frr, [md5(PEER, 1, KEY_1)], T0 + 20)
    assert fake.shutdown == {PEER_B: SHUT} and fake.passwords == {PEER: KEY_1}


def test_listed_again_it_is_keyed_and_opened_again(tmp_path: Path) -> None:
    state = tmp_path / "frr-sink.keyed"
    fake = FakeBgpd()
    ok(applier(fake, RENDER, state), [md5(PEER_B, 2, KEY_2)], T0)
    ok(applier(fake, ONLY_PEER, state), [], T0 + 10)
    assert fake.shutdown == {PEER_B: SHUT}
    ok(applier(fake, RENDER, state), [md5(PEER_B, 3, KEY_1)], T0 + 20)
    assert fake.shutdown == {} and fake.passwords == {PEER_B: KEY_1}


def test_given_back_it_is_left_alone(tmp_path: Path) -> None:
    state = tmp_path / "frr-sink.keyed"
    fake = FakeBgpd()
    ok(applier(fake, RENDER, state), [md5(PEER_B, 2, KEY_2)], T0)
    state.write_text("")  # the operator's: its line deleted
    fake.passwords = {PEER_B: "typed-by-the-operator"}
    fake.calls.clear()
    result = asyncio.run(applier(fake, ONLY_PEER, state).apply([], T0 + 10))
    assert result.status is ApplyStatus.UNCHANGED and fake.calls == []
    assert fake.shutdown == {} and fake.passwords == {PEER_B: "typed-by-the-operator"}
