"""The kernel sink: OSPFv3-over-IPsec keys (RFC 4552, Protocol ID 207) as
kernel XFRM SAs and policies.

RFC 4552 keys OSPFv3 by hand: one SA per link, "the same SA (SPI and key)
in both directions" (§7-8), transport mode, ESP with NULL encryption (§3:
ESP MUST be supported, with confidentiality optional) or AH. An RKMP child
SA of Protocol ID 207 is exactly that SA: its SPI is the link's SPI and
its key the MAC key (``rkmp_frr.profiles.ospfv3_ipsec``). This sink turns
every such key table row into kernel state through
``rkmp_frr.sinks.xfrm_netlink``.

How a link's traffic is expressed (OSPFv3 speaks only between link-local
addresses and to the AllSPFRouters / AllDRouters groups, RFC 5340 §A.1):

- SAs. The kernel finds an inbound SA by (destination, SPI, protocol) and
  an outbound one by destination, so each row gets one SA per destination
  an OSPFv3 packet on that link can have, all with the row's SPI and key,
  source address unspecified (any), selector "IPv6, protocol 89":
  ff02::5 and ff02::6 (both directions: our packets and the neighbour's
  go to the same group address), each of the interface's own link-local
  addresses (unicast to us), and the neighbour's link-local address if
  ``[sinks.kernel] neighbours`` names it (unicast from us; BIRD and FRR
  send everything to ff02::5 on point-to-point interfaces, where RKMP's
  unicast keys belong, DESIGN.md §2). Replay window 0: manual keys cannot
  have anti-replay (RFC 4552 §7 / RFC 4301 §4.5).
- Policies. Out: "IPv6 protocol 89 leaving this interface" (the selector's
  ifindex) requires ESP/AH with the SPI of the row being *sent* (RFC 7210
  §3: the most recent SendLifetimeStart), so the send delay of a rollover
  is honoured: a new SA is accepted at once and used only from its send
  start. In: "IPv6 protocol 89 to ff02::5, ff02::6 or our link-local
  address" requires ESP/AH with any SPI of ours, so cleartext OSPFv3 is
  dropped. Inbound policies carry no interface (the kernel does not match
  the receiving interface for local delivery), so every OSPFv3 interface
  of the network namespace must be protected once one is.
- Ownership. Every SA and policy template of this sink carries the request
  ID :data:`RKMP_REQID`; the sink changes nothing else (a strongSwan in the
  same namespace keeps its own SAs).

Rollover: the new row's SAs are added beside the old ones (both are
accepted), the out policy moves to the new SPI at the new row's send
start, and the old SAs are deleted when the old row's accept lifetime ends
(or when the key table drops the row). A revoked or deleted row's SAs go
at once. No kernel lifetimes are set: the rows' lifetimes rule, and the
key table keeps keys across a sidecar restart (so do these SAs).

The apply (:class:`XfrmApplier`, driven by the batching sink) is
idempotent: it reads the kernel's SAs and policies, works out the
difference to the rows, makes it, and reads each change back. Additions
come first and removals last, so a failure part way leaves the previous
keys working; the additions of a failed apply are undone
(``failed-restored``). Keys never appear in logs, results or reprs.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from rkmp_frr.daemon.config_model import KernelIpsecMode
from rkmp_frr.daemon.config_model import KernelSink as KernelSinkSettings
from rkmp_frr.keytable.changes import Change
from rkmp_frr.keytable.errors import InvalidRow
from rkmp_frr.keytable.row import ALL, Direction, KeyRow
from rkmp_frr.keytable.utc import FOREVER, UtcSeconds
from rkmp_frr.profiles.ospfv3_ipsec import integrity, sa_key
from rkmp_frr.sinks.batching import ApplyResult, ApplyStatus, BatchingSink
from rkmp_frr.sinks.xfrm_netlink import (
    AuthAlgorithm,
    CryptAlgorithm,
    PolicyDir,
    Selector,
    XfrmError,
    XfrmPolicy,
    XfrmPolicyId,
    XfrmProto,
    XfrmSaId,
    XfrmSocket,
    XfrmState,
    XfrmTemplate,
    XfrmVerifyError,
)
from rkmp_frr.sinks.xfrm_netlink import XfrmMode as _Mode
from rkmp_frr.wire.constants import ProtocolId

if TYPE_CHECKING:
    from rkmp_frr.daemon.control_protocol import SinkInfo

NETLINK_XFRM = 6  # linux/netlink.h
log = logging.getLogger(__name__)

SINK_NAME = "kernel"
OSPF_PROTO = 89  # IANA protocol number of OSPF (OSPFv3 runs directly over IPv6)
ALL_SPF_ROUTERS = ipaddress.IPv6Address("ff02::5")  # RFC 5340 §A.1
ALL_D_ROUTERS = ipaddress.IPv6Address("ff02::6")
MULTICAST = (ALL_SPF_ROUTERS, ALL_D_ROUTERS)
ANY6 = ipaddress.IPv6Address(0)
RKMP_REQID = 0x524B_4D50  # "RKMP": marks the SAs and templates this sink owns
# Lower numbers win: hand-made `ip xfrm policy` entries (0) before ours,
# ours before strongSwan's (six-digit priorities).
POLICY_PRIORITY = 0x4000
NULL_ENCRYPTION = "ecb(cipher_null)"  # RFC 2410 ESP_NULL, the kernel's name
# The kernel crypto names of the RFC 4552 MACs (AlgIDs of the 207 profile).
KERNEL_MAC = {"HMAC-SHA-1-96": "hmac(sha1)", "HMAC-SHA-256-128": "hmac(sha256)"}
LINK_RETRY = 10  # seconds until a missing interface is looked up again
IF_INET6 = Path("/proc/net/if_inet6")


# --- links -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Link:
    """One interface OSPFv3 runs on: its index, its IPv6 link-local
    addresses, and the neighbour's link-local address when configured."""

    interface: str
    ifindex: int
    local: tuple[ipaddress.IPv6Address, ...]
    neighbour: ipaddress.IPv6Address | None = None

    @property
    def destinations(self) -> tuple[ipaddress.IPv6Address, ...]:
        """Where an OSPFv3 packet on this link goes: one SA each."""
        found = [*MULTICAST, *self.local]
        if self.neighbour is not None and self.neighbour not in found:
            found.append(self.neighbour)
        return tuple(found)

    @property
    def inbound(self) -> tuple[ipaddress.IPv6Address, ...]:
        """Destinations of packets we receive: one inbound policy each."""
        return (*MULTICAST, *self.local)


class LinkResolver(Protocol):
    def resolve(self, interface: str) -> Link | None:
        """The link on ``interface``, or None if it has no index or no
        IPv6 link-local address."""
        ...


def parse_if_inet6(text: str) -> dict[str, tuple[int, tuple[ipaddress.IPv6Address, ...]]]:
    """``/proc/net/if_inet6`` -> {interface: (ifindex, link-local addresses)}.

    Each line: address (32 hex digits), ifindex, prefix length, scope,
    flags (hex), name; scope 0x20 is link-local (``IPV6_ADDR_LINKLOCAL``)."""
    found: dict[str, tuple[int, list[ipaddress.IPv6Address]]] = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) != 6 or len(words[0]) != 32:
            continue
        try:
            address = ipaddress.IPv6Address(bytes.fromhex(words[0]))
            ifindex, scope = int(words[1], 16), int(words[3], 16)
        except ValueError:
            continue
        entry = found.setdefault(words[5], (ifindex, []))
        if scope == 0x20 and address.is_link_local:
            entry[1].append(address)
    return {name: (index, tuple(sorted(addrs))) for name, (index, addrs) in found.items()}


@dataclass(frozen=True)
class ProcLinks:
    """Links from ``/proc/net/if_inet6`` of this network namespace, read
    at each apply; neighbours' link-local addresses from the configuration."""

    neighbours: Mapping[str, ipaddress.IPv6Address] = field(default_factory=dict)
    path: Path = IF_INET6

    def resolve(self, interface: str) -> Link | None:
        try:
            table = parse_if_inet6(self.path.read_text())
        except OSError:
            return None
        entry = table.get(interface)
        if entry is None or not entry[1]:
            return None
        return Link(interface, entry[0], entry[1], self.neighbours.get(interface))


# --- the plan (pure) ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class XfrmPlan:
    """What the kernel should hold for a set of rows at one instant."""

    states: tuple[XfrmState, ...]
    policies: tuple[XfrmPolicy, ...]
    sending: tuple[tuple[str, int], ...] = ()  # (interface, SPI of the key sent)
    refused: tuple[str, ...] = ()  # rows that cannot be installed, and why
    next_change_at: UtcSeconds | None = None


def ipsec_rows(rows: Iterable[KeyRow]) -> list[KeyRow]:
    return [row for row in rows if row.protocol == ProtocolId.OSPFV3_IPSEC]


def row_interface(row: KeyRow) -> str | None:
    """The one interface an OSPFv3-IPsec row belongs to (None: not one)."""
    if len(row.interfaces) != 1 or ALL in row.interfaces:
        return None
    return next(iter(row.interfaces))


def _live(row: KeyRow, now: UtcSeconds) -> bool:
    lifetimes = row.lifetimes
    return row.direction is not Direction.DISABLED and (
        lifetimes.accepting(now) or (row.direction.sends and lifetimes.sending(now))
    )


def _sending_row(rows: Sequence[KeyRow], now: UtcSeconds) -> KeyRow:
    """RFC 7210 §3: the row sent at ``now`` (the most recent send start);
    when none is being sent yet, the newest accepted one."""
    sent = [r for r in rows if r.direction.sends and r.lifetimes.sending(now)]
    if sent:
        return max(sent, key=lambda r: (r.send_lifetime_start, r.accept_lifetime_start, r.spi))
    return max(rows, key=lambda r: (r.accept_lifetime_start, r.spi))


def _boundaries(row: KeyRow, now: UtcSeconds) -> list[UtcSeconds]:
    """Instants after ``now`` when this row's part in the plan changes."""
    candidates = (
        row.send_lifetime_start,
        row.send_lifetime_end + 1,
        row.accept_lifetime_start,
        row.accept_lifetime_end + 1,
    )
    return [t for t in candidates if now < t <= FOREVER]


def sa_for(row: KeyRow, destination: ipaddress.IPv6Address, proto: XfrmProto) -> XfrmState:
    """The SA of ``row`` towards ``destination`` (InvalidRow if the row's
    MAC is not one of RFC 4552's)."""
    wanted = integrity(row)
    auth = AuthAlgorithm(KERNEL_MAC[wanted.alg_id], sa_key(row), wanted.icv_bits)
    return XfrmState(
        daddr=destination,
        spi=row.spi,
        proto=proto,
        saddr=ANY6,
        mode=_Mode.TRANSPORT,
        selector=Selector.any(socket.AF_INET6, proto=OSPF_PROTO),
        auth=auth,
        crypt=CryptAlgorithm(NULL_ENCRYPTION) if proto is XfrmProto.ESP else None,
        reqid=RKMP_REQID,
    )


def _template(proto: XfrmProto, spi: int = 0) -> XfrmTemplate:
    return XfrmTemplate(proto, _Mode.TRANSPORT, socket.AF_INET6, reqid=RKMP_REQID, spi=spi)


def out_policy(link: Link, proto: XfrmProto, spi: int) -> XfrmPolicy:
    return XfrmPolicy(
        selector=Selector.any(socket.AF_INET6, proto=OSPF_PROTO, ifindex=link.ifindex),
        direction=PolicyDir.OUT,
        templates=(_template(proto, spi),),
        priority=POLICY_PRIORITY,
    )


def in_policy(destination: ipaddress.IPv6Address, proto: XfrmProto) -> XfrmPolicy:
    selector = Selector(
        socket.AF_INET6, daddr=destination, saddr=ANY6, prefixlen_d=128, proto=OSPF_PROTO
    )
    return XfrmPolicy(
        selector=selector,
        direction=PolicyDir.IN,
        templates=(_template(proto),),
        priority=POLICY_PRIORITY,
    )


def plan_xfrm(
    rows: Iterable[KeyRow],
    links: Mapping[str, Link | None],
    proto: XfrmProto,
    now: UtcSeconds,
) -> XfrmPlan:
    """The SAs and policies for the OSPFv3-IPsec ``rows`` at ``now``.

    ``links`` maps each row's interface to its link (None: not found)."""
    states: dict[XfrmSaId, XfrmState] = {}
    policies: dict[XfrmPolicyId, XfrmPolicy] = {}
    refused: list[str] = []
    by_link: dict[str, list[KeyRow]] = {}
    boundaries: list[UtcSeconds] = []
    missing_link = False
    for row in sorted(ipsec_rows(rows), key=lambda r: (sorted(r.interfaces), r.spi)):
        boundaries += _boundaries(row, now)
        if not _live(row, now):
            continue
        interface = row_interface(row)
        link = links.get(interface) if interface is not None else None
        if interface is None:
            refused.append(f"{row.admin_key_name}: OSPFv3-IPsec keys need one interface")
            continue
        if link is None:
            refused.append(
                f"{row.admin_key_name}: interface {interface} not found "
                "or without an IPv6 link-local address"
            )
            missing_link = True
            continue
        try:
            row_states = [sa_for(row, destination, proto) for destination in link.destinations]
        except InvalidRow as exc:
            refused.append(f"{row.admin_key_name}: {exc}")
            continue
        for state in row_states:
            if state.sa_id in states and states[state.sa_id] != state:
                refused.append(
                    f"{row.admin_key_name}: SPI 0x{row.spi:08x} is in use on another link"
                )
                break
        else:
            states.update((state.sa_id, state) for state in row_states)
            by_link.setdefault(interface, []).append(row)
    sending: list[tuple[str, int]] = []
    for interface, link_rows in sorted(by_link.items()):
        link = links[interface]
        assert link is not None
        spi = _sending_row(link_rows, now).spi
        sending.append((interface, spi))
        policy = out_policy(link, proto, spi)
        policies[policy.policy_id] = policy
        for destination in link.inbound:
            policy = in_policy(destination, proto)
            policies[policy.policy_id] = policy
    if missing_link:
        boundaries.append(now + LINK_RETRY)
    return XfrmPlan(
        states=tuple(states.values()),
        policies=tuple(policies.values()),
        sending=tuple(sending),
        refused=tuple(refused),
        next_change_at=min(boundaries) if boundaries else None,
    )


# --- the difference (pure) ----------------------------------------------------------


def owned_states(states: Iterable[XfrmState]) -> list[XfrmState]:
    return [s for s in states if s.reqid == RKMP_REQID]


def owned_policies(policies: Iterable[XfrmPolicy]) -> list[XfrmPolicy]:
    return [p for p in policies if any(t.reqid == RKMP_REQID for t in p.templates)]


@dataclass(frozen=True, slots=True)
class XfrmChanges:
    """What to do to go from the kernel's (owned) state to a plan. A
    ``replace`` is an SA whose identity stays and whose content changes:
    the kernel cannot change an SA's keys in place (``ip xfrm state
    update`` keeps them), so it is deleted and added."""

    add_states: tuple[XfrmState, ...] = ()
    replace_states: tuple[tuple[XfrmState, XfrmState], ...] = ()  # (old, new)
    remove_states: tuple[XfrmState, ...] = ()
    add_policies: tuple[XfrmPolicy, ...] = ()
    update_policies: tuple[tuple[XfrmPolicy, XfrmPolicy], ...] = ()  # (old, new)
    remove_policies: tuple[XfrmPolicy, ...] = ()

    @property
    def empty(self) -> bool:
        return not (
            self.add_states
            or self.replace_states
            or self.remove_states
            or self.add_policies
            or self.update_policies
            or self.remove_policies
        )

    def describe(self) -> list[str]:
        """One line per change, SAs by identity (never by key)."""
        lines = [f"add {s}" for s in self.add_states]
        lines += [f"replace {new}" for _, new in self.replace_states]
        lines += [f"add {p}{_spis(p)}" for p in self.add_policies]
        lines += [f"update {new}{_spis(new)}" for _, new in self.update_policies]
        lines += [f"delete {p}" for p in self.remove_policies]
        lines += [f"delete {s}" for s in self.remove_states]
        return lines


def _spis(policy: XfrmPolicy) -> str:
    spis = [f"0x{t.spi:08x}" for t in policy.templates if t.spi]
    return f" (spi {', '.join(spis)})" if spis else ""


def diff_xfrm(
    plan: XfrmPlan, states: Iterable[XfrmState], policies: Iterable[XfrmPolicy]
) -> XfrmChanges:
    """The changes from the owned ``states`` and ``policies`` to ``plan``."""
    have_states = {s.sa_id: s for s in owned_states(states)}
    want_states = {s.sa_id: s for s in plan.states}
    have_policies = {p.policy_id: p for p in owned_policies(policies)}
    want_policies = {p.policy_id: p for p in plan.policies}
    return XfrmChanges(
        add_states=tuple(s for i, s in want_states.items() if i not in have_states),
        replace_states=tuple(
            (have_states[i], s)
            for i, s in want_states.items()
            if i in have_states and have_states[i] != s
        ),
        remove_states=tuple(s for i, s in have_states.items() if i not in want_states),
        add_policies=tuple(p for i, p in want_policies.items() if i not in have_policies),
        update_policies=tuple(
            (have_policies[i], p)
            for i, p in want_policies.items()
            if i in have_policies and have_policies[i] != p
        ),
        remove_policies=tuple(p for i, p in have_policies.items() if i not in want_policies),
    )


# --- the kernel's side --------------------------------------------------------------


class XfrmKernel(Protocol):
    """What the sink needs of the kernel (``XfrmSocket``; a fake in tests)."""

    async def states(self) -> list[XfrmState]: ...
    async def get_state(self, sa: XfrmSaId) -> XfrmState | None: ...
    async def add_state(self, state: XfrmState) -> None: ...
    async def delete_state(self, sa: XfrmSaId) -> None: ...
    async def policies(self) -> list[XfrmPolicy]: ...
    async def get_policy(self, policy_id: XfrmPolicyId) -> XfrmPolicy | None: ...
    async def add_policy(self, policy: XfrmPolicy) -> None: ...
    async def update_policy(self, policy: XfrmPolicy) -> None: ...
    async def delete_policy(self, policy_id: XfrmPolicyId) -> None: ...


class VerifiedKernel:
    """Each change, then a read-back that must show it (XfrmVerifyError
    if it does not); and a journal of what was changed, to undo it."""

    def __init__(self, kernel: XfrmKernel) -> None:
        self.kernel = kernel
        self._undo: list[Callable[[], Awaitable[None]]] = []

    async def add_state(self, state: XfrmState) -> None:
        await self.kernel.add_state(state)
        self._undo.append(lambda: self.kernel.delete_state(state.sa_id))
        got = await self.kernel.get_state(state.sa_id)
        if got != state:
            raise XfrmVerifyError(f"add {state}", detail=_mismatch(got))

    async def delete_state(self, state: XfrmState) -> None:
        await self.kernel.delete_state(state.sa_id)
        self._undo.append(lambda: self.kernel.add_state(state))
        if await self.kernel.get_state(state.sa_id) is not None:
            raise XfrmVerifyError(f"delete {state}", detail="the kernel still has it")

    async def add_policy(self, policy: XfrmPolicy) -> None:
        await self.kernel.add_policy(policy)
        self._undo.append(lambda: self.kernel.delete_policy(policy.policy_id))
        await self._check_policy(f"add {policy}", policy)

    async def update_policy(self, old: XfrmPolicy, new: XfrmPolicy) -> None:
        await self.kernel.update_policy(new)
        self._undo.append(lambda: self.kernel.update_policy(old))
        await self._check_policy(f"update {new}", new)

    async def delete_policy(self, policy: XfrmPolicy) -> None:
        await self.kernel.delete_policy(policy.policy_id)
        self._undo.append(lambda: self.kernel.add_policy(policy))
        if await self.kernel.get_policy(policy.policy_id) is not None:
            raise XfrmVerifyError(f"delete {policy}", detail="the kernel still has it")

    async def _check_policy(self, operation: str, policy: XfrmPolicy) -> None:
        got = await self.kernel.get_policy(policy.policy_id)
        if got != policy:
            raise XfrmVerifyError(operation, detail=_mismatch(got))

    def forget(self) -> None:
        """The changes so far stand: nothing to undo."""
        self._undo.clear()

    async def undo(self) -> str | None:
        """Take back the journalled changes, newest first; None when all
        went, else why not (the kernel keeps what could not be undone)."""
        problems: list[str] = []
        while self._undo:
            step = self._undo.pop()
            try:
                await step()
            except XfrmError as exc:
                problems.append(str(exc))
        return "; ".join(problems) or None


def _mismatch(got: object) -> str:
    return "not there when read back" if got is None else "read back differently"


# --- the applier --------------------------------------------------------------------


class XfrmApplier:
    """Brings the kernel's XFRM tables to the OSPFv3-IPsec rows (the
    batching sink's ``Applier``; see the module doc)."""

    name = SINK_NAME

    def __init__(
        self,
        kernel: XfrmKernel,
        links: LinkResolver,
        proto: XfrmProto = XfrmProto.ESP,
        *,
        wall: Callable[[], float] = time.time,
        mono: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kernel = kernel
        self.links = links
        self.proto = proto
        self._wall = wall
        self._mono = mono

    def close(self) -> None:
        close = getattr(self.kernel, "close", None)
        if callable(close):
            close()

    def plan(self, rows: Iterable[KeyRow], now: UtcSeconds) -> XfrmPlan:
        mine = ipsec_rows(rows)
        interfaces = {name for row in mine if (name := row_interface(row)) is not None}
        links = {name: self.links.resolve(name) for name in sorted(interfaces)}
        return plan_xfrm(mine, links, self.proto, now)

    async def apply(self, rows: Sequence[KeyRow], now: UtcSeconds) -> ApplyResult:
        started, clock = self._wall(), self._mono()
        plan = self.plan(rows, now)
        count = len(ipsec_rows(rows))

        def result(
            status: ApplyStatus,
            changes: XfrmChanges | None = None,
            error: str | None = None,
            restore_error: str | None = None,
        ) -> ApplyResult:
            return ApplyResult(
                sink=self.name,
                status=status,
                started_at=started,
                duration=self._mono() - clock,
                rows=count,
                change="; ".join(changes.describe()) if changes is not None else "",
                refused=plan.refused,
                notes=tuple(f"{i}: sending spi 0x{spi:08x}" for i, spi in plan.sending),
                next_change_at=plan.next_change_at,
                error=error,
                restore_error=restore_error,
            )

        try:
            changes = diff_xfrm(plan, await self.kernel.states(), await self.kernel.policies())
        except XfrmError as exc:
            return result(ApplyStatus.FAILED, error=str(exc))
        if changes.empty:
            return result(ApplyStatus.UNCHANGED)
        verified = VerifiedKernel(self.kernel)
        try:
            await self._make(verified, changes)
        except XfrmError as exc:
            restore_error = await verified.undo()
            status = ApplyStatus.FAILED_RESTORED if restore_error is None else ApplyStatus.FAILED
            return result(status, changes, error=str(exc), restore_error=restore_error)
        verified.forget()
        problems = await self._remove(verified, changes)
        problems += await self._check(plan)
        if problems:
            return result(ApplyStatus.FAILED, changes, error="; ".join(problems))
        return result(ApplyStatus.APPLIED, changes)

    @staticmethod
    async def _make(verified: VerifiedKernel, changes: XfrmChanges) -> None:
        """New SAs, then policies: a new key is accepted before it is sent."""
        for old, new in changes.replace_states:
            await verified.delete_state(old)
            await verified.add_state(new)
        for state in changes.add_states:
            await verified.add_state(state)
        for policy in changes.add_policies:
            await verified.add_policy(policy)
        for old_policy, new_policy in changes.update_policies:
            await verified.update_policy(old_policy, new_policy)

    @staticmethod
    async def _remove(verified: VerifiedKernel, changes: XfrmChanges) -> list[str]:
        """Old policies, then old SAs; each failure is reported and the
        rest still tried (a leftover SA is retried at the next apply)."""
        problems: list[str] = []
        for policy in changes.remove_policies:
            try:
                await verified.delete_policy(policy)
            except XfrmError as exc:
                problems.append(str(exc))
        for state in changes.remove_states:
            try:
                await verified.delete_state(state)
            except XfrmError as exc:
                problems.append(str(exc))
        verified.forget()
        return problems

    async def _check(self, plan: XfrmPlan) -> list[str]:
        """The kernel's owned SAs and policies, read again, are the plan."""
        try:
            left = diff_xfrm(plan, await self.kernel.states(), await self.kernel.policies())
        except XfrmError as exc:
            return [str(exc)]
        if left.empty:
            return []
        return [f"after the apply the kernel still differs: {'; '.join(left.describe())}"]


class XfrmSink:
    """The kernel sink as rkmpd runs it: the batching sink around the
    XFRM applier, the ``[sinks.kernel]`` settings it was built from (a
    SIGHUP keeps the sink when they did not change), and its state for
    ``rkmpctl status``."""

    def __init__(self, settings: KernelSinkSettings, batching: BatchingSink) -> None:
        self.settings = settings
        self.batching = batching
        self._last_change: ApplyResult | None = None
        self._forward = batching.on_result
        batching.on_result = self._on_result

    @property
    def name(self) -> str:
        return self.batching.name

    def __call__(self, change: Change) -> None:
        self.batching(change)

    def load(self, rows: Iterable[KeyRow]) -> None:
        self.batching.load(rows)

    async def drain(self) -> ApplyResult | None:
        return await self.batching.drain()

    async def close(self) -> None:
        """Stop applying; the SAs stay (a restart must not flap OSPF)."""
        await self.batching.close()
        close = getattr(self.batching.applier, "close", None)
        if callable(close):
            close()

    def _on_result(self, result: ApplyResult) -> None:
        if result.status is not ApplyStatus.UNCHANGED:
            self._last_change = result
        if self._forward is not None:
            self._forward(result)

    def info(self) -> SinkInfo:
        from rkmp_frr.daemon.control_protocol import SinkInfo
        from rkmp_frr.daemon.routing_sinks import apply_info

        status = self.batching.status()
        release = os.uname().release
        return SinkInfo(
            name=self.name,
            daemon="Linux XFRM",
            version=release,
            detected=f"Linux {release}, OSPFv3 over IPsec ({self.settings.mode.value})",
            dry_run=False,
            ok=status.ok,
            rows=status.rows,
            pending=status.pending,
            applies=status.applies,
            failures=status.failures,
            last_error=status.last_error,
            last_apply=apply_info(status.last),
            last_change=apply_info(self._last_change),
            kernel_problems=(),
        )


def build_kernel_sinks(
    settings: KernelSinkSettings | None, current: Iterable[object] = ()
) -> list[XfrmSink]:
    """The kernel sink ``[sinks.kernel]`` asks for (none when absent or
    disabled); a sink in ``current`` built from the same settings is kept.
    OSError if this kernel has no XFRM netlink (``xfrm_user``)."""
    if settings is None or not settings.enabled:
        return []
    for sink in current:
        if isinstance(sink, XfrmSink) and sink.settings == settings:
            return [sink]
    # Fail at start, not at the first key: the kernel loads xfrm_user for
    # a NETLINK_XFRM socket if it can.
    probe = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_XFRM)
    probe.close()
    proto = XfrmProto.AH if settings.mode is KernelIpsecMode.AH else XfrmProto.ESP
    sink = XfrmSink(settings, kernel_sink(proto, settings.neighbours))
    log.info("kernel sink: OSPFv3-IPsec keys become XFRM SAs (%s, transport mode)", proto.name)
    return [sink]


def kernel_sink(
    proto: XfrmProto,
    neighbours: Mapping[str, ipaddress.IPv6Address] | None = None,
    *,
    kernel: XfrmKernel | None = None,
    links: LinkResolver | None = None,
    on_result: Callable[[ApplyResult], None] | None = None,
    wall: Callable[[], float] = time.time,
) -> BatchingSink:
    """The key table sink that keeps this network namespace's XFRM tables
    in step with the OSPFv3-IPsec rows (``[sinks.kernel]``). ``kernel``
    and ``links`` replace the netlink socket and ``/proc`` (tests)."""
    applier = XfrmApplier(
        kernel if kernel is not None else XfrmSocket(),
        links if links is not None else ProcLinks(dict(neighbours or {})),
        proto,
        wall=wall,
    )
    return BatchingSink(applier, wall=wall, on_result=on_result)
