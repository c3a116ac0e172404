"""Whether FRR is ready for rkmpd's lines (rkmp_frr.sinks.frr_readiness),
on running configs recorded from FRR 8.4: a just-restarted FRR, one still
loading the operator's configuration, one that has it all."""

from __future__ import annotations

from rkmp_frr.sinks.frr_config import FrrBgpNeighbor, FrrRenderConfig
from rkmp_frr.sinks.frr_plan import EMPTY_PLAN, frr_plan, plan_without
from rkmp_frr.sinks.frr_readiness import (
    ROUTER_OSPF,
    ROUTER_OSPF6,
    Dependency,
    NotReadyKind,
    bgp_neighbor_dependency,
    change_dependencies,
    config_lines,
    readiness,
    shown_line,
)
from rkmp_frr.sinks.frr_render import applied_expectations
from rkmp_frr.sinks.frr_running_config import find_drift
from rkmp_frr.wire.constants import IntegId, ProtocolId

from .frr84_running import BARE, FULL, OPERATOR_SECRETS, PARTIAL, RKMPD_CHAIN_KEY
from .sink_rows import T0, make_row, since
from .test_frr_apply import FEATURES, KEY_1, KEY_2, md5

A, B, C = "10.250.0.2", "10.250.0.3", "10.250.0.4"
RENDER = FrrRenderConfig(
    bgp_neighbors=tuple(FrrBgpNeighbor(n, 65001) for n in (A, B, C)),
    ospf_interfaces=("eth0",),
    ospf6_interfaces=("veth0",),
)
ROUTER = RENDER.bgp_neighbors[0].router


def neighbor_a() -> tuple[Dependency, ...]:
    return (bgp_neighbor_dependency(ROUTER, A),)


# --- the running config as lines ----------------------------------------------------------


def test_config_lines_are_lines_in_their_blocks_without_the_preamble() -> None:
    lines = config_lines(FULL)
    assert ((), ("frr", "version", "8.4.4")) in lines
    assert not any(words[0] in ("Building", "Current") for _, words in lines)
    family = ("router bgp 65001", "address-family ipv4 unicast")
    assert (family, ("network", "10.1.0.0/24")) in lines
    chain_key = ("key chain rkmp-ospf6-veth0", "key 1")
    assert (chain_key, ("key-string", RKMPD_CHAIN_KEY)) in lines
    assert not any(words in (("!",), ("exit",), ("exit-address-family",)) for _, words in lines)
    # Spacing does not matter; words do.
    assert config_lines(FULL.replace("router-id 10.250.0.1", "router-id  10.250.0.1")) == lines
    assert config_lines(FULL.replace("router-id 10.250.0.1", "router-id 10.250.0.9")) != lines


def test_shown_lines_hide_every_key_the_operators_too() -> None:
    assert shown_line((("router bgp 65001",), ("neighbor", A, "password", "operator-secret"))) == (
        f"router bgp 65001 / neighbor {A} password <hidden>"
    )
    shown = shown_line(
        (("interface veth0",), ("ip", "ospf", "message-digest-key", "1", "md5", "k"))
    )
    assert shown == "interface veth0 / ip ospf message-digest-key 1 md5 <hidden>"
    assert shown_line(((), ("key-string", RKMPD_CHAIN_KEY))) == "key-string <hidden>"
    assert (
        shown_line(((), ("neighbor", A, "remote-as", "65002"))) == f"neighbor {A} remote-as 65002"
    )


# --- ready or not ------------------------------------------------------------------------------


def test_a_just_restarted_frr_lacks_the_neighbour() -> None:
    problem = readiness(BARE, BARE, neighbor_a())
    assert problem is not None and problem.kind is NotReadyKind.INCOMPLETE
    assert f"router bgp 65001: neighbor {A} remote-as" in problem.describe()
    assert "nothing applied" in problem.describe()


def test_a_configuration_still_loading_is_not_ready_even_with_the_neighbour() -> None:
    problem = readiness(PARTIAL, FULL, neighbor_a())
    assert problem is not None and problem.kind is NotReadyKind.LOADING
    text = problem.describe()
    assert "still changing" in text and "line(s) between two reads" in text
    for secret in (*OPERATOR_SECRETS, RKMPD_CHAIN_KEY):
        assert secret not in text
    assert readiness(BARE, PARTIAL, ()) is not None  # no dependency at all: still loading


def test_a_settled_configuration_with_the_neighbour_is_ready() -> None:
    assert readiness(PARTIAL, PARTIAL, neighbor_a()) is None
    deps = (bgp_neighbor_dependency(ROUTER, B), ROUTER_OSPF, ROUTER_OSPF6)
    assert readiness(FULL, FULL, deps) is None  # B: a peer-group member


def test_ospf_needs_its_router_block_and_a_neighbour_its_own_line() -> None:
    problem = readiness(PARTIAL, PARTIAL, (ROUTER_OSPF, ROUTER_OSPF6))
    assert problem is not None and "'router ospf'; no 'router ospf6'" in problem.describe()
    # Another neighbour's line, or a peer-group's remote-as, is not it.
    problem = readiness(FULL, FULL, (bgp_neighbor_dependency(ROUTER, C),))
    assert problem is not None and f"neighbor {C} remote-as" in problem.describe()
    vrf = FrrBgpNeighbor(A, 65001, vrf="red").router
    problem = readiness(FULL, FULL, (bgp_neighbor_dependency(vrf, A),))
    assert problem is not None and "router bgp 65001 vrf red" in problem.describe()


# --- what a change builds on --------------------------------------------------------------------


def test_no_change_builds_on_nothing() -> None:
    plan = frr_plan([md5(A, 1, KEY_1)], RENDER, FEATURES, T0)
    assert change_dependencies(plan, plan) == ()


def test_a_repair_builds_on_the_drifted_neighbour_only() -> None:
    plan = frr_plan([md5(A, 1, KEY_1), md5(B, 2, KEY_2)], RENDER, FEATURES, T0)
    running = FULL.replace(" neighbor 10.250.0.3 peer-group PG\n", (
        f" neighbor 10.250.0.3 peer-group PG\n neighbor {B} password {KEY_2}\n"
    ))  # fmt: skip
    drift = find_drift(running, applied_expectations(plan, RENDER, FEATURES))
    assert drift is not None and [p.name for p in drift.parts] == [A]
    drifted = plan_without(plan, drift.parts)
    assert change_dependencies(drifted, plan) == (bgp_neighbor_dependency(ROUTER, A),)
    # A first apply builds on every neighbour it keys.
    assert set(change_dependencies(EMPTY_PLAN, plan)) == {
        bgp_neighbor_dependency(ROUTER, A),
        bgp_neighbor_dependency(ROUTER, B),
    }


def test_ospf_keys_build_on_their_router_blocks() -> None:
    v3 = make_row(ProtocolId.OSPFV3, 1, since(T0), interfaces=frozenset({"veth0"}))
    v2 = make_row(
        ProtocolId.OSPFV2, 2, since(T0), interfaces=frozenset({"eth0"}),
        integ=IntegId.RKMP_KEYED_MD5,
    )  # fmt: skip
    only_v3 = frr_plan([v3], RENDER, FEATURES, T0)
    assert change_dependencies(EMPTY_PLAN, only_v3) == (ROUTER_OSPF6,)
    both = frr_plan([v3, v2], RENDER, FEATURES, T0)
    assert change_dependencies(only_v3, both) == (ROUTER_OSPF,)
    # A rekey changes the key chain alone: still ospf6d's.
    rekeyed = frr_plan(
        [v3, make_row(ProtocolId.OSPFV3, 3, since(T0 + 60), interfaces=frozenset({"veth0"}))],
        RENDER, FEATURES, T0 + 60,
    )  # fmt: skip
    assert only_v3.ospf6 == rekeyed.ospf6 and only_v3.key_chains != rekeyed.key_chains
    assert change_dependencies(only_v3, rekeyed) == (ROUTER_OSPF6,)
