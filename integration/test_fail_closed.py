"""RP_revokeSA fails closed: real FRR 8.4 and BIRD 2 in namespaces, keys put
in and taken out through the sinks' appliers (key table rows, as rkmpd's
sinks get them).

The attack this guards against: block RKMP (UDP 500) until the liveness
checks fail on both routers, both revoke their keys, and the routing session
comes back without authentication. Fail closed applies to what rkmpd has
keyed (``rkmp_frr.sinks.keyed``): before the first key, the operator's
configuration is left alone. Each test:

1. (BGP, OSPFv2, BIRD) applies no rows to routers rkmpd never keyed: their
   configuration stays as it is and the session or adjacency stays up,
2. keys the routers with rows given to the appliers: up, authenticated,
3. revokes the keys on both sides (the applier is given no rows), turns
   the peer into an unauthenticated speaker by hand (what the peer or an
   attacker on the link would be if it fell back to no authentication), and
   watches for a while (SETTLE_SAMPLES) that the session or adjacency does
   not come back, and (OSPF) that the closed side sends no packet at all
   (ospfd drops the old neighbour of a passive interface only when its dead
   interval ends; the window starts after that),
4. (BGP, OSPFv2, BIRD) restarts an applier from its state file with no
   rows: what was revoked stays closed,
5. inserts new keys on both sides: the session comes back, authenticated.

What closes (see ``rkmp_frr.sinks.frr_render`` / ``bird_render``): FRR
``neighbor X shutdown``, ``ip ospf passive``, ``ipv6 ospf6 passive``; BIRD
``disabled;`` for BGP and ``stub yes;`` for an OSPF interface.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from integration.harness.capture import capturing
from integration.harness.netns import Link, two_node_network
from integration.harness.pcap import read_pcap
from integration.harness.process import wait_until
from integration.harness.routing import (
    BirdNode,
    FrrDaemon,
    FrrNode,
    RoutingLab,
    bird_base_config,
    bird_bgp_protocol,
    bird_ospf_protocol,
    bird_unavailable_reason,
    frr_bgp_config,
    frr_reload_path,
    frr_unavailable_reason,
    ospf_packets,
    routing_lab,
)
from integration.harness.skips import require_netns
from rkmp_frr.keytable.row import ALL_INTERFACES, Direction, KeyRow
from rkmp_frr.keytable.utc import FOREVER
from rkmp_frr.sinks.batching import ApplyResult, ApplyStatus
from rkmp_frr.sinks.bird_apply import BirdApplier, BirdApplierOptions, BirdcCommand
from rkmp_frr.sinks.bird_render import (
    BirdBgpSession,
    BirdOspfArea,
    BirdOspfInstance,
    BirdOspfInterface,
    BirdRenderConfig,
)
from rkmp_frr.sinks.features import (
    FRR_OSPF6_AUTH_TRAILER,
    bird_features,
    frr_features,
    parse_bird_version,
    parse_frr_version,
)
from rkmp_frr.sinks.frr_apply import FrrApplier, FrrApplierOptions, FrrApplyMode, VtyshCommand
from rkmp_frr.sinks.frr_config import FrrBgpNeighbor, FrrRenderConfig
from rkmp_frr.sinks.keyed import KeyedState
from rkmp_frr.sinks.render import packaged_templates_dir
from rkmp_frr.sinks.runner import CommandResult, run_command
from rkmp_frr.wire.constants import ProtocolId

A, B = "10.250.0.1", "10.250.0.2"
SAMPLE_INTERVAL = 0.5
SETTLE_SAMPLES = 30  # 15 s: many BGP connect retries (1-2 s), several OSPF dead intervals (4 s)
MD5_KEYS = ("0123456789abcdef", "fedcba9876543210")  # ospfd: at most 16 characters
HMAC_KEYS = ("5a" * 32, "a5" * 32)
DEAD_INTERVAL = 4  # OSPF, in the configurations below


@pytest.fixture
def lab(work_dir: Path) -> Iterator[RoutingLab]:
    with routing_lab(work_dir) as routing:
        yield routing


def need_frr() -> None:
    reason = frr_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)


def need_bird() -> None:
    reason = bird_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)


def row(
    protocol: ProtocolId,
    peer: str,
    spi: int,
    key: str,
    alg_id: str,
    interfaces: frozenset[str] = ALL_INTERFACES,
) -> KeyRow:
    """A key table row valid from a minute ago, forever."""
    now = int(time.time())
    return KeyRow(
        admin_key_name=f"test/{protocol.name}/{peer}/{spi}",
        local_key_name=str(spi),
        peer_key_name=str(spi),
        peers=frozenset({peer}),
        interfaces=interfaces,
        protocol=protocol,
        protocol_specific_info="",
        kdf="none",
        alg_id=alg_id,
        key=key,
        direction=Direction.BOTH,
        send_lifetime_start=now - 60,
        send_lifetime_end=FOREVER,
        accept_lifetime_start=now - 60,
        accept_lifetime_end=FOREVER,
        spi=spi,
    )


Applier = FrrApplier | BirdApplier


def apply(applier: Applier, rows: Sequence[KeyRow]) -> ApplyResult:
    result = asyncio.run(applier.apply(rows, int(time.time())))
    assert result.status in (ApplyStatus.APPLIED, ApplyStatus.UNCHANGED), result.describe()
    return result


def stays_down(is_up: Callable[[], bool], what: str) -> None:
    """``is_up`` stays false for the whole observation window."""
    for sample in range(SETTLE_SAMPLES):
        assert not is_up(), f"{what} came back without keys (sample {sample})"
        time.sleep(SAMPLE_INTERVAL)


# --- FRR ---------------------------------------------------------------------------------


def frr_applier(
    node: FrrNode,
    render: FrrRenderConfig,
    state: Path | None = None,
    mode: FrrApplyMode = FrrApplyMode.VTYSH,
) -> FrrApplier:
    """An FRR applier; ``state``: its keyed-state file (None: in memory)."""
    vtysh = VtyshCommand(vty_socket=node.vty_dir, wrapper=("ip", "netns", "exec", node.ns.name))
    features = frr_features(parse_frr_version(node.vtysh("show version").stdout))
    options = FrrApplierOptions(vtysh=vtysh, render=render, kernel_check=False, mode=mode)
    reload = frr_reload_path()
    if reload is not None:
        options = dataclasses.replace(options, frr_reload=str(reload))
    return FrrApplier(options, features, keyed=KeyedState.load("frr", state))


def frr_ospf_config(router_id: str) -> str:
    return f"""interface veth0
 ip ospf area 0
 ip ospf network point-to-point
 ip ospf hello-interval 1
 ip ospf dead-interval 4
exit
router ospf
 ospf router-id {router_id}
exit
"""


def frr_ospf6_config(router_id: str) -> str:
    return f"""interface veth0
 ipv6 ospf6 area 0
 ipv6 ospf6 network point-to-point
 ipv6 ospf6 hello-interval 1
 ipv6 ospf6 dead-interval 4
exit
router ospf6
 ospf6 router-id {router_id}
exit
"""


def test_frr_frr_bgp_md5_revoke_fails_closed(
    two_nodes: Link, lab: RoutingLab, work_dir: Path
) -> None:
    need_frr()
    a = lab.frr(two_nodes.left.ns, "a", config=frr_bgp_config(65001, A, B, 65002))
    b = lab.frr(two_nodes.right.ns, "b", config=frr_bgp_config(65002, B, A, 65001))
    # Before rkmpd: the operator's session runs without authentication.
    a.wait_bgp_established(B)
    renders = {
        "a": FrrRenderConfig(bgp_neighbors=(FrrBgpNeighbor(B, 65001),)),
        "b": FrrRenderConfig(bgp_neighbors=(FrrBgpNeighbor(A, 65002),)),
    }
    nodes = {"a": a, "b": b}
    states = {name: work_dir / f"frr-{name}.keyed" for name in nodes}
    appliers = {name: frr_applier(nodes[name], renders[name], states[name]) for name in nodes}
    # 1. First start without keys, never keyed: nothing changes.
    before = a.running_config()
    for applier in appliers.values():
        assert apply(applier, []).status is ApplyStatus.UNCHANGED
    assert a.running_config() == before and a.bgp_state(B) == "Established"
    # 2. Keys: the session comes up authenticated.
    key = MD5_KEYS[0]
    apply(appliers["a"], [row(ProtocolId.TCP_MD5, B, 1, key, "KEYED-MD5")])
    apply(appliers["b"], [row(ProtocolId.TCP_MD5, A, 1, key, "KEYED-MD5")])
    a.wait_bgp_established(B)
    running = a.running_config()
    assert f"neighbor {B} password {key}" in running and "shutdown" not in running
    # 3. RP_revokeSA on both sides, and the peer falls back to no
    # authentication: a refuses it.
    for applier in appliers.values():
        result = apply(applier, [])
        assert any("fail closed" in note for note in result.notes), result.notes
    b.vtysh("configure terminal", "router bgp 65002", f"no neighbor {A} shutdown")
    running = a.running_config()
    assert "password" not in running.split("router bgp", 1)[1]
    assert f"neighbor {B} shutdown" in running
    stays_down(lambda: a.bgp_state(B) == "Established", "BGP a-b after the revoke")
    assert b.bgp_state(A) != "Established"
    # 4. A restarted rkmpd (state from the file, nothing known of FRR) keeps
    # the revoked neighbour shut.
    restarted = frr_applier(a, renders["a"], states["a"])
    apply(restarted, [])
    running = a.running_config()
    assert f"neighbor {B} shutdown" in running and "password" not in running.split("router bgp")[1]
    assert a.bgp_state(B) != "Established"
    appliers["a"] = restarted
    # 5. New keys on both sides: back up, with the new key.
    key = MD5_KEYS[1]
    apply(appliers["a"], [row(ProtocolId.TCP_MD5, B, 2, key, "KEYED-MD5")])
    apply(appliers["b"], [row(ProtocolId.TCP_MD5, A, 2, key, "KEYED-MD5")])
    a.wait_bgp_established(B)
    running = a.running_config()
    assert f"neighbor {B} password {key}" in running and "shutdown" not in running


def test_frr_refused_key_line_never_opens_the_neighbour(
    two_nodes: Link, lab: RoutingLab, work_dir: Path
) -> None:
    """``vtysh -f`` goes on past a line bgpd refuses. After a revoke, a new
    key whose line bgpd refuses must not be followed by the line that lifts
    the shutdown: the opening goes in a second run, only after the key was
    read back. The peer here has fallen back to no authentication, so an
    opened neighbour would come up unauthenticated."""
    need_frr()
    a = lab.frr(two_nodes.left.ns, "a", config=frr_bgp_config(65001, A, B, 65002))
    b = lab.frr(two_nodes.right.ns, "b", config=frr_bgp_config(65002, B, A, 65001))
    render_a = FrrRenderConfig(bgp_neighbors=(FrrBgpNeighbor(B, 65001),))
    state_a = work_dir / "frr-a.keyed"
    good = frr_applier(a, render_a, state_a)
    peer = frr_applier(b, FrrRenderConfig(bgp_neighbors=(FrrBgpNeighbor(A, 65002),)))
    apply(good, [row(ProtocolId.TCP_MD5, B, 1, MD5_KEYS[0], "KEYED-MD5")])
    apply(peer, [row(ProtocolId.TCP_MD5, A, 1, MD5_KEYS[0], "KEYED-MD5")])
    a.wait_bgp_established(B)
    apply(good, [])  # RP_revokeSA: a shuts the neighbour
    apply(peer, [])
    b.vtysh("configure terminal", "router bgp 65002", f"no neighbor {A} shutdown")
    wait_until(lambda: a.bgp_state(B) != "Established", timeout=20, what="the session to go")
    established = a.bgp_established_count(B)
    # An operator template whose password line names a neighbour bgpd does
    # not have: vtysh --dryrun parses it, bgpd refuses it.
    packaged = (packaged_templates_dir() / "frr" / "bgpd.j2").read_text()
    line = " neighbor {{ n.neighbor }} password {{ n.key }}"
    assert line in packaged
    templates = work_dir / "templates"
    (templates / "frr").mkdir(parents=True)
    (templates / "frr" / "bgpd.j2").write_text(
        packaged.replace(line, " neighbor 192.0.2.99 password {{ n.key }}")
    )
    sent: list[str] = []

    async def recording(
        argv: Sequence[str], *, input_text: str | None = None, timeout: float = 30.0
    ) -> CommandResult:
        if input_text is not None and "--dryrun" not in argv:
            sent.append(input_text)
        return await run_command(argv, input_text=input_text, timeout=timeout)

    broken = frr_applier(a, render_a, state_a)
    broken.options = dataclasses.replace(broken.options, templates_dir=templates)
    broken.runner = recording
    broken.current, broken.synced = good.current, True
    result = asyncio.run(broken.apply([row(ProtocolId.TCP_MD5, B, 2, MD5_KEYS[1], "KEYED-MD5")],
                                      int(time.time())))  # fmt: skip
    assert result.status is ApplyStatus.FAILED_RESTORED, result.describe()
    assert "FRR refused the change" in (result.error or ""), result.describe()
    assert sent and "password" in sent[0]
    assert not any(f"no neighbor {B} shutdown" in text for text in sent), sent
    running = a.running_config()
    assert f"neighbor {B} shutdown message rkmpd: no usable key" in running
    assert "password" not in running.split("router bgp", 1)[1]
    stays_down(lambda: a.bgp_state(B) == "Established", "BGP a-b after a refused key")
    assert a.bgp_established_count(B) == established


@pytest.mark.parametrize("mode", [FrrApplyMode.VTYSH, FrrApplyMode.FRR_RELOAD])
def test_frr_operator_shutdown_and_passive_stay_through_rekeys(
    two_nodes: Link, lab: RoutingLab, work_dir: Path, mode: FrrApplyMode
) -> None:
    """A neighbour shut and an interface made passive by the operator, on
    purpose: keys, a rekey, a restarted rkmpd, a revoke and keys again
    leave both as they are, and every apply verifies (no restore). The
    revoke takes the keys out (fail closed) but finds both closed already:
    the operator's lines stay, not rkmpd's, so keys back do not lift them."""
    need_frr()
    if mode is FrrApplyMode.FRR_RELOAD and frr_reload_path() is None:
        pytest.skip("frr-reload.py not found")
    daemons = (FrrDaemon.ZEBRA, FrrDaemon.BGPD, FrrDaemon.OSPFD)
    config = frr_bgp_config(65001, A, B, 65002).replace(
        f" neighbor {B} timers connect 1", f" neighbor {B} timers connect 1\n neighbor {B} shutdown"
    )
    config += frr_ospf_config("1.1.1.1").replace(
        " ip ospf area 0", " ip ospf area 0\n ip ospf passive"
    )
    a = lab.frr(two_nodes.left.ns, "a", daemons, config)
    render = FrrRenderConfig(bgp_neighbors=(FrrBgpNeighbor(B, 65001),), ospf_interfaces=("veth0",))
    state = work_dir / "frr-a.keyed"
    eth = frozenset({"veth0"})

    def keys(spi: int) -> list[KeyRow]:
        key = MD5_KEYS[spi % 2]
        return [
            row(ProtocolId.TCP_MD5, B, spi, key, "KEYED-MD5"),
            row(ProtocolId.OSPFV2, B, spi, key, "KEYED-MD5", eth),
        ]

    def operators_lines_there() -> None:
        running = a.running_config()
        assert f" neighbor {B} shutdown\n" in running and " ip ospf passive\n" in running
        assert "rkmpd: no usable key" not in running

    applier = frr_applier(a, render, state, mode)
    apply(applier, keys(1))
    operators_lines_there()
    apply(applier, keys(2))  # the rekey: verified with the operator's lines in place
    assert f"neighbor {B} password {MD5_KEYS[0]}" in a.running_config()
    operators_lines_there()
    restarted = frr_applier(a, render, state, mode)
    apply(restarted, keys(3))
    operators_lines_there()
    # A revoke: the keys go, the operator's closing stays theirs.
    result = apply(restarted, [])
    assert any("by the operator already" in note for note in result.notes), result.notes
    operators_lines_there()
    running = a.running_config()
    assert "password" not in running.split("router bgp")[1]
    assert "ip ospf authentication" not in running
    assert not any(line.startswith("closed ") for line in state.read_text().splitlines())
    # Keys back, after a restart too: the operator's lines stay.
    apply(frr_applier(a, render, state, mode), keys(4))
    operators_lines_there()
    running = a.running_config()
    assert f"neighbor {B} password {MD5_KEYS[0]}" in running
    assert f"ip ospf message-digest-key 4 md5 {MD5_KEYS[0]}" in running


def test_frr_unlisted_neighbour_stays_shut_after_a_restart(
    two_nodes: Link, lab: RoutingLab, work_dir: Path
) -> None:
    """A keyed neighbour whose ``[[sinks.frr.bgp_neighbor]]`` entry the
    operator removed, and rkmpd restarted: the restarted sink finds its
    ``router bgp`` in FRR's running config and shuts it there (its key
    out); a further restart changes nothing."""
    need_frr()
    c = "10.250.0.3"
    config = frr_bgp_config(65001, A, B, 65002).replace(
        "exit\n", f" neighbor {c} remote-as 65003\nexit\n"
    )
    a = lab.frr(two_nodes.left.ns, "a", config=config)
    state = work_dir / "frr-a.keyed"
    both = FrrRenderConfig(bgp_neighbors=(FrrBgpNeighbor(B, 65001), FrrBgpNeighbor(c, 65001)))
    only_b = FrrRenderConfig(bgp_neighbors=(FrrBgpNeighbor(B, 65001),))
    b_key = row(ProtocolId.TCP_MD5, B, 1, MD5_KEYS[0], "KEYED-MD5")
    apply(
        frr_applier(a, both, state),
        [b_key, row(ProtocolId.TCP_MD5, c, 2, MD5_KEYS[1], "KEYED-MD5")],
    )
    assert f"neighbor {c} password {MD5_KEYS[1]}" in a.running_config()
    restarted = frr_applier(a, only_b, state)
    result = apply(restarted, [b_key])
    assert f"BGP neighbour {c}: no usable key, shut down (fail closed)" in result.notes
    running = a.running_config()
    assert f" neighbor {c} shutdown message rkmpd: no usable key\n" in running
    assert MD5_KEYS[1] not in running and f"neighbor {B} password {MD5_KEYS[0]}" in running
    assert f"closed bgp {c}\n" in state.read_text()
    again = frr_applier(a, only_b, state)
    assert apply(again, [b_key]).status is ApplyStatus.UNCHANGED
    assert a.running_config() == running


def _sent_by(pcap: Path, router_id: str) -> list[int]:
    """AuTypes of the OSPFv2 packets ``router_id`` sent."""
    packets = ospf_packets(read_pcap(pcap, allow_truncated=True))
    return [p.auth_type for p in packets if p.router_id == router_id]


def test_frr_frr_ospf_md5_revoke_fails_closed(
    two_nodes: Link, lab: RoutingLab, work_dir: Path
) -> None:
    need_frr()
    daemons = (FrrDaemon.OSPFD,)
    a = lab.frr(two_nodes.left.ns, "a", daemons, frr_ospf_config("1.1.1.1"))
    b = lab.frr(two_nodes.right.ns, "b", daemons, frr_ospf_config("2.2.2.2"))
    render = FrrRenderConfig(ospf_interfaces=("veth0",))
    state_a = work_dir / "frr-a.keyed"
    appliers = {"a": frr_applier(a, render, state_a), "b": frr_applier(b, render)}
    eth = frozenset({"veth0"})

    def keys(spi: int, key: str) -> None:
        apply(appliers["a"], [row(ProtocolId.OSPFV2, B, spi, key, "KEYED-MD5", eth)])
        apply(appliers["b"], [row(ProtocolId.OSPFV2, A, spi, key, "KEYED-MD5", eth)])

    def full() -> bool:
        return a.ospf_neighbor_states().get("2.2.2.2", "").startswith("Full")

    # 1. First start without keys, never keyed: the operator's (unauthenticated)
    # adjacency is left alone.
    a.wait_ospf_full("2.2.2.2")
    before = a.running_config()
    for applier in appliers.values():
        assert apply(applier, []).status is ApplyStatus.UNCHANGED
    assert a.running_config() == before and full()
    # 2. Keys: Full, authenticated.
    keys(1, MD5_KEYS[0])
    a.wait_ospf_full("2.2.2.2")
    assert "passive" not in a.running_config()
    # 3. Revoke on both; b falls back to a plain unauthenticated speaker.
    for applier in appliers.values():
        apply(applier, [])
    b.vtysh("configure terminal", "interface veth0", "no ip ospf passive")
    assert "authentication" not in b.running_config()
    # ospfd keeps the (authenticated) neighbour of an interface made passive
    # until its dead interval ends, hearing nothing from it meanwhile.
    wait_until(lambda: not full(), timeout=3 * DEAD_INTERVAL, what="a to drop its neighbour")
    time.sleep(SAMPLE_INTERVAL)  # packets a queued before it went passive
    pcap = work_dir / "ospf.pcap"
    with capturing(two_nodes.left.ns, "veth0", "ip proto 89", pcap, work_dir / "dumpcap.log"):
        stays_down(full, "OSPF a-b after the revoke")
    assert not b.ospf_neighbor_states().get("1.1.1.1", "").startswith("Full")
    assert _sent_by(pcap, "2.2.2.2"), "b's unauthenticated hellos reached a's link"
    assert _sent_by(pcap, "1.1.1.1") == []  # a sent nothing at all
    # 4. A restarted rkmpd keeps the revoked interface passive.
    appliers["a"] = frr_applier(a, render, state_a)
    apply(appliers["a"], [])
    assert " ip ospf passive" in a.running_config() and not full()
    # 5. New keys on both: Full again.
    keys(2, MD5_KEYS[1])
    a.wait_ospf_full("2.2.2.2")
    running = a.running_config()
    assert "passive" not in running and "ip ospf authentication message-digest" in running


def test_frr_frr_ospf6_keychain_revoke_fails_closed(lab: RoutingLab) -> None:
    need_frr()
    require_netns()
    with two_node_network(ipv6=True) as link:
        daemons = (FrrDaemon.OSPF6D,)
        a = lab.frr(link.left.ns, "a", daemons, frr_ospf6_config("1.1.1.1"))
        version = parse_frr_version(a.vtysh("show version").stdout)
        if not frr_features(version).has(FRR_OSPF6_AUTH_TRAILER):
            pytest.skip(f"FRR {version}: ospf6d has no key chains")
        b = lab.frr(link.right.ns, "b", daemons, frr_ospf6_config("2.2.2.2"))
        render = FrrRenderConfig(ospf6_interfaces=("veth0",))
        appliers = {"a": frr_applier(a, render), "b": frr_applier(b, render)}
        eth = frozenset({"veth0"})
        peer = {"a": str(link.right.address), "b": str(link.left.address)}

        def keys(spi: int, key: str) -> None:
            for name, applier in appliers.items():
                apply(applier, [row(ProtocolId.OSPFV3, peer[name], spi, key, "HMAC-SHA-256", eth)])

        def full() -> bool:
            return a.ospf6_neighbor_states().get("2.2.2.2") == "Full"

        keys(1, HMAC_KEYS[0])
        a.wait_ospf6_full("2.2.2.2")
        for applier in appliers.values():
            apply(applier, [])
        running = a.running_config()
        assert "ipv6 ospf6 passive" in running and "keychain" not in running
        b.vtysh("configure terminal", "interface veth0", "no ipv6 ospf6 passive")
        stays_down(full, "OSPFv3 a-b after the revoke")
        keys(2, HMAC_KEYS[1])
        a.wait_ospf6_full("2.2.2.2")
        assert "passive" not in a.running_config()


OPERATOR_KEYS = """interface lo
 ip ospf message-digest-key 9 md5 opkey9
exit
key chain ops-chain
 key 1
  key-string opchainkey
 exit
exit
"""


def frr_ospf_both_config() -> str:
    """ospfd and ospf6d on veth0 (rkmpd's), and the operator's own keys
    elsewhere: a message-digest key on lo, a key chain of their own."""
    return f"""interface veth0
 ip ospf area 0
 ipv6 ospf6 area 0
exit
{OPERATOR_KEYS}router ospf
 ospf router-id 1.1.1.1
exit
router ospf6
 ospf6 router-id 1.1.1.1
exit
"""


def rkmpd_key_lines(running: str) -> list[str]:
    """The key lines of rkmpd's in a running config: veth0's message-digest
    keys and the lines of its key chains (keys masked)."""
    found: list[str] = []
    block = ""
    for line in running.splitlines():
        if line and not line.startswith(" "):
            block = line.strip()
        words = line.split()
        if block == "interface veth0" and words[:3] == ["ip", "ospf", "message-digest-key"]:
            found.append(f"{block}: {' '.join(words[:4])}")
        elif block.startswith("key chain rkmp-") and line.startswith(" key "):
            found.append(f"{block}: {' '.join(words)}")
    return found


@pytest.mark.parametrize("mode", [FrrApplyMode.VTYSH, FrrApplyMode.FRR_RELOAD])
def test_frr_restart_with_new_key_ids_then_revoke_leaves_no_old_key(
    two_nodes: Link, lab: RoutingLab, work_dir: Path, mode: FrrApplyMode
) -> None:
    """FRR keeps rkmpd's key lines through an rkmpd restart: the restarted
    rkmpd (an applier from the same state file) removes its old message-
    digest key and its key chain's old key when it puts in keys with new
    IDs, and a revoke then leaves none of its key lines; the operator's own
    message-digest key (on lo) and key chain stay as they were."""
    need_frr()
    if mode is FrrApplyMode.FRR_RELOAD and frr_reload_path() is None:
        pytest.skip("frr-reload.py is not installed")
    daemons = (FrrDaemon.OSPFD, FrrDaemon.OSPF6D)
    a = lab.frr(two_nodes.left.ns, "a", daemons, frr_ospf_both_config())
    version = parse_frr_version(a.vtysh("show version").stdout)
    if not frr_features(version).has(FRR_OSPF6_AUTH_TRAILER):
        pytest.skip(f"FRR {version}: ospf6d has no key chains")
    render = FrrRenderConfig(ospf_interfaces=("veth0",), ospf6_interfaces=("veth0",))
    state = work_dir / "frr-sink.keyed"
    eth = frozenset({"veth0"})
    chain_v2 = "KEYED-MD5" if not frr_features(version).ospf_key_chains else "HMAC-SHA-256"
    v2_keys = MD5_KEYS if chain_v2 == "KEYED-MD5" else HMAC_KEYS

    def rows(spi: int, index: int) -> list[KeyRow]:
        return [
            row(ProtocolId.OSPFV2, B, spi, v2_keys[index], chain_v2, eth),
            row(ProtocolId.OSPFV3, B, spi, HMAC_KEYS[index], "HMAC-SHA-256", eth),
        ]

    def operators_keys_stay(running: str) -> None:
        assert " ip ospf message-digest-key 9 md5 opkey9" in running
        assert "key chain ops-chain" in running and "key-string opchainkey" in running

    apply(frr_applier(a, render, state, mode), rows(1, 0))
    assert len(rkmpd_key_lines(a.running_config())) == 2
    # rkmpd restarts; its new SAs have new key IDs.
    restarted = frr_applier(a, render, state, mode)
    apply(restarted, rows(2, 1))
    running = a.running_config()
    assert sorted(rkmpd_key_lines(running)) == sorted(
        [
            *(["interface veth0: ip ospf message-digest-key 2"] if chain_v2 == "KEYED-MD5" else []),
            *(["key chain rkmp-ospf-veth0: key 2"] if chain_v2 != "KEYED-MD5" else []),
            "key chain rkmp-ospf6-veth0: key 2",
        ]
    ), running
    assert v2_keys[0] not in running and HMAC_KEYS[0] not in running
    operators_keys_stay(running)
    # Restarted again, its keys revoked (the RKMP SAs failed): none left.
    revoking = frr_applier(a, render, state, mode)
    apply(revoking, [])
    running = a.running_config()
    assert rkmpd_key_lines(running) == [] and "key chain rkmp-" not in running, running
    assert v2_keys[1] not in running and HMAC_KEYS[1] not in running
    assert " ip ospf passive" in running and " ipv6 ospf6 passive" in running  # fail closed
    operators_keys_stay(running)
    state_lines = state.read_text().splitlines()
    assert not [line for line in state_lines if line.startswith(("md5-key", "key-chain"))]


# --- BIRD ---------------------------------------------------------------------------------

BGP_OPTIONS = (
    "hold time 9;",
    "keepalive time 3;",
    "connect retry time 2;",
    "connect delay time 1;",
    "error wait time 1, 5;",
    "ipv4 { import none; export none; };",
)


def bird_render(local: str, peer: str, asn: int, peer_asn: int) -> BirdRenderConfig:
    interface = BirdOspfInterface("veth0", ("type ptp;", "hello 1;", "dead 4;"))
    return BirdRenderConfig(
        bgp=(
            BirdBgpSession(
                "b1", peer, neighbor_as=peer_asn, local_as=asn, local_address=local,
                options=BGP_OPTIONS,
            ),
        ),
        ospf=(
            BirdOspfInstance(
                "o1", 2, (BirdOspfArea("0", (interface,)),),
                options=("ipv4 { import none; export none; };",),
            ),
        ),
    )  # fmt: skip


def bird_applier(
    node: BirdNode, include: Path, render: BirdRenderConfig, state: Path | None = None
) -> BirdApplier:
    """A BIRD applier; ``state``: its keyed-state file (None: in memory)."""
    birdc = BirdcCommand(socket=node.socket_path, wrapper=("ip", "netns", "exec", node.ns.name))
    options = BirdApplierOptions(
        include_file=include, birdc=birdc, render=render, kernel_check=False
    )
    version = parse_bird_version(node.birdc("show", "status").stdout)
    return BirdApplier(options, bird_features(version), keyed=KeyedState.load("bird", state))


def test_bird_bird_bgp_and_ospf_revoke_fail_closed(
    two_nodes: Link, lab: RoutingLab, work_dir: Path
) -> None:
    need_bird()
    nodes: dict[str, tuple[BirdNode, Path, BirdApplier]] = {}
    for name, end, local, peer, asn, peer_asn in (
        ("a", two_nodes.left, A, B, 65001, 65002),
        ("b", two_nodes.right, B, A, 65002, 65001),
    ):
        include = work_dir / f"rkmp-{name}.conf"
        include.write_text("")
        config = bird_base_config(local, work_dir / f"{name}.log") + f'include "{include}";\n'
        node = lab.bird(end.ns, name, config)
        render = bird_render(local, peer, asn, peer_asn)
        state = work_dir / f"bird-{name}.keyed"
        nodes[name] = (node, include, bird_applier(node, include, render, state))
    a, include_a, _ = nodes["a"]
    b, include_b, _ = nodes["b"]
    eth = frozenset({"veth0"})

    def keys(spi: int, md5: str, hmac: str) -> None:
        for name, peer in (("a", B), ("b", A)):
            apply(
                nodes[name][2],
                [
                    row(ProtocolId.TCP_MD5, peer, spi, md5, "KEYED-MD5"),
                    row(ProtocolId.OSPFV2, peer, spi, hmac, "HMAC-SHA-256", eth),
                ],
            )

    def up() -> bool:
        return a.bgp_state("b1") == "Established" or a.ospf_neighbor_states("o1").get(
            B, ""
        ).startswith("Full")

    # 1. First start without keys, never keyed: the blocks as configured
    # (no authentication, nothing closed); both come up unauthenticated.
    for name in ("a", "b"):
        result = apply(nodes[name][2], [])
        assert not any("fail closed" in note for note in result.notes), result.notes
    text = include_a.read_text()
    for word in ("disabled", "stub", "password", "authentication"):
        assert word not in text, text
    a.wait_bgp_established("b1")
    a.wait_ospf_full("o1", B)
    # 2. Keys: both up, authenticated.
    keys(1, MD5_KEYS[0], HMAC_KEYS[0])
    a.wait_bgp_established("b1")
    a.wait_ospf_full("o1", B)
    assert "disabled" not in include_a.read_text()
    # 3. Revoke on both; b falls back to no authentication at all.
    for name in ("a", "b"):
        apply(nodes[name][2], [])
    include_b.write_text(
        bird_bgp_protocol("b1", B, 65002, A, 65001) + bird_ospf_protocol("o1", "veth0", "")
    )
    b.configure()
    time.sleep(SAMPLE_INTERVAL)  # packets a queued before it went stub
    pcap = work_dir / "ospf.pcap"
    with capturing(two_nodes.left.ns, "veth0", "ip proto 89", pcap, work_dir / "dumpcap.log"):
        stays_down(up, "BIRD a-b after the revoke")
    assert b.bgp_state("b1") != "Established"
    assert _sent_by(pcap, B), "b's unauthenticated hellos reached a's link"
    assert _sent_by(pcap, A) == []  # a sent nothing at all
    # 4. A restarted rkmpd keeps the revoked session disabled and interface stub.
    restarted = bird_applier(a, include_a, nodes["a"][2].options.render, work_dir / "bird-a.keyed")
    apply(restarted, [])
    text = include_a.read_text()
    assert "\tdisabled;\n" in text and "\t\t\tstub yes;\n" in text
    assert not up()
    nodes["a"] = (a, include_a, restarted)
    # 5. New keys on both: back up.
    keys(2, MD5_KEYS[1], HMAC_KEYS[1])
    a.wait_bgp_established("b1")
    a.wait_ospf_full("o1", B)
    text = include_a.read_text()
    assert "disabled" not in text and "stub yes" not in text
