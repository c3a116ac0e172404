"""The keyed set a routing-daemon sink persists (rkmp_frr.sinks.keyed)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from rkmp_frr.sinks.keyed import (
    KeyedState,
    KeyedStateError,
    Secured,
    SecuredKind,
    format_keyed,
    frr_bgp,
    parse_keyed,
    parse_keyed_state,
    secured_interface,
)

ITEMS = {
    frr_bgp("192.0.2.1"),
    frr_bgp("2001:db8::1", "red"),
    secured_interface(SecuredKind.OSPF, "eth0"),
    secured_interface(SecuredKind.OSPF6, "eth1", "core6"),
}


def test_items_as_lines() -> None:
    assert sorted(str(i) for i in ITEMS) == [
        "bgp 192.0.2.1",
        "bgp 2001:db8::1 vrf red",
        "ospf eth0",
        "ospf6 core6/eth1",
    ]
    assert {Secured.parse(str(i)) for i in ITEMS} == ITEMS


def test_format_and_parse_round_trip() -> None:
    text = format_keyed("frr", ITEMS)
    assert text.startswith("# rkmpd frr sink:") and text.endswith("ospf6 core6/eth1\n")
    assert parse_keyed(text) == ITEMS
    assert parse_keyed("\n  # comment\nbgp 10.0.0.1\n") == {frr_bgp("10.0.0.1")}


def test_closed_items_are_marked_and_older_files_count_as_closed() -> None:
    eth0 = secured_interface(SecuredKind.OSPF, "eth0")
    text = format_keyed("frr", ITEMS, closed={eth0})
    assert "\nclosed ospf eth0\n" in text and "\nkeyed bgp 192.0.2.1\n" in text
    assert parse_keyed_state(text) == (frozenset(ITEMS), frozenset({eth0}))
    # A file written before closing was recorded: rkmpd may have closed any.
    assert parse_keyed_state("bgp 10.0.0.1\nkeyed ospf eth0\n") == (
        frozenset({frr_bgp("10.0.0.1"), eth0}),
        frozenset({frr_bgp("10.0.0.1")}),
    )


def test_closing_is_recorded_and_cleared(tmp_path: Path) -> None:
    path = tmp_path / "frr-sink.keyed"
    peer, eth0 = frr_bgp("192.0.2.1"), secured_interface(SecuredKind.OSPF, "eth0")
    state = KeyedState.load("frr", path)
    assert state.record([peer, eth0], closing=[eth0]) == {peer, eth0}
    assert KeyedState.load("frr", path).closed == {eth0}
    # Only keyed items can be closed by rkmpd; recording again adds nothing.
    assert state.record([], closing=[frr_bgp("192.0.2.9")]) == frozenset()
    state.record([], closing=[peer])
    assert KeyedState.load("frr", path).closed == {peer, eth0}
    state.reopened([peer])
    again = KeyedState.load("frr", path)
    assert again.items == {peer, eth0} and again.closed == {eth0}
    again.forget([eth0])
    assert KeyedState.load("frr", path).closed == frozenset()


@pytest.mark.parametrize("line", ["isis eth0", "bgp", "ospf ", "BGP 10.0.0.1", "closed bgp"])
def test_bad_lines_are_named(line: str) -> None:
    with pytest.raises(KeyedStateError, match=r"^f:2: not '<bgp\|ospf\|ospf6> <name>'"):
        parse_keyed(f"bgp 10.0.0.1\n{line}\n", "f")


def test_state_persists_atomically_and_privately(tmp_path: Path) -> None:
    path = tmp_path / "state" / "frr-sink.keyed"
    state = KeyedState.load("frr", path)
    assert state.items == frozenset() and not path.exists()
    assert state.record([frr_bgp("192.0.2.1")]) == {frr_bgp("192.0.2.1")}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert state.record([frr_bgp("192.0.2.1")]) == frozenset()  # nothing new, nothing written
    state.record(ITEMS)
    again = KeyedState.load("frr", path)  # a restarted rkmpd
    assert again.items == ITEMS and frr_bgp("192.0.2.1") in again
    again.forget([frr_bgp("192.0.2.1"), frr_bgp("192.0.2.99")])
    assert KeyedState.load("frr", path).items == ITEMS - {frr_bgp("192.0.2.1")}
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left


def test_a_failed_write_changes_nothing(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    state = KeyedState("bird", blocker / "bird-sink.keyed")  # its directory cannot exist
    with pytest.raises(OSError):
        state.record([Secured(SecuredKind.BGP, "b1")])
    assert state.items == frozenset()


def test_in_memory_state_writes_nothing(tmp_path: Path) -> None:
    state = KeyedState.load("frr", None)
    state.record(ITEMS)
    assert state.items == ITEMS and list(tmp_path.iterdir()) == []


def test_unreadable_state_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "frr-sink.keyed"
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(KeyedStateError, match="not UTF-8"):
        KeyedState.load("frr", path)
    path.write_text("bgp 10.0.0.1\nnonsense\n")
    with pytest.raises(KeyedStateError, match=r"frr-sink.keyed:2:"):
        KeyedState.load("frr", path)
