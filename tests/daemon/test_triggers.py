"""Trigger policy and the debounced trigger machine (pure, virtual clock)."""

from __future__ import annotations

import ipaddress
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rkmp_frr.daemon.debounce import DebounceConfig
from rkmp_frr.daemon.triggers import (
    CheckLiveness,
    LinkEvent,
    Negotiate,
    NeighbourEvent,
    NudState,
    PeerMatcher,
    PeerSelector,
    TriggerAction,
    TriggerReason,
    Triggers,
    action_as_dict,
)

SETTLE = 1.0
PEERS = (
    PeerSelector("lan", "10.250.0.0/24"),
    PeerSelector("core", "10.250.0.128/25"),
    PeerSelector("r9", "10.250.0.9"),
    PeerSelector("v6", "fd00:726b:6d70::/64"),
)
A2 = ipaddress.ip_address("10.250.0.2")
A3 = ipaddress.ip_address("10.250.0.3")
OUTSIDE = ipaddress.ip_address("10.99.0.2")
V6 = ipaddress.ip_address("fd00:726b:6d70::2")
ETH1, ETH2 = 2, 3
MAC1, MAC2 = "02:00:00:00:00:01", "02:00:00:00:00:02"


def neigh(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
    state: NudState,
    *,
    ifindex: int = ETH1,
    lladdr: str | None = MAC1,
    deleted: bool = False,
) -> NeighbourEvent:
    return NeighbourEvent(address, ifindex, state, lladdr, deleted)


def negotiate(peer: str, address: object, reason: TriggerReason) -> Negotiate:
    return Negotiate(peer, str(address), reason)


def check(peer: str, address: object, reason: TriggerReason) -> CheckLiveness:
    return CheckLiveness(peer, str(address), reason)


class Clock:
    """Drives a Triggers machine: events at virtual times, releases collected."""

    def __init__(self, peers: tuple[PeerSelector, ...] = PEERS, settle: float = SETTLE) -> None:
        self.triggers = Triggers(peers, DebounceConfig(settle=settle, max_delay=10 * settle))
        self.now = 0.0
        self.actions: list[tuple[float, TriggerAction]] = []

    def advance(self, seconds: float) -> None:
        end = self.now + seconds
        while (deadline := self.triggers.next_deadline()) is not None and deadline <= end:
            self.now = max(self.now, deadline)
            self._record(self.triggers.poll(self.now))
        self.now = end

    def event(self, event: NeighbourEvent | LinkEvent) -> list[TriggerAction]:
        out = self.triggers.handle(event, self.now)
        self._record(out)
        return out

    def settle(self) -> list[TriggerAction]:
        before = len(self.actions)
        self.advance(100 * SETTLE)
        return [action for _, action in self.actions[before:]]

    def _record(self, actions: list[TriggerAction]) -> None:
        self.actions += [(self.now, action) for action in actions]


# --- peers -----------------------------------------------------------------------------


def test_matcher_prefers_addresses_then_longer_prefixes() -> None:
    matcher = PeerMatcher(PEERS)
    assert matcher.match(ipaddress.ip_address("10.250.0.9")).name == "r9"  # type: ignore[union-attr]
    assert matcher.match(ipaddress.ip_address("10.250.0.200")).name == "core"  # type: ignore[union-attr]
    assert matcher.match(A2).name == "lan"  # type: ignore[union-attr]
    assert matcher.match(V6).name == "v6"  # type: ignore[union-attr]
    assert matcher.match(OUTSIDE) is None
    # No cross-family matches (::/0 is not 0.0.0.0/0).
    assert PeerMatcher([PeerSelector("any6", "::/0")]).match(A2) is None
    assert [p.name for p in matcher.static_peers] == ["r9"]


def test_peer_selector_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        PeerSelector("x", "10.250.0.0/33")
    with pytest.raises(ValueError):
        PeerSelector("x", "router-b")


# --- start and neighbours ----------------------------------------------------------------


def test_static_peers_negotiate_at_start_without_delay() -> None:
    clock = Clock()
    assert clock.triggers.start(0.0) == [negotiate("r9", "10.250.0.9", TriggerReason.STATIC_PEER)]
    assert clock.triggers.next_deadline() is None


def test_reachable_neighbour_in_prefix_negotiates_after_settling() -> None:
    clock = Clock()
    assert clock.event(neigh(A2, NudState.REACHABLE)) == []
    assert clock.triggers.pending() == 1
    assert clock.settle() == [negotiate("lan", A2, TriggerReason.NEIGHBOUR_UP)]
    assert clock.actions[0][0] == SETTLE


@pytest.mark.parametrize(
    "state", [NudState.REACHABLE, NudState.STALE, NudState.DELAY, NudState.PERMANENT]
)
def test_each_usable_state_triggers(state: NudState) -> None:
    clock = Clock()
    clock.event(neigh(V6, state))
    assert clock.settle() == [negotiate("v6", V6, TriggerReason.NEIGHBOUR_UP)]


def test_neighbour_outside_every_peer_or_not_usable_does_nothing() -> None:
    clock = Clock()
    clock.event(neigh(OUTSIDE, NudState.REACHABLE))
    clock.event(neigh(A2, NudState.INCOMPLETE, lladdr=None))
    clock.event(neigh(A3, NudState.NOARP))
    clock.event(neigh(ipaddress.ip_address("224.0.0.5"), NudState.REACHABLE))
    assert clock.settle() == []


def test_cache_churn_of_a_live_neighbour_is_not_a_new_neighbour() -> None:
    clock = Clock()
    clock.event(neigh(A2, NudState.REACHABLE))
    assert len(clock.settle()) == 1
    for state in (NudState.STALE, NudState.DELAY, NudState.PROBE, NudState.REACHABLE):
        assert clock.event(neigh(A2, state)) == []
    assert clock.settle() == []


def test_new_link_layer_address_or_interface_renegotiates() -> None:
    clock = Clock()
    clock.event(neigh(A2, NudState.REACHABLE))
    clock.settle()
    clock.event(neigh(A2, NudState.REACHABLE, lladdr=MAC2))  # the box was replaced
    assert clock.settle() == [negotiate("lan", A2, TriggerReason.NEIGHBOUR_CHANGED)]
    clock.event(neigh(A2, NudState.STALE, ifindex=ETH2, lladdr=MAC2))
    assert clock.settle() == [negotiate("lan", A2, TriggerReason.NEIGHBOUR_CHANGED)]


def test_failed_live_neighbour_checks_liveness_at_once() -> None:
    clock = Clock()
    clock.event(neigh(A2, NudState.REACHABLE))
    clock.settle()
    assert clock.event(neigh(A2, NudState.FAILED, lladdr=None)) == [
        check("lan", A2, TriggerReason.NEIGHBOUR_FAILED)
    ]
    clock.advance(5 * SETTLE)
    assert clock.event(neigh(A2, NudState.FAILED, lladdr=None)) == []  # re-announced
    # Recovery is a new neighbour again.
    clock.event(neigh(A2, NudState.REACHABLE))
    assert clock.settle() == [negotiate("lan", A2, TriggerReason.NEIGHBOUR_UP)]


def test_never_alive_address_failing_needs_no_liveness_check() -> None:
    clock = Clock()
    clock.event(neigh(A3, NudState.INCOMPLETE, lladdr=None))
    assert clock.event(neigh(A3, NudState.FAILED, lladdr=None)) == []
    assert clock.settle() == []


def test_failure_within_settle_cancels_the_pending_negotiation() -> None:
    clock = Clock()
    clock.event(neigh(A2, NudState.REACHABLE))
    clock.advance(SETTLE / 2)
    assert clock.event(neigh(A2, NudState.FAILED, lladdr=None)) == [
        check("lan", A2, TriggerReason.NEIGHBOUR_FAILED)
    ]
    assert clock.settle() == []


def test_neighbour_deleted_before_release_is_not_negotiated() -> None:
    clock = Clock()
    clock.event(neigh(A2, NudState.REACHABLE))
    clock.event(neigh(A2, NudState.REACHABLE, deleted=True))
    assert clock.settle() == []


def test_flapping_neighbour_negotiates_once_after_it_settles() -> None:
    """What `ip neigh replace/del` in a loop produces: each delete of a live
    entry is announced as FAILED, then as deleted."""
    clock = Clock()
    for mac in (MAC1, MAC2, MAC1):
        clock.event(neigh(A3, NudState.REACHABLE, lladdr=mac))
        clock.advance(SETTLE / 10)
        clock.event(neigh(A3, NudState.FAILED, lladdr=None))
        clock.event(neigh(A3, NudState.FAILED, lladdr=None, deleted=True))
        clock.advance(SETTLE / 10)
    clock.event(neigh(A3, NudState.PERMANENT, lladdr=MAC2))
    last_trigger = clock.now
    released = clock.settle()
    negotiations = [a for a in released if isinstance(a, Negotiate)]
    assert negotiations == [negotiate("lan", A3, TriggerReason.NEIGHBOUR_UP)]
    assert [t for t, a in clock.actions if isinstance(a, Negotiate)] == [last_trigger + SETTLE]
    # Three failures within one settle period: one liveness check.
    checks = [a for _, a in clock.actions if isinstance(a, CheckLiveness)]
    assert checks == [check("lan", A3, TriggerReason.NEIGHBOUR_FAILED)]


def test_liveness_checks_rate_limited_per_address_not_globally() -> None:
    clock = Clock()
    for address in (A2, A3):
        clock.event(neigh(address, NudState.REACHABLE))
    clock.settle()
    assert len(clock.event(neigh(A2, NudState.FAILED, lladdr=None))) == 1
    assert len(clock.event(neigh(A3, NudState.FAILED, lladdr=None))) == 1
    clock.event(neigh(A2, NudState.REACHABLE))
    assert clock.event(neigh(A2, NudState.FAILED, lladdr=None)) == []  # within settle
    clock.event(neigh(A2, NudState.REACHABLE))
    clock.advance(SETTLE)
    assert len(clock.event(neigh(A2, NudState.FAILED, lladdr=None))) == 1


# --- links -------------------------------------------------------------------------------


def test_link_down_checks_live_neighbours_on_that_link_only() -> None:
    clock = Clock()
    clock.event(LinkEvent(ETH1, up=True))
    clock.event(LinkEvent(ETH2, up=True))
    clock.event(neigh(A2, NudState.REACHABLE, ifindex=ETH1))
    clock.event(neigh(V6, NudState.STALE, ifindex=ETH2))
    clock.event(neigh(A3, NudState.INCOMPLETE, ifindex=ETH1, lladdr=None))  # never alive
    clock.settle()
    assert clock.event(LinkEvent(ETH1, up=False)) == [check("lan", A2, TriggerReason.LINK_DOWN)]
    assert clock.event(LinkEvent(ETH1, up=False)) == []  # re-announced while down


def test_link_down_after_the_kernel_flushed_its_neighbours() -> None:
    """On carrier loss the kernel deletes the entries first, then announces the link."""
    clock = Clock()
    clock.event(LinkEvent(ETH1, up=True))
    clock.event(neigh(A2, NudState.REACHABLE))
    clock.settle()
    clock.event(neigh(A2, NudState.REACHABLE, deleted=True))
    assert clock.event(LinkEvent(ETH1, up=False)) == [check("lan", A2, TriggerReason.LINK_DOWN)]
    # The flushed neighbour is forgotten: coming back is a new neighbour.
    clock.event(LinkEvent(ETH1, up=True))
    clock.event(neigh(A2, NudState.REACHABLE))
    assert clock.settle() == [negotiate("lan", A2, TriggerReason.NEIGHBOUR_UP)]


def test_link_deleted_checks_and_forgets_its_neighbours() -> None:
    clock = Clock()
    clock.event(LinkEvent(ETH2, up=True))
    clock.event(neigh(V6, NudState.REACHABLE, ifindex=ETH2))
    clock.settle()
    assert clock.event(LinkEvent(ETH2, up=False, deleted=True)) == [
        check("v6", V6, TriggerReason.LINK_DOWN)
    ]
    assert not clock.triggers.policy.is_alive(V6)


def test_permanent_neighbour_renegotiates_when_its_link_returns() -> None:
    clock = Clock()
    clock.event(LinkEvent(ETH1, up=True))
    clock.event(neigh(A3, NudState.PERMANENT))
    clock.settle()
    assert clock.event(LinkEvent(ETH1, up=False)) == [check("lan", A3, TriggerReason.LINK_DOWN)]
    clock.advance(5 * SETTLE)
    clock.event(LinkEvent(ETH1, up=True))
    assert clock.settle() == [negotiate("lan", A3, TriggerReason.LINK_UP)]
    # Up again while up: nothing.
    clock.event(LinkEvent(ETH1, up=True))
    assert clock.settle() == []


def test_link_down_within_settle_cancels_negotiation_for_surviving_entry() -> None:
    clock = Clock()
    clock.event(LinkEvent(ETH1, up=True))
    clock.event(neigh(A3, NudState.PERMANENT))  # survives the link going down
    assert clock.event(LinkEvent(ETH1, up=False)) == [check("lan", A3, TriggerReason.LINK_DOWN)]
    assert clock.settle() == []
    clock.event(LinkEvent(ETH1, up=True))
    assert clock.settle() == [negotiate("lan", A3, TriggerReason.LINK_UP)]


# --- snapshots and reloads ------------------------------------------------------------------


def test_snapshot_negotiates_for_present_neighbours_and_reconciles_missed_events() -> None:
    clock = Clock()
    links = [LinkEvent(ETH1, up=True), LinkEvent(ETH2, up=True)]
    clock.triggers.snapshot(links, [neigh(A2, NudState.STALE)], clock.now)
    assert clock.settle() == [negotiate("lan", A2, TriggerReason.NEIGHBOUR_UP)]
    clock.triggers.policy.on_neighbour(neigh(V6, NudState.REACHABLE, ifindex=ETH2))

    # Resubscribed after a lost subscription: A2 vanished meanwhile, ETH2 was
    # removed (a link-down check for its neighbour), A3 appeared.
    actions = clock.triggers.snapshot(
        [LinkEvent(ETH1, up=True)], [neigh(A3, NudState.REACHABLE)], clock.now
    )
    assert actions == [check("v6", V6, TriggerReason.LINK_DOWN)]
    assert clock.settle() == [negotiate("lan", A3, TriggerReason.NEIGHBOUR_UP)]
    # A2 coming back is seen as new (its deletion was reconciled).
    clock.event(neigh(A2, NudState.REACHABLE))
    assert clock.settle() == [negotiate("lan", A2, TriggerReason.NEIGHBOUR_UP)]
    # The same snapshot again changes nothing.
    state = [neigh(A2, NudState.REACHABLE), neigh(A3, NudState.REACHABLE)]
    assert clock.triggers.snapshot([LinkEvent(ETH1, up=True)], state, clock.now) == []
    assert clock.settle() == []


def test_reload_negotiates_new_static_peers_and_newly_covered_neighbours() -> None:
    clock = Clock(peers=(PeerSelector("r9", "10.250.0.9"),))
    clock.event(neigh(A2, NudState.REACHABLE))
    assert clock.settle() == []  # not configured (yet)
    new_peers = (
        PeerSelector("r9", "10.250.0.9"),
        PeerSelector("r7", "10.250.0.7"),
        PeerSelector("lan", "10.250.0.0/24"),
    )
    assert clock.triggers.set_peers(new_peers, clock.now) == [
        negotiate("r7", "10.250.0.7", TriggerReason.STATIC_PEER)
    ]
    assert clock.settle() == [negotiate("lan", A2, TriggerReason.PEER_ADDED)]


def test_pending_negotiation_follows_the_configuration_at_release() -> None:
    clock = Clock()
    clock.event(neigh(A2, NudState.REACHABLE))
    clock.event(neigh(A3, NudState.REACHABLE))
    clock.triggers.set_peers([PeerSelector("only-a3", "10.250.0.3")], clock.now)
    assert clock.settle() == [negotiate("only-a3", A3, TriggerReason.NEIGHBOUR_UP)]


def test_action_as_dict() -> None:
    assert action_as_dict(check("lan", A2, TriggerReason.LINK_DOWN)) == {
        "action": "check-liveness",
        "peer": "lan",
        "address": "10.250.0.2",
        "reason": "link-down",
    }
    assert action_as_dict(negotiate("v6", V6, TriggerReason.NEIGHBOUR_UP))["action"] == "negotiate"


# --- a model check over random event sequences -----------------------------------------------

_STATES = [
    NudState.INCOMPLETE,
    NudState.REACHABLE,
    NudState.STALE,
    NudState.DELAY,
    NudState.PROBE,
    NudState.FAILED,
    NudState.PERMANENT,
]
_ALIVE = NudState.REACHABLE | NudState.STALE | NudState.DELAY | NudState.PROBE | NudState.PERMANENT
_steps = st.lists(
    st.tuples(
        st.floats(min_value=0.0, max_value=3 * SETTLE, allow_nan=False),
        st.sampled_from([A2, A3, OUTSIDE]),
        st.one_of(st.sampled_from(_STATES), st.none()),  # None: deleted
        st.sampled_from([MAC1, MAC2]),
    ),
    max_size=30,
)


@settings(max_examples=150, deadline=None)
@given(steps=_steps)
def test_model_negotiations_follow_live_configured_neighbours(
    steps: list[tuple[float, ipaddress.IPv4Address | ipaddress.IPv6Address, NudState | None, str]],
) -> None:
    clock = Clock()
    alive: dict[str, bool] = {}  # the model: is the neighbour alive now?
    became_alive: dict[str, float] = {}
    seen = 0

    def check_releases() -> None:
        nonlocal seen
        for _, action in clock.actions[seen:]:
            if isinstance(action, Negotiate):  # released only for a live neighbour
                assert alive.get(action.address, False)
                assert action.address != str(OUTSIDE)
        seen = len(clock.actions)

    for gap, address, state, mac in steps:
        clock.advance(gap)
        check_releases()
        key = str(address)
        now_alive = state is not None and bool(state & _ALIVE)
        if now_alive and not alive.get(key, False):
            became_alive[key] = clock.now
        alive[key] = now_alive
        if state is None:
            clock.event(neigh(address, NudState.REACHABLE, deleted=True))
        else:
            clock.event(neigh(address, state, lladdr=None if state & NudState.FAILED else mac))
        check_releases()
    clock.settle()
    check_releases()

    for key in (str(A2), str(A3)):
        negotiations = [
            t for t, a in clock.actions if isinstance(a, Negotiate) and a.address == key
        ]
        checks = [t for t, a in clock.actions if isinstance(a, CheckLiveness) and a.address == key]
        for times in (negotiations, checks):
            assert all(b - a >= SETTLE - 1e-9 for a, b in pairwise(times))
        # A neighbour that ended alive was negotiated after it last came up.
        if alive.get(key, False):
            assert any(t >= became_alive[key] for t in negotiations)
    assert not any(a.address == str(OUTSIDE) for _, a in clock.actions)
