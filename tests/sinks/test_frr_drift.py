"""Drift: what FRR's running config no longer shows of the plan rkmpd
applied (FRR restarted, an operator removed a key by hand). The pure part
(which parts drifted, the plan without them, the change that puts them
back) and the applier's check against a scripted vtysh."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from rkmp_frr.sinks.batching import ApplyStatus
from rkmp_frr.sinks.features import Daemon
from rkmp_frr.sinks.frr_plan import FrrPlan, PartKind, PlanPart, frr_plan, plan_without
from rkmp_frr.sinks.frr_render import applied_expectations, frr_change
from rkmp_frr.sinks.frr_running_config import ConfigExpectation, find_drift
from rkmp_frr.sinks.keyed import KeyedState, frr_bgp
from rkmp_frr.sinks.runner import CommandResult

from .sink_rows import PEER, PEER_B, T0, since
from .test_frr_apply import FEATURES, HEADER, KEY_1, KEY_2, RENDER, FakeBgpd, applier, md5
from .test_frr_render import CONFIG_OSPF, FRR84, KEYED, ospf6

ROUTER_LINES = f" neighbor {PEER} remote-as 65002\n neighbor {PEER_B} remote-as 65002\n"


def bgp_running(*lines: str) -> str:
    body = ROUTER_LINES + "".join(f" {line}\n" for line in lines)
    return HEADER + "router bgp 65001\n" + body + "exit\n!\nend\n"


def two_keys() -> FrrPlan:
    rows = [md5(PEER, 1, KEY_1), md5(PEER_B, 2, KEY_2)]
    return frr_plan(rows, RENDER, FEATURES, T0 + 10)


def as_running_config(expectations: tuple[ConfigExpectation, ...]) -> str:
    """FRR's running config holding exactly the present lines (FRR's
    layout: one space per block level, "exit" closing blocks)."""
    lines: list[str] = []
    tree: dict[tuple[str, ...], list[str]] = {}
    for e in expectations:
        if e.present:
            for depth in range(len(e.context)):
                parent, header = e.context[:depth], e.context[depth]
                if header not in tree.setdefault(parent, []):
                    tree[parent].append(header)
            if e.line not in tree.setdefault(e.context, []):
                tree[e.context].append(e.line)

    def emit(context: tuple[str, ...]) -> None:
        for line in tree.get(context, []):
            lines.append(" " * len(context) + line)
            inner = (*context, line)
            if inner in tree:
                emit(inner)
                lines.append(" " * len(context) + "exit")

    emit(())
    return HEADER + "\n".join(lines) + "\n!\nend\n"


# --- the pure part -----------------------------------------------------------------------


def test_in_sync_is_no_drift() -> None:
    plan = two_keys()
    expected = applied_expectations(plan, RENDER, FEATURES)
    running = bgp_running(
        f"neighbor {PEER} password {KEY_1}", f"neighbor {PEER_B} password {KEY_2}"
    )
    assert find_drift(running, expected) is None


def test_a_password_removed_by_hand_is_drift_of_that_neighbour_only() -> None:
    plan = two_keys()
    expected = applied_expectations(plan, RENDER, FEATURES)
    drift = find_drift(bgp_running(f"neighbor {PEER_B} password {KEY_2}"), expected)
    assert drift is not None
    assert [(p.kind, p.name) for p in drift.parts] == [(PartKind.BGP, PEER)]
    line = drift.describe()
    assert f"BGP neighbour {PEER}" in line and "missing" in line
    assert KEY_1 not in line and KEY_2 not in line and KEY_1 not in repr(drift)
    # Put back the way a first apply would: that neighbour's password, and
    # nothing for the other one (no reset of a session that did not drift).
    repair = frr_change(plan_without(plan, drift.parts), plan, RENDER, FEATURES)
    commands = repair.vtysh_commands()
    assert f"neighbor {PEER} password {KEY_1}" in commands
    assert not any(PEER_B in command for command in commands)
    assert repair.reset_neighbors == (PEER,)


def test_a_changed_password_is_drift() -> None:
    plan = two_keys()
    expected = applied_expectations(plan, RENDER, FEATURES)
    running = bgp_running(f"neighbor {PEER} password other", f"neighbor {PEER_B} password {KEY_2}")
    drift = find_drift(running, expected)
    assert drift is not None and [p.name for p in drift.parts] == [PEER]


def test_frr_restarted_without_rkmpd_lines_is_drift_of_every_part() -> None:
    plan = two_keys()
    drift = find_drift(bgp_running(), applied_expectations(plan, RENDER, FEATURES))
    assert drift is not None
    assert {p.name for p in drift.parts} == {PEER, PEER_B}
    assert plan_without(plan, drift.parts).bgp == {}
    repair = frr_change(plan_without(plan, drift.parts), plan, RENDER, FEATURES)
    assert set(repair.reset_neighbors) == {PEER, PEER_B}


def test_a_closed_neighbour_that_opened_again_is_drift() -> None:
    """rkmpd shut a keyed neighbour without a key; a restarted FRR runs it
    open and unauthenticated: drift, closed again."""
    keyed = frozenset({frr_bgp(PEER), frr_bgp(PEER_B)})
    plan = frr_plan([md5(PEER_B, 2, KEY_2)], RENDER, FEATURES, T0 + 10, keyed=keyed)
    assert plan.bgp_closed
    expected = applied_expectations(plan, RENDER, FEATURES)
    shut = f"neighbor {PEER} shutdown message rkmpd: no usable key"
    assert find_drift(bgp_running(f"neighbor {PEER_B} password {KEY_2}", shut), expected) is None
    drift = find_drift(bgp_running(f"neighbor {PEER_B} password {KEY_2}"), expected)
    assert drift is not None and [p.name for p in drift.parts] == [PEER]
    repair = frr_change(plan_without(plan, drift.parts), plan, RENDER, FEATURES)
    assert any(c.startswith(f"neighbor {PEER} shutdown") for c in repair.vtysh_commands())


def test_a_neighbour_shut_by_hand_is_not_drift() -> None:
    """Opening lines (no shutdown, no passive) are the operator's to undo."""
    keyed = frozenset({frr_bgp(PEER)})
    plan = frr_plan([md5(PEER, 1, KEY_1)], RENDER, FEATURES, T0 + 10, keyed=keyed)
    expected = applied_expectations(plan, RENDER, FEATURES)
    running = bgp_running(f"neighbor {PEER} password {KEY_1}", f"neighbor {PEER} shutdown")
    assert find_drift(running, expected) is None


def test_key_chain_and_interface_drift_separately() -> None:
    """OSPFv3: the key chain and the interface binding are parts of their
    own; a key removed from the chain by hand puts back the chain alone."""
    plan = frr_plan([ospf6(7, since(T0))], CONFIG_OSPF, FRR84, T0 + 10, keyed=KEYED)
    expected = applied_expectations(plan, CONFIG_OSPF, FRR84)
    running = as_running_config(expected)
    assert find_drift(running, expected) is None
    chain = next(iter(plan.key_chains))
    without_key = "\n".join(
        line for line in running.splitlines() if not line.strip().startswith("key-string")
    )
    drift = find_drift(without_key, expected)
    assert drift is not None
    assert drift.parts == (PlanPart(PartKind.KEY_CHAIN, chain),)
    repair = frr_change(plan_without(plan, drift.parts), plan, CONFIG_OSPF, FRR84)
    assert repair.commands[Daemon.OSPF6D] and not repair.commands[Daemon.BGPD]
    assert not any("interface" in command for command in repair.vtysh_commands())
    unbound = running.replace(f"ipv6 ospf6 authentication keychain {chain}", "")
    drift = find_drift(unbound, expected)
    assert drift is not None
    assert drift.parts == (PlanPart(PartKind.OSPF6, "eth1"),)


# --- the applier ---------------------------------------------------------------------------


def test_check_in_sync_only_reads() -> None:
    fake = FakeBgpd()
    frr = applier(fake)
    rows = [md5(PEER, 1, KEY_1), md5(PEER_B, 2, KEY_2)]
    assert asyncio.run(frr.apply(rows, T0 + 10)).status is ApplyStatus.APPLIED
    fake.calls.clear()
    result = asyncio.run(frr.check_drift())
    assert result is not None and not result.drifted and result.error is None
    assert [argv[-1] for argv, _ in fake.calls] == ["show running-config"]
    assert fake.applies() == []


def test_check_puts_back_a_password_removed_by_hand_without_touching_the_other() -> None:
    fake = FakeBgpd()
    frr = applier(fake)
    rows = [md5(PEER, 1, KEY_1), md5(PEER_B, 2, KEY_2)]
    asyncio.run(frr.apply(rows, T0 + 10))
    del fake.passwords[PEER]
    fake.calls.clear()
    result = asyncio.run(frr.check_drift())
    assert result is not None and result.drift is not None
    assert PEER in result.drift and KEY_1 not in result.drift
    again = asyncio.run(frr.apply(rows, T0 + 20))
    assert again.status is ApplyStatus.APPLIED, again.describe()
    assert fake.passwords == {PEER: KEY_1, PEER_B: KEY_2}
    pushed = "".join(fake.applies())
    assert f"neighbor {PEER} password" in pushed and PEER_B not in pushed
    after = asyncio.run(frr.check_drift())
    assert after is not None and not after.drifted


def test_check_after_frr_restart_puts_everything_back() -> None:
    fake = FakeBgpd()
    keyed = KeyedState("frr")
    frr = applier(fake, keyed=keyed)
    rows = [md5(PEER, 1, KEY_1)]
    asyncio.run(frr.apply(rows, T0 + 10))
    fake.passwords.clear()
    fake.shutdown.clear()
    result = asyncio.run(frr.check_drift())
    assert result is not None and result.drifted
    again = asyncio.run(frr.apply(rows, T0 + 20))
    assert again.status is ApplyStatus.APPLIED, again.describe()
    assert fake.passwords[PEER] == KEY_1
    assert fake.shutdown == {}  # PEER_B was never keyed: left as the operator has it
    assert keyed.items == {frr_bgp(PEER)}


def test_no_check_before_the_first_apply_or_in_a_dry_run() -> None:
    fake = FakeBgpd()
    assert asyncio.run(applier(fake).check_drift()) is None
    dry = applier(fake, dry_run=True)
    asyncio.run(dry.apply([md5(PEER, 1, KEY_1)], T0 + 10))
    assert asyncio.run(dry.check_drift()) is None
    assert not any(argv[-1] == "show running-config" for argv, _ in fake.calls)


def test_check_with_frr_unreachable_reports_an_error_and_changes_nothing() -> None:
    fake = FakeBgpd()
    frr = applier(fake)
    rows = [md5(PEER, 1, KEY_1)]
    asyncio.run(frr.apply(rows, T0 + 10))
    applied = frr.current

    async def down(
        argv: Sequence[str], *, input_text: str | None = None, timeout: float = 30.0
    ) -> CommandResult:
        return CommandResult(tuple(argv), 1, "", "Exiting: failed to connect to any daemons.")

    frr.runner = down
    result = asyncio.run(frr.check_drift())
    assert result is not None and not result.drifted
    assert result.error is not None and "failed to connect" in result.error
    assert frr.current is applied
