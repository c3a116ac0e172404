"""The kernel sink: OSPFv3-IPsec rows -> XFRM SAs and policies, planned
purely and applied to a fake kernel that behaves like the XFRM tables
(identity by destination/SPI/protocol and by selector/direction, EEXIST,
ENOENT) and can be told to fail or to read back something else."""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from rkmp_frr.daemon.config_model import KernelSink as KernelSinkSettings
from rkmp_frr.keytable.changes import DeleteCause, RowInserted, RowRekeyed, RowsDeleted
from rkmp_frr.keytable.row import ALL_INTERFACES, KeyRow
from rkmp_frr.profiles.ospfv3_ipsec import sa_key
from rkmp_frr.sinks.batching import ApplyResult, ApplyStatus
from rkmp_frr.sinks.kernel_sink import (
    ALL_D_ROUTERS,
    ALL_SPF_ROUTERS,
    LINK_RETRY,
    OSPF_PROTO,
    RKMP_REQID,
    Link,
    ProcLinks,
    XfrmApplier,
    XfrmSink,
    diff_xfrm,
    kernel_sink,
    parse_if_inet6,
    plan_xfrm,
)
from rkmp_frr.sinks.xfrm_netlink import (
    AuthAlgorithm,
    PolicyDir,
    Selector,
    XfrmError,
    XfrmExists,
    XfrmInvalid,
    XfrmMode,
    XfrmNotFound,
    XfrmPolicy,
    XfrmPolicyId,
    XfrmProto,
    XfrmSaId,
    XfrmState,
    XfrmTemplate,
    XfrmUnsupported,
)
from rkmp_frr.wire.constants import IntegId, ProtocolId

from .sink_rows import T0, inserted, make_row, rekeyed, since

V6 = ipaddress.IPv6Address
IPSEC = ProtocolId.OSPFV3_IPSEC
VETH = frozenset({"veth0"})
LOCAL = V6("fe80::a8c1:abff:fe00:1")
NEIGHBOUR = V6("fe80::a8c1:abff:fe00:2")
LINK = Link("veth0", 4, (LOCAL,))


def ipsec_row(spi: int, lifetimes: object, integ: IntegId = IntegId.HMAC_SHA2_256_128) -> KeyRow:
    return make_row(IPSEC, spi, lifetimes, interfaces=VETH, integ=integ)  # type: ignore[arg-type]


class StaticLinks:
    def __init__(self, links: dict[str, Link | None]) -> None:
        self.links = links

    def resolve(self, interface: str) -> Link | None:
        return self.links.get(interface)


# --- a fake kernel ---------------------------------------------------------------------------

Fault = Callable[[str, object], XfrmError | None]


class FakeKernel:
    """XFRM tables in dicts. ``fault(operation, subject)`` may return an
    error to raise instead of doing the operation; ``tamper`` changes what
    get_state reads back."""

    def __init__(self) -> None:
        self.sas: dict[XfrmSaId, XfrmState] = {}
        self.pols: dict[XfrmPolicyId, XfrmPolicy] = {}
        self.fault: Fault = lambda operation, subject: None
        self.tamper: Callable[[XfrmState], XfrmState] = lambda state: state
        self.log: list[str] = []
        self._index = 0

    def _check(self, operation: str, subject: object) -> None:
        error = self.fault(operation, subject)
        if error is not None:
            raise error

    async def states(self) -> list[XfrmState]:
        self._check("states", None)
        return list(self.sas.values())

    async def get_state(self, sa: XfrmSaId) -> XfrmState | None:
        found = self.sas.get(sa)
        return self.tamper(found) if found is not None else None

    async def add_state(self, state: XfrmState) -> None:
        self._check("add_state", state)
        if state.sa_id in self.sas:
            raise XfrmExists(f"add {state}", 17)
        self.sas[state.sa_id] = state
        self.log.append(f"add {state}")

    async def delete_state(self, sa: XfrmSaId) -> None:
        self._check("delete_state", sa)
        if self.sas.pop(sa, None) is None:
            raise XfrmNotFound(f"delete {sa}", 3)
        self.log.append(f"delete {sa}")

    async def policies(self) -> list[XfrmPolicy]:
        return list(self.pols.values())

    async def get_policy(self, policy_id: XfrmPolicyId) -> XfrmPolicy | None:
        return self.pols.get(policy_id)

    async def add_policy(self, policy: XfrmPolicy) -> None:
        self._check("add_policy", policy)
        if policy.policy_id in self.pols:
            raise XfrmExists(f"add {policy}", 17)
        self._store(policy)
        self.log.append(f"add {policy}")

    async def update_policy(self, policy: XfrmPolicy) -> None:
        self._check("update_policy", policy)
        self._store(policy)
        self.log.append(f"update {policy}")

    async def delete_policy(self, policy_id: XfrmPolicyId) -> None:
        self._check("delete_policy", policy_id)
        if self.pols.pop(policy_id, None) is None:
            raise XfrmNotFound(f"delete {policy_id}", 2)
        self.log.append(f"delete {policy_id}")

    def _store(self, policy: XfrmPolicy) -> None:
        self._index += 8
        self.pols[policy.policy_id] = dataclasses.replace(policy, index=self._index)

    def spis(self) -> set[int]:
        return {sa.spi for sa in self.sas.values() if sa.reqid == RKMP_REQID}

    def out_spi(self) -> int:
        [out] = [p for p in self.pols.values() if p.direction is PolicyDir.OUT]
        return out.templates[0].spi


def applier(
    kernel: FakeKernel, proto: XfrmProto = XfrmProto.ESP, **links: Link | None
) -> XfrmApplier:
    return XfrmApplier(kernel, StaticLinks(links or {"veth0": LINK}), proto)


def apply(app: XfrmApplier, rows: list[KeyRow], now: int) -> ApplyResult:
    return asyncio.run(app.apply(rows, now))


# --- links -----------------------------------------------------------------------------------

IF_INET6 = """\
00000000000000000000000000000001 01 80 10 80       lo
fe80000000000000a8c1abfffe000001 04 40 20 80    veth0
fd000000000000000000000000000001 04 40 00 80    veth0
fe800000000000000000000000000099 04 40 20 c0    veth0
20010db8000000000000000000000001 05 40 00 80     eth1
bad line
"""


def test_if_inet6_gives_indexes_and_link_local_addresses() -> None:
    table = parse_if_inet6(IF_INET6)
    assert table["veth0"] == (4, (V6("fe80::99"), LOCAL))  # tentative ones count too
    assert table["lo"] == (1, ())
    assert table["eth1"] == (5, ())


def test_proc_links(tmp_path: Path) -> None:
    path = tmp_path / "if_inet6"
    path.write_text(IF_INET6)
    links = ProcLinks({"veth0": NEIGHBOUR}, path)
    assert links.resolve("veth0") == Link("veth0", 4, (V6("fe80::99"), LOCAL), NEIGHBOUR)
    assert links.resolve("eth1") is None  # no link-local address: OSPFv3 cannot run there
    assert links.resolve("eth9") is None
    assert ProcLinks(path=tmp_path / "missing").resolve("veth0") is None


# --- the plan --------------------------------------------------------------------------------


def test_one_key_one_sa_per_destination_and_the_policies() -> None:
    row = ipsec_row(0x1000, since(T0))
    plan = plan_xfrm([row], {"veth0": LINK}, XfrmProto.ESP, T0 + 5)
    assert sorted(str(s.daddr) for s in plan.states) == sorted(
        [str(ALL_SPF_ROUTERS), str(ALL_D_ROUTERS), str(LOCAL)]
    )
    for state in plan.states:
        assert (state.spi, state.proto, state.mode) == (0x1000, XfrmProto.ESP, XfrmMode.TRANSPORT)
        assert state.saddr == V6("::") and state.reqid == RKMP_REQID and state.replay_window == 0
        assert state.selector == Selector.any(10, proto=OSPF_PROTO)
        assert state.auth == AuthAlgorithm("hmac(sha256)", row.key_bytes, 128)
        assert state.crypt is not None and state.crypt.name == "ecb(cipher_null)"
        assert state.crypt.key == b""
    by_dir = {p.direction: [] for p in plan.policies}  # type: dict[PolicyDir, list[XfrmPolicy]]
    for policy in plan.policies:
        by_dir[policy.direction].append(policy)
    [out] = by_dir[PolicyDir.OUT]
    assert out.selector == Selector.any(10, proto=OSPF_PROTO, ifindex=4)
    assert out.templates == (
        XfrmTemplate(XfrmProto.ESP, XfrmMode.TRANSPORT, 10, reqid=RKMP_REQID, spi=0x1000),
    )
    inbound = {p.selector.daddr: p for p in by_dir[PolicyDir.IN]}
    assert set(inbound) == {ALL_SPF_ROUTERS, ALL_D_ROUTERS, LOCAL}
    for destination, policy in inbound.items():
        assert policy.selector.prefixlen_d == 128 and policy.selector.ifindex == 0
        assert policy.selector.proto == OSPF_PROTO
        assert policy.templates[0].spi == 0  # any of our SPIs: old and new during a rollover
        assert policy.templates[0].reqid == RKMP_REQID, destination
    assert plan.sending == (("veth0", 0x1000),)
    assert plan.refused == () and plan.next_change_at is None


def test_hmac_sha1_96_takes_a_160_bit_key_and_ah_has_no_cipher() -> None:
    row = ipsec_row(0x2000, since(T0), IntegId.HMAC_SHA1_96)
    assert len(row.key_bytes) == 32  # the engine's master key
    link = dataclasses.replace(LINK, neighbour=NEIGHBOUR)
    plan = plan_xfrm([row], {"veth0": link}, XfrmProto.AH, T0)
    assert len(plan.states) == 4 and NEIGHBOUR in {s.daddr for s in plan.states}
    for state in plan.states:
        assert state.proto is XfrmProto.AH and state.crypt is None
        assert state.auth == AuthAlgorithm("hmac(sha1)", row.key_bytes[:20], 96)
    assert sa_key(row) == row.key_bytes[:20]
    assert {p.templates[0].proto for p in plan.policies} == {XfrmProto.AH}
    # The neighbour gets an SA for our unicast, not an inbound policy.
    assert NEIGHBOUR not in {p.selector.daddr for p in plan.policies}


def test_rollover_accepts_the_new_key_at_once_and_sends_it_from_its_send_start() -> None:
    old, new = rekeyed(ipsec_row(0x1000, since(T0)), ipsec_row(0x1001, since(T0)), T0 + 100)
    rows = [old, new]
    links = {"veth0": LINK}
    during = plan_xfrm(rows, links, XfrmProto.ESP, T0 + 100)
    assert {s.spi for s in during.states} == {0x1000, 0x1001}
    assert during.sending == (("veth0", 0x1000),)
    assert during.next_change_at == new.send_lifetime_start
    switched = plan_xfrm(rows, links, XfrmProto.ESP, new.send_lifetime_start)
    assert {s.spi for s in switched.states} == {0x1000, 0x1001}  # the old key is still accepted
    assert switched.sending == (("veth0", 0x1001),)
    last = plan_xfrm(rows, links, XfrmProto.ESP, old.accept_lifetime_end)
    assert {s.spi for s in last.states} == {0x1000, 0x1001}
    after = plan_xfrm(rows, links, XfrmProto.ESP, old.accept_lifetime_end + 1)
    assert {s.spi for s in after.states} == {0x1001} and after.sending == (("veth0", 0x1001),)
    assert after.next_change_at is None
    # Following next_change_at from the rekey visits every change, in order.
    seen: list[tuple[frozenset[int], tuple[tuple[str, int], ...]]] = []
    now: int | None = T0 + 100
    while now is not None:
        plan = plan_xfrm(rows, links, XfrmProto.ESP, now)
        step = (frozenset(s.spi for s in plan.states), plan.sending)
        if not seen or seen[-1] != step:
            seen.append(step)
        assert plan.next_change_at is None or plan.next_change_at > now
        now = plan.next_change_at
    assert seen == [
        (frozenset({0x1000, 0x1001}), (("veth0", 0x1000),)),
        (frozenset({0x1000, 0x1001}), (("veth0", 0x1001),)),
        (frozenset({0x1001}), (("veth0", 0x1001),)),
    ]


def test_a_key_not_yet_sent_is_sent_when_it_is_the_only_one() -> None:
    row = ipsec_row(0x1000, inserted(T0))  # send start after the send delay
    plan = plan_xfrm([row], {"veth0": LINK}, XfrmProto.ESP, T0)
    assert plan.sending == (("veth0", 0x1000),)
    assert plan.next_change_at == row.send_lifetime_start


def test_rows_that_cannot_be_installed_are_refused() -> None:
    anywhere = make_row(IPSEC, 0x3000, since(T0), interfaces=ALL_INTERFACES,
                        integ=IntegId.HMAC_SHA1_96)  # fmt: skip
    missing = make_row(IPSEC, 0x3001, since(T0), interfaces=frozenset({"eth7"}),
                       integ=IntegId.HMAC_SHA1_96)  # fmt: skip
    plan = plan_xfrm([anywhere, missing], {"eth7": None}, XfrmProto.ESP, T0)
    assert plan.states == () and plan.policies == ()
    assert len(plan.refused) == 2
    assert "need one interface" in plan.refused[0] and "eth7 not found" in plan.refused[1]
    assert plan.next_change_at == T0 + LINK_RETRY  # the interface may appear


def test_one_spi_on_two_links_is_refused_for_the_second() -> None:
    first = ipsec_row(0x4000, since(T0))
    second = make_row(IPSEC, 0x4000, since(T0), interfaces=frozenset({"veth1"}), peer="192.0.2.9",
                      integ=IntegId.HMAC_SHA2_256_128)  # fmt: skip
    links = {"veth0": LINK, "veth1": Link("veth1", 5, (V6("fe80::5"),))}
    plan = plan_xfrm([first, second], links, XfrmProto.ESP, T0)
    assert [r for r in plan.refused if "in use on another link" in r]
    assert {s.auth.key for s in plan.states if s.auth} == {first.key_bytes}


def test_other_protocols_rows_are_not_the_kernels() -> None:
    ospf = make_row(ProtocolId.OSPFV3, 7, since(T0), interfaces=VETH)
    assert plan_xfrm([ospf], {"veth0": LINK}, XfrmProto.ESP, T0).states == ()


def test_diff_touches_only_what_this_sink_owns() -> None:
    row = ipsec_row(0x1000, since(T0))
    plan = plan_xfrm([row], {"veth0": LINK}, XfrmProto.ESP, T0)
    foreign = dataclasses.replace(plan.states[0], spi=0x77, reqid=1)
    foreign_policy = dataclasses.replace(
        plan.policies[0], templates=(dataclasses.replace(plan.policies[0].templates[0], reqid=1),)
    )
    changes = diff_xfrm(plan, [foreign], [foreign_policy])
    assert len(changes.add_states) == 3 and changes.remove_states == ()
    assert changes.remove_policies == () and changes.update_policies == ()


# --- applying --------------------------------------------------------------------------------


def test_apply_adds_then_is_idempotent() -> None:
    kernel = FakeKernel()
    app = applier(kernel)
    row = ipsec_row(0x1000, since(T0))
    first = apply(app, [row], T0)
    assert first.status is ApplyStatus.APPLIED and first.ok
    assert first.rows == 1 and first.notes == ("veth0: sending spi 0x00001000",)
    assert kernel.spis() == {0x1000} and len(kernel.sas) == 3 and len(kernel.pols) == 4
    assert kernel.log.index(next(x for x in kernel.log if "policy" in x)) >= 3  # SAs first
    again = apply(app, [row], T0 + 1)
    assert again.status is ApplyStatus.UNCHANGED and len(kernel.log) == 7


def test_rekey_revoke_through_applies() -> None:
    kernel = FakeKernel()
    app = applier(kernel)
    first = ipsec_row(0x1000, since(T0))
    apply(app, [first], T0)
    old, new = rekeyed(first, ipsec_row(0x1001, since(T0)), T0 + 100)
    result = apply(app, [old, new], T0 + 100)
    assert result.status is ApplyStatus.APPLIED
    assert kernel.spis() == {0x1000, 0x1001} and kernel.out_spi() == 0x1000
    assert result.next_change_at == new.send_lifetime_start
    apply(app, [old, new], new.send_lifetime_start)
    assert kernel.spis() == {0x1000, 0x1001} and kernel.out_spi() == 0x1001
    apply(app, [old, new], old.accept_lifetime_end + 1)
    assert kernel.spis() == {0x1001} and kernel.out_spi() == 0x1001
    revoked = apply(app, [], old.accept_lifetime_end + 2)
    assert revoked.status is ApplyStatus.APPLIED and revoked.rows == 0
    assert kernel.sas == {} and kernel.pols == {}


def test_foreign_sas_and_policies_stay() -> None:
    kernel = FakeKernel()
    app = applier(kernel)
    plan = app.plan([ipsec_row(0x1000, since(T0))], T0)
    foreign = dataclasses.replace(plan.states[0], spi=0x77, reqid=7)
    foreign_policy = XfrmPolicy(
        Selector.any(10, proto=6), PolicyDir.OUT,
        (XfrmTemplate(XfrmProto.ESP, XfrmMode.TRANSPORT, 10, reqid=7),),
    )  # fmt: skip
    kernel.sas[foreign.sa_id] = foreign
    kernel.pols[foreign_policy.policy_id] = foreign_policy
    apply(app, [ipsec_row(0x1000, since(T0))], T0)
    apply(app, [], T0 + 1)
    assert list(kernel.sas.values()) == [foreign] and list(kernel.pols.values()) == [foreign_policy]


def test_a_refused_sa_restores_the_previous_state() -> None:
    kernel = FakeKernel()
    app = applier(kernel)
    first = ipsec_row(0x1000, since(T0))
    apply(app, [first], T0)
    before_sas, before_pols = dict(kernel.sas), dict(kernel.pols)
    old, new = rekeyed(first, ipsec_row(0x1001, since(T0)), T0 + 100)
    added: list[XfrmState] = []

    def fault(operation: str, subject: object) -> XfrmError | None:
        if operation == "add_state" and isinstance(subject, XfrmState):
            added.append(subject)
            if len(added) == 2:  # the second of the new key's SAs
                return XfrmUnsupported(f"add {subject}", 93, "EPROTONOSUPPORT")
        return None

    kernel.fault = fault
    result = apply(app, [old, new], T0 + 100)
    assert result.status is ApplyStatus.FAILED_RESTORED and not result.ok
    assert "EPROTONOSUPPORT" in (result.error or "") and result.restore_error is None
    assert kernel.sas == before_sas and kernel.pols == before_pols  # the old key works on
    kernel.fault = lambda operation, subject: None
    assert apply(app, [old, new], T0 + 101).status is ApplyStatus.APPLIED
    assert kernel.spis() == {0x1000, 0x1001}


def test_a_read_back_that_differs_is_a_failure_and_restored() -> None:
    kernel = FakeKernel()
    kernel.tamper = lambda state: dataclasses.replace(state, replay_window=32)
    result = apply(applier(kernel), [ipsec_row(0x1000, since(T0))], T0)
    assert result.status is ApplyStatus.FAILED_RESTORED
    assert "read back differently" in (result.error or "")
    assert kernel.sas == {} and kernel.pols == {}


def test_a_failed_undo_is_reported() -> None:
    kernel = FakeKernel()

    def fault(operation: str, subject: object) -> XfrmError | None:
        if operation == "add_policy":
            return XfrmError("add policy", 16)
        if operation == "delete_state":
            return XfrmError("delete SA", 16)
        return None

    kernel.fault = fault
    result = apply(applier(kernel), [ipsec_row(0x1000, since(T0))], T0)
    assert result.status is ApplyStatus.FAILED  # the batching sink retries
    assert result.restore_error and "delete SA" in result.restore_error


def test_a_failed_removal_leaves_the_new_keys_and_is_retried() -> None:
    kernel = FakeKernel()
    app = applier(kernel)
    first = ipsec_row(0x1000, since(T0))
    old, new = rekeyed(first, ipsec_row(0x1001, since(T0)), T0)
    apply(app, [old, new], new.send_lifetime_start)
    kernel.fault = lambda op, subject: (
        XfrmError("delete SA", 16)
        if op == "delete_state" and isinstance(subject, XfrmSaId) and subject.daddr == LOCAL
        else None
    )
    result = apply(app, [old, new], old.accept_lifetime_end + 1)
    assert result.status is ApplyStatus.FAILED
    assert kernel.out_spi() == 0x1001
    assert {(s.spi, s.daddr) for s in kernel.sas.values() if s.spi == 0x1000} == {(0x1000, LOCAL)}
    kernel.fault = lambda op, subject: None
    assert apply(app, [old, new], old.accept_lifetime_end + 2).status is ApplyStatus.APPLIED
    assert kernel.spis() == {0x1001}


def test_a_dump_failure_changes_nothing() -> None:
    kernel = FakeKernel()
    kernel.fault = lambda op, subject: XfrmError("dump SAs", 1) if op == "states" else None
    result = apply(applier(kernel), [ipsec_row(0x1000, since(T0))], T0)
    assert result.status is ApplyStatus.FAILED and kernel.log == []


def test_a_new_key_under_the_same_spi_replaces_the_sa() -> None:
    kernel = FakeKernel()
    app = applier(kernel)
    apply(app, [ipsec_row(0x1000, since(T0))], T0)
    other = dataclasses.replace(ipsec_row(0x1000, since(T0)), key="ab" * 32)
    result = apply(app, [other], T0 + 1)
    assert result.status is ApplyStatus.APPLIED and "replace esp spi 0x00001000" in result.change
    assert {s.auth.key for s in kernel.sas.values() if s.auth} == {b"\xab" * 32}


def test_switching_to_ah_swaps_the_sas_and_templates() -> None:
    kernel = FakeKernel()
    row = ipsec_row(0x1000, since(T0))
    apply(applier(kernel), [row], T0)
    apply(applier(kernel, XfrmProto.AH), [row], T0 + 1)
    assert {s.proto for s in kernel.sas.values()} == {XfrmProto.AH}
    assert {p.templates[0].proto for p in kernel.pols.values()} == {XfrmProto.AH}


def test_a_moved_interface_moves_the_out_policy() -> None:
    kernel = FakeKernel()
    row = ipsec_row(0x1000, since(T0))
    apply(applier(kernel), [row], T0)
    moved = Link("veth0", 9, (LOCAL,))
    apply(applier(kernel, veth0=moved), [row], T0 + 1)
    [out] = [p for p in kernel.pols.values() if p.direction is PolicyDir.OUT]
    assert out.selector.ifindex == 9 and len(kernel.pols) == 4


def test_keys_never_leave_in_results_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    kernel = FakeKernel()
    row = ipsec_row(0x1000, since(T0))
    secret = row.key_bytes
    kernel.fault = lambda op, subject: XfrmInvalid("x", 22) if op == "add_policy" else None
    with caplog.at_level(logging.DEBUG):
        results = [apply(applier(kernel), [row], T0)]
        kernel.fault = lambda op, subject: None
        results.append(apply(applier(kernel), [row], T0))
    for result in results:
        text = f"{result!r} {result.describe()} {result.change} {result.error}"
        for form in (row.key, row.key.upper(), secret[:20].hex(), repr(secret[:20])):
            assert form not in text
            assert form not in caplog.text
    assert "esp spi 0x00001000" in results[1].change


def test_the_batching_sink_applies_key_table_changes() -> None:
    kernel = FakeKernel()
    results: list[ApplyResult] = []

    async def run() -> None:
        sink = kernel_sink(
            XfrmProto.ESP,
            kernel=kernel,
            links=StaticLinks({"veth0": LINK}),
            on_result=results.append,
            wall=lambda: T0 + 100.0,
        )
        first = ipsec_row(0x1000, since(T0))
        sink(RowInserted(first))
        await sink.drain()
        assert kernel.spis() == {0x1000}
        old, new = rekeyed(first, ipsec_row(0x1001, since(T0)), T0 + 100)
        sink(RowRekeyed(old, new))
        await sink.drain()
        assert kernel.spis() == {0x1000, 0x1001}
        sink(RowsDeleted((old, new), DeleteCause.REVOKED))
        await sink.drain()
        await sink.close()

    asyncio.run(run())
    assert kernel.sas == {} and kernel.pols == {}
    assert [r.status for r in results] == [ApplyStatus.APPLIED] * 3


def test_closing_the_sink_closes_the_socket_and_keeps_the_sas() -> None:
    kernel = FakeKernel()
    closed: list[bool] = []
    kernel.close = lambda: closed.append(True)  # type: ignore[attr-defined]

    async def run() -> None:
        batching = kernel_sink(
            XfrmProto.ESP, kernel=kernel, links=StaticLinks({"veth0": LINK}), wall=lambda: T0 + 1.0
        )
        sink = XfrmSink(KernelSinkSettings(), batching)
        sink.load([ipsec_row(0x1000, since(T0))])
        await sink.drain()
        await sink.close()

    asyncio.run(run())
    assert closed == [True] and kernel.spis() == {0x1000}
