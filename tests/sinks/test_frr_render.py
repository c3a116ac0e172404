"""FRR renderer: vtysh commands for changes of the key table, per protocol
and FRR version; idempotence; refusals; running-config expectations."""

from __future__ import annotations

import dataclasses
from datetime import UTC, timedelta, timezone

import pytest

from rkmp_frr.keytable.row import Direction, KeyRow, Lifetimes
from rkmp_frr.keytable.utc import FOREVER
from rkmp_frr.sinks.features import Daemon, Version, frr_features
from rkmp_frr.sinks.frr_config import FrrBgpNeighbor, FrrRenderConfig
from rkmp_frr.sinks.frr_lifetime import frr_lifetime
from rkmp_frr.sinks.frr_plan import EMPTY_PLAN, frr_plan
from rkmp_frr.sinks.frr_render import FrrChange, frr_change, render_frr_change
from rkmp_frr.sinks.keyed import SecuredKind, frr_bgp, secured_interface
from rkmp_frr.sinks.render import MissingSinkConfig, UnrenderableRow, UnsupportedFeature
from rkmp_frr.sinks.secrets import mask_key
from rkmp_frr.wire.constants import IntegId, ProtocolId

from .sink_rows import (
    HITLESS,
    IMMEDIATE,
    PEER,
    PEER6,
    PEER_B,
    T0,
    inserted,
    make_row,
    rekeyed,
    since,
    with_direction,
)

FRR84 = frr_features(Version(8, 4, 4))
FRR91 = frr_features(Version(9, 1))
FRR103 = frr_features(Version(10, 3))
CONFIG = FrrRenderConfig(
    bgp_neighbors=(
        FrrBgpNeighbor(PEER, 65001),
        FrrBgpNeighbor("2001:DB8:0::1", 65001, vrf="red"),
    )
)
CONFIG_OSPF = dataclasses.replace(CONFIG, ospf_interfaces=("eth0",), ospf6_interfaces=("eth1",))
ETH0 = frozenset({"eth0"})
ETH1 = frozenset({"eth1"})
# Everything CONFIG_OSPF secures, as if rkmpd had keyed it before (a revoke).
KEYED = frozenset(
    {
        frr_bgp(PEER),
        frr_bgp("2001:db8::1", "red"),
        secured_interface(SecuredKind.OSPF, "eth0"),
        secured_interface(SecuredKind.OSPF6, "eth1"),
    }
)
# Instants as FRR writes them (UTC daemons): T0 is 15:06:40 on 15 June 2025.
AT_T0 = "15:06:40 Jun 15 2025"


def bgpd(change: FrrChange) -> tuple[str, ...]:
    return change.commands[Daemon.BGPD]


def ospfd(change: FrrChange) -> tuple[str, ...]:
    return change.commands[Daemon.OSPFD]


def ospf6d(change: FrrChange) -> tuple[str, ...]:
    return change.commands[Daemon.OSPF6D]


def md5(key_id: int, lifetimes: Lifetimes, peer: str = PEER) -> KeyRow:
    return make_row(ProtocolId.TCP_MD5, key_id, lifetimes, peer=peer)


def ospf(key_id: int, lifetimes: Lifetimes, integ: IntegId = IntegId.RKMP_HMAC_SHA2_256) -> KeyRow:
    return make_row(ProtocolId.OSPFV2, key_id, lifetimes, interfaces=ETH0, integ=integ)


def keyed_md5(key_id: int, lifetimes: Lifetimes) -> KeyRow:
    return ospf(key_id, lifetimes, IntegId.RKMP_KEYED_MD5)


def ospf6(key_id: int, lifetimes: Lifetimes) -> KeyRow:
    return make_row(ProtocolId.OSPFV3, key_id, lifetimes, interfaces=ETH1)


# --- bgpd: TCP-MD5 -----------------------------------------------------------------


def test_bgp_password_insert() -> None:
    """A closed neighbour gets its password, then its shutdown is lifted;
    the other configured neighbour has no key and stays shut."""
    row = md5(1, since(T0))
    change = render_frr_change([], [row], CONFIG, FRR84, T0, keyed=KEYED)
    assert bgpd(change) == (
        "router bgp 65001",
        f"neighbor {PEER} password {row.key}",
        f"no neighbor {PEER} shutdown",
        "exit",
    )
    assert ospfd(change) == ospf6d(change) == ()
    assert change.resets_sessions and change.reset_neighbors == (PEER,)
    assert change.notes == (f"BGP neighbour {PEER}: key back, shutdown lifted",)


def test_bgp_same_state_twice_gives_nothing() -> None:
    rows = [md5(1, since(T0)), md5(2, since(T0), peer=PEER6)]
    change = render_frr_change(rows, rows, CONFIG, FRR84, T0 + 50)
    assert change.empty and change.vtysh_commands() == ()
    assert not change.resets_sessions and change.reset_neighbors == ()


def test_bgp_rekey_switches_the_password_and_resets() -> None:
    old = md5(1, since(T0))
    old2, new = rekeyed(old, md5(2, since(T0)), T0 + 100, IMMEDIATE)
    change = render_frr_change([old], [old2, new], CONFIG, FRR84, T0 + 100)
    assert bgpd(change) == ("router bgp 65001", f"neighbor {PEER} password {new.key}", "exit")
    assert change.resets_sessions


def test_bgp_password_follows_the_send_key_not_the_newest_row() -> None:
    """A new key with a later send start only takes over at its start."""
    old = md5(1, since(T0))
    old2, new = rekeyed(old, md5(2, since(T0)), T0 + 100, HITLESS)
    before = render_frr_change([old], [old2, new], CONFIG, FRR84, T0 + 100)
    assert before.empty
    assert before.next_change_at == T0 + 280
    at_start = render_frr_change(
        [old2, new], [old2, new], CONFIG, FRR84, T0 + 280, applied_at=T0 + 100
    )
    assert bgpd(at_start) == ("router bgp 65001", f"neighbor {PEER} password {new.key}", "exit")
    assert at_start.notes == ()


SHUT = "shutdown message rkmpd: no usable key"


def test_bgp_delete_and_revoke_shut_the_neighbour_before_the_password_goes() -> None:
    """Fail closed: without a key the neighbour is shut down, never left
    to come back unauthenticated."""
    rows = [md5(1, since(T0)), md5(1, since(T0), peer=PEER6)]
    deleted = render_frr_change(rows, rows[1:], CONFIG, FRR84, T0 + 10, keyed=KEYED)
    assert bgpd(deleted) == (
        "router bgp 65001",
        f"neighbor {PEER} {SHUT}",
        f"no neighbor {PEER} password",
        "exit",
    )
    revoked = render_frr_change(rows, [], CONFIG, FRR84, T0 + 10, keyed=KEYED)
    assert bgpd(revoked) == (
        "router bgp 65001",
        f"neighbor {PEER} {SHUT}",
        f"no neighbor {PEER} password",
        "exit",
        "router bgp 65001 vrf red",
        f"neighbor {PEER6} {SHUT}",
        f"no neighbor {PEER6} password",
        "exit",
    )
    assert revoked.reset_neighbors == (PEER, PEER6)
    assert f"BGP neighbour {PEER}: no usable key, shut down (fail closed)" in revoked.notes
    assert revoked.desired.bgp == {}
    assert [n for _, n in revoked.desired.bgp_closed] == [PEER, PEER6]


def test_bgp_key_back_after_revoke_reopens_the_neighbour() -> None:
    old = md5(1, since(T0))
    new = md5(2, since(T0 + 100))
    back = render_frr_change([], [new], CONFIG, FRR84, T0 + 100, applied_at=T0 + 50, keyed=KEYED)
    assert bgpd(back) == (
        "router bgp 65001",
        f"neighbor {PEER} password {new.key}",
        f"no neighbor {PEER} shutdown",
        "exit",
    )
    # Revoked and back in one batch: only the password changes.
    swapped = render_frr_change([old], [new], CONFIG, FRR84, T0 + 100, keyed=KEYED)
    assert bgpd(swapped) == ("router bgp 65001", f"neighbor {PEER} password {new.key}", "exit")


def test_bgp_restart_without_keys_shuts_every_keyed_neighbour() -> None:
    """Nothing applied yet (rkmpd just restarted): FRR's state is unknown, so
    a neighbour rkmpd keyed before is shut without a key, and one with a key
    is opened."""
    config = frr_plan([], CONFIG, FRR84, T0, keyed=KEYED)
    closed = frr_change(EMPTY_PLAN, config, CONFIG, FRR84)
    # The password rkmpd set before the restart may still be there.
    assert bgpd(closed) == (
        "router bgp 65001",
        f"neighbor {PEER} {SHUT}",
        f"no neighbor {PEER} password",
        "exit",
        "router bgp 65001 vrf red",
        f"neighbor {PEER6} {SHUT}",
        f"no neighbor {PEER6} password",
        "exit",
    )
    row = md5(1, since(T0))
    opened = frr_change(EMPTY_PLAN, frr_plan([row], CONFIG, FRR84, T0, keyed=KEYED), CONFIG, FRR84)
    assert bgpd(opened)[:4] == (
        "router bgp 65001",
        f"neighbor {PEER} password {row.key}",
        f"no neighbor {PEER} shutdown",
        "exit",
    )
    # Closed and applied: closed again is nothing to do.
    assert frr_change(config, frr_plan([], CONFIG, FRR84, T0 + 9, keyed=KEYED), CONFIG, FRR84).empty


def test_undoing_a_first_closing_expects_nothing() -> None:
    """The applier undoes a refused change with the change back to the plan
    applied before; from nothing applied, undoing the first closing must
    neither command nor expect anything."""
    closed = frr_plan([], CONFIG_OSPF, FRR84, T0)
    undo = frr_change(closed, EMPTY_PLAN, CONFIG_OSPF, FRR84)
    assert undo.empty and undo.running_config_expectations == ()


def test_bgp_neighbour_whose_key_is_not_valid_yet_is_closed_until_it_is() -> None:
    later = md5(1, Lifetimes(T0 + 100, FOREVER, T0 + 100, FOREVER))
    plan = frr_plan([later], CONFIG, FRR84, T0, keyed=KEYED)
    assert plan.bgp == {} and plan.next_change_at == T0 + 100
    assert len(plan.bgp_closed) == 2


def test_bgp_neighbour_that_leaves_the_plan_is_closed_not_opened() -> None:
    """A neighbour the applied plan keyed but the desired plan does not name
    (its sink configuration gone) is shut all the same."""
    row = md5(1, since(T0))
    applied = frr_plan([row], CONFIG, FRR84, T0, keyed=KEYED)
    bare = FrrRenderConfig()
    change = frr_change(applied, frr_plan([], bare, FRR84, T0, keyed=KEYED), bare, FRR84)
    assert bgpd(change) == (
        "router bgp 65001",
        f"neighbor {PEER} {SHUT}",
        f"no neighbor {PEER} password",
        "exit",
    )


def test_bgp_neighbour_without_sink_config_is_refused() -> None:
    stranger = md5(1, since(T0), peer=PEER_B)
    with pytest.raises(MissingSinkConfig, match=r"frr sink: TCP-MD5: .*BGP neighbour 192.0.2.2"):
        render_frr_change([], [stranger], CONFIG, FRR84, T0)
    known = md5(1, since(T0))
    lenient = render_frr_change([known], [stranger, known], CONFIG, FRR84, T0, strict=False)
    assert lenient.empty
    assert [type(e) for e in lenient.refused] == [MissingSinkConfig]


def test_sink_config_validation() -> None:
    with pytest.raises(ValueError):
        FrrBgpNeighbor("not-an-address", 65001)
    with pytest.raises(ValueError):
        FrrBgpNeighbor(PEER, 0)
    with pytest.raises(ValueError):
        FrrBgpNeighbor(PEER, 65001, vrf="red blue")
    with pytest.raises(ValueError):
        FrrRenderConfig(bgp_neighbors=(FrrBgpNeighbor(PEER, 1), FrrBgpNeighbor(PEER, 2)))
    with pytest.raises(ValueError):
        FrrRenderConfig(key_chain_prefix="a b")
    with pytest.raises(ValueError):
        FrrRenderConfig(ospf_interfaces=("eth 0",))


# --- ospfd before 9.1: keyed MD5 message-digest keys ----------------------------------


def test_ospf_md5_insert_enables_authentication_after_the_key() -> None:
    row = keyed_md5(3, since(T0))
    change = render_frr_change([], [row], CONFIG, FRR84, T0)
    # Never keyed before: its passive setting is the operator's.
    assert ospfd(change) == (
        "interface eth0",
        f"ip ospf message-digest-key 3 md5 {row.key}",
        "ip ospf authentication message-digest",
        "exit",
    )
    assert len(row.key) == 16 and not change.resets_sessions
    # Keyed before rkmpd restarted: it may have closed it, so it reopens.
    restarted = render_frr_change([], [row], CONFIG, FRR84, T0, keyed=KEYED)
    assert ospfd(restarted)[-2:] == ("no ip ospf passive", "exit")


def test_only_what_rkmpd_closed_is_reopened_after_a_restart() -> None:
    """No applied plan (rkmpd restarted): keys reopen what the state file
    says rkmpd closed; a keyed item it never closed keeps its shutdown /
    passive setting (the operator's), and nothing is expected of it."""
    rows = [md5(1, since(T0)), keyed_md5(3, since(T0)), ospf6(4, since(T0))]
    eth1 = secured_interface(SecuredKind.OSPF6, "eth1")
    desired = frr_plan(
        rows, CONFIG_OSPF, FRR84, T0, keyed=KEYED, rkmpd_closed={frr_bgp(PEER), eth1}
    )
    change = frr_change(EMPTY_PLAN, desired, CONFIG_OSPF, FRR84)
    assert change.open_commands() == (
        "router bgp 65001",
        f"no neighbor {PEER} shutdown",
        "exit",
        "interface eth1",
        "no ipv6 ospf6 passive",
        "exit",
    )
    opening = {e.line for e in change.opening_expectations()}
    assert opening == {f"neighbor {PEER} shutdown", "ipv6 ospf6 passive"}
    assert "passive" not in " ".join(ospfd(change))
    # Without a record (an older state file) any keyed item may be closed.
    unknown = frr_change(EMPTY_PLAN, frr_plan(rows, CONFIG_OSPF, FRR84, T0, keyed=KEYED),
                         CONFIG_OSPF, FRR84)  # fmt: skip
    assert "no ip ospf passive" in unknown.open_commands()
    none = frr_change(EMPTY_PLAN, dataclasses.replace(desired, rkmpd_closed=frozenset()),
                      CONFIG_OSPF, FRR84)  # fmt: skip
    assert none.open_commands() == () and none.opening_expectations() == ()


def test_ospf_md5_rekey_keeps_sending_the_old_key_until_the_new_send_start() -> None:
    """ospfd sends with the key configured last: the new key goes in, then
    the old one is added again so that it stays last until the switch."""
    old = keyed_md5(3, since(T0))
    old2, new = rekeyed(old, keyed_md5(4, since(T0)), T0 + 1000)
    added = render_frr_change([old], [old2, new], CONFIG, FRR84, T0 + 1000)
    assert ospfd(added) == (
        "interface eth0",
        f"ip ospf message-digest-key 4 md5 {new.key}",
        f"ip ospf message-digest-key 3 md5 {old.key}",
        "exit",
    )
    assert added.next_change_at == T0 + 1180 and added.notes == ()

    switched = render_frr_change(
        [old2, new], [old2, new], CONFIG, FRR84, T0 + 1180, applied_at=T0 + 1000
    )
    assert ospfd(switched) == (
        "interface eth0",
        f"ip ospf message-digest-key 4 md5 {new.key}",
        "exit",
    )
    assert "accepts only the key it sends with" in switched.notes[0]

    expired = render_frr_change(
        [old2, new], [old2, new], CONFIG, FRR84, T0 + 1481, applied_at=T0 + 1180
    )
    assert ospfd(expired) == ("interface eth0", "no ip ospf message-digest-key 3", "exit")


def test_ospf_md5_on_91_uses_a_key_chain_and_says_nothing_about_dropped_packets() -> None:
    old = keyed_md5(3, since(T0))
    old2, new = rekeyed(old, keyed_md5(4, since(T0)), T0 + 1000)
    change = render_frr_change([old], [old2, new], CONFIG, FRR91, T0 + 1180)
    assert "cryptographic-algorithm md5" in ospfd(change)
    assert change.notes == ()


def test_ospf_md5_revoke_makes_the_interface_passive_before_the_keys_go() -> None:
    """Fail closed: ospfd with "authentication message-digest" and no key
    falls back to null authentication, so the interface goes passive."""
    row = keyed_md5(3, since(T0))
    change = render_frr_change([row], [], CONFIG, FRR84, T0 + 5, keyed=KEYED)
    assert ospfd(change) == (
        "interface eth0",
        "ip ospf passive",
        "no ip ospf authentication",
        "no ip ospf message-digest-key 3",
        "exit",
    )
    assert "OSPFv2 on eth0: no usable key, interface passive (fail closed)" in change.notes
    assert change.desired.ospf["eth0"].closed and not change.desired.ospf["eth0"].holds_keys
    back = keyed_md5(4, since(T0 + 50))
    closed = frr_plan([], CONFIG_OSPF, FRR84, T0 + 10, keyed=KEYED)
    assert closed.ospf["eth0"].closed
    reopened = frr_change(
        closed, frr_plan([back], CONFIG_OSPF, FRR84, T0 + 50, keyed=KEYED), CONFIG, FRR84
    )
    assert ospfd(reopened) == (
        "interface eth0",
        f"ip ospf message-digest-key 4 md5 {back.key}",
        "ip ospf authentication message-digest",
        "no ip ospf passive",
        "exit",
    )
    assert "OSPFv2 on eth0: key back, interface no longer passive" in reopened.notes


def test_ospf_configured_interfaces_start_closed() -> None:
    plan = frr_plan([], CONFIG_OSPF, FRR84, T0, keyed=KEYED)
    change = frr_change(EMPTY_PLAN, plan, CONFIG_OSPF, FRR84)
    assert ospfd(change) == (
        "interface eth0",
        "ip ospf passive",
        "no ip ospf authentication",
        "exit",
    )
    assert ospf6d(change) == (
        "interface eth1",
        "ipv6 ospf6 passive",
        "no ipv6 ospf6 authentication keychain",
        "exit",
    )
    lines = {(e.context, e.line, e.present) for e in change.running_config_expectations}
    assert (("interface eth0",), "ip ospf passive", True) in lines
    assert (("interface eth0",), "ip ospf authentication", False) in lines
    assert frr_change(
        plan, frr_plan([], CONFIG_OSPF, FRR84, T0 + 1, keyed=KEYED), CONFIG_OSPF, FRR84
    ).empty


def test_ospf_interface_whose_rows_are_all_refused_is_closed_if_keyed_before() -> None:
    hmac = ospf(3, since(T0))  # FRR 8.4 ospfd has keyed MD5 only
    plan = frr_plan([hmac], CONFIG, FRR84, T0, keyed=KEYED)
    change = frr_change(EMPTY_PLAN, plan, CONFIG, FRR84)
    assert ospfd(change) == (
        "interface eth0",
        "ip ospf passive",
        "no ip ospf authentication",
        "exit",
    )
    assert len(change.refused) == 1
    # Never keyed: the refused rows change nothing on the interface.
    never = frr_change(EMPTY_PLAN, frr_plan([hmac], CONFIG, FRR84, T0), CONFIG, FRR84)
    assert never.empty and len(never.refused) == 1


def test_ospf_hmac_before_91_is_refused() -> None:
    row = ospf(3, since(T0))
    with pytest.raises(UnsupportedFeature) as caught:
        render_frr_change([], [row], CONFIG, FRR84, T0)
    assert (caught.value.daemon, caught.value.version, caught.value.protocol) == (
        "ospfd",
        "FRR 8.4.4",
        "OSPFv2",
    )
    assert caught.value.requirement == "FRR >= 9.1"


def test_ospf_rows_need_an_interface() -> None:
    row = make_row(ProtocolId.OSPFV2, 3, since(T0))
    with pytest.raises(UnrenderableRow, match=r"OSPFv2 row rkmp/OSPFv2/192.0.2.1/03: names no"):
        render_frr_change([], [row], CONFIG, FRR91, T0)


def test_two_rows_with_one_key_id_on_an_interface_are_refused() -> None:
    a = ospf(3, since(T0))
    b = make_row(ProtocolId.OSPFV2, 3, since(T0), peer=PEER_B, interfaces=ETH0)
    change = render_frr_change([], [a, b], CONFIG, FRR91, T0, strict=False)
    assert [str(e) for e in change.refused] == [
        "frr sink: OSPFv2 row rkmp/OSPFv2/192.0.2.2/03: another row has its key ID on its interface"
    ]
    assert f"key-string {a.key}" in ospfd(change)


# --- ospfd 9.1+ and ospf6d: key chains ------------------------------------------------


def test_ospf_key_chain_insert() -> None:
    row = ospf(3, since(T0))
    change = render_frr_change([], [row], CONFIG, FRR91, T0)
    assert ospfd(change) == (
        "key chain rkmp-ospf-eth0",
        "key 3",
        f"key-string {row.key}",
        "cryptographic-algorithm hmac-sha-256",
        f"send-lifetime {AT_T0} infinite",
        f"accept-lifetime {AT_T0} infinite",
        "exit",
        "exit",
        "interface eth0",
        "ip ospf authentication key-chain rkmp-ospf-eth0",
        "exit",
    )


def test_ospf_key_chain_without_a_key_to_send_with_is_closed_until_there_is_one() -> None:
    """A key chain whose keys are accepted but none sent yet: FRR would send
    without authentication, so the interface stays passive (with its chain)
    until the send lifetime starts."""
    row = dataclasses.replace(ospf(3, since(T0)), send_lifetime_start=T0 + 60)
    early = render_frr_change([], [row], CONFIG, FRR91, T0)
    assert ospfd(early)[-4:] == (
        "interface eth0",
        "ip ospf passive",
        "ip ospf authentication key-chain rkmp-ospf-eth0",
        "exit",
    )
    assert early.next_change_at == T0 + 60
    on_time = render_frr_change([row], [row], CONFIG, FRR91, T0 + 60, applied_at=T0)
    assert ospfd(on_time) == ("interface eth0", "no ip ospf passive", "exit")


def test_ospf_key_chain_rekey_gives_each_key_its_own_send_window() -> None:
    """Make-before-break: the new key is accepted at once and sent from its
    send start; the old one is sent until just before that, accepted for
    the grace period after it. FRR's windows must not overlap (it sends
    with the lowest key ID in its window)."""
    old = ospf(3, since(T0))
    old2, new = rekeyed(old, ospf(4, since(T0)), T0 + 1000)
    change = render_frr_change([old], [old2, new], CONFIG, FRR91, T0 + 1000)
    assert ospfd(change) == (
        "key chain rkmp-ospf-eth0",
        "key 3",
        f"key-string {old.key}",
        "cryptographic-algorithm hmac-sha-256",
        f"send-lifetime {AT_T0} 15:26:19 Jun 15 2025",
        f"accept-lifetime {AT_T0} 15:31:20 Jun 15 2025",
        "exit",
        "key 4",
        f"key-string {new.key}",
        "cryptographic-algorithm hmac-sha-256",
        "send-lifetime 15:26:20 Jun 15 2025 infinite",
        "accept-lifetime 15:23:20 Jun 15 2025 infinite",
        "exit",
        "exit",
    )
    # The chain does its own timing: nothing to do at the switch.
    at_switch = render_frr_change(
        [old2, new], [old2, new], CONFIG, FRR91, T0 + 1180, applied_at=T0 + 1000
    )
    assert at_switch.empty
    gone = render_frr_change([old2, new], [new], CONFIG, FRR91, T0 + 1481, applied_at=T0 + 1180)
    assert ospfd(gone) == ("key chain rkmp-ospf-eth0", "no key 3", "exit")


def test_ospf6_key_chain_insert_rekey_delete_revoke() -> None:
    first = ospf6(7, since(T0))
    inserted_change = render_frr_change([], [first], CONFIG, FRR84, T0, keyed=KEYED)
    assert ospf6d(inserted_change) == (
        "key chain rkmp-ospf6-eth1",
        "key 7",
        f"key-string {first.key}",
        "cryptographic-algorithm hmac-sha-256",
        f"send-lifetime {AT_T0} infinite",
        f"accept-lifetime {AT_T0} infinite",
        "exit",
        "exit",
        "interface eth1",
        "ipv6 ospf6 authentication keychain rkmp-ospf6-eth1",
        "no ipv6 ospf6 passive",
        "exit",
    )
    old, new = rekeyed(first, ospf6(8, since(T0)), T0 + 1000)
    rekey = render_frr_change([first], [old, new], CONFIG, FRR84, T0 + 1000, keyed=KEYED)
    assert ospf6d(rekey)[:1] == ("key chain rkmp-ospf6-eth1",)
    assert "send-lifetime 15:26:20 Jun 15 2025 infinite" in ospf6d(rekey)
    assert not any(line.startswith("interface") for line in ospf6d(rekey))
    delete = render_frr_change([old, new], [new], CONFIG, FRR84, T0 + 1200, keyed=KEYED)
    assert ospf6d(delete) == ("key chain rkmp-ospf6-eth1", "no key 7", "exit")
    revoke = render_frr_change([new], [], CONFIG, FRR84, T0 + 1300, keyed=KEYED)
    assert ospf6d(revoke) == (
        "interface eth1",
        "ipv6 ospf6 passive",
        "no ipv6 ospf6 authentication keychain",
        "exit",
        "no key chain rkmp-ospf6-eth1",
    )
    again = ospf6(9, since(T0 + 1400))
    closed = frr_plan([], CONFIG_OSPF, FRR84, T0 + 1300, keyed=KEYED)
    back = frr_change(
        closed, frr_plan([again], CONFIG_OSPF, FRR84, T0 + 1400, keyed=KEYED), CONFIG, FRR84
    )
    assert ospf6d(back)[-4:] == (
        "interface eth1",
        "ipv6 ospf6 authentication keychain rkmp-ospf6-eth1",
        "no ipv6 ospf6 passive",
        "exit",
    )
    assert render_frr_change([old, new], [old, new], CONFIG, FRR84, T0 + 1000, keyed=KEYED).empty


def test_ospf6_before_83_is_refused() -> None:
    with pytest.raises(UnsupportedFeature, match=r"ospf6d \(FRR 8.2.0\) cannot do OSPFv3"):
        render_frr_change([], [ospf6(7, since(T0))], CONFIG, frr_features(Version(8, 2)), T0)


def test_key_directions_become_empty_windows() -> None:
    """A key only accepted is never sent (an empty send window in 1993),
    and the other way round; a disabled key is left out."""
    accept_only = with_direction(ospf6(7, since(T0)), Direction.IN)
    send_only = with_direction(ospf6(8, since(T0)), Direction.OUT)
    disabled = with_direction(ospf6(9, since(T0)), Direction.DISABLED)
    lines = ospf6d(render_frr_change([], [accept_only, send_only, disabled], CONFIG, FRR84, T0))
    never = "00:00:00 Jan 01 1993 00:00:01 Jan 01 1993"
    assert lines[1:7] == (
        "key 7",
        f"key-string {accept_only.key}",
        "cryptographic-algorithm hmac-sha-256",
        f"send-lifetime {never}",
        f"accept-lifetime {AT_T0} infinite",
        "exit",
    )
    assert lines[7:13] == (
        "key 8",
        f"key-string {send_only.key}",
        "cryptographic-algorithm hmac-sha-256",
        f"send-lifetime {AT_T0} infinite",
        f"accept-lifetime {never}",
        "exit",
    )
    assert "key 9" not in lines


def test_frr_10_1_writes_days_without_padding() -> None:
    row = ospf6(7, since(T0 - 14 * 86400))  # 1 June
    assert "send-lifetime 15:06:40 Jun 1 2025 infinite" in ospf6d(
        render_frr_change([], [row], CONFIG, FRR103, T0)
    )
    assert "send-lifetime 15:06:40 Jun 01 2025 infinite" in ospf6d(
        render_frr_change([], [row], CONFIG, FRR84, T0)
    )


def test_lifetimes_are_written_in_the_daemons_time_zone() -> None:
    row = ospf6(7, since(T0))
    east = FrrRenderConfig(timezone=timezone(timedelta(hours=2)))
    assert "send-lifetime 17:06:40 Jun 15 2025 infinite" in ospf6d(
        render_frr_change([], [row], east, FRR84, T0)
    )


# --- FRR's lifetime syntax ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("window", "text"),
    [
        ((T0, FOREVER), f"{AT_T0} infinite"),
        ((T0, T0 + 3600), f"{AT_T0} 16:06:40 Jun 15 2025"),
        ((T0, T0), f"{AT_T0} 15:06:41 Jun 15 2025"),  # FRR wants end > start
        ((0, T0), f"00:00:00 Jan 01 1993 {AT_T0}"),  # FRR's years start in 1993
        ((T0, 2_200_000_000), f"{AT_T0} infinite"),  # ... and end in 2035
        ((0, 100), "00:00:00 Jan 01 1993 00:00:01 Jan 01 1993"),  # over before 1993: never
        (None, "00:00:00 Jan 01 1993 00:00:01 Jan 01 1993"),
    ],
)
def test_frr_lifetime(window: tuple[int, int] | None, text: str) -> None:
    assert frr_lifetime(window, UTC) == text


def test_frr_lifetime_west_of_utc() -> None:
    west = timezone(timedelta(hours=-5))
    assert frr_lifetime((T0, FOREVER), west) == "10:06:40 Jun 15 2025 infinite"
    assert frr_lifetime(None, west) == "00:00:00 Jan 01 1993 00:00:01 Jan 01 1993"


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("protocol", "daemon", "name"),
    [
        (ProtocolId.TCP_AO, "bgpd", "TCP-AO"),
        (ProtocolId.ISIS, "isisd", "IS-IS"),
        (ProtocolId.BFD, "bfdd", "BFD"),
    ],
)
def test_protocols_no_frr_release_can_take_are_refused(
    protocol: ProtocolId, daemon: str, name: str
) -> None:
    interfaces = ETH0 if protocol == ProtocolId.ISIS else frozenset({"all"})
    row = make_row(protocol, 3, since(T0), interfaces=interfaces)
    features = frr_features(Version(10, 7))
    with pytest.raises(UnsupportedFeature) as caught:
        render_frr_change([], [row], CONFIG, features, T0)
    error = caught.value
    assert (error.daemon, error.version, error.protocol) == (daemon, "FRR 10.7.0", name)
    assert "none does" in error.requirement
    lenient = render_frr_change([], [row, md5(1, since(T0))], CONFIG, features, T0, strict=False)
    assert [str(e) for e in lenient.refused] == [str(error)]
    assert bgpd(lenient)  # the rest is still rendered


def test_ospfv3_ipsec_rows_are_not_frrs() -> None:
    base = ospf6(7, since(T0))  # no key profile makes OSPFv3-IPsec rows; change one
    ipsec = dataclasses.replace(base, protocol=ProtocolId.OSPFV3_IPSEC, spi=0x1234)
    change = render_frr_change([], [ipsec], CONFIG, FRR84, T0)
    assert change.empty and change.refused == ()


# --- secrets ---------------------------------------------------------------------------------


def test_keys_appear_in_commands_only() -> None:
    rows = [md5(1, since(T0)), keyed_md5(3, since(T0)), ospf6(7, since(T0))]
    change = render_frr_change([], rows, CONFIG, FRR84, T0)
    commands = "\n".join(change.vtysh_commands())
    plan = frr_plan(rows, CONFIG, FRR84, T0)
    shown = [repr(change), str(change), change.masked_text(), repr(plan), str(plan)]
    shown += [repr(e) for e in change.running_config_expectations]
    for row in rows:
        assert row.key in commands
        for text in shown:
            assert row.key not in text
        assert mask_key(row.key) in change.masked_text()
    assert "bgpd: 3" in repr(change)


def test_refusals_never_carry_keys() -> None:
    rows = [md5(1, since(T0), peer=PEER_B), ospf(3, since(T0))]
    change = render_frr_change([], rows, CONFIG, FRR84, T0, strict=False)
    assert len(change.refused) == 2
    for error in change.refused:
        for row in rows:
            assert row.key not in str(error) and row.key not in repr(error)


# --- plans and diffs ---------------------------------------------------------------------------


def test_plan_diff_against_the_empty_plan_is_the_insert() -> None:
    """With every configured neighbour keyed: from nothing applied, and from
    no rows applied (the neighbour known closed), the commands are the same."""
    config = FrrRenderConfig(bgp_neighbors=(FrrBgpNeighbor(PEER, 65001),))
    rows = [md5(1, since(T0)), ospf6(7, since(T0))]
    keyed = {frr_bgp(PEER), secured_interface(SecuredKind.OSPF6, "eth1")}
    plan = frr_plan(rows, config, FRR84, T0, keyed=keyed)
    assert frr_change(EMPTY_PLAN, plan, config, FRR84).commands == (
        render_frr_change([], rows, config, FRR84, T0, keyed=keyed).commands
    )
    assert frr_change(plan, plan, config, FRR84).empty
    # Back to nothing, with the keys known (a revoke): closed.
    back = frr_change(plan, dataclasses.replace(EMPTY_PLAN, keyed=frozenset(keyed)), config, FRR84)
    assert back.vtysh_commands()[-1] == "no key chain rkmp-ospf6-eth1"
    assert f"neighbor {PEER} {SHUT}" in back.vtysh_commands()
    assert "ipv6 ospf6 passive" in back.vtysh_commands()
    # Back to a plan made before rkmpd keyed them (undoing a refused first
    # key): the keys go, nothing is shut, and nothing is expected shut.
    undo = frr_change(plan, EMPTY_PLAN, config, FRR84)
    assert bgpd(undo) == ("router bgp 65001", f"no neighbor {PEER} password", "exit")
    assert ospf6d(undo) == (
        "interface eth1",
        "no ipv6 ospf6 authentication keychain",
        "exit",
        "no key chain rkmp-ospf6-eth1",
    )
    assert not any(
        "shutdown" in e.line or "passive" in e.line for e in undo.running_config_expectations
    )


def test_dead_rows_are_left_out() -> None:
    old = ospf6(7, Lifetimes(T0, T0 + 100, T0, T0 + 200))
    assert frr_plan([old], CONFIG, FRR84, T0 + 150).key_chains
    assert not frr_plan([old], CONFIG, FRR84, T0 + 201).key_chains


def test_inserted_lifetimes_roll_in() -> None:
    """A key just entered: accepted from now, sent after the send delay."""
    row = ospf6(7, inserted(T0))
    lines = ospf6d(render_frr_change([], [row], CONFIG, FRR84, T0))
    assert "send-lifetime 15:09:40 Jun 15 2025 infinite" in lines
    assert f"accept-lifetime {AT_T0} infinite" in lines


# --- fail closed only what rkmpd keyed (rkmp_frr.sinks.keyed) -----------------------------


def test_never_keyed_neighbours_and_interfaces_are_left_alone() -> None:
    """No key yet and never keyed (the RKMP SA never came up): not a line
    rendered and nothing expected, so the operator's configuration (with
    its own password, or none) stays as it is."""
    plan = frr_plan([], CONFIG_OSPF, FRR84, T0)
    assert plan.bgp_closed == () and plan.ospf == {} and plan.ospf6 == {}
    change = frr_change(EMPTY_PLAN, plan, CONFIG_OSPF, FRR84)
    assert change.empty and change.running_config_expectations == ()
    assert change.notes == () and not change.resets_sessions
    # Its first key: the password only; its shutdown setting stays the operator's.
    row = md5(1, since(T0))
    first = frr_change(EMPTY_PLAN, frr_plan([row], CONFIG, FRR84, T0), CONFIG, FRR84)
    assert bgpd(first) == ("router bgp 65001", f"neighbor {PEER} password {row.key}", "exit")
    assert not any("shutdown" in e.line for e in first.running_config_expectations)
    # A key not valid yet is not a key FRR gets: still left alone.
    later = md5(1, Lifetimes(T0 + 100, FOREVER, T0 + 100, FOREVER))
    assert frr_change(EMPTY_PLAN, frr_plan([later], CONFIG, FRR84, T0), CONFIG, FRR84).empty


def test_only_the_keyed_neighbour_is_closed() -> None:
    plan = frr_plan([], CONFIG_OSPF, FRR84, T0, keyed={frr_bgp(PEER6, "red")})
    change = frr_change(EMPTY_PLAN, plan, CONFIG_OSPF, FRR84)
    assert change.vtysh_commands() == (
        "router bgp 65001 vrf red",
        f"neighbor {PEER6} {SHUT}",
        f"no neighbor {PEER6} password",
        "exit",
    )


def test_keyed_interface_stays_closed_without_sink_config() -> None:
    """An interface rkmpd keyed stays passive without a key even when the
    configuration no longer names it (until the operator resets it)."""
    keyed = {
        secured_interface(SecuredKind.OSPF, "eth7"),
        secured_interface(SecuredKind.OSPF6, "e8"),
    }
    change = frr_change(EMPTY_PLAN, frr_plan([], CONFIG, FRR84, T0, keyed=keyed), CONFIG, FRR84)
    assert ospfd(change) == (
        "interface eth7",
        "ip ospf passive",
        "no ip ospf authentication",
        "exit",
    )
    assert ospf6d(change)[:2] == ("interface e8", "ipv6 ospf6 passive")


def test_plan_names_what_it_keys() -> None:
    rows = [md5(1, since(T0)), md5(2, since(T0), peer=PEER6), keyed_md5(3, since(T0))]
    rows.append(dataclasses.replace(ospf6(7, since(T0)), send_lifetime_start=T0 + 60))
    plan = frr_plan(rows, CONFIG, FRR84, T0)
    assert plan.keyed_items() == KEYED  # a chain with no key to send yet holds keys all the same
    assert plan.ospf6["eth1"].closed
    assert frr_plan([], CONFIG, FRR84, T0, keyed=KEYED).keyed_items() == frozenset()


def test_opening_lines_come_in_a_second_phase() -> None:
    """Keys (and everything else) first, then the lines that open; the
    first phase's expectations leave out the "is open" ones."""
    rows = [md5(1, since(T0 + 50)), keyed_md5(4, since(T0 + 50)), ospf6(8, since(T0 + 50))]
    closed = frr_plan([], CONFIG_OSPF, FRR84, T0 + 10, keyed=KEYED)
    change = frr_change(
        closed, frr_plan(rows, CONFIG_OSPF, FRR84, T0 + 50, keyed=KEYED), CONFIG, FRR84
    )
    assert change.open_commands() == (
        "router bgp 65001",
        f"no neighbor {PEER} shutdown",
        "exit",
        "interface eth0",
        "no ip ospf passive",
        "exit",
        "interface eth1",
        "no ipv6 ospf6 passive",
        "exit",
    )
    keys = change.key_commands()
    assert f"neighbor {PEER} password {rows[0].key}" in keys
    assert "ip ospf authentication message-digest" in keys
    assert "ipv6 ospf6 authentication keychain rkmp-ospf6-eth1" in keys
    assert not any("no neighbor" in line or "passive" in line for line in keys)
    assert set(change.vtysh_commands()) == set(keys + change.open_commands())
    opening = {e.line for e in change.running_config_expectations} - {
        e.line for e in change.key_expectations()
    }
    assert opening == {f"neighbor {PEER} shutdown", "ip ospf passive", "ipv6 ospf6 passive"}
    # Nothing to open: one phase, the whole change.
    rekey = render_frr_change(rows, rows, CONFIG, FRR84, T0 + 60, applied_at=T0 + 50)
    assert rekey.open_commands() == () and rekey.key_commands() == rekey.vtysh_commands()
