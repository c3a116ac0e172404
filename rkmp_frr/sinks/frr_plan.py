"""FRR: the plan, the FRR configuration the sink owns for one key table
state (BGP neighbour passwords, OSPF interface keys, key chains and the
interfaces bound to them), and :func:`frr_plan`, which makes it from key
table rows at an instant ``now`` (pure). ``rkmp_frr.sinks.frr_render``
turns two plans into the vtysh commands between them.

What each protocol becomes (facts in :mod:`rkmp_frr.sinks.features`):

- TCP-MD5 (RFC 2385): ``neighbor <addr> password <key>`` in the
  ``router bgp`` the sink configuration names for that address. One key per
  neighbour: the row RFC 7210 §3 selects for sending at ``now`` (else the
  most recently accepted one). Every change resets the session (DESIGN.md
  §5), which the change reports.
- OSPFv2 on FRR >= 9.1, and OSPFv3 (RFC 7166, FRR >= 8.3): one key chain
  per interface (``<prefix>-ospf-<ifname>``, ``<prefix>-ospf6-<ifname>``),
  one key per row (the key ID is the row's SPI), bound with ``ip ospf
  authentication key-chain`` / ``ipv6 ospf6 authentication keychain``. FRR
  sends with the lowest-numbered key whose send lifetime covers the
  present, not RFC 7210 §3's most recent one, so each key is given the
  send lifetime in which §3 would pick it; accept lifetimes are the rows'.
- OSPFv2 on FRR < 9.1: keyed MD5 only, ``ip ospf message-digest-key``.
  ospfd sends with the key configured last and, before 9.1, accepts only
  that one; the plan orders the keys so that the key §3 selects at ``now``
  is last, and must be redone at the next lifetime boundary
  (``next_change_at``).
- TCP-AO, IS-IS, BFD: refused (no FRR release can take these keys).
- OSPFv3 over IPsec (protocol 207) is the kernel's, not FRR's: ignored.

Fail closed. A neighbour or interface the sink secures and has keyed
before (``keyed``, ``rkmp_frr.sinks.keyed``) but holds no usable key for
now (its keys revoked by RP_revokeSA, expired, refused) is closed in the
plan (``FrrPlan.bgp_closed``, a ``closed`` interface), never left
unauthenticated: RP_revokeSA means the routing protocol stops using the
SA, so it must not fall back to sending unsecured messages either. One
rkmpd has never keyed is not in the plan at all: mismatched RKMP
credentials must not change the routing config. Secured neighbours: those
of :attr:`FrrRenderConfig.bgp_neighbors`, and keyed ones no entry lists
any more (``unlisted``: kept closed in the ``router bgp`` the applier
found them in). A key chain interface whose keys are none of them valid
for sending now stays closed (with its chain) until one is, at
``next_change_at``. How closing is rendered:
``rkmp_frr.sinks.frr_render``. One the operator had shut or made passive
already is closed with the operator's line (``FrrPlan.operator_closed``,
found by the applier: ``rkmp_frr.sinks.frr_discovery``), which rkmpd
leaves as it is, then and when keys return.

Leftovers. FRR keeps rkmpd's key lines in its running config when rkmpd
restarts, and a restarted rkmpd starts from no applied plan: an old
``ip ospf message-digest-key`` or a key chain's old key would stay there
for good (unused once replaced or revoked, but key material in the
configuration operators read, back up, and ``write``). rkmpd records the
key lines it puts in (``rkmp_frr.sinks.keyed.KeyRecord``); the applier
finds those FRR still runs that the applied plan does not hold
(``rkmp_frr.sinks.frr_discovery.leftover_keys``) and sets them as
``FrrPlan.leftovers`` of the desired plan, whose change removes those it
does not hold. A key line rkmpd did not record (the operator's) is never
one.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from rkmp_frr.keytable.protocols import protocol_name
from rkmp_frr.keytable.row import ALL, KeyRow
from rkmp_frr.keytable.utc import UtcSeconds
from rkmp_frr.sinks.features import (
    FRR_BFD_RFC5880_AUTH,
    FRR_BGP_TCP_AO,
    FRR_BGP_TCP_MD5,
    FRR_ISIS_KEY_IDS,
    FRR_OSPF6_AUTH_TRAILER,
    FRR_OSPF_KEY_CHAIN,
    FRR_OSPF_MD5,
    Daemon,
    FeatureGate,
    FrrFeatures,
)
from rkmp_frr.sinks.frr_config import PLAIN_NAME, BgpRouter, FrrBgpNeighbor, FrrRenderConfig
from rkmp_frr.sinks.keyed import (
    KeyRecord,
    Secured,
    SecuredKind,
    frr_bgp,
    key_chain,
    md5_key,
    secured_interface,
)
from rkmp_frr.sinks.render import (
    MissingSinkConfig,
    SinkError,
    UnrenderableRow,
    next_change,
)
from rkmp_frr.wire.constants import ProtocolId

SINK = "frr"
MD5_KEY_MAX = 16  # ospfd copies at most 16 characters of a message-digest key

# RFC 7210 AlgID -> FRR `cryptographic-algorithm`, per daemon.
_OSPF_ALGORITHMS = {
    "KEYED-MD5": "md5",
    "HMAC-SHA-1": "hmac-sha-1",
    "HMAC-SHA-256": "hmac-sha-256",
    "HMAC-SHA-384": "hmac-sha-384",
    "HMAC-SHA-512": "hmac-sha-512",
}
_OSPF6_ALGORITHMS = {k: v for k, v in _OSPF_ALGORITHMS.items() if k != "KEYED-MD5"}


Window = tuple[UtcSeconds, UtcSeconds] | None
"""A closed lifetime [start, end] in key table seconds; None: never."""


@dataclass(frozen=True, slots=True)
class BgpPassword:
    router: BgpRouter
    neighbor: str
    key: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class ChainKey:
    """One ``key <id>`` of a key chain."""

    key_id: int
    algorithm: str  # FRR's cryptographic-algorithm name
    send: Window
    accept: Window
    key: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class KeyChain:
    name: str
    daemon: Daemon
    keys: tuple[ChainKey, ...]  # by key ID

    def key(self, key_id: int) -> ChainKey | None:
        return next((k for k in self.keys if k.key_id == key_id), None)


@dataclass(frozen=True, slots=True)
class Md5Key:
    key_id: int
    key: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class OspfInterface:
    """ospfd's authentication on one interface: a key chain, or keyed-MD5
    keys in configuration order (ospfd sends with the last one). A closed
    interface (no key to send with) is passive."""

    name: str
    key_chain: str | None = None
    md5_keys: tuple[Md5Key, ...] = ()
    closed: bool = False

    @property
    def auth(self) -> str | None:
        """The ``ip ospf authentication`` argument (None: no keys)."""
        if self.key_chain:
            return f"key-chain {self.key_chain}"
        return "message-digest" if self.md5_keys else None

    @property
    def holds_keys(self) -> bool:
        return bool(self.key_chain or self.md5_keys)


@dataclass(frozen=True, slots=True)
class Ospf6Interface:
    """ospf6d's key chain on one interface; closed (passive) when none of
    its keys is valid for sending."""

    name: str
    key_chain: str | None = None
    closed: bool = False

    @property
    def holds_keys(self) -> bool:
        return self.key_chain is not None


@dataclass(frozen=True, slots=True)
class LeftoverChain:
    """A key chain of rkmpd's that FRR runs, and its key IDs."""

    name: str
    daemon: Daemon
    key_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Leftovers:
    """rkmpd's key lines (recorded as its own) that FRR runs and the plan
    applied does not hold: put in before rkmpd restarted, or in a part
    that drifted. By key ID only (their keys are not needed to remove them)."""

    md5: frozenset[tuple[str, int]] = frozenset()  # (interface, message-digest key ID)
    chains: tuple[LeftoverChain, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.md5 or self.chains)

    def md5_ids(self, interface: str) -> tuple[int, ...]:
        return tuple(sorted(key_id for name, key_id in self.md5 if name == interface))

    def chain(self, name: str) -> LeftoverChain | None:
        return next((c for c in self.chains if c.name == name), None)


NO_LEFTOVERS = Leftovers()


@dataclass(frozen=True)
class FrrPlan:
    """The FRR configuration the sink owns, for one key table state."""

    bgp: Mapping[tuple[BgpRouter, str], BgpPassword] = field(default_factory=dict)
    bgp_closed: tuple[tuple[BgpRouter, str], ...] = ()  # secured neighbours without a key
    key_chains: Mapping[str, KeyChain] = field(default_factory=dict)
    ospf: Mapping[str, OspfInterface] = field(default_factory=dict)
    ospf6: Mapping[str, Ospf6Interface] = field(default_factory=dict)
    refused: tuple[SinkError, ...] = ()
    notes: tuple[str, ...] = ()
    next_change_at: UtcSeconds | None = None  # when the plan for the same rows may change
    # What rkmpd had keyed when this plan was made (rkmp_frr.sinks.keyed):
    # only these are closed without a key; others are the operator's.
    keyed: frozenset[Secured] = frozenset()
    # Of those, what rkmpd itself had closed and not reopened: only these
    # are reopened when their keys return (an operator's own shutdown or
    # passive setting stays).
    rkmpd_closed: frozenset[Secured] = frozenset()
    # Of what this plan closes, what the operator had closed already when
    # rkmpd would have (rkmp_frr.sinks.frr_discovery): rkmpd expects it
    # closed but leaves the operator's line as it is, does not record it as
    # closed by rkmpd, and never lifts it.
    operator_closed: frozenset[Secured] = frozenset()
    # rkmpd's key lines found in FRR that the applied plan does not hold
    # (rkmpd restarted): a change to this plan removes those it lacks.
    leftovers: Leftovers = NO_LEFTOVERS

    def closed_items(self) -> frozenset[Secured]:
        """The neighbours and interfaces this plan closes (shut, passive)."""
        v2, v3 = SecuredKind.OSPF, SecuredKind.OSPF6
        bgp = {frr_bgp(neighbor, router.vrf) for router, neighbor in self.bgp_closed}
        ospf = (secured_interface(v2, n) for n, i in self.ospf.items() if i.closed)
        ospf6 = (secured_interface(v3, n) for n, i in self.ospf6.items() if i.closed)
        return frozenset((*bgp, *ospf, *ospf6))

    def keyed_items(self) -> frozenset[Secured]:
        """The neighbours and interfaces this plan puts keys into."""
        v2, v3 = SecuredKind.OSPF, SecuredKind.OSPF6
        bgp = {frr_bgp(neighbor, router.vrf) for router, neighbor in self.bgp}
        ospf = (secured_interface(v2, n) for n, i in self.ospf.items() if i.holds_keys)
        ospf6 = (secured_interface(v3, n) for n, i in self.ospf6.items() if i.holds_keys)
        return frozenset((*bgp, *ospf, *ospf6))


EMPTY_PLAN = FrrPlan()

CHAIN_PROTOCOL = {Daemon.OSPFD: SecuredKind.OSPF, Daemon.OSPF6D: SecuredKind.OSPF6}
CHAIN_DAEMON = {kind: daemon for daemon, kind in CHAIN_PROTOCOL.items()}


def key_records(plan: FrrPlan) -> frozenset[KeyRecord]:
    """The key lines ``plan`` puts into FRR, as recorded
    (``rkmp_frr.sinks.keyed.KeyRecord``): its message-digest keys and key
    chains (not its leftovers)."""
    md5 = (md5_key(n, k.key_id) for n, i in plan.ospf.items() for k in i.md5_keys)
    chains = (key_chain(CHAIN_PROTOCOL[c.daemon], c.name) for c in plan.key_chains.values())
    return frozenset((*md5, *chains))


def leftover_records(leftovers: Leftovers) -> frozenset[KeyRecord]:
    md5 = (md5_key(name, key_id) for name, key_id in leftovers.md5)
    chains = (key_chain(CHAIN_PROTOCOL[c.daemon], c.name) for c in leftovers.chains)
    return frozenset((*md5, *chains))


class PartKind(StrEnum):
    """The pieces of a plan that are applied (and can drift) one by one."""

    BGP = "BGP neighbour"  # a password, or a neighbour closed without one
    KEY_CHAIN = "key chain"
    OSPF = "OSPFv2 on"  # an interface's ospfd authentication and passive setting
    OSPF6 = "OSPFv3 on"


@dataclass(frozen=True, slots=True)
class PlanPart:
    """One piece of a plan: a BGP neighbour (of ``router``), a key chain,
    or an OSPFv2/OSPFv3 interface."""

    kind: PartKind
    name: str
    router: BgpRouter | None = None

    def __str__(self) -> str:
        vrf = f" vrf {self.router.vrf}" if self.router is not None and self.router.vrf else ""
        return f"{self.kind.value} {self.name}{vrf}"


def plan_without(plan: FrrPlan, parts: Iterable[PlanPart]) -> FrrPlan:
    """``plan`` without ``parts``: what FRR runs when they drifted away.
    A change from it to the desired plan renders those parts the way a
    first apply does and leaves every other part alone."""
    kinds: dict[PartKind, set[PlanPart]] = {}
    for part in parts:
        kinds.setdefault(part.kind, set()).add(part)
    gone_bgp = {(p.router, p.name) for p in kinds.get(PartKind.BGP, ())}
    gone_chains = {p.name for p in kinds.get(PartKind.KEY_CHAIN, ())}
    gone_ospf = {p.name for p in kinds.get(PartKind.OSPF, ())}
    gone_ospf6 = {p.name for p in kinds.get(PartKind.OSPF6, ())}
    remaining = dataclasses.replace(
        plan,
        bgp={slot: entry for slot, entry in plan.bgp.items() if slot not in gone_bgp},
        bgp_closed=tuple(slot for slot in plan.bgp_closed if slot not in gone_bgp),
        key_chains={n: c for n, c in plan.key_chains.items() if n not in gone_chains},
        ospf={n: i for n, i in plan.ospf.items() if n not in gone_ospf},
        ospf6={n: i for n, i in plan.ospf6.items() if n not in gone_ospf6},
    )
    return with_operator_closed(remaining, plan.operator_closed)


def with_operator_closed(plan: FrrPlan, items: Iterable[Secured]) -> FrrPlan:
    """``plan``, noting that of the items it closes, those of ``items``
    were closed by the operator (``FrrPlan.operator_closed``)."""
    return dataclasses.replace(plan, operator_closed=frozenset(items) & plan.closed_items())


def _preference(row: KeyRow) -> tuple[int, int, int]:
    """RFC 7210 §3's order among keys valid for sending (as in
    ``keytable.selection``): most recent SendLifetimeStart, then the later
    AcceptLifetimeStart, then the higher SPI."""
    return (row.send_lifetime_start, row.accept_lifetime_start, row.spi)


def _sending(row: KeyRow, now: UtcSeconds) -> bool:
    return row.direction.sends and row.lifetimes.sending(now)


def _accepting(row: KeyRow, now: UtcSeconds) -> bool:
    return row.direction.accepts and row.lifetimes.accepting(now)


def current_key(rows: Iterable[KeyRow], now: UtcSeconds) -> KeyRow | None:
    """The one key for a daemon that holds one: the key RFC 7210 §3 selects
    for sending at ``now``, else the most recently accepted one."""
    rows = list(rows)
    senders = [r for r in rows if _sending(r, now)]
    if senders:
        return max(senders, key=_preference)
    accepted = [r for r in rows if _accepting(r, now)]
    if accepted:
        return max(accepted, key=lambda r: (r.accept_lifetime_start, r.spi))
    return None


def send_windows(rows: Sequence[KeyRow]) -> tuple[dict[int, Window], list[int]]:
    """For a key chain, each row's send lifetime trimmed to the instants at
    which RFC 7210 §3 picks it (FRR picks the lowest key ID valid for
    sending, so the windows given to FRR must not overlap). Keyed by SPI.
    Also the SPIs of rows §3 would pick in more than one stretch (FRR gets
    the first)."""
    senders = [r for r in rows if r.direction.sends]
    bounds = sorted(
        {r.send_lifetime_start for r in senders} | {r.send_lifetime_end + 1 for r in senders}
    )
    runs: dict[int, list[list[int]]] = {}
    for lo, hi in itertools.pairwise(bounds):
        active = [
            r for r in senders if r.send_lifetime_start <= lo and hi - 1 <= r.send_lifetime_end
        ]
        if not active:
            continue
        best = max(active, key=_preference).spi
        spans = runs.setdefault(best, [])
        if spans and spans[-1][1] == lo - 1:
            spans[-1][1] = hi - 1
        else:
            spans.append([lo, hi - 1])
    windows: dict[int, Window] = {r.spi: None for r in rows}
    split: list[int] = []
    for spi, spans in runs.items():
        windows[spi] = (spans[0][0], spans[0][1])
        if len(spans) > 1:
            split.append(spi)
    return windows, split


def _accept_window(row: KeyRow) -> Window:
    if not row.direction.accepts:
        return None
    return (row.accept_lifetime_start, row.accept_lifetime_end)


class _Planner(FeatureGate[FrrFeatures]):
    """Builds one plan; collects refusals instead of stopping at the first."""

    def __init__(
        self,
        config: FrrRenderConfig,
        features: FrrFeatures,
        now: UtcSeconds,
        keyed: frozenset[Secured],
        rkmpd_closed: frozenset[Secured],
        unlisted: tuple[FrrBgpNeighbor, ...] = (),
    ) -> None:
        self.config = config
        super().__init__(features)
        self.now = now
        self.keyed = keyed
        self.rkmpd_closed = rkmpd_closed
        self.unlisted = unlisted
        self.notes: list[str] = []

    def plan(self, rows: Iterable[KeyRow]) -> FrrPlan:
        live = [
            r
            for r in rows
            if r.direction.sends or r.direction.accepts
            if not r.lifetimes.dead(self.now)
        ]
        by_protocol: dict[ProtocolId, list[KeyRow]] = {}
        for row in live:
            by_protocol.setdefault(row.protocol, []).append(row)
        refusals = {
            ProtocolId.TCP_AO: FRR_BGP_TCP_AO,
            ProtocolId.ISIS: FRR_ISIS_KEY_IDS,
            ProtocolId.BFD: FRR_BFD_RFC5880_AUTH,
        }
        for protocol, requirement in refusals.items():
            if by_protocol.get(protocol):
                self.need(requirement, protocol_name(protocol))
        bgp = self.bgp(by_protocol.get(ProtocolId.TCP_MD5, []))
        # Fail closed only what rkmpd has keyed (rkmp_frr.sinks.keyed); a
        # keyed neighbour no longer listed never gets a key again.
        bgp_closed = tuple(
            sorted(
                (n.router, n.address)
                for n in (*self.config.bgp_neighbors, *self.unlisted)
                if (n.router, n.address) not in bgp
                and frr_bgp(n.address, n.router.vrf) in self.keyed
            )
        )
        chains: dict[str, KeyChain] = {}
        ospf = self.ospf(by_protocol.get(ProtocolId.OSPFV2, []), chains)
        ospf = {
            name: plan
            for name, plan in ospf.items()
            if plan.holds_keys or secured_interface(SecuredKind.OSPF, name) in self.keyed
        }
        ospf6 = self.ospf6(by_protocol.get(ProtocolId.OSPFV3, []), chains)
        ospf6 = {
            name: plan
            for name, plan in ospf6.items()
            if plan.holds_keys or secured_interface(SecuredKind.OSPF6, name) in self.keyed
        }
        for item in self.keyed:
            if item.kind is SecuredKind.OSPF and PLAIN_NAME.fullmatch(item.name):
                ospf.setdefault(item.name, OspfInterface(item.name, closed=True))
            elif item.kind is SecuredKind.OSPF6 and PLAIN_NAME.fullmatch(item.name):
                ospf6.setdefault(item.name, Ospf6Interface(item.name, closed=True))
        return FrrPlan(
            bgp=bgp,
            bgp_closed=bgp_closed,
            key_chains=dict(sorted(chains.items())),
            ospf=dict(sorted(ospf.items())),
            ospf6=dict(sorted(ospf6.items())),
            refused=tuple(self.refused.values()),
            notes=tuple(self.notes),
            next_change_at=next_change(live, self.now),
            keyed=self.keyed,
            rkmpd_closed=self.rkmpd_closed,
        )

    # --- bgpd ---

    def bgp(self, rows: list[KeyRow]) -> dict[tuple[BgpRouter, str], BgpPassword]:
        if not rows or not self.need(FRR_BGP_TCP_MD5, "TCP-MD5"):
            return {}
        by_peer: dict[str, list[KeyRow]] = {}
        for row in rows:
            for peer in row.peers:
                by_peer.setdefault(peer, []).append(row)
        passwords: dict[tuple[BgpRouter, str], BgpPassword] = {}
        for peer, peer_rows in sorted(by_peer.items()):
            neighbor = self.config.neighbor(peer)
            if neighbor is None:
                self.refuse(MissingSinkConfig(SINK, "TCP-MD5", f"BGP neighbour {peer}"))
                continue
            chosen = current_key(peer_rows, self.now)
            if chosen is not None:
                entry = BgpPassword(neighbor.router, neighbor.address, chosen.key)
                passwords[(entry.router, entry.neighbor)] = entry
        return dict(sorted(passwords.items()))

    # --- interfaces ---

    def by_interface(self, rows: list[KeyRow], protocol: str) -> dict[str, list[KeyRow]]:
        found: dict[str, list[KeyRow]] = {}
        for row in rows:
            if ALL in row.interfaces:
                self.refuse(
                    UnrenderableRow(SINK, protocol, row.admin_key_name, "names no interface")
                )
                continue
            for name in row.interfaces:
                if not PLAIN_NAME.fullmatch(name):
                    self.refuse(
                        UnrenderableRow(
                            SINK, protocol, row.admin_key_name, "interface name unusable in FRR"
                        )
                    )
                    continue
                found.setdefault(name, []).append(row)
        return dict(sorted(found.items()))

    def distinct_ids(self, rows: list[KeyRow], protocol: str, top: int) -> list[KeyRow]:
        """Rows whose key IDs fit the protocol and are unique on the interface."""
        kept: dict[int, KeyRow] = {}
        for row in sorted(rows, key=lambda r: r.admin_key_name):
            if not 1 <= row.spi <= top:
                self.refuse(
                    UnrenderableRow(SINK, protocol, row.admin_key_name, f"key ID outside 1..{top}")
                )
            elif row.spi in kept:
                self.refuse(
                    UnrenderableRow(
                        SINK,
                        protocol,
                        row.admin_key_name,
                        "another row has its key ID on its interface",
                    )
                )
            else:
                kept[row.spi] = row
        return [kept[spi] for spi in sorted(kept)]

    def chain(
        self, daemon: Daemon, interface: str, rows: list[KeyRow], algorithms: Mapping[str, str]
    ) -> KeyChain | None:
        protocol = "OSPFv2" if daemon is Daemon.OSPFD else "OSPFv3"
        usable = []
        for row in rows:
            if row.alg_id in algorithms:
                usable.append(row)
            else:
                self.refuse(
                    UnrenderableRow(
                        SINK, protocol, row.admin_key_name, f"{daemon.value} has no {row.alg_id}"
                    )
                )
        if not usable:
            return None
        name = self.config.chain_name(daemon, interface)
        windows, split = send_windows(usable)
        for spi in split:
            self.notes.append(
                f"key chain {name}: key {spi} would be sent again after a newer key ends;"
                " FRR is given only its first sending stretch"
            )
        keys = tuple(
            ChainKey(
                key_id=row.spi,
                algorithm=algorithms[row.alg_id],
                send=windows[row.spi],
                accept=_accept_window(row),
                key=row.key,
            )
            for row in usable
        )
        return KeyChain(name, daemon, keys)

    def ospf(self, rows: list[KeyRow], chains: dict[str, KeyChain]) -> dict[str, OspfInterface]:
        if not rows:
            return {}
        plans: dict[str, OspfInterface] = {}
        for interface, if_rows in self.by_interface(rows, "OSPFv2").items():
            usable = self.distinct_ids(if_rows, "OSPFv2", 255)
            if self.features.ospf_key_chains:
                chain = self.chain(Daemon.OSPFD, interface, usable, _OSPF_ALGORITHMS)
                if chain is not None:
                    chains[chain.name] = chain
                    closed = not self.chain_sends(chain)
                    plans[interface] = OspfInterface(interface, chain.name, closed=closed)
                else:
                    plans[interface] = OspfInterface(interface, closed=True)
                continue
            md5 = self.md5_keys(usable)
            plans[interface] = OspfInterface(interface, md5_keys=md5, closed=not md5)
        return plans

    def chain_sends(self, chain: KeyChain) -> bool:
        """Whether FRR finds a key of ``chain`` to send with at ``now``."""
        return any(k.send is not None and k.send[0] <= self.now <= k.send[1] for k in chain.keys)

    def md5_keys(self, rows: list[KeyRow]) -> tuple[Md5Key, ...]:
        """ospfd's message-digest keys, the key to send with last."""
        usable: list[KeyRow] = []
        for row in rows:
            if row.alg_id != "KEYED-MD5":
                self.need(FRR_OSPF_KEY_CHAIN, "OSPFv2")
            elif len(row.key) > MD5_KEY_MAX:
                self.refuse(
                    UnrenderableRow(
                        SINK, "OSPFv2", row.admin_key_name, "MD5 key over 16 characters"
                    )
                )
            elif not self.need(FRR_OSPF_MD5, "OSPFv2"):
                continue
            elif _sending(row, self.now) or _accepting(row, self.now):
                usable.append(row)
        if not usable:
            return ()
        senders = [r for r in usable if _sending(r, self.now)]
        last = max(senders or usable, key=_preference)
        ordered = [r for r in usable if r is not last] + [last]
        return tuple(Md5Key(r.spi, r.key) for r in ordered)

    def ospf6(self, rows: list[KeyRow], chains: dict[str, KeyChain]) -> dict[str, Ospf6Interface]:
        if not rows or not self.need(FRR_OSPF6_AUTH_TRAILER, "OSPFv3"):
            return {}
        plans: dict[str, Ospf6Interface] = {}
        for interface, if_rows in self.by_interface(rows, "OSPFv3").items():
            usable = self.distinct_ids(if_rows, "OSPFv3", 0xFFFF)
            chain = self.chain(Daemon.OSPF6D, interface, usable, _OSPF6_ALGORITHMS)
            if chain is not None:
                chains[chain.name] = chain
                closed = not self.chain_sends(chain)
                plans[interface] = Ospf6Interface(interface, chain.name, closed=closed)
            else:
                plans[interface] = Ospf6Interface(interface, closed=True)
        return plans


def frr_plan(
    rows: Iterable[KeyRow],
    config: FrrRenderConfig,
    features: FrrFeatures,
    now: UtcSeconds,
    *,
    keyed: Iterable[Secured] = (),
    rkmpd_closed: Iterable[Secured] | None = None,
    unlisted: Iterable[FrrBgpNeighbor] = (),
) -> FrrPlan:
    """The FRR configuration the sink owns for ``rows`` at ``now``. Rows FRR
    cannot take are left out and named in ``refused``. ``keyed``: what rkmpd
    has keyed before (``rkmp_frr.sinks.keyed``); of the secured neighbours
    and interfaces without a usable key, only these are closed.
    ``rkmpd_closed``: those of them rkmpd closed and has not reopened (the
    only ones a change reopens when their keys return); None: not known,
    any keyed one may be (``KeyedState.closed`` of an older state file).
    ``unlisted``: keyed BGP neighbours no ``bgp_neighbors`` entry lists any
    more, each in the ``router bgp`` it was found in: still secured, and
    closed (no row places a key there)."""
    keyed = frozenset(keyed)
    closed = keyed if rkmpd_closed is None else frozenset(rkmpd_closed) & keyed
    planner = _Planner(config, features, now, keyed, closed, tuple(unlisted))
    return planner.plan(rows)
