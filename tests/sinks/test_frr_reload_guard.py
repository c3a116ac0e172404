"""frr-reload mode's guard (rkmp_frr.sinks.frr_reload.foreign_changes):
a reload file, made from one reading of the running config, checked
against another made just before frr-reload.py runs. On running configs
recorded from FRR 8.4."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from rkmp_frr.sinks.frr_apply import VtyshCommand
from rkmp_frr.sinks.frr_config import FrrBgpNeighbor, FrrRenderConfig
from rkmp_frr.sinks.frr_plan import EMPTY_PLAN, FrrPlan, frr_plan
from rkmp_frr.sinks.frr_readiness import NotReadyKind, shown_lines
from rkmp_frr.sinks.frr_reload import (
    FrrReloader,
    ReloadRefused,
    foreign_changes,
    foreign_deletions,
    reload_config,
    reload_deletions,
    reload_ownership,
)
from rkmp_frr.sinks.frr_render import FrrChange, frr_change
from rkmp_frr.sinks.keyed import frr_bgp
from rkmp_frr.sinks.runner import CommandResult
from rkmp_frr.wire.constants import IntegId, ProtocolId

from .frr84_running import BARE, FULL, PARTIAL, RELOAD_LOG, RKMPD_CHAIN_KEY
from .sink_rows import T0, make_row, since
from .test_frr_apply import FEATURES, KEY_1, KEY_2, md5

B = "10.250.0.3"  # a peer-group member in FULL
RENDER = FrrRenderConfig(bgp_neighbors=(FrrBgpNeighbor(B, 65001),), ospf6_interfaces=("veth0",))
ROUTER = "router bgp 65001"


def full(plan: FrrPlan) -> FrrChange:
    return frr_change(EMPTY_PLAN, plan, RENDER, FEATURES)


def keyed_b(key: str) -> FrrPlan:
    return frr_plan([md5(B, 1, key)], RENDER, FEATURES, T0)


def with_line(running: str, block: str, line: str) -> str:
    """``running`` with ``line`` added at the start of ``block``'s body."""
    return running.replace(f"{block}\n", f"{block}\n {line}\n", 1)


RUNNING = with_line(FULL, ROUTER, f"neighbor {B} password {KEY_1}")  # rkmpd's key in place


def test_a_file_made_from_the_running_config_read_again_changes_only_rkmpds_lines() -> None:
    owned, wanted = (full(keyed_b(KEY_1)),), full(keyed_b(KEY_2))
    text = reload_config(RUNNING, owned, wanted)
    assert f"neighbor {B} password {KEY_2}" in text and KEY_1 not in text
    assert not foreign_changes(text, RUNNING, reload_ownership(owned, wanted))


def test_lines_loaded_after_the_file_was_made_would_be_removed() -> None:
    owned, wanted = (full(keyed_b(KEY_1)),), full(keyed_b(KEY_2))
    ownership = reload_ownership(owned, wanted)
    text = reload_config(RUNNING, owned, wanted)
    later = RUNNING.replace(
        "!\nend\n", "!\nbgp as-path access-list op seq 10 permit ^65003$\n!\nend\n"
    )
    later = with_line(later, ROUTER, "neighbor 10.250.0.2 description loaded-late")
    foreign = foreign_changes(text, later, ownership)
    assert foreign.removed == {
        ((), ("bgp", "as-path", "access-list", "op", "seq", "10", "permit", "^65003$")),
        ((ROUTER,), ("neighbor", "10.250.0.2", "description", "loaded-late")),
    }
    assert foreign.added == frozenset()
    # An operator line gone since (changed by hand) would come back: a
    # change of a line that is not rkmpd's either.
    changed = RUNNING.replace("password operator-secret", "password other-secret")
    foreign = foreign_changes(text, changed, ownership)
    assert [words[3] for _, words in foreign.removed] == ["other-secret"]
    assert [words[3] for _, words in foreign.added] == ["operator-secret"]
    shown = shown_lines(foreign.removed | foreign.added)
    assert "secret" not in shown.replace("<hidden>", "") and shown.count("<hidden>") == 2


def test_rkmpd_never_creates_a_routing_instance() -> None:
    """FRR restarted and its router block not loaded yet: a file made then
    would start BGP itself (and frr-reload.py would refuse the password:
    no remote-as)."""
    wanted = full(keyed_b(KEY_1))
    text = reload_config(BARE, (), wanted)
    assert f"{ROUTER}\n neighbor {B} password {KEY_1}" in text
    foreign = foreign_changes(text, BARE, reload_ownership((), wanted))
    assert foreign.added == {((), ("router", "bgp", "65001"))} and not foreign.removed


def test_an_interface_block_for_rkmpds_lines_alone_may_be_created() -> None:
    v3 = make_row(ProtocolId.OSPFV3, 1, since(T0), interfaces=frozenset({"veth0"}))
    wanted = full(frr_plan([v3], RENDER, FEATURES, T0))
    text = reload_config(PARTIAL, (), wanted)
    assert "interface veth0\n ipv6 ospf6 authentication keychain rkmp-ospf6-veth0" in text
    assert "key chain rkmp-ospf6-veth0" in text
    assert not foreign_changes(text, PARTIAL, reload_ownership((), wanted))
    # The operator's own line in that block, loaded meanwhile, is not rkmpd's.
    later = PARTIAL.replace("!\nend\n", "!\ninterface veth0\n ipv6 ospf6 area 0\nexit\n!\nend\n")
    foreign = foreign_changes(text, later, reload_ownership((), wanted))
    assert foreign.removed == {(("interface veth0",), ("ipv6", "ospf6", "area", "0"))}


def test_rkmpds_own_stale_lines_are_its_to_replace() -> None:
    """After rkmpd restarted no plan is owned: its shutdown line on a
    neighbour it now reopens, and its key chain with an old key, are still
    its own."""
    shut = f"neighbor {B} shutdown message rkmpd: no usable key"
    running = with_line(FULL, ROUTER, shut)
    v3 = make_row(ProtocolId.OSPFV3, 7, since(T0), interfaces=frozenset({"veth0"}))
    plan = frr_plan(
        [md5(B, 1, KEY_1), v3], RENDER, FEATURES, T0,
        keyed=frozenset({frr_bgp(B)}), rkmpd_closed=frozenset({frr_bgp(B)}),
    )  # fmt: skip
    wanted = full(plan)
    text = reload_config(running, (), wanted)
    assert shut not in text and RKMPD_CHAIN_KEY not in text and " key 7\n" in text
    assert not foreign_changes(text, running, reload_ownership((), wanted))
    # Held for the first of two reloads: the shutdown stays, still its own.
    hold = wanted.opening_expectations()
    held = reload_config(running, (), wanted, hold)
    assert shut in held
    assert not foreign_changes(held, running, reload_ownership((), wanted, hold))


# --- what frr-reload.py says it removed ------------------------------------------------------


def test_frr_reloads_log_tells_the_lines_it_removed() -> None:
    assert reload_deletions(RELOAD_LOG) == (
        ((), ("bgp", "as-path", "access-list", "op", "seq", "5", "permit", "^1$")),
        (("interface veth0",), ("ip", "ospf", "authentication", "message-digest")),
        ((ROUTER,), ("no", "bgp", "ebgp-requires-policy")),  # removed with the positive form
        ((ROUTER,), ("neighbor", "10.250.0.2", "description", "op", '"x"')),
        ((ROUTER,), ("neighbor", "10.250.0.2", "password", "4455")),
        ((ROUTER, "address-family ipv4 unicast"), ("network", "10.9.0.0/24")),
    )
    assert reload_deletions("2026-11-28 07:58:29,656  INFO: Loading Config object") == ()


def test_removed_lines_that_were_not_rkmpds_are_found() -> None:
    render = FrrRenderConfig(
        bgp_neighbors=(FrrBgpNeighbor("10.250.0.2", 65001),), ospf_interfaces=("veth0",)
    )
    v2 = make_row(
        ProtocolId.OSPFV2, 1, since(T0), interfaces=frozenset({"veth0"}),
        integ=IntegId.RKMP_KEYED_MD5,
    )  # fmt: skip
    old = frr_plan([md5("10.250.0.2", 1, "4455"), v2], render, FEATURES, T0)
    owned = (frr_change(EMPTY_PLAN, old, render, FEATURES),)
    ownership = reload_ownership(owned, frr_change(EMPTY_PLAN, EMPTY_PLAN, render, FEATURES))
    foreign = foreign_deletions(reload_deletions(RELOAD_LOG), ownership)
    assert {words[:3] for _, words in foreign} == {
        ("bgp", "as-path", "access-list"),
        ("no", "bgp", "ebgp-requires-policy"),
        ("neighbor", "10.250.0.2", "description"),
        ("network", "10.9.0.0/24"),
    }
    # A removal frr-reload.py shortened (ospfd's "no ip ospf authentication")
    # is rkmpd's when one of its lines starts with it.
    shortened = ((("interface veth0",), ("ip", "ospf", "authentication")),)
    assert not foreign_deletions(shortened, ownership)


def test_the_reloader_runs_nothing_when_the_config_changed_between_its_reads() -> None:
    """FrrReloader: the guard's refusal comes before frr-reload.py runs."""
    reads = iter([RUNNING, with_line(RUNNING, ROUTER, "neighbor 10.250.0.2 description late")])
    ran: list[Sequence[str]] = []

    async def read_running() -> str:
        return next(reads)

    async def run(argv: Sequence[str], input_text: str | None) -> CommandResult:
        ran.append(argv)
        return CommandResult(tuple(argv), 0, "", "")

    reloader = FrrReloader(VtyshCommand(), "frr-reload.py", run, read_running)
    owned, wanted = (full(keyed_b(KEY_1)),), full(keyed_b(KEY_2))
    with pytest.raises(ReloadRefused) as refused:
        asyncio.run(reloader.reload(wanted, owned, wanted))
    assert refused.value.problem.kind is NotReadyKind.CHANGED
    assert "remove 1 and add 0 line(s)" in str(refused.value)
    assert ran == []
