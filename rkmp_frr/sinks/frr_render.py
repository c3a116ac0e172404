"""FRR: the change between two plans (``rkmp_frr.sinks.frr_plan``), as
the vtysh commands that take FRR from the keys it has to the keys the key
table wants, and what ``show running-config`` must show afterwards.

:func:`frr_change` diffs two plans into vtysh commands, grouped per
daemon, rendered from the ``frr/<daemon>.j2`` templates (pure). The same
plan twice gives no commands. :func:`render_frr_change` makes both plans
from the current and the desired rows and diffs them.
:func:`applied_expectations` is what FRR shows while a plan is in place
(the drift check compares it with the running config).

Fail closed, as rendered (the plan says what is closed). What FRR 8.4
does, as observed in namespaces:

- BGP: ``neighbor X shutdown message rkmpd: no usable key`` (bgpd sends a
  Cease/Administrative Shutdown and refuses connections) before the
  password goes; when a key comes back, the password is set and then
  ``no neighbor X shutdown`` (which does not reset a session that is up).
- OSPFv2: ``ip ospf passive`` (ospfd sends nothing and ignores what it
  receives on the interface; the neighbour it had goes when its dead
  interval ends). ``ip ospf authentication message-digest``
  without a ``message-digest-key`` is no way to close: ospfd then sends and
  accepts null authentication (AuType 0), so the adjacency stays up.
- OSPFv3: ``ipv6 ospf6 passive``. A key chain without a key that is valid
  for sending is no way to close either: ospf6d then sends its packets
  without an authentication trailer (it drops what it receives).

Closed without a key: the keyed neighbours of
:attr:`FrrRenderConfig.bgp_neighbors`, every keyed interface, and any
that had keys in the plan applied before (closed when they go). A keyed
neighbour or interface closed when its state is not known (rkmpd
restarted) also loses the password / authentication FRR may still hold.
Reopening is the reverse: keys and authentication first, then ``no ...
shutdown`` / ``no ... passive``, in a second phase
(:attr:`FrrChange.open_phase`) that the applier runs only after the first
was read back. Only what rkmpd closed is reopened: closed in the applied
plan, or (state not known: a restart, a drifted part) recorded as closed
by rkmpd (``FrrPlan.rkmpd_closed``, ``rkmp_frr.sinks.keyed``). A first
key, a rekey, or keys after a restart do not touch a shutdown or passive
setting rkmpd did not put there (the operator's), and nothing is expected
of it. A neighbour or interface that loses its keys while the operator has
it closed (``FrrPlan.operator_closed``) loses its password or
authentication, gets no closing line of rkmpd's (the operator's stays as
it is, message and all), and that line is expected there (an operator
who lifts it while there is no key is drift: rkmpd closes it then, and
that closing is rkmpd's). There is no option to fail open.

Leftovers (``FrrPlan.leftovers`` of the desired plan: rkmpd's key lines
FRR still runs from before a restart) that the desired plan does not hold
are removed: ``no ip ospf message-digest-key <id>``, ``no key <id>`` in a
chain the plan keeps, ``no key chain`` for one it does not; a key with an
ID the plan adds is replaced by it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jinja2

from rkmp_frr.keytable.row import KeyRow
from rkmp_frr.keytable.utc import UtcSeconds
from rkmp_frr.sinks.features import Daemon, FrrFeatures
from rkmp_frr.sinks.frr_config import BgpRouter, FrrRenderConfig
from rkmp_frr.sinks.frr_lifetime import frr_lifetime
from rkmp_frr.sinks.frr_plan import (
    EMPTY_PLAN,
    ChainKey,
    FrrPlan,
    KeyChain,
    LeftoverChain,
    Md5Key,
    Ospf6Interface,
    OspfInterface,
    PartKind,
    PlanPart,
    Window,
    frr_plan,
)
from rkmp_frr.sinks.frr_running_config import ConfigExpectation, expect
from rkmp_frr.sinks.keyed import Secured, SecuredKind, frr_bgp, secured_interface
from rkmp_frr.sinks.render import SinkError, default_environment, render_template
from rkmp_frr.sinks.secrets import mask_key

# Sent to the BGP peer in the Cease notification (RFC 9003) and kept in the
# running config, so both operators see why the session is down.
SHUTDOWN_MESSAGE = "rkmpd: no usable key"
DAEMON_ORDER = (Daemon.BGPD, Daemon.OSPFD, Daemon.OSPF6D)


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

    def closed_by_rkmpd(self, item: Secured) -> bool:
        """Whether rkmpd had closed ``item`` (and not reopened it) when the
        desired plan was made: only then does a key lift its shutdown or
        passive setting; an operator's own stays, and is not expected gone."""
        return item in self.desired.rkmpd_closed

    def operators_before(self, item: Secured) -> bool:
        """Whether the applied plan found ``item`` closed by the operator
        (and so did not close it, and never lifts it)."""
        return item in self.current.operator_closed

    def operators_now(self, item: Secured) -> bool:
        """Whether the desired plan closes ``item`` with the operator's own
        line: expected there, left as it is."""
        return item in self.desired.operator_closed

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
            item = frr_bgp(neighbor, router.vrf)
            # Shut by rkmpd in the applied plan (not found shut by the operator).
            shut_before = slot in closed_before and not self.operators_before(item)
            if after is not None:
                line = f"neighbor {neighbor} password {after.key}"
                self.expectations.append(expect(context, line, secret=after.key, part=part))
                # Reopened only if rkmpd shut it: closed in the applied plan,
                # or recorded as closed by rkmpd (state not known after a
                # restart or drift). A shutdown rkmpd did not put there (a
                # first key, an operator's own, also one found when keys
                # were revoked) stays the operator's.
                reopen = before is None and (shut_before or self.closed_by_rkmpd(item))
                if reopen:
                    self.expectations.append(
                        expect(
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
                if reopen:
                    entry["open"].append({"neighbor": neighbor})
                    if slot in closed_before:
                        self.notes.append(f"BGP neighbour {neighbor}: key back, shutdown lifted")
                elif before is None and self.operators_before(item):
                    self.notes.append(
                        f"BGP neighbour {neighbor}: key back; the operator's shutdown stays"
                    )
                continue
            if slot not in self.desired.bgp_closed and not self.is_keyed(item):
                # Never keyed before the plan applied (a failed first key
                # being undone): handed back as it was, not shut.
                self.expectations.append(
                    expect(context, f"neighbor {neighbor} password", present=False, part=part)
                )
                if before is not None:
                    entry["unset"].append({"neighbor": neighbor})
                continue
            if self.operators_now(item):
                # Shut by the operator already: their line stays as it is
                # (message and all), expected there, never lifted by rkmpd.
                shutdown = f"neighbor {neighbor} shutdown"
                self.expectations.append(expect(context, shutdown, operators=True, part=part))
                if slot not in closed_before:
                    self.notes.append(
                        f"BGP neighbour {neighbor}: no usable key; shut down by the operator"
                        " already, left so (fail closed)"
                    )
            else:
                shutdown = f"neighbor {neighbor} shutdown message {SHUTDOWN_MESSAGE}"
                self.expectations.append(expect(context, shutdown, part=part))
                if not shut_before:
                    entry["close"].append({"neighbor": neighbor})
                    resets.append(neighbor)
                    self.notes.append(
                        f"BGP neighbour {neighbor}: no usable key, shut down (fail closed)"
                    )
            self.expectations.append(
                expect(context, f"neighbor {neighbor} password", present=False, part=part)
            )
            # A state not known yet (rkmpd restarted after the keys went):
            # FRR may still hold the password rkmpd set before.
            if before is not None or slot not in closed_before:
                entry["unset"].append({"neighbor": neighbor})
        used = [r for r in routers.values() if r["set"] or r["unset"] or r["close"] or r["open"]]
        return {"routers": used, "shutdown_message": SHUTDOWN_MESSAGE}, resets

    # --- key chains ---

    def chains(self, daemon: Daemon, reveal: bool) -> dict[str, Any]:
        leftovers = {c.name: c for c in self.desired.leftovers.chains}
        names = sorted(
            name
            for name in {*self.current.key_chains, *self.desired.key_chains, *leftovers}
            if self.chain_daemon(name, leftovers) is daemon
        )
        updates, removals, deletions = [], [], []
        for name in names:
            before, after = self.current.key_chains.get(name), self.desired.key_chains.get(name)
            part = PlanPart(PartKind.KEY_CHAIN, name)
            if after is None:
                deletions.append(name)
                self.expectations.append(expect((), f"key chain {name}", present=False, part=part))
                continue
            self.expect_chain(after)
            changed = [k for k in after.keys if before is None or before.key(k.key_id) != k]
            if changed:
                updates.append(
                    {"name": name, "entries": [self.key_context(k, reveal) for k in changed]}
                )
            # A leftover chain's old keys (from before a restart) go as well.
            held = [k.key_id for k in before.keys] if before else []
            found = leftovers[name].key_ids if name in leftovers else ()
            gone = [i for i in dict.fromkeys((*held, *sorted(found))) if after.key(i) is None]
            if gone:
                removals.append({"name": name, "key_ids": gone})
                self.expectations.extend(
                    expect((f"key chain {name}",), f"key {i}", present=False, part=part)
                    for i in gone
                )
        return {
            "chain_updates": updates,
            "chain_key_removals": removals,
            "chain_deletions": deletions,
        }

    def chain_daemon(self, name: str, leftovers: Mapping[str, LeftoverChain]) -> Daemon:
        chain = self.current.key_chains.get(name) or self.desired.key_chains.get(name)
        return chain.daemon if chain is not None else leftovers[name].daemon

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
        self.expectations.append(expect((), top, part=part))
        for key in chain.keys:
            self.secrets.add(key.key)
            block = (top, f"key {key.key_id}")
            self.expectations += [
                expect((top,), f"key {key.key_id}", part=part),
                expect(block, f"key-string {key.key}", secret=key.key, part=part),
                expect(block, f"cryptographic-algorithm {key.algorithm}", part=part),
                expect(block, f"send-lifetime {self.lifetime(key.send)}", part=part),
                expect(block, f"accept-lifetime {self.lifetime(key.accept)}", part=part),
            ]

    # --- ospfd / ospf6d interfaces ---

    def ospf(self, reveal: bool) -> dict[str, Any]:
        interfaces = []
        named = _named(self.current.ospf, self.desired.ospf)
        leftover = {name for name, _ in self.desired.leftovers.md5}
        for name in sorted(named | leftover):
            if name not in named:  # old keys only, on an interface this change leaves
                interfaces.append(self.md5_leftovers(name, self.desired.leftovers.md5_ids(name)))
                continue
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
            # rkmpd's old keys from before a restart go too (a key with an
            # ID the plan adds is replaced by it).
            wanted_ids = {k.key_id for k in after_md5}
            removed += [
                i
                for i in self.desired.leftovers.md5_ids(name)
                if i not in wanted_ids and i not in removed
            ]
            before_auth = before.auth if before else None
            auth_on = after.auth if after.auth and after.auth != before_auth else None
            unknown = before is None and after.closed  # closed after a restart: FRR may hold keys
            auth_off = after.auth is None and (before_auth is not None or unknown)
            if after.auth is not None:
                line = f"ip ospf authentication {after.auth}"
                self.expectations.append(expect(context, line, part=part))
            else:
                line = "ip ospf authentication"
                self.expectations.append(expect(context, line, present=False, part=part))
            close, reopen = self.passive(
                part, "ip ospf passive", before, after, released=released,
                item=secured_interface(SecuredKind.OSPF, name),
            )  # fmt: skip
            for key in after_md5:
                self.secrets.add(key.key)
                line = f"ip ospf message-digest-key {key.key_id} md5 {key.key}"
                self.expectations.append(expect(context, line, secret=key.key, part=part))
            self.expectations.extend(
                expect(context, f"ip ospf message-digest-key {i}", present=False, part=part)
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

    def md5_leftovers(self, name: str, key_ids: Sequence[int]) -> dict[str, Any]:
        """The template entry removing rkmpd's old message-digest keys
        (``key_ids``) from an interface the change does not otherwise touch."""
        part = PlanPart(PartKind.OSPF, name)
        self.expectations.extend(
            expect((f"interface {name}",), f"ip ospf message-digest-key {i}", present=False,
                   part=part)
            for i in key_ids
        )  # fmt: skip
        return {
            "name": name, "close": False, "md5_add": [], "md5_remove": list(key_ids),
            "auth_on": None, "auth_off": False, "open": False,
        }  # fmt: skip

    def passive(
        self,
        part: PlanPart,
        line: str,
        before: OspfInterface | Ospf6Interface | None,
        after: OspfInterface | Ospf6Interface,
        *,
        released: bool,
        item: Secured,
    ) -> tuple[bool, bool]:
        """(close, reopen) for one interface (``item``), with the
        expectation. Only a passive setting rkmpd put there is lifted (and
        then expected gone): ``before`` closed it (and had not found it
        passive by the operator), or, in a state not known yet (no
        ``before``: rkmpd restarted, or the part drifted), rkmpd recorded
        that it had closed it. An operator's own passive setting stays: on
        a first key, on a rekey, after a restart, after a revoke that found
        it (then it is expected, and not set again). A ``released`` one
        (handed back to the operator: a refused first key undone) is
        reopened only if ``before`` closed it, and nothing is expected of
        it."""
        what = f"{'OSPFv2' if isinstance(after, OspfInterface) else 'OSPFv3'} on {after.name}"
        if released and (before is None or not before.closed):
            return False, False
        context = (f"interface {part.name}",)
        closed_before = before is not None and before.closed and not self.operators_before(item)
        if after.closed and self.operators_now(item):
            self.expectations.append(expect(context, line, operators=True, part=part))
            if before is None or not before.closed:
                self.notes.append(
                    f"{what}: no usable key; passive by the operator already, left so (fail closed)"
                )
            return False, False
        if after.closed:
            self.expectations.append(expect(context, line, part=part))
            close = not closed_before
            if close:
                self.notes.append(f"{what}: no usable key, interface passive (fail closed)")
            return close, False
        reopen = closed_before if before is not None else self.closed_by_rkmpd(item)
        if not reopen:
            if before is not None and before.closed and self.operators_before(item):
                self.notes.append(f"{what}: key back; the operator's passive setting stays")
            return False, False
        self.expectations.append(expect(context, line, present=False, opening=True, part=part))
        if before is not None:
            self.notes.append(f"{what}: key back, interface no longer passive")
        return False, True

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
                self.expectations.append(expect(context, line, part=part))
            else:
                self.expectations.append(
                    expect(context, "ipv6 ospf6 authentication", present=False, part=part)
                )
            close, reopen = self.passive(
                part, "ipv6 ospf6 passive", before, after, released=released,
                item=secured_interface(SecuredKind.OSPF6, name),
            )  # fmt: skip
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
    rkmpd_closed: Iterable[Secured] | None = None,
) -> FrrChange:
    """The commands taking FRR from the rows applied (at ``applied_at``,
    default ``now``) to the rows wanted at ``now``. With ``strict``, the
    first refusal is raised; otherwise the change leaves the refused rows
    out and lists them in ``refused``. ``keyed``: what rkmpd had keyed,
    ``rkmpd_closed``: what of it rkmpd had closed (None: not known, any;
    both plans are made with them)."""
    keyed = frozenset(keyed)
    closed = None if rkmpd_closed is None else frozenset(rkmpd_closed)
    applied = now if applied_at is None else applied_at
    current = frr_plan(current_rows, config, features, applied, keyed=keyed, rkmpd_closed=closed)
    desired = frr_plan(desired_rows, config, features, now, keyed=keyed, rkmpd_closed=closed)
    if strict and desired.refused:
        raise desired.refused[0]
    current = dataclasses.replace(current, refused=(), notes=())
    return frr_change(current, desired, config, features, env=env)


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
