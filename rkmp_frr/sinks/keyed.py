"""Which neighbours and interfaces a routing-daemon sink has keyed.

Fail closed (``rkmp_frr.sinks.frr_plan``, ``bird_render``) shuts a
secured BGP neighbour or OSPF interface that has no usable key, so that
RP_revokeSA never lets a session fall back to running unauthenticated (an
attacker who blocks RKMP until the liveness checks fail must not get an
unauthenticated session out of it). That guard only makes sense for what
rkmpd has keyed: a neighbour or interface that rkmpd never keyed (its RKMP
SA never came up, e.g. mismatched credentials) is the operator's, and is
left exactly as the operator configured it, with whatever key (or none) it
runs with.

So each sink remembers what it has ever put a key into: a :class:`Secured`
(a BGP neighbour, an OSPFv2 or OSPFv3 interface) enters the set when a
key for it is about to be applied, and leaves it only when that apply was
refused and undone, or when the operator resets it. The set must survive
rkmpd restarts in both directions (a restart must not reopen a revoked
neighbour, nor close a never-keyed one), so :class:`KeyedState` keeps it
in a small file under rkmpd's ``state_dir``: one item per line, written
atomically (temporary file, fsync, rename; mode 0600).

It also remembers which of them rkmpd itself closed (shut, made passive)
and has not reopened yet: rkmpd lifts only a shutdown or passive setting
it put there. An operator's own ``neighbor X shutdown`` or ``ip ospf
passive`` on a keyed item stays, and a rekey does not expect it gone
(ospfd's passive line carries no message that would say whose it is, so
this record is the only way to tell). The item is recorded as closed
before the closing command goes in, and as open again only after an apply
that gives it keys was read back. An item the operator had closed already
when its keys were revoked is not recorded as closed: rkmpd finds it so
(``rkmp_frr.sinks.frr_discovery``), leaves the operator's line, and does
not lift it when keys return. (The BIRD sink does not use this: its
include file is rendered from the sink configuration each time, so an
operator's ``disabled;`` or ``stub yes;`` there stays whatever rkmpd adds
or takes out around it.)

Lines: ``keyed bgp 192.0.2.1`` (keyed, open as far as rkmpd is
concerned), ``closed ospf eth0`` (keyed, closed by rkmpd). A line without
the first word (``bgp 192.0.2.1``: files written before closing was
recorded) is keyed and counted as closed by rkmpd, since rkmpd may have
closed it: it is reopened explicitly when its keys return, as before.

Resetting (the operator takes a neighbour back from rkmpd): stop rkmpd,
delete the item's line (or the whole file), start rkmpd. rkmpd then leaves
that neighbour alone until it keys it again; a shutdown or passive line it
had put there stays until the operator lifts it.

Key lines (:class:`KeyRecord`). The FRR sink also notes which key lines
it has put into FRR, by name only: ``md5-key eth0 5`` (an ``ip ospf
message-digest-key 5`` on eth0) and ``key-chain ospf6 rkmp-ospf6-eth1``
(a key chain it created, every key in it rkmpd's). FRR keeps them in its
running config across an rkmpd restart, and nothing in the line says whose
it is: this record is how a restarted rkmpd removes its old keys (after a
new key ID, after a revoke) and leaves an operator's own message-digest
keys and key chains alone. A record is added before its key goes in and
dropped once the line was seen gone. Files without these lines (older
versions) are read as before; an older rkmpd refuses a file that has them
(delete those lines to go back).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from rkmp_frr.sinks.atomic_file import write_atomically

FILE_MODE = 0o600


class SecuredKind(StrEnum):
    """What a sink secures; the word that starts a line of the state file."""

    BGP = "bgp"  # a BGP neighbour (FRR: address [vrf NAME]; BIRD: protocol name)
    OSPF = "ospf"  # an OSPFv2 interface (FRR: name; BIRD: protocol/interface)
    OSPF6 = "ospf6"  # an OSPFv3 interface (same naming)


@dataclass(frozen=True, slots=True)
class Secured:
    """One BGP neighbour or OSPF interface of one sink."""

    kind: SecuredKind
    name: str

    def __post_init__(self) -> None:
        if not self.name or self.name != self.name.strip() or "\n" in self.name:
            raise ValueError(f"unusable {self.kind.value} name {self.name!r}")

    def __str__(self) -> str:
        return f"{self.kind.value} {self.name}"

    @property
    def sort_key(self) -> tuple[str, str]:
        return (self.kind.value, self.name)

    @classmethod
    def parse(cls, line: str) -> Secured:
        kind, _, name = line.strip().partition(" ")
        try:
            return cls(SecuredKind(kind), name.strip())
        except ValueError:
            raise ValueError(f"not '<bgp|ospf|ospf6> <name>': {line.strip()!r}") from None


def frr_bgp(address: str, vrf: str = "") -> Secured:
    """An FRR BGP neighbour (its canonical address, and its VRF if not the default)."""
    return Secured(SecuredKind.BGP, f"{address} vrf {vrf}" if vrf else address)


def secured_interface(kind: SecuredKind, name: str, instance: str | None = None) -> Secured:
    """An OSPF interface; for BIRD, of the protocol ``instance``."""
    return Secured(kind, f"{instance}/{name}" if instance else name)


class KeyRecordKind(StrEnum):
    """The first word of a key line of the state file."""

    MD5 = "md5-key"  # ospfd: ``ip ospf message-digest-key <id>`` on an interface
    CHAIN = "key-chain"  # a key chain rkmpd created (ospfd's or ospf6d's)


@dataclass(frozen=True, slots=True, order=True)
class KeyRecord:
    """A key line rkmpd put into FRR, named without its key: an OSPFv2
    message-digest key (``interface`` and ``key_id``) or a key chain
    (``protocol`` OSPF or OSPF6, whose interfaces use it, and ``name``)."""

    kind: KeyRecordKind
    name: str  # the interface (md5-key) or the key chain
    key_id: int = 0  # md5-key only
    protocol: SecuredKind = SecuredKind.OSPF  # key-chain: ospf or ospf6

    def __post_init__(self) -> None:
        if not self.name or len(self.name.split()) != 1:
            raise ValueError(f"unusable {self.kind.value} name {self.name!r}")
        if self.kind is KeyRecordKind.MD5 and not 1 <= self.key_id <= 255:
            raise ValueError(f"md5-key ID outside 1..255: {self.key_id}")
        if self.kind is KeyRecordKind.CHAIN and self.protocol is SecuredKind.BGP:
            raise ValueError("a key chain is ospf's or ospf6's")

    def __str__(self) -> str:
        if self.kind is KeyRecordKind.MD5:
            return f"{self.kind.value} {self.name} {self.key_id}"
        return f"{self.kind.value} {self.protocol.value} {self.name}"

    @classmethod
    def parse(cls, line: str) -> KeyRecord:
        words = line.split()
        try:
            if len(words) == 3 and words[0] == KeyRecordKind.MD5:
                return cls(KeyRecordKind.MD5, words[1], int(words[2]))
            if len(words) == 3 and words[0] == KeyRecordKind.CHAIN:
                return cls(KeyRecordKind.CHAIN, words[2], protocol=SecuredKind(words[1]))
        except ValueError:
            pass
        raise ValueError(
            f"not 'md5-key <interface> <id>' or 'key-chain <ospf|ospf6> <name>': {line.strip()!r}"
        )


def md5_key(interface: str, key_id: int) -> KeyRecord:
    """ospfd's ``ip ospf message-digest-key <key_id>`` on ``interface``."""
    return KeyRecord(KeyRecordKind.MD5, interface, key_id)


def key_chain(protocol: SecuredKind, name: str) -> KeyRecord:
    """A key chain used by ``protocol``'s interfaces (ospf or ospf6)."""
    return KeyRecord(KeyRecordKind.CHAIN, name, protocol=protocol)


class KeyedStateError(Exception):
    """The state file cannot be read or is not in the expected form (one
    line, no key: the file holds no secret)."""


class ItemState(StrEnum):
    """The first word of a state file line: what rkmpd did to the item."""

    KEYED = "keyed"  # rkmpd has put keys into it and has not closed it
    CLOSED = "closed"  # rkmpd has closed it (no usable key) and not reopened it


@dataclass(frozen=True, slots=True)
class KeyedFile:
    """What a state file holds."""

    items: frozenset[Secured]
    closed: frozenset[Secured]  # of items, those rkmpd closed
    keys: frozenset[KeyRecord]


def parse_keyed_file(text: str, source: str = "state file") -> KeyedFile:
    """A state file's text (``#`` comments and blank lines ignored). A
    line without a state word (an older file) is closed: rkmpd may have
    closed it. KeyedStateError names the first bad line."""
    items: set[Secured] = set()
    closed: set[Secured] = set()
    keys: set[KeyRecord] = set()
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        first, _, rest = line.strip().partition(" ")
        state = ItemState(first) if first in set(ItemState) else None
        try:
            if state is None and first in set(KeyRecordKind):
                keys.add(KeyRecord.parse(line))
                continue
            item = Secured.parse(rest if state is not None else line)
        except ValueError as exc:
            raise KeyedStateError(f"{source}:{number}: {exc}") from None
        items.add(item)
        if state is not ItemState.KEYED:
            closed.add(item)
    return KeyedFile(frozenset(items), frozenset(closed), frozenset(keys))


def parse_keyed_state(
    text: str, source: str = "state file"
) -> tuple[frozenset[Secured], frozenset[Secured]]:
    """(every keyed item, the items rkmpd closed) of a state file's text
    (see :func:`parse_keyed_file`)."""
    parsed = parse_keyed_file(text, source)
    return parsed.items, parsed.closed


def parse_keyed(text: str, source: str = "state file") -> frozenset[Secured]:
    """The keyed items of a state file's text (see :func:`parse_keyed_state`)."""
    return parse_keyed_state(text, source)[0]


def format_keyed(
    sink: str,
    items: Iterable[Secured],
    closed: Iterable[Secured] = (),
    keys: Iterable[KeyRecord] = (),
) -> str:
    closed = frozenset(closed)
    keys = sorted(set(keys))
    key_lines = [
        "# Key lines rkmpd put into FRR (no key material): removed when no longer used,",
        "# also after a restart; other key lines are the operator's.",
        *(str(record) for record in keys),
    ]
    lines = [
        f"# rkmpd {sink} sink: the BGP neighbours and OSPF interfaces it has keyed",
        "# ('closed': rkmpd shut it or made it passive, and lifts that when keys return).",
        "# Without a usable key these are shut (fail closed); anything not listed is",
        "# left as the operator configured it. To give one back: stop rkmpd, delete",
        "# its line, start rkmpd, and lift the shutdown/passive by hand if present.",
        *(
            f"{ItemState.CLOSED if item in closed else ItemState.KEYED} {item}"
            for item in sorted(set(items) | closed, key=lambda s: s.sort_key)
        ),
        *(key_lines if keys else ()),
    ]
    return "\n".join(lines) + "\n"


class KeyedState:
    """A sink's keyed set, and which of its items rkmpd closed, persisted
    at ``path`` (None: in memory only, for a dry run or a test)."""

    def __init__(
        self,
        sink: str,
        path: Path | None = None,
        items: Iterable[Secured] = (),
        closed: Iterable[Secured] = (),
        keys: Iterable[KeyRecord] = (),
    ) -> None:
        self.sink = sink
        self.path = path
        self._closed = frozenset(closed)
        self._items = frozenset(items) | self._closed
        self._keys = frozenset(keys)

    @classmethod
    def load(cls, sink: str, path: Path | None) -> KeyedState:
        """The state at ``path`` (empty if there is no file yet)."""
        if path is None:
            return cls(sink)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(sink, path)
        except (OSError, UnicodeDecodeError) as exc:
            raise KeyedStateError(f"cannot read {path}: {_reason(exc)}") from None
        parsed = parse_keyed_file(text, str(path))
        return cls(sink, path, parsed.items, parsed.closed, parsed.keys)

    @property
    def items(self) -> frozenset[Secured]:
        return self._items

    @property
    def closed(self) -> frozenset[Secured]:
        """The keyed items rkmpd has closed and not reopened since."""
        return self._closed

    @property
    def keys(self) -> frozenset[KeyRecord]:
        """The key lines rkmpd has put into FRR and not seen gone since."""
        return self._keys

    def record_keys(self, records: Iterable[KeyRecord]) -> None:
        """Add ``records`` (key lines about to go in), written to disk
        before this returns. OSError: not recorded (the state is unchanged)."""
        keys = self._keys | frozenset(records)
        if keys != self._keys:
            self._store(self._items, self._closed, keys)

    def forget_keys(self, records: Iterable[KeyRecord]) -> None:
        """Take ``records`` out (their lines were seen gone from FRR).
        OSError: not written (they stay recorded: removed if seen again)."""
        keys = self._keys - frozenset(records)
        if keys != self._keys:
            self._store(self._items, self._closed, keys)

    def __contains__(self, item: object) -> bool:
        return item in self._items

    def record(
        self, items: Iterable[Secured], closing: Iterable[Secured] = ()
    ) -> frozenset[Secured]:
        """Add ``items`` (keyed), and note ``closing`` (keyed items rkmpd is
        about to close) as closed, written to disk before this returns; the
        items that were new. OSError: not recorded (the state is unchanged)."""
        new = frozenset(items) - self._items
        closed = self._closed | (frozenset(closing) & (self._items | new))
        if new or closed != self._closed:
            self._store(self._items | new, closed)
        return new

    def reopened(self, items: Iterable[Secured]) -> None:
        """``items`` have keys and are open as far as rkmpd is concerned (an
        apply that gave them keys was read back). OSError: not written."""
        closed = self._closed - frozenset(items)
        if closed != self._closed:
            self._store(self._items, closed)

    def forget(self, items: Iterable[Secured]) -> None:
        """Take ``items`` out again (an apply that keyed them was undone).
        OSError: not written (the set is unchanged)."""
        gone = self._items & frozenset(items)
        if gone:
            self._store(self._items - gone, self._closed - gone)

    def _store(
        self,
        items: frozenset[Secured],
        closed: frozenset[Secured],
        keys: frozenset[KeyRecord] | None = None,
    ) -> None:
        keys = self._keys if keys is None else keys
        if self.path is not None:
            write_private(self.path, format_keyed(self.sink, items, closed, keys))
        self._items, self._closed, self._keys = items, closed, keys


def write_private(path: Path, text: str) -> None:
    """``text`` at ``path`` all at once, mode 0600 (the directory is made
    0700 if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomically(path, text, mode=FILE_MODE)


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return "not UTF-8 text"
