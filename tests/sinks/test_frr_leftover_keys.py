"""rkmpd removes every key line it put into FRR, also those from before a
restart (rkmp_frr.sinks.frr_discovery.leftover_keys, FrrPlan.leftovers):
a restarted rkmpd with new key IDs, or a revoke after a restart, leaves
none of its old message-digest keys or key chain keys in FRR, and never
touches the operator's own. rkmpd knows its lines by the key records of
its state file (rkmp_frr.sinks.keyed.KeyRecord).

The scripted vtysh is test_frr_operator_closed's FakeFrr; the real FRR is
in integration/test_fail_closed.py."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from rkmp_frr.keytable.row import KeyRow
from rkmp_frr.sinks.batching import ApplyStatus
from rkmp_frr.sinks.features import Daemon, FrrFeatures, Version, frr_features
from rkmp_frr.sinks.frr_apply import FrrApplier, FrrApplierOptions, VtyshCommand
from rkmp_frr.sinks.frr_config import FrrRenderConfig
from rkmp_frr.sinks.frr_discovery import leftover_keys
from rkmp_frr.sinks.frr_plan import EMPTY_PLAN, LeftoverChain, Leftovers, frr_plan
from rkmp_frr.sinks.frr_reload import (
    ReloadOwnership,
    foreign_changes,
    only_deleted_chain_failures,
    reload_config,
    reload_ownership,
)
from rkmp_frr.sinks.frr_render import frr_change
from rkmp_frr.sinks.keyed import (
    KeyedState,
    KeyedStateError,
    SecuredKind,
    format_keyed,
    key_chain,
    md5_key,
    parse_keyed_file,
    secured_interface,
)
from rkmp_frr.wire.constants import IntegId, ProtocolId

from .sink_rows import T0, make_row, since
from .test_frr_apply import no_sleep
from .test_frr_operator_closed import ETH0, ETH1, RENDER, FakeFrr, rows

FEATURES = frr_features(Version(8, 4, 4))
CHAIN6 = "rkmp-ospf6-eth1"
LO = "interface lo"
OPERATOR_MD5 = "ip ospf message-digest-key 200 md5 opkey200"  # on eth0, rkmpd's interface
OPERATOR_LO = "ip ospf message-digest-key 9 md5 opkey9"

# ``show running-config`` of FRR 8.4.4 here (Debian 12, in a namespace,
# log paths shortened) after rkmpd's applier keyed veth0 (OSPFv2 keyed MD5
# key 1, OSPFv3 key chain key 1), with the operator's own message-digest
# key on lo and key chain ops-chain: what a restarted rkmpd finds.
RECORDED = """Building configuration...

Current configuration:
!
frr version 8.4.4
frr defaults traditional
hostname a
log file /tmp/frr-a/zebra.log
no ip forwarding
no ipv6 forwarding
log file /tmp/frr-a/ospfd.log
log file /tmp/frr-a/ospf6d.log
hostname vm
service integrated-vtysh-config
!
key chain ops-chain
 key 1
  key-string opchainkey
 exit
exit
!
key chain rkmp-ospf6-veth0
 key 1
  accept-lifetime 08:47:00 Nov 28 2026 infinite
  cryptographic-algorithm hmac-sha-256
  key-string 5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a
  send-lifetime 08:47:00 Nov 28 2026 infinite
 exit
exit
!
interface lo
 ip ospf message-digest-key 9 md5 opkey9
exit
!
interface veth0
 ip ospf area 0
 ip ospf authentication message-digest
 ip ospf message-digest-key 1 md5 0123456789abcdef
 ipv6 ospf6 area 0
 ipv6 ospf6 authentication keychain rkmp-ospf6-veth0
exit
!
router ospf
 ospf router-id 1.1.1.1
exit
!
router ospf6
 ospf6 router-id 1.1.1.1
exit
!
end
"""
RECORDED_KEYS = frozenset({md5_key("veth0", 1), key_chain(SecuredKind.OSPF6, "rkmp-ospf6-veth0")})


# --- the state file ----------------------------------------------------------------------------


def test_key_records_round_trip_through_the_state_file(tmp_path: Path) -> None:
    path = tmp_path / "frr-sink.keyed"
    eth0 = secured_interface(SecuredKind.OSPF, "eth0")
    keys = {md5_key("eth0", 7), md5_key("eth0", 12), key_chain(SecuredKind.OSPF6, CHAIN6)}
    state = KeyedState("frr", path, {eth0})
    state.record_keys(keys)
    text = path.read_text()
    assert "md5-key eth0 7\nmd5-key eth0 12\n" in text
    assert f"key-chain ospf6 {CHAIN6}\n" in text
    loaded = KeyedState.load("frr", path)
    assert loaded.keys == keys and loaded.items == {eth0}
    loaded.forget_keys({md5_key("eth0", 7)})
    assert KeyedState.load("frr", path).keys == keys - {md5_key("eth0", 7)}


def test_an_older_state_file_reads_as_before_and_is_written_the_same() -> None:
    older = "# rkmpd frr sink\nkeyed ospf eth0\nclosed bgp 192.0.2.1\nospf6 eth1\n"
    parsed = parse_keyed_file(older)
    assert parsed.keys == frozenset() and len(parsed.items) == 3
    # Without key records a file is what the previous version wrote.
    text = format_keyed("frr", parsed.items, parsed.closed)
    assert "md5-key" not in text and "key-chain" not in text and "Key lines" not in text


@pytest.mark.parametrize(
    "line",
    ["md5-key eth0 256", "md5-key eth0", "md5-key eth0 x", "key-chain bgp c", "key-chain ospf"],
)
def test_a_bad_key_line_is_refused_with_its_line_number(line: str) -> None:
    with pytest.raises(KeyedStateError, match=r"^f:2: "):
        parse_keyed_file(f"keyed ospf eth0\n{line}\n", "f")


# --- what is found in FRR --------------------------------------------------------------------


def test_leftover_keys_are_the_recorded_lines_frr_runs() -> None:
    records = {
        *RECORDED_KEYS,
        md5_key("veth0", 2),  # recorded, not in FRR
        key_chain(SecuredKind.OSPF, "rkmp-ospf-veth0"),  # recorded, not in FRR
    }
    found = leftover_keys(RECORDED, records)
    assert found.md5 == {("veth0", 1)}
    assert found.chains == (LeftoverChain("rkmp-ospf6-veth0", Daemon.OSPF6D, (1,)),)
    # The operator's key on lo and key chain are not rkmpd's: not recorded, never found.
    assert leftover_keys(RECORDED, ()) == Leftovers()


def test_frr_reload_file_drops_the_leftovers_and_keeps_the_operators_keys() -> None:
    """frr-reload mode after a restart (no applied plan): the file keeps
    the running lines but rkmpd's old key lines, and has the new keys."""
    render = FrrRenderConfig(ospf_interfaces=("veth0",), ospf6_interfaces=("veth0",))
    eth = frozenset({"veth0"})
    new_rows = [
        make_row(ProtocolId.OSPFV2, 2, since(T0), interfaces=eth, integ=IntegId.RKMP_KEYED_MD5),
        make_row(ProtocolId.OSPFV3, 2, since(T0), interfaces=eth),
    ]
    keyed = {secured_interface(k, "veth0") for k in (SecuredKind.OSPF, SecuredKind.OSPF6)}
    desired = frr_plan(new_rows, render, FEATURES, T0, keyed=keyed)
    desired = dataclasses.replace(desired, leftovers=leftover_keys(RECORDED, RECORDED_KEYS))
    wanted = frr_change(EMPTY_PLAN, desired, render, FEATURES)
    text = reload_config(RECORDED, (), wanted)
    assert "ip ospf message-digest-key 1 " not in text and "5a5a5a5a" not in text
    assert "ip ospf message-digest-key 2 md5" in text
    chain = text[text.index("key chain rkmp-ospf6-veth0") :].split("\nexit\n")[0]
    assert " key 2\n" in chain and " key 1\n" not in chain
    assert (
        f" {OPERATOR_LO}\n" in text
        and "key chain ops-chain\n key 1\n  key-string opchainkey\n" in text
    )
    # Everything it removes is rkmpd's.
    assert not foreign_changes(text, RECORDED, reload_ownership((), wanted))


def test_old_keys_on_an_interface_the_change_leaves_alone_still_go() -> None:
    leftovers = Leftovers(md5=frozenset({("eth9", 4)}))
    change = frr_change(EMPTY_PLAN, dataclasses.replace(EMPTY_PLAN, leftovers=leftovers),
                        RENDER, FEATURES)  # fmt: skip
    assert change.vtysh_commands() == (
        "interface eth9",
        "no ip ospf message-digest-key 4",
        "exit",
    )


# frr-reload.py --reload --stdout of FRR 8.4.4 here (stderr; timestamps,
# colours and the vtysh.conf complaints left out) on a file without
# rkmpd's key chain: it removes the chain, then fails to remove its key
# from it (and so makes the chain anew, empty), and exits 1.
RELOAD_LOG = """ INFO: Executed "no key chain rkmp-ospf6-veth0"
 INFO: Failed to execute key chain rkmp-ospf6-veth0  no key 2
 INFO: Failed to execute key chain rkmp-ospf6-veth0  no key
 INFO: Failed to execute key chain rkmp-ospf6-veth0  no
  ERROR: "key chain rkmp-ospf6-veth0 --  no" we failed to remove this command
  ERROR: Can't find key 2
 INFO: Executed "interface veth0  no ip ospf authentication message-digest"
"""
RKMPD_CHAINS = ReloadOwnership(frozenset({"key chain rkmp-ospf6-veth0"}), frozenset(), ())


def test_frr_reload_failing_only_on_a_deleted_chains_keys_is_no_failure() -> None:
    assert only_deleted_chain_failures(RELOAD_LOG, RKMPD_CHAINS)
    # Not rkmpd's chain, or something else failed too: a failure.
    assert not only_deleted_chain_failures(
        RELOAD_LOG, ReloadOwnership(frozenset(), frozenset(), ())
    )
    other = '  ERROR: "interface veth0 --  no ip ospf cost" we failed to remove this command\n'
    assert not only_deleted_chain_failures(RELOAD_LOG + other, RKMPD_CHAINS)
    added = "  WARNING: frr-reload.py failed due to\n('% Unknown command',)\n"
    assert not only_deleted_chain_failures(RELOAD_LOG + added, RKMPD_CHAINS)
    not_deleted = RELOAD_LOG.replace('Executed "no key chain rkmp-ospf6-veth0"', "")
    assert not only_deleted_chain_failures(not_deleted, RKMPD_CHAINS)
    assert not only_deleted_chain_failures("", RKMPD_CHAINS)  # it failed otherwise


# --- the applier -------------------------------------------------------------------------------


def applier(fake: FakeFrr, state: Path, features: FrrFeatures = FEATURES) -> FrrApplier:
    """A (re)started rkmpd's FRR sink: its state file, no applied plan."""
    opts = FrrApplierOptions(vtysh=VtyshCommand(), render=RENDER, kernel_check=False)
    keyed = KeyedState.load("frr", state)
    return FrrApplier(opts, features, runner=fake, keyed=keyed, sleep=no_sleep)


def apply(frr: FrrApplier, key_rows: list[KeyRow], now: int) -> None:
    result = asyncio.run(frr.apply(key_rows, now))
    assert result.status in (ApplyStatus.APPLIED, ApplyStatus.UNCHANGED), result.describe()


def with_operator_keys() -> FakeFrr:
    """FRR with the operator's own keys: a message-digest key on eth0 (an
    ID rkmpd never used) and on lo, and a key chain of their own."""
    fake = FakeFrr(blocks={ETH0: [OPERATOR_MD5], LO: [OPERATOR_LO]})
    fake.keys["ops-chain"] = {"key 1": ["key-string opchainkey"]}
    return fake


def md5_lines(fake: FakeFrr, header: str = ETH0) -> list[str]:
    return [x for x in fake.blocks.get(header, []) if x.startswith("ip ospf message-digest-key")]


def operators_keys_stay(fake: FakeFrr) -> None:
    assert OPERATOR_MD5 in fake.blocks[ETH0] and fake.blocks[LO] == [OPERATOR_LO]
    assert fake.keys["ops-chain"] == {"key 1": ["key-string opchainkey"]}


def key_records(state: Path) -> list[str]:
    return [x for x in state.read_text().splitlines() if x.startswith(("md5-key", "key-chain"))]


def test_a_restart_with_new_key_ids_then_a_revoke_leaves_no_old_key(tmp_path: Path) -> None:
    state = tmp_path / "frr-sink.keyed"
    fake = with_operator_keys()
    apply(applier(fake, state), rows(1, T0), T0)
    assert key_records(state) == [f"key-chain ospf6 {CHAIN6}", "md5-key eth0 1"]
    # Restarted: new SAs, new key IDs. The old keys go, the operator's stay.
    new = rows(2, T0 + 100)
    apply(applier(fake, state), new, T0 + 100)
    assert md5_lines(fake) == [OPERATOR_MD5, f"ip ospf message-digest-key 2 md5 {new[1].key}"]
    assert list(fake.keys[CHAIN6]) == ["key 2"]
    assert key_records(state) == [f"key-chain ospf6 {CHAIN6}", "md5-key eth0 2"]
    operators_keys_stay(fake)
    # Restarted again, keys revoked: no key line of rkmpd's left.
    apply(applier(fake, state), [], T0 + 200)
    assert md5_lines(fake) == [OPERATOR_MD5] and CHAIN6 not in fake.keys
    assert "ip ospf passive" in fake.blocks[ETH0] and "ipv6 ospf6 passive" in fake.blocks[ETH1]
    assert key_records(state) == []
    operators_keys_stay(fake)


def test_a_revoke_without_a_restart_leaves_no_key_either(tmp_path: Path) -> None:
    state = tmp_path / "frr-sink.keyed"
    fake = with_operator_keys()
    frr = applier(fake, state)
    apply(frr, rows(1, T0), T0)
    apply(frr, [], T0 + 10)
    assert md5_lines(fake) == [OPERATOR_MD5] and CHAIN6 not in fake.keys
    assert key_records(state) == []
    operators_keys_stay(fake)


def test_key_chain_old_keys_go_after_a_restart_on_frr_9_1(tmp_path: Path) -> None:
    """FRR >= 9.1: OSPFv2 takes key chains too; a restarted rkmpd's chain
    holds only its new keys."""
    features = frr_features(Version(9, 1, 0))
    state = tmp_path / "frr-sink.keyed"
    fake = with_operator_keys()
    v2 = [make_row(ProtocolId.OSPFV2, n, since(T0), interfaces=frozenset({"eth0"})) for n in (1, 2)]
    apply(applier(fake, state, features), [v2[0]], T0)
    assert list(fake.keys["rkmp-ospf-eth0"]) == ["key 1"]
    apply(applier(fake, state, features), [v2[1]], T0 + 100)
    assert list(fake.keys["rkmp-ospf-eth0"]) == ["key 2"]
    apply(applier(fake, state, features), [], T0 + 200)
    assert "rkmp-ospf-eth0" not in fake.keys
    operators_keys_stay(fake)


def test_an_older_state_file_finds_rkmpd_s_key_chains_by_their_names(tmp_path: Path) -> None:
    """A state file of the previous version records no key lines: after a
    start, the key chains rkmpd's naming gives its keyed interfaces are
    its own (it rewrote them whenever it keyed them). A message-digest key
    it did not record is not known to be rkmpd's: left."""
    state = tmp_path / "frr-sink.keyed"
    state.write_text("keyed ospf eth0\nkeyed ospf6 eth1\n")
    fake = with_operator_keys()
    fake.keys[CHAIN6] = {"key 5": ["key-string old"]}
    fake.blocks[ETH1].append(f"ipv6 ospf6 authentication keychain {CHAIN6}")
    fake.blocks[ETH0].append("ip ospf message-digest-key 5 md5 oldkey")
    apply(applier(fake, state), [], T0)
    assert CHAIN6 not in fake.keys
    assert "ip ospf message-digest-key 5 md5 oldkey" in fake.blocks[ETH0]
    operators_keys_stay(fake)


def test_a_recorded_key_frr_does_not_run_is_not_removed_and_is_forgotten(
    tmp_path: Path,
) -> None:
    """FRR lost it (restarted) or the operator removed it: nothing to
    remove (vtysh would refuse the ``no`` line). Not found while FRR may
    still be loading (the first apply after a start), it stays recorded;
    not found in a settled FRR, it is forgotten."""
    state = tmp_path / "frr-sink.keyed"
    state.write_text("keyed ospf eth0\nmd5-key eth0 7\n")
    fake = FakeFrr()
    frr = applier(fake, state)
    apply(frr, rows(1, T0), T0)
    assert "message-digest-key 7" not in fake.applied_text()
    assert "md5-key eth0 7" in key_records(state)
    apply(frr, [*rows(1, T0), *rows(2, T0 + 100)], T0 + 100)
    assert "message-digest-key 7" not in fake.applied_text()
    assert "md5-key eth0 7" not in key_records(state)


def test_a_same_key_id_after_a_restart_replaces_the_old_key(tmp_path: Path) -> None:
    state = tmp_path / "frr-sink.keyed"
    fake = with_operator_keys()
    apply(applier(fake, state), rows(1, T0), T0)
    again = [make_row(ProtocolId.OSPFV2, 1, since(T0 + 100), peer="192.0.2.9",
                      interfaces=frozenset({"eth0"}), integ=IntegId.RKMP_KEYED_MD5)]  # fmt: skip
    apply(applier(fake, state), again, T0 + 100)
    assert md5_lines(fake) == [OPERATOR_MD5, f"ip ospf message-digest-key 1 md5 {again[0].key}"]
    assert "no ip ospf message-digest-key 1" not in fake.applied_text()
    assert "md5-key eth0 1" in key_records(state)
