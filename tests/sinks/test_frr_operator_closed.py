"""Fail closed lifts only what rkmpd closed: an operator's own neighbour
shutdown or passive interface on a keyed item stays, through first keys,
rekeys, restarts and a revoke (rkmpd finds it closed already and does not
take the closing for its own), and is no verification failure; what rkmpd
closed (a revoke) is opened again when keys return, after a restart too.

The scripted vtysh models FRR's running config as blocks of lines and
interprets set / ``no`` commands; the real FRR is in
integration/test_fail_closed.py."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rkmp_frr.keytable.row import KeyRow
from rkmp_frr.sinks.batching import ApplyStatus
from rkmp_frr.sinks.features import Version, frr_features
from rkmp_frr.sinks.frr_apply import FrrApplier, FrrApplierOptions, VtyshCommand
from rkmp_frr.sinks.frr_config import FrrBgpNeighbor, FrrRenderConfig
from rkmp_frr.sinks.frr_plan import EMPTY_PLAN, FrrPlan, frr_plan
from rkmp_frr.sinks.frr_reload import reload_config
from rkmp_frr.sinks.frr_render import frr_change
from rkmp_frr.sinks.keyed import KeyedState, SecuredKind, frr_bgp, secured_interface
from rkmp_frr.sinks.runner import CommandResult
from rkmp_frr.wire.constants import IntegId, ProtocolId

from .sink_rows import PEER, T0, make_row, since
from .test_frr_apply import no_sleep

FEATURES = frr_features(Version(8, 4, 4))
RENDER = FrrRenderConfig(
    bgp_neighbors=(FrrBgpNeighbor(PEER, 65001),),
    ospf_interfaces=("eth0",),
    ospf6_interfaces=("eth1",),
)
ROUTER = "router bgp 65001"
ETH0, ETH1 = "interface eth0", "interface eth1"
OPERATOR_SHUTDOWN = f"neighbor {PEER} shutdown"
RKMPD_SHUTDOWN = f"neighbor {PEER} shutdown message rkmpd: no usable key"
PASSIVE, PASSIVE6 = "ip ospf passive", "ipv6 ospf6 passive"
ALL = frozenset(
    {
        frr_bgp(PEER),
        secured_interface(SecuredKind.OSPF, "eth0"),
        secured_interface(SecuredKind.OSPF6, "eth1"),
    }
)


def _slot(words: tuple[str, ...]) -> tuple[str, ...]:
    """The words that identify a single-valued line (a new value replaces it)."""
    if words[0] == "neighbor" and words[2:3] in (("password",), ("shutdown",)):
        return words[:3]
    if words[:3] == ("ip", "ospf", "message-digest-key"):
        return words[:4]
    if words[:3] in (("ip", "ospf", "authentication"), ("ipv6", "ospf6", "authentication")):
        return words[:3]
    if words[0] in ("key-string", "cryptographic-algorithm", "send-lifetime", "accept-lifetime"):
        return words[:1]
    return words


@dataclass
class FakeFrr:
    """vtysh in front of bgpd (one neighbour), ospfd on eth0, ospf6d on eth1."""

    blocks: dict[str, list[str]] = field(default_factory=dict)  # header -> lines
    keys: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # chain -> key -> lines
    calls: list[tuple[tuple[str, ...], str | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        router = self.blocks.setdefault(ROUTER, [])
        router.insert(0, f"neighbor {PEER} remote-as 65002")
        self.blocks.setdefault(ETH0, []).insert(0, "ip ospf area 0")
        self.blocks.setdefault(ETH1, []).insert(0, "ipv6 ospf6 area 0")
        self.blocks.setdefault("router ospf", [])
        self.blocks.setdefault("router ospf6", [])

    def running_config(self) -> str:
        out = ["Building configuration...", "", "Current configuration:", "!", "frr version 8.4.4"]
        for chain, keys in sorted(self.keys.items()):
            out.append(f"key chain {chain}")
            for key, lines in keys.items():
                out += [f" {key}", *(f"  {line}" for line in lines), " exit"]
            out += ["exit", "!"]
        for header, lines in self.blocks.items():
            out += [header, *(f" {line}" for line in lines), "exit", "!"]
        return "\n".join([*out, "end", ""])

    def run_file(self, text: str) -> None:
        block: list[str] | None = None
        chain: dict[str, list[str]] | None = None
        key: list[str] | None = None
        for line in text.splitlines():
            words = tuple(line.split())
            if words == ("exit",):
                if key is not None:
                    key = None
                else:
                    block = chain = None
            elif block is None and chain is None:
                if words[:2] == ("key", "chain"):
                    chain = self.keys.setdefault(" ".join(words[2:]), {})
                elif words[:3] == ("no", "key", "chain"):
                    self.keys.pop(" ".join(words[3:]), None)
                else:
                    block = self.blocks.setdefault(" ".join(words), [])
            elif chain is not None and key is None:
                if words[0] == "key":
                    key = chain.setdefault(" ".join(words), [])
                elif words[:2] == ("no", "key"):
                    chain.pop(" ".join(words[1:]), None)
            else:
                target = key if key is not None else block
                assert target is not None
                self.set_line(target, words)

    @staticmethod
    def set_line(lines: list[str], words: tuple[str, ...]) -> None:
        if words[0] == "no":
            gone = words[1:]
            lines[:] = [x for x in lines if tuple(x.split())[: len(gone)] != gone]
            return
        slot = _slot(words)
        lines[:] = [x for x in lines if _slot(tuple(x.split())) != slot]
        lines.append(" ".join(words))

    async def __call__(
        self, argv: Sequence[str], *, input_text: str | None = None, timeout: float = 30.0
    ) -> CommandResult:
        self.calls.append((tuple(argv), input_text))
        if "--dryrun" in argv:
            return CommandResult(tuple(argv), 0, "", "")
        if "-f" in argv:
            assert input_text is not None
            self.run_file(input_text)
            return CommandResult(tuple(argv), 0, "", "")
        if list(argv[-2:]) == ["-c", "show running-config"]:
            return CommandResult(tuple(argv), 0, self.running_config(), "")
        raise AssertionError(f"unexpected command {argv}")

    def applied_text(self) -> str:
        return "".join(text or "" for argv, text in self.calls if "-f" in argv)

    def shows(self, header: str, line: str) -> bool:
        return line in self.blocks.get(header, [])


def rows(key_id: int, at: int) -> list[KeyRow]:
    """A BGP key, an OSPFv2 keyed-MD5 key on eth0, an OSPFv3 key on eth1."""
    return [
        make_row(ProtocolId.TCP_MD5, key_id, since(at)),
        make_row(
            ProtocolId.OSPFV2,
            key_id,
            since(at),
            interfaces=frozenset({"eth0"}),
            integ=IntegId.RKMP_KEYED_MD5,
        ),
        make_row(ProtocolId.OSPFV3, key_id, since(at), interfaces=frozenset({"eth1"})),
    ]


def applier(fake: FakeFrr, state: Path) -> FrrApplier:
    opts = FrrApplierOptions(vtysh=VtyshCommand(), render=RENDER, kernel_check=False)
    keyed = KeyedState.load("frr", state)
    return FrrApplier(opts, FEATURES, runner=fake, keyed=keyed, sleep=no_sleep)


def apply(frr: FrrApplier, key_rows: list[KeyRow], now: int) -> None:
    result = asyncio.run(frr.apply(key_rows, now))
    assert result.status in (ApplyStatus.APPLIED, ApplyStatus.UNCHANGED), result.describe()


def operator_closed() -> FakeFrr:
    """FRR as the operator configured it: the neighbour shut, both
    interfaces passive, on purpose."""
    return FakeFrr(blocks={ROUTER: [OPERATOR_SHUTDOWN], ETH0: [PASSIVE], ETH1: [PASSIVE6]})


def assert_operator_closed(fake: FakeFrr) -> None:
    assert fake.shows(ROUTER, OPERATOR_SHUTDOWN)
    assert fake.shows(ETH0, PASSIVE) and fake.shows(ETH1, PASSIVE6)
    assert not any(w in fake.applied_text() for w in ("shutdown", "passive"))


def test_an_operators_shutdown_and_passive_stay_through_a_rekey(tmp_path: Path) -> None:
    fake = operator_closed()
    frr = applier(fake, tmp_path / "frr-sink.keyed")
    apply(frr, rows(1, T0), T0)
    assert frr.keyed.items == ALL and frr.keyed.closed == frozenset()
    assert_operator_closed(fake)
    # The rekey puts the new keys in and does not expect the operator's
    # shutdown / passive lines gone: no failed verification, no restore.
    new = rows(2, T0 + 100)
    apply(frr, [*rows(1, T0), *new], T0 + 100)
    assert fake.shows(ROUTER, f"neighbor {PEER} password {new[0].key}")
    assert_operator_closed(fake)


def test_an_operators_shutdown_and_passive_stay_after_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "frr-sink.keyed"
    fake = operator_closed()
    apply(applier(fake, state), rows(1, T0), T0)
    restarted = applier(fake, state)
    assert restarted.keyed.closed == frozenset()
    apply(restarted, rows(1, T0), T0 + 10)  # adopted: FRR runs the plan
    new = rows(2, T0 + 100)
    apply(restarted, [*rows(1, T0), *new], T0 + 100)
    assert_operator_closed(fake)


def test_what_rkmpd_closed_is_opened_when_keys_return_after_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "frr-sink.keyed"
    fake = FakeFrr()
    frr = applier(fake, state)
    apply(frr, rows(1, T0), T0)
    apply(frr, [], T0 + 10)  # revoked: rkmpd closes all three
    assert fake.shows(ROUTER, RKMPD_SHUTDOWN)
    assert fake.shows(ETH0, PASSIVE) and fake.shows(ETH1, PASSIVE6)
    assert KeyedState.load("frr", state).closed == ALL
    assert "closed ospf eth0\n" in state.read_text()
    restarted = applier(fake, state)
    apply(restarted, rows(2, T0 + 20), T0 + 20)
    assert not any(line.startswith(OPERATOR_SHUTDOWN) for line in fake.blocks[ROUTER])
    assert not fake.shows(ETH0, PASSIVE) and not fake.shows(ETH1, PASSIVE6)
    assert restarted.keyed.closed == frozenset()
    assert KeyedState.load("frr", state).closed == frozenset()
    # Open now, as far as rkmpd is concerned: an operator's later passive
    # setting is theirs, and the next rekey leaves it.
    fake.blocks[ETH0].append(PASSIVE)
    fake.calls.clear()
    apply(restarted, [*rows(2, T0 + 20), *rows(3, T0 + 100)], T0 + 100)
    assert fake.shows(ETH0, PASSIVE) and "passive" not in fake.applied_text()


def keyless(fake: FakeFrr) -> None:
    """Fail closed: no key or authentication left on any of the three (a
    key chain no interface uses may stay after a restart)."""
    assert not any("password" in line for line in fake.blocks[ROUTER])
    assert not any("authentication" in line for line in fake.blocks[ETH0] + fake.blocks[ETH1])


def test_a_revoke_leaves_the_operators_closing_and_keys_do_not_lift_it(tmp_path: Path) -> None:
    """Keys revoked on a neighbour and interfaces the operator had closed:
    fail closed holds (their keys go, they stay closed), but with the
    operator's own lines, which rkmpd does not record as its own, so they
    stay when keys return."""
    state = tmp_path / "frr-sink.keyed"
    fake = operator_closed()
    frr = applier(fake, state)
    apply(frr, rows(1, T0), T0)
    fake.calls.clear()
    result = asyncio.run(frr.apply([], T0 + 10))
    assert result.status is ApplyStatus.APPLIED, result.describe()
    keyless(fake)
    assert not fake.keys
    assert_operator_closed(fake)  # the same lines, none sent by rkmpd
    assert frr.keyed.items == ALL and frr.keyed.closed == frozenset()
    assert KeyedState.load("frr", state).closed == frozenset()
    assert any("shut down by the operator already" in note for note in result.notes)
    fake.calls.clear()
    apply(frr, rows(2, T0 + 20), T0 + 20)
    assert_operator_closed(fake)
    assert fake.shows(ROUTER, f"neighbor {PEER} password {rows(2, T0 + 20)[0].key}")


def test_the_operators_closing_stays_through_a_revoke_across_restarts(tmp_path: Path) -> None:
    state = tmp_path / "frr-sink.keyed"
    fake = operator_closed()
    apply(applier(fake, state), rows(1, T0), T0)
    apply(applier(fake, state), [], T0 + 10)  # restarted, then revoked
    keyless(fake)
    fake.calls.clear()
    restarted = applier(fake, state)
    apply(restarted, [], T0 + 20)  # restarted while revoked: FRR runs the plan
    assert fake.applied_text() == ""
    apply(applier(fake, state), rows(2, T0 + 30), T0 + 30)  # and again, keys back
    assert_operator_closed(fake)


def test_an_operators_shutdown_message_is_kept_as_it_is(tmp_path: Path) -> None:
    mine = f"neighbor {PEER} shutdown message maintenance until 18:00"
    fake = FakeFrr(blocks={ROUTER: [mine]})
    frr = applier(fake, tmp_path / "frr-sink.keyed")
    apply(frr, rows(1, T0), T0)
    apply(frr, [], T0 + 10)
    assert fake.shows(ROUTER, mine) and not fake.shows(ROUTER, RKMPD_SHUTDOWN)
    assert frozenset({frr_bgp(PEER)}) & frr.keyed.closed == frozenset()
    apply(frr, rows(2, T0 + 20), T0 + 20)
    assert fake.shows(ROUTER, mine)


def test_an_operators_closing_lifted_while_revoked_is_closed_by_rkmpd(tmp_path: Path) -> None:
    """Still fail closed: the operator opens the neighbour by hand while it
    has no key. The drift check sees it, rkmpd closes it with its own
    shutdown, and this one it lifts when keys return."""
    fake = operator_closed()
    frr = applier(fake, tmp_path / "frr-sink.keyed")
    apply(frr, rows(1, T0), T0)
    apply(frr, [], T0 + 10)
    fake.set_line(fake.blocks[ROUTER], ("no", "neighbor", PEER, "shutdown"))
    check = asyncio.run(frr.check_drift())
    assert check is not None and check.drift is not None, check
    assert f"'neighbor {PEER} shutdown' missing" in check.drift
    apply(frr, [], T0 + 20)  # the repair
    assert fake.shows(ROUTER, RKMPD_SHUTDOWN)
    assert frr.keyed.closed == frozenset({frr_bgp(PEER)})
    assert_operator_closed_interfaces(fake)
    apply(frr, rows(2, T0 + 30), T0 + 30)
    assert not any("shutdown" in line for line in fake.blocks[ROUTER])
    assert_operator_closed_interfaces(fake)


def assert_operator_closed_interfaces(fake: FakeFrr) -> None:
    assert fake.shows(ETH0, PASSIVE) and fake.shows(ETH1, PASSIVE6)


def test_lines_that_close_only_in_part_are_not_the_operators_closing(tmp_path: Path) -> None:
    """A shutdown above a round-trip time and a passive setting for one
    address leave the neighbour and interface open: rkmpd closes them
    itself (and records it), and lifts its own closing later."""
    rtt = f"neighbor {PEER} shutdown rtt 100 count 3"
    fake = FakeFrr(blocks={ROUTER: [rtt], ETH0: ["ip ospf passive 10.0.0.1"]})
    frr = applier(fake, tmp_path / "frr-sink.keyed")
    apply(frr, rows(1, T0), T0)
    apply(frr, [], T0 + 10)
    assert fake.shows(ROUTER, RKMPD_SHUTDOWN) and fake.shows(ETH0, PASSIVE)
    assert frr.keyed.closed == ALL


def test_rkmpds_own_shutdown_message_is_never_the_operators(tmp_path: Path) -> None:
    """rkmpd's shutdown line on a neighbour its state file holds as keyed
    (the operator edited the file, and left the line): still rkmpd's."""
    state = tmp_path / "frr-sink.keyed"
    state.write_text(f"keyed bgp {PEER}\n")
    fake = FakeFrr(blocks={ROUTER: [RKMPD_SHUTDOWN]})
    frr = applier(fake, state)
    apply(frr, [], T0)
    assert frr.keyed.closed == frozenset({frr_bgp(PEER)})
    apply(frr, rows(1, T0 + 10), T0 + 10)
    assert not any("shutdown" in line for line in fake.blocks[ROUTER])


def test_an_unreadable_frr_at_a_revoke_changes_nothing(tmp_path: Path) -> None:
    fake = operator_closed()
    frr = applier(fake, tmp_path / "frr-sink.keyed")
    apply(frr, rows(1, T0), T0)
    before = fake.running_config()

    async def down(
        argv: Sequence[str], *, input_text: str | None = None, timeout: float = 30.0
    ) -> CommandResult:
        return CommandResult(tuple(argv), 1, "", "Exiting: failed to connect to any daemons.")

    frr.runner = down
    result = asyncio.run(frr.apply([], T0 + 10))
    assert result.status is ApplyStatus.NOT_READY, result.describe()
    assert fake.running_config() == before and frr.keyed.closed == frozenset()
    frr.runner = fake
    apply(frr, [], T0 + 20)  # FRR back: closed, the operator's lines kept
    keyless(fake)
    assert_operator_closed(fake)


def test_frr_reload_keeps_the_operators_closing_lines(tmp_path: Path) -> None:
    """frr-reload mode: the operator's shutdown and passive lines that a
    revoked plan expects are not rkmpd's, so the reload file that brings
    the keys back keeps them (frr-reload.py would remove them otherwise)."""
    fake = operator_closed()
    frr = applier(fake, tmp_path / "frr-sink.keyed")
    apply(frr, rows(1, T0), T0)
    apply(frr, [], T0 + 10)
    revoked = frr.current
    assert revoked.operator_closed == ALL
    desired = frr_plan(rows(2, T0 + 20), RENDER, FEATURES, T0 + 20, keyed=frr.keyed.items,
                       rkmpd_closed=frr.keyed.closed)  # fmt: skip
    owned = (frr_change(EMPTY_PLAN, revoked, RENDER, FEATURES),)
    wanted = frr_change(EMPTY_PLAN, desired, RENDER, FEATURES)
    text = reload_config(fake.running_config(), owned, wanted)
    for line in (OPERATOR_SHUTDOWN, PASSIVE, PASSIVE6):
        assert f" {line}\n" in text
    assert f"password {desired_key(desired)}" in text


def test_a_state_file_without_closing_records_reopens_as_before(tmp_path: Path) -> None:
    """An older state file (bare ``bgp X`` lines) does not say what rkmpd
    closed: any keyed item may have been, so keys reopen it explicitly."""
    state = tmp_path / "frr-sink.keyed"
    state.write_text(f"bgp {PEER}\nospf eth0\nospf6 eth1\n")
    fake = FakeFrr(blocks={ROUTER: [RKMPD_SHUTDOWN], ETH0: [PASSIVE], ETH1: [PASSIVE6]})
    frr = applier(fake, state)
    assert frr.keyed.closed == ALL
    apply(frr, rows(1, T0), T0)
    assert not fake.shows(ROUTER, RKMPD_SHUTDOWN)
    assert not fake.shows(ETH0, PASSIVE) and not fake.shows(ETH1, PASSIVE6)
    lines = [line for line in state.read_text().splitlines() if not line.startswith("#")]
    assert lines == [
        f"keyed bgp {PEER}",
        "keyed ospf eth0",
        "keyed ospf6 eth1",
        "key-chain ospf6 rkmp-ospf6-eth1",  # the key lines rkmpd put in
        "md5-key eth0 1",
    ]


def test_frr_reload_after_a_restart_drops_rkmpd_s_own_closing_lines(tmp_path: Path) -> None:
    """frr-reload mode: with no applied plan (a restart) the reload file
    keeps the running lines; those rkmpd closed an item with go when its
    keys return (held in the first of the two reloads), an operator's stay."""
    state = tmp_path / "frr-sink.keyed"
    fake = FakeFrr()
    frr = applier(fake, state)
    apply(frr, rows(1, T0), T0)
    apply(frr, [], T0 + 10)  # revoked: rkmpd closes all three
    fake.blocks[ETH0].append("ip ospf hello-interval 5")  # the operator's
    keyed = KeyedState.load("frr", state)
    desired = frr_plan(rows(2, T0 + 20), RENDER, FEATURES, T0 + 20, keyed=keyed.items,
                       rkmpd_closed=keyed.closed)  # fmt: skip
    wanted = frr_change(EMPTY_PLAN, desired, RENDER, FEATURES)
    owned = (frr_change(EMPTY_PLAN, EMPTY_PLAN, RENDER, FEATURES),)
    running = fake.running_config()
    held = reload_config(running, owned, wanted, hold=wanted.opening_expectations())
    assert RKMPD_SHUTDOWN in held and PASSIVE in held and PASSIVE6 in held
    full = reload_config(running, owned, wanted)
    assert "shutdown" not in full and "passive" not in full
    assert "ip ospf hello-interval 5" in full and f"password {desired_key(desired)}" in full
    # Not closed by rkmpd: the operator's passive line stays in the file.
    mine = dataclasses.replace(desired, rkmpd_closed=frozenset())
    kept = reload_config(running, owned, frr_change(EMPTY_PLAN, mine, RENDER, FEATURES))
    assert RKMPD_SHUTDOWN in kept and PASSIVE in kept and PASSIVE6 in kept


def desired_key(plan: FrrPlan) -> str:
    (entry,) = plan.bgp.values()
    return entry.key
