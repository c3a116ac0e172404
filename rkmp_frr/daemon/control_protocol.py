"""The control protocol between ``rkmpd`` and ``rkmpctl``: typed requests
and responses <-> JSON lines, sans I/O.

One connection to the daemon's Unix stream socket carries requests and
responses, each one JSON object on one line (UTF-8, ``\\n``-terminated, at
most ``MAX_MESSAGE_SIZE`` octets with the newline)::

    {"version": 1, "command": "sas", "args": {"peer": "r2"}}
    {"version": 1, "ok": true, "result": {...}}
    {"version": 1, "ok": false, "error": {"kind": "unknown-peer", "message": "..."}}

The result shapes are the stable ``rkmpctl --json`` output documented in
``docs/rkmpctl.md``; they are these dataclasses field for field. Results
may gain fields within a version, so result decoding ignores unknown
fields; requests are strict (an unknown argument is a ``bad-request``).
Protocols are written as in the configuration (``tcp-ao``...), SPIs and
times as JSON numbers. Key material is in exactly one place:
``KeyRowInfo.key``, filled only for a ``keys`` request with
``show_secrets``.

The seed's operations map to commands: RKMP_generateSA -> ``generate-sa``,
RKMP_rekeySA -> ``rekey-sa``, Keytable_delete -> ``delete`` (SPI 0: every
SA of the protocol), RP_revokeSA -> ``revoke``.
"""

from __future__ import annotations

import dataclasses
import json
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar, TypeAlias, TypeVar, Union, get_args, get_origin, get_type_hints

from rkmp_frr.daemon import names
from rkmp_frr.engine.events import ChildParams
from rkmp_frr.keytable.row import Direction, KeyRow
from rkmp_frr.keytable.utc import UtcSeconds
from rkmp_frr.wire.constants import ProtocolId

PROTOCOL_VERSION = 1
MAX_MESSAGE_SIZE = 4 * 1024 * 1024  # octets per line, newline included
MAX_SPI = 0xFFFF_FFFF  # the widest routing SPI (Protocol ID 207) is 4 octets


class Command(Enum):
    STATUS = "status"
    SAS = "sas"
    KEYS = "keys"
    GENERATE_SA = "generate-sa"  # RKMP_generateSA
    REKEY_SA = "rekey-sa"  # RKMP_rekeySA
    DELETE = "delete"  # Keytable_delete
    REVOKE = "revoke"  # RP_revokeSA


class ErrorKind(Enum):
    """Why a request failed; ``error.kind`` in a response."""

    BAD_REQUEST = "bad-request"  # not JSON, not an object, unknown command or arguments
    UNSUPPORTED_VERSION = "unsupported-version"
    TOO_LARGE = "too-large"  # a message over MAX_MESSAGE_SIZE
    UNKNOWN_PEER = "unknown-peer"  # no [[peer]] of that name
    UNKNOWN_SA = "unknown-sa"  # no SA with that protocol and SPI
    NOT_ESTABLISHED = "not-established"  # no RKMP SA with that peer
    POLICY = "policy"  # the configuration does not allow it (e.g. protocol not set up)
    FAILED = "failed"  # the exchange failed (timeout, NO_PROPOSAL_CHOSEN, ...)
    TIMEOUT = "timeout"  # the daemon stopped waiting for the outcome
    INTERNAL = "internal"  # a bug in the daemon


class ControlProtocolError(Exception):
    """A message that does not follow this protocol."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


# --------------------------------------------------------------------------- requests


def _check_spi(spi: int, zero_allowed: bool) -> None:
    low = 0 if zero_allowed else 1
    if not low <= spi <= MAX_SPI:
        raise ValueError(f"SPI {spi} is out of range {low}..{MAX_SPI}")


@dataclass(frozen=True, slots=True)
class StatusRequest:
    COMMAND: ClassVar[Command] = Command.STATUS


@dataclass(frozen=True, slots=True)
class SasRequest:
    COMMAND: ClassVar[Command] = Command.SAS
    peer: str | None = None  # only this peer's SAs


@dataclass(frozen=True, slots=True)
class KeysRequest:
    COMMAND: ClassVar[Command] = Command.KEYS
    protocol: ProtocolId | None = None
    peer: str | None = None
    show_secrets: bool = False


@dataclass(frozen=True, slots=True)
class GenerateSaRequest:
    COMMAND: ClassVar[Command] = Command.GENERATE_SA
    peer: str
    protocol: ProtocolId


@dataclass(frozen=True, slots=True)
class RekeySaRequest:
    COMMAND: ClassVar[Command] = Command.REKEY_SA
    protocol: ProtocolId
    spi: int
    peer: str | None = None  # needed only if several peers have an SA with this SPI

    def __post_init__(self) -> None:
        _check_spi(self.spi, zero_allowed=False)


@dataclass(frozen=True, slots=True)
class DeleteRequest:
    COMMAND: ClassVar[Command] = Command.DELETE
    protocol: ProtocolId
    spi: int  # 0: every SA of the protocol (with ``peer``: with that peer)
    peer: str | None = None

    def __post_init__(self) -> None:
        _check_spi(self.spi, zero_allowed=True)


@dataclass(frozen=True, slots=True)
class RevokeRequest:
    COMMAND: ClassVar[Command] = Command.REVOKE
    peer: str


Request: TypeAlias = (
    StatusRequest
    | SasRequest
    | KeysRequest
    | GenerateSaRequest
    | RekeySaRequest
    | DeleteRequest
    | RevokeRequest
)

REQUEST_TYPES: Mapping[Command, type[Request]] = {
    t.COMMAND: t
    for t in (
        StatusRequest,
        SasRequest,
        KeysRequest,
        GenerateSaRequest,
        RekeySaRequest,
        DeleteRequest,
        RevokeRequest,
    )
}


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class SinkApplyInfo:
    """One apply of the key table to a routing daemon. No keys: the
    texts are the sink's own one-line messages, keys masked."""

    # rkmp_frr.sinks.batching.ApplyStatus's value (importing the sinks here
    # would load the renderers into every rkmpctl run):
    # applied | unchanged | dry-run | failed-restored | failed | not-ready
    status: str
    ok: bool  # taken (or nothing to do), nothing refused, kernel check passed
    started_at: float  # POSIX time
    duration: float  # seconds
    rows: int  # key table rows the daemon was to have
    line: str  # the whole result in one line, as logged
    error: str | None  # why the daemon refused it
    restore_error: str | None  # why the previous configuration could not be confirmed back
    refused: tuple[str, ...]  # rows the daemon cannot take (left out)
    notes: tuple[str, ...]  # e.g. BGP sessions reset by a TCP-MD5 key change
    kernel_problems: tuple[str, ...]  # TCP-MD5 keys the kernel does not hold on the sockets


@dataclass(frozen=True, slots=True)
class SinkInfo:
    """A routing-daemon sink (``[sinks.frr]``, ``[sinks.bird]``)."""

    name: str  # "frr", "bird"
    daemon: str  # "FRR", "BIRD"
    version: str | None  # as detected at start, e.g. "8.4.4"
    detected: str  # the daemon's own answer, e.g. "FRRouting 8.4.4 (r1) on Linux(6.1.0)."
    dry_run: bool
    ok: bool  # no failed apply since the last good one
    rows: int  # key table rows the sink holds
    pending: bool  # changes not applied yet (or being applied)
    applies: int  # since start
    failures: int
    last_error: str | None  # the latest failure's line, until an apply succeeds
    last_apply: SinkApplyInfo | None  # the latest apply (often "unchanged")
    last_change: SinkApplyInfo | None  # the latest apply that was not "unchanged"
    kernel_problems: tuple[str, ...]  # last_change's kernel check findings
    # Drift checks (FRR: [sinks.frr] check_interval); added later, so with
    # defaults: an older daemon's answer reads as no checks.
    drift_checks: int = 0  # read-backs of the daemon's configuration since start
    drifts: int = 0  # of which found the daemon no longer running what rkmpd applied
    last_drift_at: float | None = None  # POSIX time of the latest drift found
    last_drift: str | None = None  # what drifted then, one line, keys masked
    check_error: str | None = None  # the latest check could not read the daemon


@dataclass(frozen=True, slots=True)
class StatusResult:
    daemon_version: str
    pid: int
    uptime: float  # seconds
    config_file: str
    identity: str
    listen: tuple[str, ...]  # "addr:port", IPv6 as "[addr]:port"
    peers: int  # configured [[peer]] entries
    rkmp_sas: int  # established RKMP SAs
    child_sas: int  # child SAs in use
    key_rows: int  # rows in the key table
    sinks: tuple[SinkInfo, ...] = ()  # routing-daemon sinks, in [sinks.*] order


@dataclass(frozen=True, slots=True)
class ChildSaInfo:
    """A routing-protocol SA. ``spi`` is our key ID (TCP-AO: SendID) and
    ``remote_spi`` the peer's (TCP-AO: RecvID); they are equal for OSPF,
    IS-IS and BFD."""

    peer: str  # the [[peer]] name
    protocol: ProtocolId
    state: str  # active | rekeying | rekeyed | deleting | orphan
    spi: int
    remote_spi: int
    algorithm: str  # as in the configuration, e.g. "hmac-sha-256"
    options: tuple[str, ...]  # e.g. "tcp-options=include"
    pfs_group: str | None  # e.g. "x25519"; None without PFS
    initiator: bool  # this side proposed it
    rekey_in: float | None  # seconds; None: not scheduled
    expires_in: float | None

    @classmethod
    def from_params(cls, params: ChildParams, peer: str, state: str, now: float) -> ChildSaInfo:
        """From the engine's view; ``now`` on the engine's clock."""
        protocol = params.ref.protocol
        return cls(
            peer=peer,
            protocol=protocol,
            state=state,
            spi=params.ref.local_key_id,
            remote_spi=params.ref.remote_key_id,
            algorithm=names.algorithm_name(protocol, params.integ),
            options=tuple(names.option_name(option) for option in params.options),
            pfs_group=names.ke_group_name(params.pfs_group) if params.pfs_group else None,
            initiator=params.initiator,
            rekey_in=_until(params.rekey_at, now),
            expires_in=_until(params.expires_at, now),
        )


def _until(deadline: float, now: float) -> float | None:
    return None if deadline == float("inf") else max(0.0, deadline - now)


@dataclass(frozen=True, slots=True)
class RkmpSaInfo:
    peer: str  # the [[peer]] name
    address: str
    port: int
    # init-sent | auth-sent | init-answered | unconfirmed | established | rekeyed | deleting
    state: str
    initiator: bool
    local_identity: str | None  # None until authenticated
    remote_identity: str | None
    spi_i: str  # 16 hex digits
    spi_r: str
    proposal: str | None  # the negotiated suite, e.g. "aes256gcm16-prfsha256-x25519"
    established_for: float | None  # seconds since it was established
    rekey_in: float | None
    expires_in: float | None
    children: tuple[ChildSaInfo, ...]


@dataclass(frozen=True, slots=True)
class SasResult:
    sas: tuple[RkmpSaInfo, ...]
    orphans: tuple[ChildSaInfo, ...] = ()  # child SAs kept without an RKMP SA


@dataclass(frozen=True, slots=True)
class KeyRowInfo:
    """One key table row (RFC 7210 §2 fields under snake_case names;
    lifetimes in UTC seconds, 253402300799 = 9999-12-31T23:59:59Z meaning
    "no end"). ``key`` is the hex key only with ``show_secrets``."""

    protocol: ProtocolId
    spi: int
    admin_key_name: str
    local_key_name: str
    peer_key_name: str
    peers: tuple[str, ...]
    interfaces: tuple[str, ...]
    protocol_specific_info: str
    kdf: str
    alg_id: str
    direction: Direction
    send_lifetime_start: int
    send_lifetime_end: int
    accept_lifetime_start: int
    accept_lifetime_end: int
    sending: bool  # at the time of the query
    accepting: bool
    superseded_by: int | None  # SPI of the row that replaced it
    key_octets: int
    key: str | None = field(default=None, repr=False)

    @classmethod
    def from_row(cls, row: KeyRow, now: UtcSeconds, show_secrets: bool) -> KeyRowInfo:
        lifetimes = row.lifetimes
        return cls(
            protocol=row.protocol,
            spi=row.spi,
            admin_key_name=row.admin_key_name,
            local_key_name=row.local_key_name,
            peer_key_name=row.peer_key_name,
            peers=tuple(sorted(row.peers)),
            interfaces=tuple(sorted(row.interfaces)),
            protocol_specific_info=row.protocol_specific_info,
            kdf=row.kdf,
            alg_id=row.alg_id,
            direction=row.direction,
            send_lifetime_start=row.send_lifetime_start,
            send_lifetime_end=row.send_lifetime_end,
            accept_lifetime_start=row.accept_lifetime_start,
            accept_lifetime_end=row.accept_lifetime_end,
            sending=row.direction.sends and lifetimes.sending(now),
            accepting=row.direction.accepts and lifetimes.accepting(now),
            superseded_by=row.link.superseded_by if row.link is not None else None,
            key_octets=len(row.key) // 2,
            key=row.key if show_secrets else None,
        )


@dataclass(frozen=True, slots=True)
class KeysResult:
    now: int  # UTC seconds the row states refer to
    secrets_shown: bool
    rows: tuple[KeyRowInfo, ...]


@dataclass(frozen=True, slots=True)
class SaRef:
    """A routing-protocol SA as the key table names it."""

    protocol: ProtocolId
    spi: int
    address: str  # the peer's address
    peer: str | None  # its [[peer]] name, if one matches


@dataclass(frozen=True, slots=True)
class GenerateSaResult:
    peer: str
    protocol: ProtocolId
    spi: int  # RKMP_generateSA's SPI: our key ID
    remote_spi: int


@dataclass(frozen=True, slots=True)
class RekeySaResult:
    peer: str
    protocol: ProtocolId
    old_spi: int
    new_spi: int  # RKMP_rekeySA's new SPI


@dataclass(frozen=True, slots=True)
class DeleteResult:
    deleted: tuple[SaRef, ...]


@dataclass(frozen=True, slots=True)
class RevokeResult:
    peer: str
    revoked: tuple[SaRef, ...]  # the keys withdrawn


Result: TypeAlias = (
    StatusResult
    | SasResult
    | KeysResult
    | GenerateSaResult
    | RekeySaResult
    | DeleteResult
    | RevokeResult
)

RESULT_TYPES: Mapping[Command, type[Result]] = {
    Command.STATUS: StatusResult,
    Command.SAS: SasResult,
    Command.KEYS: KeysResult,
    Command.GENERATE_SA: GenerateSaResult,
    Command.REKEY_SA: RekeySaResult,
    Command.DELETE: DeleteResult,
    Command.REVOKE: RevokeResult,
}


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    kind: ErrorKind
    message: str


@dataclass(frozen=True, slots=True)
class Success:
    result: Result


@dataclass(frozen=True, slots=True)
class Failure:
    error: ErrorInfo

    @classmethod
    def of(cls, kind: ErrorKind, message: str) -> Failure:
        return cls(ErrorInfo(kind, message))


Response: TypeAlias = Success | Failure


# --------------------------------------------------------------------------- JSON <-> dataclasses


def to_json(value: Any) -> Any:
    """A dataclass (or a field value) as JSON-ready data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, ProtocolId):
        return names.protocol_name(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple):
        return [to_json(item) for item in value]
    return value


_D = TypeVar("_D")


def from_json(cls: type[_D], data: Any, *, strict: bool, path: str = "") -> _D:
    """Build dataclass ``cls`` from JSON ``data``; ValueError naming the
    field on any mismatch. ``strict``: unknown fields are errors."""
    if not isinstance(data, dict):
        raise ValueError(f"{path or 'value'}: expected an object")
    hints = get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    if strict:
        for name in data:
            if name not in known:
                raise ValueError(f"{_join(path, name)}: unknown field")
    values: dict[str, Any] = {}
    for name, spec in known.items():
        if not spec.init:
            continue
        if name not in data:
            if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
                raise ValueError(f"{_join(path, name)}: missing")
            continue
        values[name] = _value(hints[name], data[name], strict, _join(path, name))
    return cls(**values)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _value(tp: Any, data: Any, strict: bool, path: str) -> Any:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(tp) if a is not type(None)]
        if data is None and len(options) < len(get_args(tp)):
            return None
        if len(options) != 1:
            raise TypeError(f"unsupported field type {tp!r}")
        return _value(options[0], data, strict, path)
    if origin is tuple:
        item_type = get_args(tp)[0]
        if not isinstance(data, list):
            raise ValueError(f"{path}: expected an array")
        return tuple(_value(item_type, v, strict, f"{path}[{i}]") for i, v in enumerate(data))
    if dataclasses.is_dataclass(tp):
        return from_json(tp, data, strict=strict, path=path)  # type: ignore[arg-type]
    if tp is ProtocolId:
        if not isinstance(data, str):
            raise ValueError(f"{path}: expected a protocol name")
        return names.protocol_id(data)
    if isinstance(tp, type) and issubclass(tp, Enum):
        try:
            return tp(data)
        except ValueError:
            raise ValueError(f"{path}: {data!r} is not one of the known values") from None
    if tp is bool:
        if not isinstance(data, bool):
            raise ValueError(f"{path}: expected true or false")
        return data
    if tp is int:
        if isinstance(data, bool) or not isinstance(data, int):
            raise ValueError(f"{path}: expected an integer")
        return data
    if tp is float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            raise ValueError(f"{path}: expected a number")
        return float(data)
    if tp is str:
        if not isinstance(data, str):
            raise ValueError(f"{path}: expected a string")
        return data
    raise TypeError(f"unsupported field type {tp!r}")


# --------------------------------------------------------------------------- framing


def _encode(obj: dict[str, Any]) -> bytes:
    line = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"
    if len(line) > MAX_MESSAGE_SIZE:
        raise ControlProtocolError(
            ErrorKind.TOO_LARGE, f"message of {len(line)} octets exceeds {MAX_MESSAGE_SIZE}"
        )
    return line


def _decode(line: bytes) -> dict[str, Any]:
    if len(line) > MAX_MESSAGE_SIZE:
        raise ControlProtocolError(
            ErrorKind.TOO_LARGE, f"message of {len(line)} octets exceeds {MAX_MESSAGE_SIZE}"
        )
    try:
        obj = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ControlProtocolError(ErrorKind.BAD_REQUEST, "not a JSON text") from None
    if not isinstance(obj, dict):
        raise ControlProtocolError(ErrorKind.BAD_REQUEST, "expected a JSON object")
    version = obj.get("version")
    if version != PROTOCOL_VERSION:
        raise ControlProtocolError(
            ErrorKind.UNSUPPORTED_VERSION,
            f"protocol version {version!r} is not supported (this side speaks {PROTOCOL_VERSION})",
        )
    return obj


def encode_request(request: Request) -> bytes:
    return _encode(
        {"version": PROTOCOL_VERSION, "command": request.COMMAND.value, "args": to_json(request)}
    )


def decode_request(line: bytes) -> Request:
    """The request in one line; ControlProtocolError (bad-request,
    unsupported-version or too-large) if it is not a valid one."""
    obj = _decode(line)
    extra = set(obj) - {"version", "command", "args"}
    if extra:
        raise ControlProtocolError(ErrorKind.BAD_REQUEST, f"unknown field {sorted(extra)[0]!r}")
    try:
        command = Command(obj.get("command"))
    except ValueError:
        known = ", ".join(c.value for c in Command)
        raise ControlProtocolError(
            ErrorKind.BAD_REQUEST, f"unknown command {obj.get('command')!r} (known: {known})"
        ) from None
    try:
        return from_json(REQUEST_TYPES[command], obj.get("args", {}), strict=True, path="args")
    except ValueError as exc:
        raise ControlProtocolError(ErrorKind.BAD_REQUEST, f"{command.value}: {exc}") from None


def encode_response(response: Response) -> bytes:
    if isinstance(response, Success):
        return _encode(
            {"version": PROTOCOL_VERSION, "ok": True, "result": to_json(response.result)}
        )
    return _encode({"version": PROTOCOL_VERSION, "ok": False, "error": to_json(response.error)})


def decode_response(line: bytes, command: Command) -> Response:
    """The response to a ``command`` request; ControlProtocolError if the
    line is not one."""
    obj = _decode(line)
    ok = obj.get("ok")
    try:
        if ok is True:
            return Success(
                from_json(RESULT_TYPES[command], obj.get("result"), strict=False, path="result")
            )
        if ok is False:
            return Failure(from_json(ErrorInfo, obj.get("error"), strict=False, path="error"))
    except ValueError as exc:
        raise ControlProtocolError(ErrorKind.BAD_REQUEST, f"malformed response: {exc}") from None
    raise ControlProtocolError(ErrorKind.BAD_REQUEST, 'malformed response: no "ok": true/false')


class LineBuffer:
    """Splits a byte stream into messages; ControlProtocolError
    (too-large) as soon as a line cannot fit."""

    def __init__(self, limit: int = MAX_MESSAGE_SIZE) -> None:
        self._limit = limit
        self._data = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """The complete lines ``data`` finishes, newlines included."""
        self._data += data
        lines: list[bytes] = []
        while (end := self._data.find(b"\n")) >= 0:
            if end + 1 > self._limit:
                break
            lines.append(bytes(self._data[: end + 1]))
            del self._data[: end + 1]
        if len(self._data) >= self._limit:  # with its newline it would not fit
            raise ControlProtocolError(
                ErrorKind.TOO_LARGE, f"message longer than {self._limit} octets"
            )
        return lines

    @property
    def pending(self) -> int:
        """Octets of an unfinished line."""
        return len(self._data)
