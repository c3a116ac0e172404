"""FRR: the vtysh commands that take FRR from the keys it has to the keys
the key table wants, and what ``show running-config`` must show afterwards.

Two steps, both pure:

1. :func:`frr_plan` turns key table rows (at an instant ``now``) into the
   FRR configuration the sink owns: BGP neighbour passwords, OSPF
   interface keys, key chains and the interfaces bound to them.
2. :func:`frr_change` diffs two plans into vtysh commands, grouped per
   daemon, rendered from the ``frr/<daemon>.j2`` templates. The same plan
   twice gives no commands.

:func:`render_frr_change` does both for the current and the desired rows.

What each protocol becomes (facts in :mod:`rkmp_frr.sinks.features`):

- TCP-MD5 (RFC 2385): ``neighbor <addr> password <key>`` in the
  ``router bgp`` the sink configuration names for that address. One key per
  neighbour: the row RFC 7210 §3 selects for sending at ``now`` (else the
  most recently accepted one). Every change resets the session (DESIGN.md
  §5), which the result reports.
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
now (its keys revoked by RP_revokeSA, expired, refused) is shut, never left
unauthenticated: RP_revokeSA means the routing protocol stops using the SA,
so it must not fall back to sending unsecured messages either. One rkmpd
has never keyed is left exactly as the operator configured it (no line at
all): mismatched RKMP credentials must not change the routing config. What
FRR 8.4 does, as observed in namespaces:

- BGP: ``neighbor X shutdown message rkmpd: no usable key`` (bgpd sends a
  Cease/Administrative Shutdown and refuses connections) before the
  password goes; when a key comes back, the password is set and then
  ``no neighbor X shutdown`` (which does not reset a session that is up).
  Secured neighbours: those of :attr:`FrrRenderConfig.bgp_neighbors`.
- OSPFv2: ``ip ospf passive`` (ospfd sends nothing and ignores what it
  receives on the interface; the neighbour it had goes when its dead
  interval ends). ``ip ospf authentication message-digest``
  without a ``message-digest-key`` is no way to close: ospfd then sends and
  accepts null authentication (AuType 0), so the adjacency stays up.
- OSPFv3: ``ipv6 ospf6 passive``. A key chain without a key that is valid
  for sending is no way to close either: ospf6d then sends its packets
  without an authentication trailer (it drops what it receives).
- A key chain interface whose keys are none of them valid for sending now
  stays closed (with its chain) until one is, at ``next_change_at``.

Closed without a key: the keyed neighbours of
:attr:`FrrRenderConfig.bgp_neighbors`, every keyed interface, and any
that had keys in the plan applied before (closed when they go). A keyed
neighbour or interface closed when its state is not known (rkmpd
restarted) also loses the password / authentication FRR may still hold.
Reopening is the reverse: keys and authentication first, then ``no ...
shutdown`` / ``no ... passive``, in a second phase
(:attr:`FrrChange.open_phase`) that the applier runs only after the first
was read back. A first key for a never-keyed neighbour or interface does
not touch its shutdown or passive setting. There is no option to fail
open.

FRR reads lifetimes as local time: :class:`FrrRenderConfig.timezone` must be
the FRR daemons' time zone. FRR's lifetime years are 1993-2035: earlier
starts are clamped to 1993, ends after 2035 become ``infinite``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from enum import StrEnum
from typing import Any

import jinja2

from rkmp_frr.keytable.protocols import protocol_name
from rkmp_frr.keytable.row import ALL, KeyRow
from rkmp_frr.keytable.utc import FOREVER, UtcSeconds
from rkmp_frr.sinks.features import (
    FRR_BFD_RFC5880_AUTH,
    FRR_BGP_TCP_AO,
    FRR_BGP_TCP_MD5,
    FRR_ISIS_KEY_IDS,
    FRR_OSPF6_AUTH_TRAILER,
    FRR_OSPF_KEY_CHAIN,
    FRR_OSPF_MD5,
    Daemon,
    FrrFeatures,
    Requirement,
    unsupported,
)
from rkmp_frr.sinks.keyed import Secured, SecuredKind, frr_bgp, secured_interface
from rkmp_frr.sinks.render import (
    MissingSinkConfig,
    SinkError,
    UnrenderableRow,
    default_environment,
    instant_of,
    local_time,
    mask_key,
    next_change,
    render_template,
)
from rkmp_frr.wire.constants import ProtocolId

SINK = "frr"
_NAME = re.compile(r"[A-Za-z0-9_.:@+-]{1,64}")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MD5_KEY_MAX = 16  # ospfd copies at most 16 characters of a message-digest key
# Sent to the BGP peer in the Cease notification (RFC 9003) and kept in the
# running config, so both operators see why the session is down.
SHUTDOWN_MESSAGE = "rkmpd: no usable key"
DAEMON_ORDER = (Daemon.BGPD, Daemon.OSPFD, Daemon.OSPF6D)

# RFC 7210 AlgID -> FRR `cryptographic-algorithm`, per daemon.
_OSPF_ALGORITHMS = {
    "KEYED-MD5": "md5",
    "HMAC-SHA-1": "hmac-sha-1",
    "HMAC-SHA-256": "hmac-sha-256",
    "HMAC-SHA-384": "hmac-sha-384",
    "HMAC-SHA-512": "hmac-sha-512",
}
_OSPF6_ALGORITHMS = {k: v for k, v in _OSPF_ALGORITHMS.items() if k != "KEYED-MD5"}


# --- sink configuration --------------------------------------------------------------------


def _check_name(what: str, name: str) -> None:
    if not _NAME.fullmatch(name):
        raise ValueError(f"{what} {name!r} is not a plain FRR name")


def canonical_address(text: str) -> str:
    """An IP address in its canonical text form (ValueError otherwise)."""
    return str(ipaddress.ip_address(text))


@dataclass(frozen=True, order=True, slots=True)
class BgpRouter:
    """One ``router bgp <asn> [vrf <name>]`` block."""

    asn: int
    vrf: str = ""  # "" is the default VRF

    @property
    def header(self) -> str:
        return f"router bgp {self.asn}" + (f" vrf {self.vrf}" if self.vrf else "")


@dataclass(frozen=True, slots=True)
class FrrBgpNeighbor:
    """``[[sinks.frr.bgp_neighbor]]``: the ``router bgp`` a neighbour (by
    address; the operator configures it there) belongs to."""

    address: str
    asn: int
    vrf: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "address", canonical_address(self.address))
        if not 1 <= self.asn <= 0xFFFF_FFFF:
            raise ValueError(f"AS number {self.asn} outside 1..4294967295")
        if self.vrf is not None:
            _check_name("VRF", self.vrf)

    @property
    def router(self) -> BgpRouter:
        return BgpRouter(self.asn, self.vrf or "")


@dataclass(frozen=True, slots=True)
class FrrRenderConfig:
    """The renderer's share of ``[sinks.frr]``. Every BGP neighbour listed
    and every OSPF interface in ``ospf_interfaces`` / ``ospf6_interfaces``
    (the interfaces of the ``[[peer.protocol]]`` tables that no BIRD sink
    lists) is secured by rkmpd: once keyed, without a usable key it is
    shut (fail closed; see the module doc)."""

    bgp_neighbors: tuple[FrrBgpNeighbor, ...] = ()
    key_chain_prefix: str = "rkmp"
    timezone: tzinfo = UTC  # the FRR daemons' local time zone
    ospf_interfaces: tuple[str, ...] = ()
    ospf6_interfaces: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_name("key chain prefix", self.key_chain_prefix)
        for name in (*self.ospf_interfaces, *self.ospf6_interfaces):
            _check_name("interface", name)
        seen: set[str] = set()
        for neighbor in self.bgp_neighbors:
            if neighbor.address in seen:
                raise ValueError(f"BGP neighbour {neighbor.address} configured twice")
            seen.add(neighbor.address)

    def neighbor(self, address: str) -> FrrBgpNeighbor | None:
        try:
            wanted = canonical_address(address)
        except ValueError:
            return None
        return next((n for n in self.bgp_neighbors if n.address == wanted), None)

    def chain_name(self, daemon: Daemon, interface: str) -> str:
        kind = "ospf" if daemon is Daemon.OSPFD else "ospf6"
        return f"{self.key_chain_prefix}-{kind}-{interface}"


# --- the plan --------------------------------------------------------------------------------

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

    def keyed_items(self) -> frozenset[Secured]:
        """The neighbours and interfaces this plan puts keys into."""
        v2, v3 = SecuredKind.OSPF, SecuredKind.OSPF6
        bgp = {frr_bgp(neighbor, router.vrf) for router, neighbor in self.bgp}
        ospf = (secured_interface(v2, n) for n, i in self.ospf.items() if i.holds_keys)
        ospf6 = (secured_interface(v3, n) for n, i in self.ospf6.items() if i.holds_keys)
        return frozenset((*bgp, *ospf, *ospf6))


EMPTY_PLAN = FrrPlan()


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
    return dataclasses.replace(
        plan,
        bgp={slot: entry for slot, entry in plan.bgp.items() if slot not in gone_bgp},
        bgp_closed=tuple(slot for slot in plan.bgp_closed if slot not in gone_bgp),
        key_chains={n: c for n, c in plan.key_chains.items() if n not in gone_chains},
        ospf={n: i for n, i in plan.ospf.items() if n not in gone_ospf},
        ospf6={n: i for n, i in plan.ospf6.items() if n not in gone_ospf6},
    )


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


class _Planner:
    """Builds one plan; collects refusals instead of stopping at the first."""

    def __init__(
        self,
        config: FrrRenderConfig,
        features: FrrFeatures,
        now: UtcSeconds,
        keyed: frozenset[Secured],
    ) -> None:
        self.config = config
        self.features = features
        self.now = now
        self.keyed = keyed
        self.refused: dict[str, SinkError] = {}
        self.notes: list[str] = []

    def refuse(self, error: SinkError) -> None:
        self.refused.setdefault(str(error), error)

    def need(self, requirement: Requirement, protocol: str) -> bool:
        """Whether FRR has ``requirement``; if not, the refusal is kept."""
        if self.features.has(requirement):
            return True
        self.refuse(unsupported(requirement, self.features.version, protocol))
        return False

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
        # Fail closed only what rkmpd has keyed (rkmp_frr.sinks.keyed).
        bgp_closed = tuple(
            sorted(
                (n.router, n.address)
                for n in self.config.bgp_neighbors
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
            if item.kind is SecuredKind.OSPF and _NAME.fullmatch(item.name):
                ospf.setdefault(item.name, OspfInterface(item.name, closed=True))
            elif item.kind is SecuredKind.OSPF6 and _NAME.fullmatch(item.name):
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
                if not _NAME.fullmatch(name):
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
) -> FrrPlan:
    """The FRR configuration the sink owns for ``rows`` at ``now``. Rows FRR
    cannot take are left out and named in ``refused``. ``keyed``: what rkmpd
    has keyed before (``rkmp_frr.sinks.keyed``); of the secured neighbours
    and interfaces without a usable key, only these are closed."""
    return _Planner(config, features, now, frozenset(keyed)).plan(rows)


# --- lifetimes as FRR writes them ------------------------------------------------------------


def _frr_clock(instant: UtcSeconds, tz: tzinfo, zero_pad_day: bool) -> str:
    moment = local_time(instant, tz)
    day = f"{moment.day:02d}" if zero_pad_day else str(moment.day)
    return f"{moment:%H:%M:%S} {_MONTHS[moment.month - 1]} {day} {moment.year}"


def frr_lifetime(window: Window, tz: tzinfo, *, zero_pad_day: bool = True) -> str:
    """A ``send-lifetime`` / ``accept-lifetime`` argument: ``HH:MM:SS Mon DD
    YYYY HH:MM:SS Mon DD YYYY`` or ``... infinite``, in ``tz``. FRR's years
    are 1993-2035; None (never) is a one-second window in 1993."""
    first = instant_of(datetime(1993, 1, 1, tzinfo=tz))
    last = instant_of(datetime(2035, 12, 31, 23, 59, 59, tzinfo=tz))
    if window is not None and (window[0] > last or window[1] < first):
        window = None
    if window is None:
        start, end = first, first + 1
    else:
        start, end = max(window[0], first), window[1]
        if end >= FOREVER or end > last:
            return f"{_frr_clock(start, tz, zero_pad_day)} infinite"
        end = max(end, start + 1)  # FRR wants the end after the start
    return f"{_frr_clock(start, tz, zero_pad_day)} {_frr_clock(end, tz, zero_pad_day)}"


# --- running-config expectations -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConfigExpectation:
    """A line ``show running-config`` must (``present``) or must not show
    inside the blocks ``context`` (their header lines, outermost first).
    An absent line matches every line that starts with its words."""

    context: tuple[str, ...]
    line: str = field(repr=False)  # may hold a key
    present: bool = True
    shown: str = field(default="", compare=False)  # the line with keys masked
    # An "is open" expectation (no shutdown / no passive): met only after
    # the second, opening vtysh run (see FrrChange.open_phase).
    opening: bool = field(default=False, compare=False)
    # The part of the plan the line belongs to (drift: what to apply again).
    part: PlanPart | None = field(default=None, compare=False)

    def __repr__(self) -> str:
        state = "present" if self.present else "absent"
        return f"ConfigExpectation({' / '.join(self.context) or '<top>'}: {self.shown!r} {state})"

    __str__ = __repr__


def _expect(
    context: tuple[str, ...],
    line: str,
    *,
    secret: str = "",
    present: bool = True,
    opening: bool = False,
    part: PlanPart | None = None,
) -> ConfigExpectation:
    shown = line.replace(secret, mask_key(secret)) if secret else line
    return ConfigExpectation(context, line, present, shown, opening, part)


_IGNORED = frozenset({"!", "exit", "end", "exit-address-family", "exit-vrf", "exit-vnc", "quit"})


def parse_running_config(text: str) -> dict[tuple[str, ...], list[tuple[str, ...]]]:
    """``show running-config`` as lines (word tuples) per block context.
    FRR indents a block's lines one space deeper than its header."""
    found: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
    stack: list[tuple[int, str]] = []
    for raw in text.splitlines():
        words = tuple(raw.split())
        if not words or " ".join(words) in _IGNORED:
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        context = tuple(header for _, header in stack)
        found.setdefault(context, []).append(words)
        stack.append((indent, " ".join(words)))
    return found


def unmet_expectations(
    running_config: str, expectations: Iterable[ConfigExpectation]
) -> tuple[ConfigExpectation, ...]:
    """The expectations ``running_config`` does not satisfy."""
    lines = parse_running_config(running_config)
    unmet = []
    for expectation in expectations:
        wanted = tuple(expectation.line.split())
        context = tuple(" ".join(h.split()) for h in expectation.context)
        here = lines.get(context, [])
        if expectation.present:
            ok = wanted in here
        else:
            ok = not any(words[: len(wanted)] == wanted for words in here)
        if not ok:
            unmet.append(expectation)
    return tuple(unmet)


# --- the change ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FrrChange:
    """The commands taking FRR from one plan to another.

    ``commands`` (per daemon, in order, without indentation, to run inside
    ``configure terminal``) hold keys; ``display`` is the same, as rendered,
    with keys masked. ``running_config_expectations`` covers the whole
    desired plan and what it removes. ``desired`` is the plan to pass as
    the current one next time."""

    commands: Mapping[Daemon, tuple[str, ...]] = field(repr=False)
    display: Mapping[Daemon, str] = field(repr=False)
    running_config_expectations: tuple[ConfigExpectation, ...] = field(repr=False)
    resets_sessions: bool
    reset_neighbors: tuple[str, ...]
    notes: tuple[str, ...]
    refused: tuple[SinkError, ...]
    desired: FrrPlan = field(repr=False)
    # The same commands in two runs: everything but the opening lines, then
    # the opening lines (no shutdown / no passive) alone. ``vtysh -f`` goes
    # on past a failed line, so a neighbour is opened only once its key is
    # in and read back.
    key_phase: Mapping[Daemon, tuple[str, ...]] = field(default_factory=dict, repr=False)
    open_phase: Mapping[Daemon, tuple[str, ...]] = field(default_factory=dict, repr=False)

    @property
    def empty(self) -> bool:
        return not any(self.commands.values())

    @property
    def next_change_at(self) -> UtcSeconds | None:
        return self.desired.next_change_at

    def vtysh_commands(self) -> tuple[str, ...]:
        """Every daemon's commands, in the order to run them."""
        return tuple(line for daemon in DAEMON_ORDER for line in self.commands.get(daemon, ()))

    def key_commands(self) -> tuple[str, ...]:
        """The first run: every daemon's commands but the opening lines."""
        return tuple(line for daemon in DAEMON_ORDER for line in self.key_phase.get(daemon, ()))

    def open_commands(self) -> tuple[str, ...]:
        """The second run: the opening lines alone (empty: one run does)."""
        return tuple(line for daemon in DAEMON_ORDER for line in self.open_phase.get(daemon, ()))

    def key_expectations(self) -> tuple[ConfigExpectation, ...]:
        """What the running config must show after the first run."""
        return tuple(e for e in self.running_config_expectations if not e.opening)

    def opening_expectations(self) -> tuple[ConfigExpectation, ...]:
        """The "is open" lines (no shutdown / no passive), met only after
        the second run: what the first run must leave as it is."""
        return tuple(e for e in self.running_config_expectations if e.opening)

    def masked_text(self) -> str:
        """The change as it may be printed or logged (keys masked)."""
        parts = []
        for daemon in DAEMON_ORDER:
            text = self.display.get(daemon, "").strip("\n")
            if text:
                parts.append(f"! {daemon.value}\n{text}\n")
        return "".join(parts)

    def __repr__(self) -> str:
        counts = ", ".join(f"{d.value}: {len(c)}" for d, c in self.commands.items() if c)
        return (
            f"FrrChange(commands=[{counts}], resets_sessions={self.resets_sessions}, "
            f"reset_neighbors={self.reset_neighbors!r}, notes={len(self.notes)}, "
            f"refused={len(self.refused)})"
        )

    __str__ = __repr__


def _md5_ops(
    current: Sequence[Md5Key], desired: Sequence[Md5Key]
) -> tuple[list[Md5Key], list[int]]:
    """(keys to (re)add, in order; key IDs to remove). Adding a key ID puts
    it last (ospfd drops an existing key with that ID first), so the keys
    kept in place must be a prefix of ``desired`` that ``current`` already
    holds in that order; the rest are (re)added after them."""
    wanted_ids = {k.key_id for k in desired}
    removed = [k.key_id for k in current if k.key_id not in wanted_ids]
    kept = 0
    for key in current:
        if kept < len(desired) and key == desired[kept]:
            kept += 1
    return list(desired[kept:]), removed


class _Change:
    """Builds the template contexts and expectations of one change."""

    def __init__(
        self, current: FrrPlan, desired: FrrPlan, config: FrrRenderConfig, features: FrrFeatures
    ) -> None:
        self.current = current
        self.desired = desired
        self.tz = config.timezone
        self.pad = features.keychain_day_zero_padded
        self.features = features
        self.expectations: list[ConfigExpectation] = []
        self.notes: list[str] = list(desired.notes)
        self.secrets: set[str] = set()

    def is_keyed(self, item: Secured) -> bool:
        """Whether the desired plan closes ``item`` without a key."""
        return item in self.desired.keyed

    def lifetime(self, window: Window) -> str:
        return frr_lifetime(window, self.tz, zero_pad_day=self.pad)

    # --- bgpd ---

    def bgp(self, reveal: bool) -> tuple[dict[str, Any], list[str]]:
        """Passwords set, changed or removed, and neighbours shut or reopened.
        A neighbour that loses its key is shut first and loses its password
        after; one that gets a key gets it before it is reopened (the
        template's order). A neighbour the applied plan keyed and the desired
        one does not name at all is shut too: never left unauthenticated. One
        the applied plan had closed and the desired one does not name is left
        as it is (it has no key to remove, and a restore must not expect it)."""
        routers: dict[BgpRouter, dict[str, Any]] = {}
        resets: list[str] = []
        closed_before = set(self.current.bgp_closed)
        slots = set(self.current.bgp) | set(self.desired.bgp) | set(self.desired.bgp_closed)
        for slot in sorted(slots):
            router, neighbor = slot
            before, after = self.current.bgp.get(slot), self.desired.bgp.get(slot)
            entry = routers.setdefault(
                router,
                {"asn": router.asn, "vrf": router.vrf, "set": [], "unset": [], "close": [],
                 "open": []},
            )  # fmt: skip
            context = (router.header,)
            part = PlanPart(PartKind.BGP, neighbor, router)
            if after is not None:
                line = f"neighbor {neighbor} password {after.key}"
                self.expectations.append(_expect(context, line, secret=after.key, part=part))
                # A first key for a neighbour rkmpd never keyed: it never shut
                # it either, so its shutdown setting stays the operator's.
                first = (
                    before is None
                    and slot not in closed_before
                    and not self.is_keyed(frr_bgp(neighbor, router.vrf))
                )
                if not first:
                    self.expectations.append(
                        _expect(
                            context,
                            f"neighbor {neighbor} shutdown",
                            present=False,
                            opening=True,
                            part=part,
                        )
                    )
                self.secrets.add(after.key)
                if before is None or before.key != after.key:
                    key = after.key if reveal else mask_key(after.key)
                    entry["set"].append({"neighbor": neighbor, "key": key})
                    resets.append(neighbor)
                if before is None and not first:  # closed, or in a state not known yet
                    entry["open"].append({"neighbor": neighbor})
                    if slot in closed_before:
                        self.notes.append(f"BGP neighbour {neighbor}: key back, shutdown lifted")
                continue
            if slot not in self.desired.bgp_closed and not self.is_keyed(
                frr_bgp(neighbor, router.vrf)
            ):
                # Never keyed before the plan applied (a failed first key
                # being undone): handed back as it was, not shut.
                self.expectations.append(
                    _expect(context, f"neighbor {neighbor} password", present=False, part=part)
                )
                if before is not None:
                    entry["unset"].append({"neighbor": neighbor})
                continue
            shutdown = f"neighbor {neighbor} shutdown message {SHUTDOWN_MESSAGE}"
            self.expectations.append(_expect(context, shutdown, part=part))
            self.expectations.append(
                _expect(context, f"neighbor {neighbor} password", present=False, part=part)
            )
            if slot not in closed_before:
                entry["close"].append({"neighbor": neighbor})
                resets.append(neighbor)
                self.notes.append(
                    f"BGP neighbour {neighbor}: no usable key, shut down (fail closed)"
                )
            # A state not known yet (rkmpd restarted after the keys went):
            # FRR may still hold the password rkmpd set before.
            if before is not None or slot not in closed_before:
                entry["unset"].append({"neighbor": neighbor})
        used = [r for r in routers.values() if r["set"] or r["unset"] or r["close"] or r["open"]]
        return {"routers": used, "shutdown_message": SHUTDOWN_MESSAGE}, resets

    # --- key chains ---

    def chains(self, daemon: Daemon, reveal: bool) -> dict[str, Any]:
        names = sorted(
            name
            for name in set(self.current.key_chains) | set(self.desired.key_chains)
            if (self.current.key_chains.get(name) or self.desired.key_chains[name]).daemon is daemon
        )
        updates, removals, deletions = [], [], []
        for name in names:
            before, after = self.current.key_chains.get(name), self.desired.key_chains.get(name)
            part = PlanPart(PartKind.KEY_CHAIN, name)
            if after is None:
                deletions.append(name)
                self.expectations.append(_expect((), f"key chain {name}", present=False, part=part))
                continue
            self.expect_chain(after)
            changed = [k for k in after.keys if before is None or before.key(k.key_id) != k]
            if changed:
                updates.append(
                    {"name": name, "entries": [self.key_context(k, reveal) for k in changed]}
                )
            gone = [
                k.key_id for k in (before.keys if before else ()) if after.key(k.key_id) is None
            ]
            if gone:
                removals.append({"name": name, "key_ids": gone})
                self.expectations.extend(
                    _expect((f"key chain {name}",), f"key {i}", present=False, part=part)
                    for i in gone
                )
        return {
            "chain_updates": updates,
            "chain_key_removals": removals,
            "chain_deletions": deletions,
        }

    def key_context(self, key: ChainKey, reveal: bool) -> dict[str, Any]:
        return {
            "id": key.key_id,
            "key": key.key if reveal else mask_key(key.key),
            "algorithm": key.algorithm,
            "send": self.lifetime(key.send),
            "accept": self.lifetime(key.accept),
        }

    def expect_chain(self, chain: KeyChain) -> None:
        top = f"key chain {chain.name}"
        part = PlanPart(PartKind.KEY_CHAIN, chain.name)
        self.expectations.append(_expect((), top, part=part))
        for key in chain.keys:
            self.secrets.add(key.key)
            block = (top, f"key {key.key_id}")
            self.expectations += [
                _expect((top,), f"key {key.key_id}", part=part),
                _expect(block, f"key-string {key.key}", secret=key.key, part=part),
                _expect(block, f"cryptographic-algorithm {key.algorithm}", part=part),
                _expect(block, f"send-lifetime {self.lifetime(key.send)}", part=part),
                _expect(block, f"accept-lifetime {self.lifetime(key.accept)}", part=part),
            ]

    # --- ospfd / ospf6d interfaces ---

    def ospf(self, reveal: bool) -> dict[str, Any]:
        interfaces = []
        for name in sorted(_named(self.current.ospf, self.desired.ospf)):
            before = self.current.ospf.get(name)
            # An interface that had keys and is no longer named is closed,
            # unless rkmpd had not keyed it (a failed first key undone).
            keyed = self.is_keyed(secured_interface(SecuredKind.OSPF, name))
            after = self.desired.ospf.get(name) or OspfInterface(name, closed=keyed)
            released = name not in self.desired.ospf and not keyed
            context = (f"interface {name}",)
            part = PlanPart(PartKind.OSPF, name)
            before_md5 = before.md5_keys if before else ()
            after_md5 = after.md5_keys if not after.key_chain else ()
            added, removed = _md5_ops(before_md5, after_md5)
            before_auth = before.auth if before else None
            auth_on = after.auth if after.auth and after.auth != before_auth else None
            unknown = before is None and after.closed  # closed after a restart: FRR may hold keys
            auth_off = after.auth is None and (before_auth is not None or unknown)
            if after.auth is not None:
                line = f"ip ospf authentication {after.auth}"
                self.expectations.append(_expect(context, line, part=part))
            else:
                line = "ip ospf authentication"
                self.expectations.append(_expect(context, line, present=False, part=part))
            close, reopen = self.passive(
                part, "ip ospf passive", before, after, released=released, known=keyed
            )
            for key in after_md5:
                self.secrets.add(key.key)
                line = f"ip ospf message-digest-key {key.key_id} md5 {key.key}"
                self.expectations.append(_expect(context, line, secret=key.key, part=part))
            self.expectations.extend(
                _expect(context, f"ip ospf message-digest-key {i}", present=False, part=part)
                for i in removed
            )
            if (
                before_md5
                and after_md5
                and before_md5[-1] != after_md5[-1]
                and not self.features.ospf_md5_accepts_any_key
            ):
                self.notes.append(
                    f"ospfd on {name} now sends with MD5 key {after_md5[-1].key_id}; before FRR 9.1"
                    " ospfd accepts only the key it sends with, so packets are dropped until both"
                    " ends have switched"
                )
            if added or removed or auth_on or auth_off or close or reopen:
                interfaces.append(
                    {
                        "name": name,
                        "close": close,
                        "md5_add": [
                            {"id": k.key_id, "key": k.key if reveal else mask_key(k.key)}
                            for k in added
                        ],
                        "md5_remove": removed,
                        "auth_on": auth_on,
                        "auth_off": auth_off,
                        "open": reopen,
                    }
                )
        return {"interfaces": interfaces}

    def passive(
        self,
        part: PlanPart,
        line: str,
        before: OspfInterface | Ospf6Interface | None,
        after: OspfInterface | Ospf6Interface,
        *,
        released: bool,
        known: bool,
    ) -> tuple[bool, bool]:
        """(close, reopen) for one interface, with the expectation. An
        interface rkmpd keyed before (``known``) in a state not known yet
        (no ``before``: rkmpd restarted) is reopened explicitly: rkmpd may
        have closed it. One rkmpd never keyed keeps the operator's passive
        setting when it gets its first key. A ``released`` one (handed back
        to the operator: a refused first key undone) is reopened only if
        ``before`` closed it, and nothing is expected of it."""
        what = f"{'OSPFv2' if isinstance(after, OspfInterface) else 'OSPFv3'} on {after.name}"
        if released and (before is None or not before.closed):
            return False, False
        if before is None and not known and not after.closed:
            return False, False
        context = (f"interface {part.name}",)
        if after.closed:
            self.expectations.append(_expect(context, line, part=part))
            close = before is None or not before.closed
            if close:
                self.notes.append(f"{what}: no usable key, interface passive (fail closed)")
            return close, False
        self.expectations.append(_expect(context, line, present=False, opening=True, part=part))
        if before is not None and before.closed:
            self.notes.append(f"{what}: key back, interface no longer passive")
        return False, before is None or before.closed

    def ospf6(self) -> dict[str, Any]:
        interfaces = []
        for name in sorted(_named(self.current.ospf6, self.desired.ospf6)):
            before = self.current.ospf6.get(name)
            keyed = self.is_keyed(secured_interface(SecuredKind.OSPF6, name))
            after = self.desired.ospf6.get(name) or Ospf6Interface(name, closed=keyed)
            released = name not in self.desired.ospf6 and not keyed
            context = (f"interface {name}",)
            part = PlanPart(PartKind.OSPF6, name)
            if after.key_chain is not None:
                line = f"ipv6 ospf6 authentication keychain {after.key_chain}"
                self.expectations.append(_expect(context, line, part=part))
            else:
                self.expectations.append(
                    _expect(context, "ipv6 ospf6 authentication", present=False, part=part)
                )
            close, reopen = self.passive(
                part, "ipv6 ospf6 passive", before, after, released=released, known=keyed
            )
            before_chain = before.key_chain if before else None
            auth_on = after.key_chain if after.key_chain != before_chain else None
            unknown = before is None and after.closed
            auth_off = after.key_chain is None and (before_chain is not None or unknown)
            if auth_on or auth_off or close or reopen:
                interfaces.append(
                    {
                        "name": name,
                        "close": close,
                        "auth_on": auth_on,
                        "auth_off": auth_off,
                        "open": reopen,
                    }
                )
        return {"interfaces": interfaces}

    def contexts(self, reveal: bool) -> tuple[dict[Daemon, dict[str, Any]], list[str]]:
        bgp, resets = self.bgp(reveal)
        ospfd = {**self.chains(Daemon.OSPFD, reveal), **self.ospf(reveal)}
        ospf6d = {**self.chains(Daemon.OSPF6D, reveal), **self.ospf6()}
        return {Daemon.BGPD: bgp, Daemon.OSPFD: ospfd, Daemon.OSPF6D: ospf6d}, resets


def _named(
    current: Mapping[str, OspfInterface] | Mapping[str, Ospf6Interface],
    desired: Mapping[str, OspfInterface] | Mapping[str, Ospf6Interface],
) -> set[str]:
    """The interfaces a change concerns: the desired plan's, and those of
    the applied plan that are open or hold keys (they are closed if the
    desired plan no longer names them). A closed, keyless interface that is
    no longer named is left as it is."""
    kept = {
        name for name, interface in current.items() if not interface.closed or interface.holds_keys
    }
    return set(desired) | kept


def _commands(text: str) -> tuple[str, ...]:
    """Rendered text as vtysh commands: one per line, unindented, without
    blank lines or ``!`` comments."""
    lines = (line.strip() for line in text.splitlines())
    return tuple(line for line in lines if line and not line.startswith("!"))


def _phases(daemon: Daemon, context: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A daemon's template context split in two: without the opening
    entries, and with them alone (see FrrChange.key_phase)."""
    if daemon is Daemon.BGPD:
        routers = context["routers"]
        key_routers = [{**r, "open": []} for r in routers if r["set"] or r["unset"] or r["close"]]
        open_routers = [{**r, "set": [], "unset": [], "close": []} for r in routers if r["open"]]
        return {**context, "routers": key_routers}, {**context, "routers": open_routers}
    interfaces = context["interfaces"]
    quiet: dict[str, Any] = {"close": False, "auth_on": None, "auth_off": False, "open": True}
    if daemon is Daemon.OSPFD:
        quiet |= {"md5_add": [], "md5_remove": []}
    key_interfaces = [{**i, "open": False} for i in interfaces]
    key_interfaces = [i for i in key_interfaces if any(v for k, v in i.items() if k != "name")]
    open_context = {
        **context,
        "chain_updates": [],
        "chain_key_removals": [],
        "chain_deletions": [],
        "interfaces": [{**i, **quiet} for i in interfaces if i["open"]],
    }
    return {**context, "interfaces": key_interfaces}, open_context


def _opens_anything(daemon: Daemon, context: Mapping[str, Any]) -> bool:
    return bool(context["routers"] if daemon is Daemon.BGPD else context["interfaces"])


def frr_change(
    current: FrrPlan,
    desired: FrrPlan,
    config: FrrRenderConfig,
    features: FrrFeatures,
    *,
    env: jinja2.Environment | None = None,
) -> FrrChange:
    """The vtysh commands taking FRR from ``current`` to ``desired``."""
    env = env or default_environment()
    shown, _ = _Change(current, desired, config, features).contexts(reveal=False)
    change = _Change(current, desired, config, features)
    real, resets = change.contexts(reveal=True)
    commands: dict[Daemon, tuple[str, ...]] = {}
    display: dict[Daemon, str] = {}
    key_phase: dict[Daemon, tuple[str, ...]] = {}
    open_phase: dict[Daemon, tuple[str, ...]] = {}
    base = {"timezone": config.timezone}
    for daemon in DAEMON_ORDER:
        name = f"frr/{daemon.value}.j2"

        def render(context: Mapping[str, Any], template: str = name) -> tuple[str, ...]:
            return _commands(render_template(env, template, {**base, **context}, change.secrets))

        commands[daemon] = render(real[daemon])
        display[daemon] = render_template(env, name, {**base, **shown[daemon]}, change.secrets)
        keys, opens = _phases(daemon, real[daemon])
        open_phase[daemon] = render(opens) if _opens_anything(daemon, opens) else ()
        key_phase[daemon] = render(keys) if open_phase[daemon] else commands[daemon]
    expectations = tuple(dict.fromkeys(change.expectations))
    return FrrChange(
        key_phase=key_phase,
        open_phase=open_phase,
        commands=commands,
        display=display,
        running_config_expectations=expectations,
        resets_sessions=bool(resets),
        reset_neighbors=tuple(resets),
        notes=tuple(change.notes),
        refused=desired.refused,
        desired=desired,
    )


def render_frr_change(
    current_rows: Iterable[KeyRow],
    desired_rows: Iterable[KeyRow],
    config: FrrRenderConfig,
    features: FrrFeatures,
    now: UtcSeconds,
    *,
    applied_at: UtcSeconds | None = None,
    env: jinja2.Environment | None = None,
    strict: bool = True,
    keyed: Iterable[Secured] = (),
) -> FrrChange:
    """The commands taking FRR from the rows applied (at ``applied_at``,
    default ``now``) to the rows wanted at ``now``. With ``strict``, the
    first refusal is raised; otherwise the change leaves the refused rows
    out and lists them in ``refused``. ``keyed``: what rkmpd had keyed
    (both plans are made with it)."""
    keyed = frozenset(keyed)
    applied = now if applied_at is None else applied_at
    current = frr_plan(current_rows, config, features, applied, keyed=keyed)
    desired = frr_plan(desired_rows, config, features, now, keyed=keyed)
    if strict and desired.refused:
        raise desired.refused[0]
    current = dataclasses.replace(current, refused=(), notes=())
    return frr_change(current, desired, config, features, env=env)


# --- drift: what FRR no longer runs of the plan applied ------------------------------------


@dataclass(frozen=True, slots=True)
class Drift:
    """The lines of an applied plan that ``show running-config`` no
    longer shows as they were applied (FRR restarted and lost rkmpd's
    lines, or an operator changed them by hand). Keys only masked."""

    unmet: tuple[ConfigExpectation, ...]

    @property
    def parts(self) -> tuple[PlanPart, ...]:
        """The drifted parts, each once, in a stable order."""
        found = {e.part: None for e in self.unmet if e.part is not None}
        return tuple(sorted(found, key=str))

    def describe(self, limit: int = 4) -> str:
        """One line: each drifted part and its first unmet line (masked)."""
        shown: list[str] = []
        for part in self.parts[:limit]:
            first = next(e for e in self.unmet if e.part == part)
            state = "missing" if first.present else "present"
            shown.append(f"{part}: {first.shown!r} {state}")
        more = len(self.parts) - limit
        return "; ".join(shown) + (f"; and {more} more" if more > 0 else "")


def applied_expectations(
    plan: FrrPlan,
    config: FrrRenderConfig,
    features: FrrFeatures,
    *,
    env: jinja2.Environment | None = None,
) -> tuple[ConfigExpectation, ...]:
    """What ``show running-config`` shows while ``plan`` is in place: the
    lines of its full rendering (as a first apply checks them), without
    the "is open" ones. A neighbour shut or an interface made passive by
    hand is the operator's decision, not drift; a closed one that opened
    again (its shutdown or passive line gone) is drift."""
    full = frr_change(EMPTY_PLAN, plan, config, features, env=env)
    return tuple(
        e for e in full.running_config_expectations if not e.opening and e.part is not None
    )


def find_drift(running_config: str, expectations: Iterable[ConfigExpectation]) -> Drift | None:
    """The drift of ``running_config`` from ``expectations`` (those of
    :func:`applied_expectations`); None when FRR runs them all."""
    unmet = unmet_expectations(running_config, expectations)
    return Drift(unmet) if unmet else None
