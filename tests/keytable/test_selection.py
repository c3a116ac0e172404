"""RFC 7210 §3 selection at the boundaries."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from keytable_rows import PEER, PEER_B, make_row

from rkmp_frr.keytable.row import ALL_INTERFACES, Direction, KeyRow
from rkmp_frr.keytable.selection import accepted_keys, select_receive_key, select_send_key
from rkmp_frr.wire.constants import ProtocolId

OSPF = ProtocolId.OSPFV2


def send(rows: list[KeyRow], now: int, **kw: object) -> KeyRow | None:
    return select_send_key(rows, OSPF, kw.pop("peer", PEER), now, **kw)  # type: ignore[arg-type]


def receive(rows: list[KeyRow], name: str, now: int, interface: str | None = None) -> KeyRow | None:
    return select_receive_key(rows, OSPF, PEER, name, now, interface)


def test_send_window_start_and_end_instants_are_inclusive() -> None:
    row = make_row(send=(1000, 2000))
    assert send([row], 999) is None
    assert send([row], 1000) is row
    assert send([row], 2000) is row
    assert send([row], 2001) is None


def test_accept_window_start_and_end_instants_are_inclusive() -> None:
    row = make_row(accept=(900, 2100))
    assert receive([row], "01", 899) is None
    assert receive([row], "01", 900) is row
    assert receive([row], "01", 2100) is row
    assert receive([row], "01", 2101) is None


def test_overlapping_keys_most_recent_send_start_wins() -> None:
    old = make_row(1, send=(1000, 5000))
    new = make_row(2, send=(3000, 6000))
    newest_not_yet = make_row(3, send=(4000, 7000))
    rows = [new, old, newest_not_yet]
    assert send(rows, 2999) is old
    assert send(rows, 3000) is new  # both valid: the later SendLifetimeStart
    assert send(rows, 3999) is new
    assert send(rows, 4000) is newest_not_yet
    assert send(rows, 5001) is newest_not_yet


def test_send_preference_is_by_start_not_by_end_or_order() -> None:
    long_lived = make_row(1, send=(1000, 9000))
    short_new = make_row(2, send=(1500, 1600))
    assert send([long_lived, short_new], 1550) is short_new
    assert send([short_new, long_lived], 1550) is short_new
    assert send([short_new, long_lived], 1601) is long_lived


def test_receive_uses_the_key_name_while_both_are_accepted() -> None:
    old = make_row(1, accept=(0, 3000))
    new = make_row(2, accept=(2000, 9000))
    rows = [old, new]
    assert receive(rows, "01", 2500) is old
    assert receive(rows, "02", 2500) is new
    assert receive(rows, "02", 1999) is None
    assert receive(rows, "01", 3001) is None
    assert receive(rows, "03", 2500) is None
    assert accepted_keys(rows, OSPF, PEER, 2500) == [old, new]


def test_direction() -> None:
    out_only = make_row(1, direction=Direction.OUT)
    in_only = make_row(2, direction=Direction.IN, send=(1000, 2000))
    disabled = make_row(3, direction=Direction.DISABLED)
    assert send([in_only, disabled, out_only], 1500) is out_only
    assert send([in_only, disabled], 1500) is None
    assert receive([out_only, in_only, disabled], "02", 1500) is in_only
    assert receive([out_only], "01", 1500) is None
    assert receive([disabled], "03", 1500) is None


def test_interfaces_all_and_named() -> None:
    everywhere = make_row(1, interfaces=ALL_INTERFACES, send=(1000, 2000))
    eth0 = make_row(2, interfaces=frozenset({"eth0", "eth1"}), send=(1500, 2000))
    rows = [everywhere, eth0]
    assert send(rows, 1600, interface="eth0") is eth0
    assert send(rows, 1600, interface="eth2") is everywhere  # "all" matches any
    assert send(rows, 1600) is eth0  # no interface given: not a condition
    assert receive(rows, "02", 1600, interface="eth1") is eth0
    assert receive(rows, "02", 1600, interface="eth9") is None
    assert receive(rows, "01", 1600, interface="eth9") is everywhere


def test_peer_and_protocol_must_match() -> None:
    row = make_row(peers=frozenset({PEER, "192.0.2.77"}))
    assert send([row], 1500, peer="192.0.2.77") is row
    assert send([row], 1500, peer=PEER_B) is None
    assert select_send_key([row], ProtocolId.ISIS, PEER, 1500) is None


_windows = st.tuples(st.integers(0, 50), st.integers(0, 50)).map(sorted)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(_windows, st.sampled_from(list(Direction))),
        min_size=0,
        max_size=6,
    ),
    st.integers(0, 50),
)
def test_send_selection_is_the_latest_start_among_eligible(
    specs: list[tuple[list[int], Direction]], now: int
) -> None:
    rows = [make_row(i + 1, send=(w[0], w[1]), direction=d) for i, (w, d) in enumerate(specs)]
    chosen = send(rows, now)
    eligible = [r for r in rows if r.direction.sends and r.lifetimes.sending(now)]
    if not eligible:
        assert chosen is None
    else:
        assert chosen in eligible
        assert chosen is not None
        assert chosen.send_lifetime_start == max(r.send_lifetime_start for r in eligible)
