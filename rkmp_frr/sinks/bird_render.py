"""BIRD: the include file holding every key the key table has for BIRD.

BIRD reconfigures from files (``birdc configure``), so the sink renders
one whole file from the full desired state: deterministic (sorted, no
timestamps), so the same rows at the same instant give the same bytes and
an unchanged file needs no reconfiguration.

Design. BIRD 2 has no macros, and a key sits inside the block of the
protocol that uses it (``password`` inside ``protocol bgp``, passwords
inside an OSPF ``interface``). So the file holds whole protocol blocks whose
non-key parts come from the sink configuration: for BGP a session's name,
``from <template>`` (where the operator keeps everything else: channels,
filters, timers), ``local``/``neighbor`` and extra statements; for OSPF an
instance's areas and interfaces with extra statements at each level. The
operator's bird.conf defines the templates and ``include``\\ s the file.
Operators who want another shape override ``bird/rkmp.conf.j2``.

What each protocol becomes (facts in :mod:`rkmp_frr.sinks.features`):

- TCP-MD5: ``password "<key>";``, the key RFC 7210 §3 selects for sending
  at ``now`` (else the most recently accepted one). A change restarts the
  session (DESIGN.md §5): :meth:`BirdConfig.md5_changes_since` names them.
- TCP-AO (BIRD >= 2.17 / 3.1): ``authentication ao; keys { key { send id;
  recv id; secret; algorithm; [preferred|deprecated]; }; };``. Every key
  sent or accepted at ``now``; the key §3 selects for sending is
  ``preferred``, keys no longer sent (but still accepted) are
  ``deprecated`` (make-before-break; BIRD's RNext then moves the peer to the
  new key), keys not yet sent are plain. BIRD needs one key that is not
  deprecated; if there is none, the newest stays plain. BIRD leaves the MAC
  length to the kernel (96 bits) and always covers TCP options.
- OSPFv2/OSPFv3: ``authentication cryptographic;`` and one ``password``
  per row with ``id`` (the key ID, 0-255 in BIRD), ``algorithm`` and the
  row's lifetimes: BIRD picks the valid key with the latest ``generate
  from``, as RFC 7210 §3 does. BIRD's ``to`` is exclusive, so a closed end
  E is written E+1 s; unbounded ends are left out; a direction a row does
  not have gets an empty window. Times are in the BIRD daemon's time zone
  (:attr:`BirdRenderConfig.timezone`).
- IS-IS and BFD are refused; OSPFv3 over IPsec is the kernel's.

Fail closed. A session or secured interface that rkmpd has keyed before
(``keyed``, ``rkmp_frr.sinks.keyed``) is never rendered without
authentication: RP_revokeSA means the routing protocol stops using the SA,
so it must not fall back to unsecured messages either. One rkmpd has never
keyed is rendered as the sink configuration has it (no ``disabled``, no
``stub``, no authentication): mismatched RKMP credentials must not change
what runs. What BIRD 2.0.12 does, as observed in namespaces:

- BGP: the block gets ``disabled;`` (and no password or keys); ``birdc
  configure`` shuts the protocol down, and enables it again once a key is
  back and ``disabled`` is gone. Every BGP session of the sink
  configuration is secured.
- OSPF: an interface without a key valid for sending now gets ``stub
  yes;`` (BIRD sends nothing on it and ignores what it receives), with its
  not yet valid passwords if any. ``authentication cryptographic;`` without
  a usable password also blocks the adjacency, but BIRD then still sends
  hellos (AuType 2, no valid digest) and logs an error for each.
  Interfaces marked ``secured = false`` (loopbacks, networks without OSPF
  neighbours) are not closed, and key table rows for them are refused.

There is no option to fail open.

The output depends on ``now`` (which TCP-AO key is preferred, which MD5 key
is current, which rows are dead); :attr:`BirdConfig.next_change_at` says
when to render again.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from typing import Any

import jinja2

from rkmp_frr.keytable.errors import InvalidRow
from rkmp_frr.keytable.row import ALL, KeyRow
from rkmp_frr.keytable.utc import BEGINNING, FOREVER, UtcSeconds
from rkmp_frr.profiles.tcp_ao import TcpAoAlgorithm, mkt_from_row
from rkmp_frr.sinks.features import (
    BIRD_BFD_PEER_KEYS,
    BIRD_BGP_TCP_AO,
    BIRD_BGP_TCP_MD5,
    BIRD_CONFIG_SYNTAX,
    BIRD_ISIS,
    BIRD_OSPF2_CRYPTO,
    BIRD_OSPF3_AUTH_TRAILER,
    BIRD_TCP_AO_EXCLUDE_OPTIONS,
    BirdFeatures,
    FeatureGate,
)
from rkmp_frr.sinks.frr_config import canonical_address
from rkmp_frr.sinks.frr_plan import current_key
from rkmp_frr.sinks.keyed import Secured, SecuredKind, secured_interface
from rkmp_frr.sinks.render import (
    MissingSinkConfig,
    SinkError,
    UnrenderableRow,
    default_environment,
    next_change,
    render_template,
)
from rkmp_frr.sinks.secrets import mask_key
from rkmp_frr.wire.constants import ProtocolId

SINK = "bird"
TEMPLATE = "bird/rkmp.conf.j2"
_SYMBOL = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_IFNAME = re.compile(r'[^"\\\s\x00-\x1f\x7f]{1,64}')
_AREA = re.compile(r"\d{1,10}|\d{1,3}(\.\d{1,3}){3}")
_OSPF_ALGORITHMS = {
    "KEYED-MD5": "keyed md5",
    "HMAC-SHA-1": "hmac sha1",
    "HMAC-SHA-256": "hmac sha256",
    "HMAC-SHA-384": "hmac sha384",
    "HMAC-SHA-512": "hmac sha512",
}
_OSPF3_ALGORITHMS = {k: v for k, v in _OSPF_ALGORITHMS.items() if k != "KEYED-MD5"}
_AO_ALGORITHMS = {
    TcpAoAlgorithm.HMAC_SHA_1_96: "hmac sha1",
    TcpAoAlgorithm.AES_128_CMAC_96: "cmac aes128",
    TcpAoAlgorithm.HMAC_SHA_256_128: "hmac sha256",
}
PREFERRED, DEPRECATED = "preferred", "deprecated"


# --- sink configuration --------------------------------------------------------------------


def _symbol(what: str, name: str) -> None:
    if not _SYMBOL.fullmatch(name):
        raise ValueError(f"{what} {name!r} is not a BIRD symbol")


def _statements(what: str, lines: tuple[str, ...]) -> None:
    for line in lines:
        if not line.strip() or any(ord(c) < 0x20 and c != "\t" for c in line):
            raise ValueError(f"{what}: each extra statement is one non-empty line")


@dataclass(frozen=True, slots=True)
class BirdBgpSession:
    """``[[sinks.bird.bgp]]``: one ``protocol bgp`` block. ``options`` are
    extra statements written as given (with their ``;``); everything else
    (channels, filters, timers) belongs in the operator's ``template``."""

    name: str
    neighbor: str
    neighbor_as: int | None = None
    local_as: int | None = None
    local_address: str | None = None
    template: str | None = None
    options: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _symbol("protocol name", self.name)
        if self.template is not None:
            _symbol("template name", self.template)
        object.__setattr__(self, "neighbor", canonical_address(self.neighbor))
        if self.local_address is not None:
            object.__setattr__(self, "local_address", canonical_address(self.local_address))
        for asn in (self.neighbor_as, self.local_as):
            if asn is not None and not 1 <= asn <= 0xFFFF_FFFF:
                raise ValueError(f"AS number {asn} outside 1..4294967295")
        _statements(f"protocol {self.name}", self.options)


@dataclass(frozen=True, slots=True)
class BirdOspfInterface:
    """One ``interface "<name>"`` of an area; the key table's Interfaces
    field names it. ``options``: extra statements (``type ptp;``...).
    ``secured``: rkmpd keys it, and without a usable key it is made stub
    (fail closed); False for interfaces of the instance that run without
    authentication."""

    name: str
    options: tuple[str, ...] = ()
    secured: bool = True

    def __post_init__(self) -> None:
        if not _IFNAME.fullmatch(self.name):
            raise ValueError(f"interface name {self.name!r} unusable in BIRD")
        _statements(f"interface {self.name}", self.options)


@dataclass(frozen=True, slots=True)
class BirdOspfArea:
    area: str  # "0", "0.0.0.0" ...
    interfaces: tuple[BirdOspfInterface, ...]
    options: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _AREA.fullmatch(self.area):
            raise ValueError(f"area {self.area!r} is not a number or dotted quad")
        _statements(f"area {self.area}", self.options)

    @property
    def sort_key(self) -> int:
        if "." in self.area:
            return int(ipaddress.IPv4Address(self.area))
        return int(self.area)


@dataclass(frozen=True, slots=True)
class BirdOspfInstance:
    """``[[sinks.bird.ospf]]``: one ``protocol ospf v2|v3`` block."""

    name: str
    version: int  # 2 or 3
    areas: tuple[BirdOspfArea, ...]
    template: str | None = None
    options: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _symbol("protocol name", self.name)
        if self.template is not None:
            _symbol("template name", self.template)
        if self.version not in (2, 3):
            raise ValueError(f"OSPF version {self.version} is not 2 or 3")
        _statements(f"protocol {self.name}", self.options)

    @property
    def protocol(self) -> ProtocolId:
        return ProtocolId.OSPFV2 if self.version == 2 else ProtocolId.OSPFV3


@dataclass(frozen=True, slots=True)
class BirdRenderConfig:
    """The renderer's share of ``[sinks.bird]``."""

    bgp: tuple[BirdBgpSession, ...] = ()
    ospf: tuple[BirdOspfInstance, ...] = ()
    timezone: tzinfo = UTC  # the BIRD daemon's local time zone

    def __post_init__(self) -> None:
        names = [s.name for s in self.bgp] + [o.name for o in self.ospf]
        if len(names) != len(set(names)):
            raise ValueError("two BIRD protocols share a name")
        for version in (2, 3):
            seen: set[str] = set()
            for instance in self.ospf:
                if instance.version != version:
                    continue
                for area in instance.areas:
                    for interface in area.interfaces:
                        if interface.name in seen:
                            raise ValueError(
                                f"interface {interface.name} in two OSPFv{version} areas"
                            )
                        seen.add(interface.name)

    def sessions_for(self, peer: str) -> list[BirdBgpSession]:
        try:
            wanted = canonical_address(peer)
        except ValueError:
            return []
        return [s for s in self.bgp if s.neighbor == wanted]

    def interface(self, protocol: ProtocolId, name: str) -> BirdOspfInterface | None:
        return next(
            (
                interface
                for instance in self.ospf
                if instance.protocol == protocol
                for area in instance.areas
                for interface in area.interfaces
                if interface.name == name
            ),
            None,
        )

    def has_interface(self, protocol: ProtocolId, name: str) -> bool:
        return self.interface(protocol, name) is not None


# --- the result ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BirdConfig:
    """The rendered include file. ``text`` holds keys; ``masked_text`` is
    the same with keys masked."""

    text: str = field(repr=False)
    masked_text: str = field(repr=False)
    md5_passwords: Mapping[str, str] = field(repr=False)  # protocol name -> key
    notes: tuple[str, ...] = ()
    closed: tuple[str, ...] = ()  # fail closed: "<bgp protocol>", "<ospf protocol>/<interface>"
    refused: tuple[SinkError, ...] = ()
    next_change_at: UtcSeconds | None = None
    keyed: frozenset[Secured] = frozenset()  # the sessions and interfaces given keys

    def md5_changes_since(self, previous: BirdConfig | None) -> tuple[str, ...]:
        """BGP sessions whose TCP-MD5 password is set, changed or removed
        relative to ``previous`` (None: nothing applied yet): BIRD restarts
        each of them on ``configure``."""
        before = previous.md5_passwords if previous is not None else {}
        names = sorted(set(before) | set(self.md5_passwords))
        return tuple(n for n in names if before.get(n) != self.md5_passwords.get(n))

    def __repr__(self) -> str:
        return (
            f"BirdConfig({len(self.text)} chars, md5_sessions={sorted(self.md5_passwords)}, "
            f"closed={list(self.closed)}, notes={len(self.notes)}, refused={len(self.refused)}, "
            f"next_change_at={self.next_change_at})"
        )

    __str__ = __repr__


# --- rendering -------------------------------------------------------------------------------


def _sending(row: KeyRow, now: UtcSeconds) -> bool:
    return row.direction.sends and row.lifetimes.sending(now)


def _accepting(row: KeyRow, now: UtcSeconds) -> bool:
    return row.direction.accepts and row.lifetimes.accepting(now)


def _preference(row: KeyRow) -> tuple[int, int, int]:
    """RFC 7210 §3 order, as in ``keytable.selection``."""
    return (row.send_lifetime_start, row.accept_lifetime_start, row.spi)


def _window(start: UtcSeconds, end: UtcSeconds) -> tuple[UtcSeconds | None, UtcSeconds | None]:
    """A closed [start, end] as BIRD's (from, exclusive to); None: unbounded."""
    return (start if start > BEGINNING else None, end + 1 if end < FOREVER else None)


def session_item(name: str) -> Secured:
    """A BIRD BGP session, by protocol name."""
    return Secured(SecuredKind.BGP, name)


def interface_item(instance: BirdOspfInstance, name: str) -> Secured:
    """An interface of a BIRD OSPF protocol."""
    kind = SecuredKind.OSPF if instance.version == 2 else SecuredKind.OSPF6
    return secured_interface(kind, name, instance.name)


class _Renderer(FeatureGate[BirdFeatures]):
    def __init__(
        self,
        config: BirdRenderConfig,
        features: BirdFeatures,
        now: UtcSeconds,
        keyed: frozenset[Secured],
    ) -> None:
        self.config = config
        super().__init__(features)
        self.now = now
        self.keyed = keyed  # what rkmpd keyed before: only these fail closed
        self.given_keys: set[Secured] = set()
        self.notes: list[str] = []
        self.secrets: set[str] = set()
        self.live: list[KeyRow] = []
        self.closed: list[str] = []

    def contexts(
        self, rows: Iterable[KeyRow]
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
        """(real context, masked context, MD5 passwords by session)."""
        live = [
            r
            for r in rows
            if (r.direction.sends or r.direction.accepts) and not r.lifetimes.dead(self.now)
        ]
        self.live = live
        by_protocol: dict[ProtocolId, list[KeyRow]] = {}
        for row in live:
            by_protocol.setdefault(row.protocol, []).append(row)
        for protocol, requirement, name in (
            (ProtocolId.ISIS, BIRD_ISIS, "IS-IS"),
            (ProtocolId.BFD, BIRD_BFD_PEER_KEYS, "BFD"),
        ):
            if by_protocol.get(protocol):
                self.need(requirement, name)
        md5 = self.md5_by_session(by_protocol.get(ProtocolId.TCP_MD5, []))
        ao = self.ao_by_session(by_protocol.get(ProtocolId.TCP_AO, []))
        passwords = self.ospf_passwords(by_protocol)
        chosen_md5: dict[str, str] = {}
        real_sessions, shown_sessions = [], []
        for session in sorted(self.config.bgp, key=lambda s: s.name):
            keys = ao.get(session.name, [])
            password = md5.get(session.name)
            if keys and password is not None:
                self.notes.append(
                    f"protocol {session.name}: TCP-AO keys present, TCP-MD5 password left out"
                )
                password = None
            if password is not None:
                chosen_md5[session.name] = password.key
            if password is not None or keys:
                self.given_keys.add(session_item(session.name))
            disabled = password is None and not keys and session_item(session.name) in self.keyed
            if disabled:
                self.closed.append(session.name)
                self.notes.append(f"protocol {session.name}: no usable key, disabled (fail closed)")
            real_sessions.append(self.session(session, password, keys, disabled, reveal=True))
            shown_sessions.append(self.session(session, password, keys, disabled, reveal=False))
        real_ospf = [self.instance(i, passwords, reveal=True) for i in self._instances()]
        shown_ospf = [self.instance(i, passwords, reveal=False) for i in self._instances()]
        for instance in real_ospf:
            for area in instance["areas"]:
                for interface in area["interfaces"]:
                    if interface["closed"]:
                        where = f"{instance['name']}/{interface['name']}"
                        self.closed.append(where)
                        self.notes.append(
                            f"protocol {instance['name']} interface {interface['name']}:"
                            " no key to send with, stub (fail closed)"
                        )
        base = {"timezone": self.config.timezone}
        return (
            {**base, "bgp_sessions": real_sessions, "ospf_instances": real_ospf},
            {**base, "bgp_sessions": shown_sessions, "ospf_instances": shown_ospf},
            chosen_md5,
        )

    def _instances(self) -> list[BirdOspfInstance]:
        return sorted(self.config.ospf, key=lambda i: i.name)

    def key(self, key: str, reveal: bool) -> str:
        self.secrets.add(key)
        return key if reveal else mask_key(key)

    # --- BGP ---

    def sessions_of(self, rows: list[KeyRow], protocol: str) -> dict[str, list[KeyRow]]:
        found: dict[str, list[KeyRow]] = {}
        for row in rows:
            for peer in sorted(row.peers):
                sessions = self.config.sessions_for(peer)
                if not sessions:
                    self.refuse(MissingSinkConfig(SINK, protocol, f"BGP neighbour {peer}"))
                for session in sessions:
                    found.setdefault(session.name, []).append(row)
        return found

    def md5_by_session(self, rows: list[KeyRow]) -> dict[str, KeyRow]:
        if not rows or not self.need(BIRD_BGP_TCP_MD5, "TCP-MD5"):
            return {}
        chosen = {}
        for name, session_rows in self.sessions_of(rows, "TCP-MD5").items():
            row = current_key(session_rows, self.now)
            if row is not None:
                chosen[name] = row
        return chosen

    def ao_by_session(self, rows: list[KeyRow]) -> dict[str, list[dict[str, Any]]]:
        if not rows or not self.need(BIRD_BGP_TCP_AO, "TCP-AO"):
            return {}
        keys: dict[str, list[dict[str, Any]]] = {}
        for name, session_rows in self.sessions_of(rows, "TCP-AO").items():
            keys[name] = self.ao_keys(name, session_rows)
        return keys

    def ao_keys(self, session: str, rows: list[KeyRow]) -> list[dict[str, Any]]:
        current = [r for r in rows if _sending(r, self.now) or _accepting(r, self.now)]
        usable: list[tuple[KeyRow, Any]] = []
        send_ids: set[int] = set()
        recv_ids: set[int] = set()
        for row in sorted(current, key=lambda r: r.admin_key_name):
            try:
                mkt = mkt_from_row(row)
            except InvalidRow as exc:
                self.refuse(UnrenderableRow(SINK, "TCP-AO", row.admin_key_name, str(exc)))
                continue
            if not mkt.include_options:
                self.need(BIRD_TCP_AO_EXCLUDE_OPTIONS, "TCP-AO")
                continue
            if mkt.send_id in send_ids or mkt.recv_id in recv_ids:
                self.refuse(
                    UnrenderableRow(
                        SINK, "TCP-AO", row.admin_key_name, "another key has its Send or Recv ID"
                    )
                )
                continue
            send_ids.add(mkt.send_id)
            recv_ids.add(mkt.recv_id)
            usable.append((row, mkt))
            if mkt.algorithm is TcpAoAlgorithm.HMAC_SHA_256_128:
                self.notes.append(
                    f"protocol {session}: BIRD lets the kernel pick a 96-bit MAC for"
                    " hmac sha256 (the row says 128 bits); both ends must be BIRD"
                )
        senders = [row for row, _ in usable if _sending(row, self.now)]
        preferred = max(senders, key=_preference) if senders else None
        marks = {}
        for row, _ in usable:
            if row is preferred:
                marks[id(row)] = PREFERRED
            elif not row.direction.sends or self.now > row.send_lifetime_end:
                marks[id(row)] = DEPRECATED
        if usable and all(marks.get(id(row)) == DEPRECATED for row, _ in usable):
            newest = max((row for row, _ in usable), key=_preference)
            del marks[id(newest)]
            self.notes.append(
                f"protocol {session}: no TCP-AO key is current; BIRD needs one that is not"
                " deprecated, so the newest stays plain"
            )
        return [
            {
                "row": row.admin_key_name,
                "send_id": mkt.send_id,
                "recv_id": mkt.recv_id,
                "secret": row.key,
                "algorithm": _AO_ALGORITHMS[mkt.algorithm],
                "mark": marks.get(id(row)),
            }
            for row, mkt in sorted(usable, key=lambda pair: (pair[1].send_id, pair[1].recv_id))
        ]

    def session(
        self,
        session: BirdBgpSession,
        password: KeyRow | None,
        ao_keys: list[dict[str, Any]],
        disabled: bool,
        *,
        reveal: bool,
    ) -> dict[str, Any]:
        return {
            "name": session.name,
            "template": session.template,
            "neighbor": session.neighbor,
            "neighbor_as": session.neighbor_as,
            "local_address": session.local_address,
            "local_as": session.local_as,
            "options": list(session.options),
            "authentication_option": self.features.bgp_authentication_option,
            "disabled": disabled,
            "md5": (
                {"row": password.admin_key_name, "key": self.key(password.key, reveal)}
                if password is not None
                else None
            ),
            "ao_keys": [{**k, "secret": self.key(k["secret"], reveal)} for k in ao_keys],
        }

    # --- OSPF ---

    def ospf_passwords(
        self, by_protocol: Mapping[ProtocolId, list[KeyRow]]
    ) -> dict[tuple[ProtocolId, str], list[KeyRow]]:
        found: dict[tuple[ProtocolId, str], list[KeyRow]] = {}
        for protocol, name, requirement, algorithms in (
            (ProtocolId.OSPFV2, "OSPFv2", BIRD_OSPF2_CRYPTO, _OSPF_ALGORITHMS),
            (ProtocolId.OSPFV3, "OSPFv3", BIRD_OSPF3_AUTH_TRAILER, _OSPF3_ALGORITHMS),
        ):
            rows = by_protocol.get(protocol, [])
            if not rows or not self.need(requirement, name):
                continue
            for row in sorted(rows, key=lambda r: r.admin_key_name):
                problem = None
                if ALL in row.interfaces:
                    problem = "names no interface"
                elif row.alg_id not in algorithms:
                    problem = f"BIRD {name} has no {row.alg_id}"
                elif not 0 <= row.spi <= 255:
                    problem = "key ID outside BIRD's password IDs 0..255"
                if problem is not None:
                    self.refuse(UnrenderableRow(SINK, name, row.admin_key_name, problem))
                    continue
                for interface in sorted(row.interfaces):
                    configured = self.config.interface(protocol, interface)
                    if configured is None:
                        self.refuse(MissingSinkConfig(SINK, name, f"interface {interface}"))
                        continue
                    if not configured.secured:
                        self.refuse(
                            UnrenderableRow(
                                SINK,
                                name,
                                row.admin_key_name,
                                f"interface {interface} is configured with secured = false",
                            )
                        )
                        continue
                    on_interface = found.setdefault((protocol, interface), [])
                    if any(other.spi == row.spi for other in on_interface):
                        self.refuse(
                            UnrenderableRow(
                                SINK,
                                name,
                                row.admin_key_name,
                                "another row has its key ID on its interface",
                            )
                        )
                        continue
                    on_interface.append(row)
        return found

    def password(self, row: KeyRow, reveal: bool) -> dict[str, Any]:
        gen_from, gen_to = _window(row.send_lifetime_start, row.send_lifetime_end)
        acc_from, acc_to = _window(row.accept_lifetime_start, row.accept_lifetime_end)
        if not row.direction.sends:  # an empty generate window
            gen_from = gen_to = row.accept_lifetime_start
        if not row.direction.accepts:  # an empty accept window
            acc_from = acc_to = row.send_lifetime_start
        return {
            "row": row.admin_key_name,
            "id": row.spi,
            "key": self.key(row.key, reveal),
            "algorithm": _OSPF_ALGORITHMS[row.alg_id],
            "generate_from": gen_from,
            "generate_to": gen_to,
            "accept_from": acc_from,
            "accept_to": acc_to,
        }

    def instance(
        self,
        instance: BirdOspfInstance,
        passwords: Mapping[tuple[ProtocolId, str], list[KeyRow]],
        *,
        reveal: bool,
    ) -> dict[str, Any]:
        areas = []
        for area in sorted(instance.areas, key=lambda a: a.sort_key):
            interfaces = []
            for interface in sorted(area.interfaces, key=lambda i: i.name):
                rows = sorted(
                    passwords.get((instance.protocol, interface.name), []), key=lambda r: r.spi
                )
                sending = any(_sending(row, self.now) for row in rows)
                item = interface_item(instance, interface.name)
                if rows:
                    self.given_keys.add(item)
                keyed = bool(rows) or item in self.keyed
                interfaces.append(
                    {
                        "name": interface.name,
                        "options": list(interface.options),
                        "passwords": [self.password(row, reveal) for row in rows],
                        "closed": interface.secured and keyed and not sending,
                    }
                )
            areas.append({"id": area.area, "options": list(area.options), "interfaces": interfaces})
        return {
            "name": instance.name,
            "version": instance.version,
            "template": instance.template,
            "options": list(instance.options),
            "areas": areas,
        }


def render_bird(
    rows: Iterable[KeyRow],
    config: BirdRenderConfig,
    features: BirdFeatures,
    now: UtcSeconds,
    *,
    env: jinja2.Environment | None = None,
    strict: bool = True,
    keyed: Iterable[Secured] = (),
) -> BirdConfig:
    """The include file for every row BIRD should hold at ``now``. With
    ``strict``, the first refusal is raised; otherwise refused rows are left
    out and listed in ``refused``. ``keyed``: what rkmpd has keyed before
    (``rkmp_frr.sinks.keyed``); of the sessions and secured interfaces
    without a usable key, only these are closed."""
    features.require(BIRD_CONFIG_SYNTAX, "any protocol")
    renderer = _Renderer(config, features, now, frozenset(keyed))
    real, shown, md5 = renderer.contexts(rows)
    refused = tuple(renderer.refused.values())
    if strict and refused:
        raise refused[0]
    env = env or default_environment()
    text = render_template(env, TEMPLATE, real, renderer.secrets)
    masked = render_template(env, TEMPLATE, shown, renderer.secrets)
    return BirdConfig(
        text=text,
        masked_text=masked,
        md5_passwords=md5,
        notes=tuple(dict.fromkeys(renderer.notes)),
        closed=tuple(dict.fromkeys(renderer.closed)),
        refused=refused,
        next_change_at=next_change(renderer.live, now),
        keyed=frozenset(renderer.given_keys),
    )
