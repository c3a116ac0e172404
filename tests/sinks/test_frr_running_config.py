"""``show running-config`` expectations: what the applier checks after
applying a change."""

from __future__ import annotations

from rkmp_frr.sinks.features import Version, frr_features
from rkmp_frr.sinks.frr_config import FrrBgpNeighbor, FrrRenderConfig
from rkmp_frr.sinks.frr_render import render_frr_change
from rkmp_frr.sinks.frr_running_config import parse_running_config, unmet_expectations
from rkmp_frr.sinks.keyed import SecuredKind, frr_bgp, secured_interface
from rkmp_frr.wire.constants import IntegId, ProtocolId

from .sink_rows import PEER, T0, make_row, rekeyed, since

FRR84 = frr_features(Version(8, 4, 4))
CONFIG = FrrRenderConfig(bgp_neighbors=(FrrBgpNeighbor(PEER, 65001),))
BGP = make_row(ProtocolId.TCP_MD5, 1, since(T0))
MD5 = make_row(
    ProtocolId.OSPFV2, 3, since(T0), interfaces=frozenset({"eth0"}), integ=IntegId.RKMP_KEYED_MD5
)
OSPF6 = make_row(ProtocolId.OSPFV3, 7, since(T0), interfaces=frozenset({"eth1"}))
KEYED = frozenset(
    {
        frr_bgp(PEER),
        secured_interface(SecuredKind.OSPF, "eth0"),
        secured_interface(SecuredKind.OSPF6, "eth1"),
    }
)


def running_config(bgp_key: str, md5_key: str, ospf6_key: str, extra_key: str = "") -> str:
    """The shape FRR 8.4 prints (lib/keychain.c writes accept before send)."""
    extra = (
        f" key 5\n  key-string {extra_key}\n  cryptographic-algorithm hmac-sha-256\n exit\n"
        if extra_key
        else ""
    )
    return f"""Building configuration...

Current configuration:
!
frr version 8.4.4
frr defaults traditional
hostname r1
!
interface eth0
 ip ospf authentication message-digest
 ip ospf message-digest-key 3 md5 {md5_key}
exit
!
interface eth1
 ipv6 ospf6 authentication keychain rkmp-ospf6-eth1
exit
!
router bgp 65001
 neighbor 192.0.2.10 remote-as 65003
 neighbor 192.0.2.10 password unrelated
 neighbor {PEER} remote-as 65002
 neighbor {PEER} password {bgp_key}
 !
 address-family ipv4 unicast
  neighbor {PEER} activate
 exit-address-family
exit
!
key chain rkmp-ospf6-eth1
 key 7
  key-string {ospf6_key}
  cryptographic-algorithm hmac-sha-256
  accept-lifetime 15:06:40 Jun 15 2025 infinite
  send-lifetime 15:06:40 Jun 15 2025 infinite
 exit
{extra}exit
!
end
"""


def test_running_config_parses_into_blocks() -> None:
    blocks = parse_running_config(running_config("a", "b", "c"))
    assert ("neighbor", PEER, "activate") in blocks[
        ("router bgp 65001", "address-family ipv4 unicast")
    ]
    assert ("key-string", "c") in blocks[("key chain rkmp-ospf6-eth1", "key 7")]
    assert ("hostname", "r1") in blocks[()]


def test_applied_state_meets_every_expectation() -> None:
    change = render_frr_change([], [BGP, MD5, OSPF6], CONFIG, FRR84, T0, keyed=KEYED)
    text = running_config(BGP.key, MD5.key, OSPF6.key)
    # 10 lines present, and (keyed before: a restart) the fail-closed lines
    # absent: the neighbour's shutdown and both interfaces' passive.
    assert len(change.running_config_expectations) == 13
    assert unmet_expectations(text, change.running_config_expectations) == ()


def test_missing_or_stale_lines_are_reported() -> None:
    change = render_frr_change([], [BGP, MD5, OSPF6], CONFIG, FRR84, T0)
    stale = running_config("0" * 64, MD5.key, OSPF6.key)
    unmet = unmet_expectations(stale, change.running_config_expectations)
    assert [e.context for e in unmet] == [("router bgp 65001",)]
    assert unmet[0].line == f"neighbor {PEER} password {BGP.key}"
    assert BGP.key not in repr(unmet[0])


def test_removed_lines_must_be_gone() -> None:
    old = OSPF6.with_lifetimes(OSPF6.lifetimes)
    extra = make_row(ProtocolId.OSPFV3, 5, since(T0), interfaces=frozenset({"eth1"}))
    keyed = {frr_bgp(PEER)}  # a revoke: the neighbour is shut, not left open
    change = render_frr_change([BGP, MD5, OSPF6, extra], [MD5, old], CONFIG, FRR84, T0, keyed=keyed)
    absent = [e for e in change.running_config_expectations if not e.present]
    # The interfaces stay open and rkmpd never closed them: their passive
    # setting is not rkmpd's to expect either way.
    assert [(e.context, e.line) for e in absent] == [
        (("router bgp 65001",), f"neighbor {PEER} password"),
        (("key chain rkmp-ospf6-eth1",), "key 5"),
    ]
    # Still there: the password and key 5 unmet. The other neighbour's
    # password (a longer address) and key 7 do not count.
    before = running_config(BGP.key, MD5.key, OSPF6.key, extra_key=extra.key)
    assert unmet_expectations(before, absent) == (absent[0], absent[1])
    shutdown = f" neighbor {PEER} shutdown message rkmpd: no usable key\n"
    assert [e.line for e in unmet_expectations(before, change.running_config_expectations)] == [
        shutdown.strip(),
        absent[0].line,
        absent[1].line,
    ]
    after = before.replace(f" neighbor {PEER} password {BGP.key}\n", shutdown).replace(
        f" key 5\n  key-string {extra.key}\n", " key 55\n  key-string x\n"
    )
    assert unmet_expectations(after, change.running_config_expectations) == ()


def test_rekeyed_chain_expectations_follow_the_new_lifetimes() -> None:
    old, new = rekeyed(
        OSPF6, make_row(ProtocolId.OSPFV3, 8, since(T0), interfaces=frozenset({"eth1"})), T0 + 1000
    )
    change = render_frr_change([OSPF6], [old, new], CONFIG, FRR84, T0 + 1000)
    lines = {(e.context, e.line) for e in change.running_config_expectations}
    chain = "key chain rkmp-ospf6-eth1"
    assert ((chain, "key 7"), "send-lifetime 15:06:40 Jun 15 2025 15:26:19 Jun 15 2025") in lines
    assert ((chain, "key 8"), "accept-lifetime 15:23:20 Jun 15 2025 infinite") in lines
    assert ((chain,), "key 8") in lines
