"""Reading ``rkmpd.toml`` (stdlib ``tomllib``) into a ``DaemonConfig``.

Every problem is a ``ConfigError`` whose text is one line,
``<file>: <key>: <problem>``, where the key is a dotted path with 0-based
indices (``peer[1].protocol[0].algorithm``). Unknown keys are errors (they
are usually typos), so each table declares the keys it takes. No message
ever contains key material: PSK and private-key contents are never quoted.

Relative paths in the file are taken relative to the file's directory.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import stat
import tomllib
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from cryptography.hazmat.primitives import serialization

from rkmp_frr.crypto import (
    CredentialError,
    ProposalError,
    load_certificates,
    load_private_key,
    parse_proposal,
)
from rkmp_frr.daemon import names
from rkmp_frr.daemon.config_model import (
    DEFAULT_CONTROL_SOCKET,
    DEFAULT_FRR_CHECK_INTERVAL,
    DEFAULT_HOOK_TIMEOUT,
    DEFAULT_HOOKS_DIR,
    DEFAULT_MAX_HALF_OPEN_INITIATIONS,
    DEFAULT_PORT,
    DEFAULT_STATE_DIR,
    MIN_FRR_CHECK_INTERVAL,
    AuthSection,
    BirdSink,
    CertAuth,
    ConfigWarning,
    DaemonConfig,
    Endpoint,
    FrrMode,
    FrrSink,
    KernelIpsecMode,
    KernelSink,
    LocalSection,
    PeerConfig,
    ProtocolConfig,
    PskAuth,
    RkmpSection,
    SinksSection,
)
from rkmp_frr.daemon.durations import format_duration, parse_duration
from rkmp_frr.daemon.timezones import check_timezone_name
from rkmp_frr.engine.policy import (
    CHILD_SA_LIFETIME,
    DEFAULT_RKMP_PROPOSALS,
    RKMP_SA_LIFETIME,
    CertCredential,
    CertTrust,
    DosPolicy,
    Lifetime,
    OnFailure,
    PskCredential,
    RetransmitPolicy,
)
from rkmp_frr.engine.routing_proposals import PROFILES
from rkmp_frr.keytable.rollover import RolloverPolicy
from rkmp_frr.profiles import KEY_PROFILES
from rkmp_frr.profiles.base import HITLESS_ROLLOVER
from rkmp_frr.wire import Identity
from rkmp_frr.wire.constants import IntegId, KeId, ProtocolId, RkmpOptionId

if TYPE_CHECKING:
    from rkmp_frr.sinks.bird_render import (
        BirdBgpSession,
        BirdOspfArea,
        BirdOspfInstance,
        BirdOspfInterface,
    )
    from rkmp_frr.sinks.frr_config import FrrBgpNeighbor

FILE_KEY = "(file)"  # the key named by errors about the file as a whole
DEFAULT_LIVENESS_INTERVAL = 60.0  # the engine's PeerPolicy default
JITTER_FRACTION = 0.1  # default rand_time and over_time: 10 % of rekey_time (strongSwan)
PSK_HEX_PREFIX = b"0x"  # strongSwan's marker for a hex-encoded secret

_T = TypeVar("_T")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_IFNAMSIZ = 16  # Linux: names up to 15 octets


class ConfigError(Exception):
    """A configuration problem: ``str(e)`` is ``<file>: <key>: <problem>``."""

    def __init__(self, file: str, key: str, problem: str) -> None:
        file, key, problem = one_line(file), one_line(key), one_line(problem)
        super().__init__(f"{file}: {key}: {problem}")
        self.file = file
        self.key = key
        self.problem = problem


def one_line(text: str) -> str:
    """``text`` with control characters escaped (TOML allows them in
    quoted keys), so that a message stays on one line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


# --------------------------------------------------------------------------- entry points


def load_config(path: str | os.PathLike[str]) -> DaemonConfig:
    """Read and validate the configuration file at ``path``."""
    file = Path(path)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise ConfigError(str(file), FILE_KEY, f"cannot read: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(str(file), FILE_KEY, "not UTF-8 text") from None
    return parse_config(text, file)


def parse_config(text: str, file: str | os.PathLike[str]) -> DaemonConfig:
    """Validate TOML ``text`` as if read from ``file`` (which names it in
    errors and anchors relative paths)."""
    path = Path(file)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        key, problem = _syntax_error(str(exc))
        raise ConfigError(str(path), key, f"TOML syntax error: {problem}") from None
    return _Loader(path).document(document)


def _syntax_error(message: str) -> tuple[str, str]:
    """tomllib puts the position at the end: ``... (at line 3, column 7)``."""
    match = re.search(r"\s*\(at (line \d+, column \d+|end of document)\)\s*$", message)
    if match is None:
        return "(document)", message
    return match.group(1), message[: match.start()]


# --------------------------------------------------------------------------- typed access


def _type_name(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"  # TOML dates and times


@dataclass(slots=True)
class _Context:
    file: Path
    warnings: list[ConfigWarning] = field(default_factory=list)

    def error(self, key: str, problem: str) -> NoReturn:
        raise ConfigError(str(self.file), key, problem)

    def warn(self, key: str, problem: str) -> None:
        self.warnings.append(
            ConfigWarning(one_line(str(self.file)), one_line(key), one_line(problem))
        )

    def path(self, key: str, text: str) -> Path:
        if not text or "\0" in text:
            self.error(key, "expected a file name, got an empty string")
        path = Path(text)
        return path if path.is_absolute() else self.file.parent / path


class _Table:
    """One TOML table with its dotted path; rejects keys not in ``allowed``."""

    def __init__(self, ctx: _Context, data: dict[str, Any], path: str, allowed: Collection[str]):
        self.ctx = ctx
        self.data = data
        self.path = path
        for name in data:
            if name not in allowed:
                close = difflib.get_close_matches(name, list(allowed), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                known = ", ".join(sorted(allowed))
                ctx.error(self.key(name), f"unknown key{hint}; known here: {known}")

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def error(self, name: str, problem: str) -> NoReturn:
        self.ctx.error(self.key(name), problem)

    def has(self, name: str) -> bool:
        return name in self.data

    def _typed(self, name: str, kinds: tuple[type, ...], what: str) -> Any:
        value = self.data.get(name)
        if value is None:
            return None
        if isinstance(value, bool) and bool not in kinds:
            self.error(name, f"expected {what}, got a boolean")
        if not isinstance(value, kinds):
            self.error(name, f"expected {what}, got {_type_name(value)}")
        return value

    def required(self, name: str) -> Any:
        if name not in self.data:
            self.error(name, "missing (required)")
        return self.data[name]

    def string(self, name: str) -> str | None:
        value: str | None = self._typed(name, (str,), "a string")
        if value is not None and not value.strip():
            self.error(name, "must not be empty")
        return value

    def required_string(self, name: str) -> str:
        self.required(name)
        value = self.string(name)
        assert value is not None
        return value

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value: int | None = self._typed(name, (int,), "an integer")
        if value is None:
            return default
        if not low <= value <= high:
            self.error(name, f"{value} is out of range {low}..{high}")
        return value

    def number(self, name: str, default: float, low: float, high: float) -> float:
        value = self._typed(name, (int, float), "a number")
        if value is None:
            return default
        if not low <= value <= high:
            self.error(name, f"{value} is out of range {low}..{high}")
        return float(value)

    def boolean(self, name: str, default: bool) -> bool:
        value: bool | None = self._typed(name, (bool,), "a boolean (true or false)")
        return default if value is None else value

    def duration(self, name: str, default: float | None) -> float | None:
        if name not in self.data:
            return default
        try:
            return parse_duration(self.data[name])
        except ValueError as exc:
            self.error(name, str(exc))

    def whole_seconds(self, name: str, default: int) -> int:
        seconds = self.duration(name, default)
        assert seconds is not None
        if not float(seconds).is_integer():
            self.error(name, "must be a whole number of seconds")
        return int(seconds)

    def positive_duration(self, name: str, default: float) -> float:
        seconds = self.duration(name, default)
        assert seconds is not None
        if seconds <= 0:
            self.error(name, "must be longer than 0s")
        return seconds

    def strings(self, name: str, *, single: bool = False) -> tuple[str, ...] | None:
        """An array of non-empty strings (or, with ``single``, one string)."""
        value = self.data.get(name)
        if value is None:
            return None
        if single and isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            what = "a string or an array of strings" if single else "an array of strings"
            self.error(name, f"expected {what}, got {_type_name(value)}")
        if not value:
            self.error(name, "must not be an empty array")
        for index, item in enumerate(value):
            if not isinstance(item, str):
                self.ctx.error(
                    f"{self.key(name)}[{index}]", f"expected a string, got {_type_name(item)}"
                )
            if not item.strip():
                self.ctx.error(f"{self.key(name)}[{index}]", "must not be empty")
        return tuple(value)

    def path_value(self, name: str) -> Path | None:
        text = self.string(name)
        return None if text is None else self.ctx.path(self.key(name), text)

    def table(
        self, name: str, allowed: Collection[str], *, required: bool = False
    ) -> _Table | None:
        value = self.data.get(name)
        if value is None:
            if required:
                self.error(name, f"missing (required table [{self.key(name)}])")
            return None
        if not isinstance(value, dict):
            self.error(name, f"expected a table, got {_type_name(value)}")
        return _Table(self.ctx, value, self.key(name), allowed)

    def array_of_tables(self, name: str, allowed: Collection[str]) -> Iterator[_Table]:
        value = self.data.get(name)
        if value is None:
            return
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.error(
                name, f"expected an array of tables ([[{self.key(name)}]]), got {_type_name(value)}"
            )
        for index, item in enumerate(value):
            yield _Table(self.ctx, item, f"{self.key(name)}[{index}]", allowed)

    def check(self, name: str, build: Callable[[], _T], what: str = "") -> _T:
        """Run a constructor that raises ValueError, blaming ``name``;
        ``what`` prefixes the problem."""
        try:
            return build()
        except (ValueError, ProposalError) as exc:
            self.error(name, f"{what}{exc}")


# --------------------------------------------------------------------------- the schema

_TOP = ("local", "auth", "rkmp", "rollover", "peer", "sinks")
_LOCAL = ("id", "listen", "state_dir", "control_socket", "hooks_dir", "hook_timeout")
_AUTH = ("psk_file", "certificate", "private_key", "ca")
_RKMP = (
    "proposals",
    "rekey_time",
    "rand_time",
    "over_time",
    "liveness_interval",
    "retransmit_timeout",
    "retransmit_base",
    "retransmit_tries",
    "retransmit_jitter",
    "retransmit_limit",
    "cookie_threshold",
    "cookie_threshold_per_address",
    "half_open_timeout",
    "max_half_open_initiations",
)
_ROLLOVER = ("send_delay", "accept_grace", "hard_expiry")
_PEER = (
    "name",
    "address",
    "prefix",
    "port",
    "id",
    "local_id",
    "on_failure",
    "proposals",
    "rekey_time",
    "liveness_interval",
    "protocol",
)
_PROTOCOL = (
    "type",
    "interface",
    "algorithm",
    "rekey_time",
    "pfs",
    "tcp_options",
    "key_ids",
    *_ROLLOVER,
)
_SINKS = ("frr", "bird", "kernel")
_FRR = (
    "vtysh",
    "vty_socket",
    "pathspace",
    "mode",
    "dry_run",
    "templates_dir",
    "bgp_neighbor",
    "key_chain_prefix",
    "timezone",
    "check_interval",
)
_FRR_NEIGHBOR = ("address", "asn", "vrf")
_BIRD = (
    "birdc",
    "socket",
    "include_file",
    "confirm_timeout",
    "dry_run",
    "templates_dir",
    "bgp",
    "ospf",
    "timezone",
)
_BIRD_BGP = ("name", "neighbor", "neighbor_as", "local_as", "local_address", "template", "options")
_BIRD_OSPF = ("name", "version", "template", "options", "area")
_BIRD_AREA = ("area", "options", "interface")
_BIRD_INTERFACE = ("name", "options", "secured")
_MAX_ASN = 0xFFFF_FFFF  # 4-octet AS numbers (RFC 6793)
_KERNEL = ("enabled", "mode", "neighbours")


@dataclass(frozen=True, slots=True)
class _RkmpDefaults:
    """What ``[rkmp]`` gives peers that do not override it."""

    section: RkmpSection
    rand_time: float | None  # explicit values, else 10 % of the rekey time
    over_time: float | None


class _Loader:
    def __init__(self, file: Path) -> None:
        self.ctx = _Context(file)

    def document(self, data: dict[str, Any]) -> DaemonConfig:
        top = _Table(self.ctx, data, "", _TOP)
        local = self.local(top)
        auth = self.auth(top)
        rkmp = self.rkmp(top)
        rollover = self.rollover(top)
        peers = self.peers(top, rkmp, rollover, auth)
        sinks = self.sinks(top)
        self.warn_unsunk_ipsec(peers, sinks)
        return DaemonConfig(
            file=self.ctx.file,
            local=local,
            auth=auth,
            rkmp=rkmp.section,
            rollover=MappingProxyType(rollover),
            peers=peers,
            sinks=sinks,
            warnings=tuple(self.ctx.warnings),
        )

    # --- [local] -------------------------------------------------------------------------

    def local(self, top: _Table) -> LocalSection:
        table = top.table("local", _LOCAL, required=True)
        assert table is not None
        identity = table.required_string("id")
        table.check("id", lambda: Identity.from_text(identity), "not a usable identity: ")
        listen = table.strings("listen") or ("0.0.0.0",)
        endpoints = tuple(
            self.endpoint(f"{table.key('listen')}[{i}]", text) for i, text in enumerate(listen)
        )
        if len(set(endpoints)) != len(endpoints):
            table.error("listen", "the same address is listed twice")
        hook_timeout = table.positive_duration("hook_timeout", DEFAULT_HOOK_TIMEOUT)
        return LocalSection(
            identity=identity,
            listen=endpoints,
            state_dir=table.path_value("state_dir") or DEFAULT_STATE_DIR,
            control_socket=table.path_value("control_socket") or DEFAULT_CONTROL_SOCKET,
            hooks_dir=table.path_value("hooks_dir") or DEFAULT_HOOKS_DIR,
            hook_timeout=hook_timeout,
        )

    def endpoint(self, key: str, text: str) -> Endpoint:
        """``addr``, ``addr:port``, ``[v6addr]:port`` or a bare IPv6 address."""
        host, port_text = text.strip(), None
        if host.startswith("["):
            inner, sep, rest = host[1:].partition("]")
            if not sep or (rest and not rest.startswith(":")):
                self.ctx.error(key, f"{text!r} is not addr[:port] (IPv6 as [addr]:port)")
            host, port_text = inner, rest[1:] or None
        elif host.count(":") == 1:
            host, port_text = host.split(":")
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            self.ctx.error(key, f"{host!r} is not an IP address")
        port = DEFAULT_PORT
        if port_text is not None:
            if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
                self.ctx.error(key, f"port {port_text!r} is not a number in 1..65535")
            port = int(port_text)
        return Endpoint(str(address), port)

    # --- [auth] --------------------------------------------------------------------------

    def auth(self, top: _Table) -> AuthSection:
        table = top.table("auth", _AUTH, required=True)
        assert table is not None
        cert_keys = [k for k in ("certificate", "private_key", "ca") if table.has(k)]
        if table.has("psk_file"):
            if cert_keys:
                table.error(cert_keys[0], "give either psk_file or certificate/private_key/ca")
            return self.psk(table)
        if not cert_keys:
            table.error("psk_file", "missing: give psk_file, or certificate, private_key and ca")
        return self.certificates(table)

    def psk(self, table: _Table) -> PskAuth:
        key = table.key("psk_file")
        path = table.path_value("psk_file")
        assert path is not None
        data = self.read(key, path)
        self.check_private(key, path)
        # A file written by ``echo`` ends in a newline that is not part of the key.
        if data.endswith(b"\r\n"):
            data = data[:-2]
        elif data.endswith(b"\n"):
            data = data[:-1]
        if data[:2].lower() == PSK_HEX_PREFIX:
            try:
                data = bytes.fromhex(data[2:].decode("ascii"))
            except (UnicodeDecodeError, ValueError):
                self.ctx.error(key, f"{path}: starts with 0x but the rest is not hex digits")
        if not data:
            self.ctx.error(key, f"{path}: the pre-shared key is empty")
        return PskAuth(psk_file=path, credential=PskCredential(data))

    def certificates(self, table: _Table) -> CertAuth:
        for name in ("certificate", "private_key", "ca"):
            table.required(name)
        cert_path = table.path_value("certificate")
        key_path = table.path_value("private_key")
        assert cert_path is not None and key_path is not None
        chain = self.load_certs(table.key("certificate"), cert_path)
        key_key = table.key("private_key")
        key_data = self.read(key_key, key_path)
        self.check_private(key_key, key_path)
        try:
            private_key = load_private_key(key_data)
        except CredentialError as exc:
            self.ctx.error(key_key, f"{key_path}: {exc}")
        spki = serialization.PublicFormat.SubjectPublicKeyInfo
        der = serialization.Encoding.DER
        if private_key.public_key().public_bytes(der, spki) != chain[0].public_key().public_bytes(
            der, spki
        ):
            self.ctx.error(key_key, f"{key_path}: does not match the key of auth.certificate")
        ca_files = table.strings("ca", single=True)
        assert ca_files is not None
        anchors: list[bytes] = []
        ca_paths: list[Path] = []
        for index, text in enumerate(ca_files):
            key = f"{table.key('ca')}[{index}]"
            path = self.ctx.path(key, text)
            ca_paths.append(path)
            anchors.extend(c.public_bytes(der) for c in self.load_certs(key, path))
        return CertAuth(
            certificate=cert_path,
            private_key=key_path,
            ca=tuple(ca_paths),
            credential=CertCredential(private_key, tuple(c.public_bytes(der) for c in chain)),
            trust=CertTrust(tuple(anchors)),
        )

    def load_certs(self, key: str, path: Path) -> Sequence[Any]:
        try:
            return load_certificates(self.read(key, path))
        except CredentialError as exc:
            self.ctx.error(key, f"{path}: {exc}")

    def read(self, key: str, path: Path) -> bytes:
        try:
            return path.read_bytes()
        except OSError as exc:
            self.ctx.error(key, f"cannot read {path}: {exc.strerror or type(exc).__name__}")

    def check_private(self, key: str, path: Path) -> None:
        try:
            mode = path.stat().st_mode
        except OSError:
            return
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            self.ctx.warn(
                key,
                f"{path} is accessible to group or others (mode {stat.S_IMODE(mode):04o}); "
                "chmod 600 it",
            )

    # --- [rkmp] and [rollover] --------------------------------------------------------------

    def rkmp(self, top: _Table) -> _RkmpDefaults:
        table = top.table("rkmp", _RKMP) or _Table(self.ctx, {}, "rkmp", _RKMP)
        proposals = self.proposals(table) or DEFAULT_RKMP_PROPOSALS
        rand_time = table.duration("rand_time", None)
        over_time = table.duration("over_time", None)
        lifetime = self.lifetime(table, RKMP_SA_LIFETIME.rekey_time, rand_time, over_time)
        engine_retransmit = RetransmitPolicy()
        retransmit = RetransmitPolicy(
            timeout=table.positive_duration("retransmit_timeout", engine_retransmit.timeout),
            base=table.number("retransmit_base", engine_retransmit.base, 1.0, 10.0),
            tries=table.integer("retransmit_tries", engine_retransmit.tries, 0, 20),
            jitter=table.number("retransmit_jitter", engine_retransmit.jitter, 0.0, 0.99),
            limit=table.duration("retransmit_limit", None) or None,
        )
        engine_dos = DosPolicy()
        dos = DosPolicy(
            cookie_threshold=table.integer(
                "cookie_threshold", engine_dos.cookie_threshold, 0, 1_000_000
            ),
            cookie_threshold_per_address=table.integer(
                "cookie_threshold_per_address",
                engine_dos.cookie_threshold_per_address,
                0,
                1_000_000,
            ),
            half_open_timeout=table.positive_duration(
                "half_open_timeout", engine_dos.half_open_timeout
            ),
        )
        section = RkmpSection(
            proposals=proposals,
            lifetime=lifetime,
            liveness_interval=self.liveness(table, DEFAULT_LIVENESS_INTERVAL),
            retransmit=retransmit,
            dos=dos,
            max_half_open_initiations=table.integer(
                "max_half_open_initiations", DEFAULT_MAX_HALF_OPEN_INITIATIONS, 1, 1_000_000
            ),
        )
        return _RkmpDefaults(section, rand_time, over_time)

    def proposals(self, table: _Table) -> tuple[str, ...] | None:
        proposals = table.strings("proposals")
        for index, text in enumerate(proposals or ()):
            try:
                parse_proposal(text)
            except ProposalError as exc:
                self.ctx.error(f"{table.key('proposals')}[{index}]", str(exc))
        return proposals

    def liveness(self, table: _Table, default: float | None) -> float | None:
        """``0`` turns liveness checks off."""
        seconds = table.duration("liveness_interval", default)
        return seconds or None

    def lifetime(
        self, table: _Table, default: float, rand_time: float | None, over_time: float | None
    ) -> Lifetime:
        rekey = table.positive_duration("rekey_time", default)
        jitter = rekey * JITTER_FRACTION if rand_time is None else rand_time
        over = rekey * JITTER_FRACTION if over_time is None else over_time
        if jitter >= rekey:
            table.error("rekey_time", f"must be longer than rand_time ({jitter:g}s)")
        return Lifetime(rekey_time=rekey, jitter=jitter, over_time=over)

    def rollover(self, top: _Table) -> dict[ProtocolId, RolloverPolicy]:
        defaults = {
            protocol: (
                KEY_PROFILES[protocol].rollover if protocol in KEY_PROFILES else HITLESS_ROLLOVER
            )
            for protocol in names.PROTOCOL_IDS.values()
        }
        table = top.table("rollover", names.PROTOCOL_IDS)
        if table is None:
            return defaults
        for name in table.data:
            protocol = names.PROTOCOL_IDS[name]
            sub = table.table(name, _ROLLOVER)
            assert sub is not None
            defaults[protocol] = self.rollover_policy(sub, protocol, defaults[protocol])
        return defaults

    def rollover_policy(
        self, table: _Table, protocol: ProtocolId, base: RolloverPolicy
    ) -> RolloverPolicy:
        policy = RolloverPolicy(
            send_delay=table.whole_seconds("send_delay", base.send_delay),
            accept_grace=table.whole_seconds("accept_grace", base.accept_grace),
            hard_expiry=table.whole_seconds("hard_expiry", base.hard_expiry),
        )
        key_profile = KEY_PROFILES.get(protocol)
        if key_profile is not None and not key_profile.hitless:
            for name, value in (
                ("send_delay", policy.send_delay),
                ("accept_grace", policy.accept_grace),
            ):
                if value:
                    table.error(
                        name,
                        f"{names.protocol_name(protocol)} holds one key at a time, so keys "
                        "cannot overlap: send_delay and accept_grace must be 0",
                    )
        return policy

    # --- [[peer]] ------------------------------------------------------------------------

    def peers(
        self,
        top: _Table,
        rkmp: _RkmpDefaults,
        rollover: dict[ProtocolId, RolloverPolicy],
        auth: AuthSection,
    ) -> tuple[PeerConfig, ...]:
        peers: list[PeerConfig] = []
        seen_names: dict[str, str] = {}
        seen_selectors: dict[ipaddress.IPv4Network | ipaddress.IPv6Network, str] = {}
        for table in top.array_of_tables("peer", _PEER):
            peer = self.peer(table, rkmp, rollover)
            if peer.name in seen_names:
                table.error(
                    "name", f"duplicate peer name {peer.name!r} (also {seen_names[peer.name]})"
                )
            seen_names[peer.name] = table.path
            network = ipaddress.ip_network(peer.selector)
            if network in seen_selectors:
                which = "address" if peer.address is not None else "prefix"
                table.error(which, f"{peer.selector} is already used by {seen_selectors[network]}")
            seen_selectors[network] = table.path
            if isinstance(auth, CertAuth) and peer.identity is None:
                self.ctx.warn(
                    table.key("id"),
                    "no peer id: any certificate from the CA is accepted for this peer",
                )
            if not peer.protocols:
                self.ctx.warn(
                    table.key("protocol"), "no [[peer.protocol]]: only an RKMP SA is set up"
                )
            peers.append(peer)
        if not peers:
            self.ctx.warn("peer", "no [[peer]]: nothing will be keyed")
        return tuple(peers)

    def peer(
        self, table: _Table, rkmp: _RkmpDefaults, rollover: dict[ProtocolId, RolloverPolicy]
    ) -> PeerConfig:
        name = table.required_string("name")
        if not _NAME.fullmatch(name):
            table.error("name", f"{name!r}: use letters, digits, '.', '_' and '-' (at most 64)")
        address = table.string("address")
        prefix = table.string("prefix")
        if address is not None and prefix is not None:
            table.error("prefix", "give either address or prefix, not both")
        if address is None and prefix is None:
            table.error("address", "missing: give address (one neighbour) or prefix")
        if address is not None:
            try:
                address = str(ipaddress.ip_address(address))
            except ValueError:
                table.error("address", f"{address!r} is not an IPv4 or IPv6 address")
        if prefix is not None:
            try:
                prefix = str(ipaddress.ip_network(prefix))
            except ValueError as exc:
                table.error("prefix", f"{prefix!r} is not a prefix: {exc}")
        identity = table.string("id")
        if identity is not None:
            table.check("id", lambda: Identity.from_text(identity), "not a usable identity: ")
        local_identity = table.string("local_id")
        if local_identity is not None:
            table.check(
                "local_id", lambda: Identity.from_text(local_identity), "not a usable identity: "
            )
        on_failure_text = table.string("on_failure") or OnFailure.REVOKE.value
        try:
            on_failure = OnFailure(on_failure_text)
        except ValueError:
            table.error("on_failure", f'{on_failure_text!r}: expected "revoke" or "keep"')
        lifetime = self.lifetime(
            table, rkmp.section.lifetime.rekey_time, rkmp.rand_time, rkmp.over_time
        )
        protocols = self.protocols(table, rollover)
        return PeerConfig(
            name=name,
            address=address,
            prefix=prefix,
            port=table.integer("port", DEFAULT_PORT, 1, 65535),
            identity=identity,
            local_identity=local_identity,
            on_failure=on_failure,
            proposals=self.proposals(table) or rkmp.section.proposals,
            lifetime=lifetime,
            liveness_interval=self.liveness(table, rkmp.section.liveness_interval),
            protocols=protocols,
        )

    def protocols(
        self, peer: _Table, rollover: dict[ProtocolId, RolloverPolicy]
    ) -> tuple[ProtocolConfig, ...]:
        result: list[ProtocolConfig] = []
        seen: dict[ProtocolId, str] = {}
        for table in peer.array_of_tables("protocol", _PROTOCOL):
            entry = self.protocol(table, rollover)
            if entry.protocol in seen:
                table.error(
                    "type",
                    f"{names.protocol_name(entry.protocol)} is already configured for this peer "
                    f"({seen[entry.protocol]}); one child SA per protocol and peer",
                )
            seen[entry.protocol] = table.path
            result.append(entry)
        return tuple(result)

    def protocol(self, table: _Table, rollover: dict[ProtocolId, RolloverPolicy]) -> ProtocolConfig:
        type_name = table.required_string("type")
        protocol = table.check("type", lambda: names.protocol_id(type_name))
        label = names.protocol_name(protocol)
        interface = table.string("interface")
        if interface is not None and (
            len(interface) >= _IFNAMSIZ or any(c in interface for c in " /\t")
        ):
            table.error("interface", f"{interface!r} is not a network interface name")
        key_profile = KEY_PROFILES.get(protocol)
        if interface is None and key_profile is not None and key_profile.interfaces_required:
            table.error("interface", f"missing: {label} keys belong to an interface")
        algorithms = self.algorithms(table, protocol)
        rekey = table.positive_duration("rekey_time", CHILD_SA_LIFETIME.rekey_time)
        lifetime = Lifetime(rekey, rekey * JITTER_FRACTION, rekey * JITTER_FRACTION)
        return ProtocolConfig(
            protocol=protocol,
            interface=interface,
            algorithms=algorithms,
            pfs_groups=self.pfs(table),
            options=self.options(table, protocol),
            lifetime=lifetime,
            key_ids=self.key_ids(table, protocol),
            rollover=self.rollover_policy(table, protocol, rollover[protocol]),
        )

    def algorithms(self, table: _Table, protocol: ProtocolId) -> tuple[IntegId, ...]:
        table.required("algorithm")
        texts = table.strings("algorithm", single=True)
        assert texts is not None
        result: list[IntegId] = []
        for index, text in enumerate(texts):
            key = (
                table.key("algorithm")
                if isinstance(table.data["algorithm"], str)
                else (f"{table.key('algorithm')}[{index}]")
            )
            try:
                integ = names.algorithm_id(protocol, text)
            except ValueError as exc:
                self.ctx.error(key, str(exc))
            if integ in result:
                self.ctx.error(key, f"{text!r} is listed twice")
            result.append(integ)
        return tuple(result)

    def pfs(self, table: _Table) -> tuple[KeId, ...]:
        texts = table.strings("pfs", single=True) or ()
        groups: list[KeId] = []
        for index, text in enumerate(texts):
            key = (
                table.key("pfs")
                if isinstance(table.data["pfs"], str)
                else (f"{table.key('pfs')}[{index}]")
            )
            try:
                group = names.ke_group_id(text)
            except ValueError as exc:
                self.ctx.error(key, str(exc))
            if group in groups:
                self.ctx.error(key, f"{text!r} is listed twice")
            groups.append(group)
        return tuple(groups)

    def options(self, table: _Table, protocol: ProtocolId) -> tuple[RkmpOptionId, ...]:
        text = table.string("tcp_options")
        if text is None:
            return ()
        if protocol != ProtocolId.TCP_AO:
            table.error("tcp_options", "only TCP-AO has this option")
        if text not in names.TCP_OPTIONS:
            table.error("tcp_options", f'{text!r}: expected "include" or "exclude"')
        return (names.TCP_OPTIONS[text],)

    def key_ids(self, table: _Table, protocol: ProtocolId) -> range | None:
        value = table.data.get("key_ids")
        if value is None:
            return None
        space = PROFILES[protocol].key_ids
        if (
            not isinstance(value, list)
            or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        ):
            table.error("key_ids", "expected [first, last], two integers")
        first, last = value
        if not space.start <= first <= last < space.stop:
            table.error(
                "key_ids",
                f"[{first}, {last}] is not a range within "
                f"{names.protocol_name(protocol)}'s key IDs {space.start}..{space.stop - 1}",
            )
        return range(first, last + 1)

    # --- [sinks] -------------------------------------------------------------------------

    def sinks(self, top: _Table) -> SinksSection:
        table = top.table("sinks", _SINKS)
        if table is None:
            return SinksSection()
        return SinksSection(frr=self.frr(table), bird=self.bird(table), kernel=self.kernel(table))

    def frr(self, sinks: _Table) -> FrrSink | None:
        table = sinks.table("frr", _FRR)
        if table is None:
            return None
        mode_text = table.string("mode") or FrrMode.VTYSH.value
        try:
            mode = FrrMode(mode_text)
        except ValueError:
            table.error("mode", f'{mode_text!r}: expected "vtysh" or "frr-reload"')
        if table.has("vty_socket") and table.has("pathspace"):
            table.error("pathspace", "give either vty_socket or pathspace, not both")
        sink = FrrSink(
            vtysh=table.string("vtysh") or "vtysh",
            vty_socket=table.path_value("vty_socket"),
            pathspace=table.string("pathspace"),
            mode=mode,
            dry_run=table.boolean("dry_run", False),
            templates_dir=table.path_value("templates_dir"),
            bgp_neighbors=self.frr_neighbors(table),
            key_chain_prefix=table.string("key_chain_prefix") or "rkmp",
            timezone=self.timezone(table),
            check_interval=self.check_interval(table),
        )
        table.check("key_chain_prefix", sink.render_config)  # the renderer's own checks
        return sink

    def check_interval(self, table: _Table) -> float:
        """``check_interval``: a duration, "0" for no drift checks."""
        seconds = table.duration("check_interval", DEFAULT_FRR_CHECK_INTERVAL)
        assert seconds is not None
        if 0 < seconds < MIN_FRR_CHECK_INTERVAL:
            table.error(
                "check_interval",
                f'{format_duration(seconds)} is too short: "0" (no checks) or at least'
                f" {format_duration(MIN_FRR_CHECK_INTERVAL)}",
            )
        return seconds

    def frr_neighbors(self, frr: _Table) -> tuple[FrrBgpNeighbor, ...]:
        neighbors: list[FrrBgpNeighbor] = []
        seen: dict[str, str] = {}
        for table in frr.array_of_tables("bgp_neighbor", _FRR_NEIGHBOR):
            neighbor = self.frr_neighbor(table)
            if neighbor.address in seen:
                table.error("address", f"{neighbor.address} is already in {seen[neighbor.address]}")
            seen[neighbor.address] = table.path
            neighbors.append(neighbor)
        return tuple(neighbors)

    def frr_neighbor(self, table: _Table) -> FrrBgpNeighbor:
        from rkmp_frr.sinks.frr_config import FrrBgpNeighbor

        address = self.ip_address(table, "address", required=True)
        assert address is not None
        table.required("asn")
        asn = table.integer("asn", 0, 1, _MAX_ASN)
        vrf = table.string("vrf")
        return table.check("vrf", lambda: FrrBgpNeighbor(address, asn, vrf))

    def ip_address(self, table: _Table, name: str, *, required: bool = False) -> str | None:
        """An IP address in canonical form (the renderers compare them so)."""
        if required:
            table.required(name)
        text = table.string(name)
        if text is None:
            return None
        try:
            return str(ipaddress.ip_address(text))
        except ValueError:
            table.error(name, f"{text!r} is not an IPv4 or IPv6 address")

    def timezone(self, table: _Table) -> str | None:
        """The routing daemon's time zone: a zone name, "UTC", or "local"
        (the default: this host's zone)."""
        text = table.string("timezone")
        if text is None or text == "local":
            return None
        table.check("timezone", lambda: check_timezone_name(text))
        return text

    def statements(self, table: _Table, name: str) -> tuple[str, ...]:
        """Extra BIRD statements, one per string (an empty array is fine)."""
        value = table.data.get(name)
        if value is None or value == []:
            return ()
        texts = table.strings(name)
        assert texts is not None
        for index, text in enumerate(texts):
            if "\n" in text or "\r" in text:
                self.ctx.error(f"{table.key(name)}[{index}]", "one statement per line")
        return texts

    def bird(self, sinks: _Table) -> BirdSink | None:
        table = sinks.table("bird", _BIRD)
        if table is None:
            return None
        table.required("include_file")
        include_file = table.path_value("include_file")
        assert include_file is not None
        confirm = table.duration("confirm_timeout", None)
        protocols: dict[str, str] = {}  # BIRD protocol name -> its key here
        sink = BirdSink(
            birdc=table.string("birdc") or "birdc",
            socket=table.path_value("socket"),
            include_file=include_file,
            confirm_timeout=confirm or None,
            dry_run=table.boolean("dry_run", False),
            templates_dir=table.path_value("templates_dir"),
            bgp=self.bird_bgp(table, protocols),
            ospf=self.bird_ospf(table, protocols),
            timezone=self.timezone(table),
        )
        table.check("ospf", sink.render_config)  # the renderer's own checks
        return sink

    def bird_protocol_name(self, table: _Table, protocols: dict[str, str]) -> str:
        name = table.required_string("name")
        if name in protocols:
            table.error("name", f"BIRD protocol {name!r} is already defined by {protocols[name]}")
        protocols[name] = table.path
        return name

    def bird_bgp(self, bird: _Table, protocols: dict[str, str]) -> tuple[BirdBgpSession, ...]:
        return tuple(
            self.bird_session(table, protocols) for table in bird.array_of_tables("bgp", _BIRD_BGP)
        )

    def bird_session(self, table: _Table, protocols: dict[str, str]) -> BirdBgpSession:
        from rkmp_frr.sinks.bird_render import BirdBgpSession

        name = self.bird_protocol_name(table, protocols)
        neighbor = self.ip_address(table, "neighbor", required=True)
        assert neighbor is not None
        local_address = self.ip_address(table, "local_address")
        neighbor_as = table.integer("neighbor_as", 0, 1, _MAX_ASN) or None
        local_as = table.integer("local_as", 0, 1, _MAX_ASN) or None
        template = table.string("template")
        options = self.statements(table, "options")

        def session(template: str | None = None, options: tuple[str, ...] = ()) -> BirdBgpSession:
            return BirdBgpSession(
                name, neighbor, neighbor_as, local_as, local_address, template, options
            )

        # One field at a time, so that an error names the right key.
        table.check("name", session)
        table.check("template", lambda: session(template))
        return table.check("options", lambda: session(template, options))

    def bird_ospf(self, bird: _Table, protocols: dict[str, str]) -> tuple[BirdOspfInstance, ...]:
        seen: dict[tuple[int, str], str] = {}  # (OSPF version, interface) -> its key
        return tuple(
            self.bird_instance(table, protocols, seen)
            for table in bird.array_of_tables("ospf", _BIRD_OSPF)
        )

    def bird_instance(
        self, table: _Table, protocols: dict[str, str], seen: dict[tuple[int, str], str]
    ) -> BirdOspfInstance:
        from rkmp_frr.sinks.bird_render import BirdOspfInstance

        name = self.bird_protocol_name(table, protocols)
        table.required("version")
        version = table.integer("version", 2, 2, 3)
        template = table.string("template")
        options = self.statements(table, "options")
        table.required("area")
        areas = tuple(
            self.bird_area(area, version, seen)
            for area in table.array_of_tables("area", _BIRD_AREA)
        )
        if not areas:
            table.error("area", "must not be an empty array")

        def instance(
            template: str | None = None, options: tuple[str, ...] = ()
        ) -> BirdOspfInstance:
            return BirdOspfInstance(name, version, areas, template, options)

        table.check("name", instance)
        table.check("template", lambda: instance(template))
        return table.check("options", lambda: instance(template, options))

    def bird_area(
        self, table: _Table, version: int, seen: dict[tuple[int, str], str]
    ) -> BirdOspfArea:
        from rkmp_frr.sinks.bird_render import BirdOspfArea

        value = table.required("area")
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            area = str(value)
        else:
            area = table.required_string("area")
        options = self.statements(table, "options")
        interfaces = tuple(
            self.bird_interface(sub, version, seen)
            for sub in table.array_of_tables("interface", _BIRD_INTERFACE)
        )
        if not interfaces:
            table.error("interface", "missing: give one [[sinks.bird.ospf.area.interface]] or more")
        table.check("area", lambda: BirdOspfArea(area, interfaces))
        return table.check("options", lambda: BirdOspfArea(area, interfaces, options))

    def bird_interface(
        self, table: _Table, version: int, seen: dict[tuple[int, str], str]
    ) -> BirdOspfInterface:
        from rkmp_frr.sinks.bird_render import BirdOspfInterface

        name = table.required_string("name")
        if (version, name) in seen:
            table.error(
                "name", f"OSPFv{version} interface {name!r} is already in {seen[(version, name)]}"
            )
        seen[(version, name)] = table.path
        table.check("name", lambda: BirdOspfInterface(name))
        options = self.statements(table, "options")
        secured = table.boolean("secured", True)
        return table.check("options", lambda: BirdOspfInterface(name, options, secured))

    def kernel(self, sinks: _Table) -> KernelSink | None:
        table = sinks.table("kernel", _KERNEL)
        if table is None:
            return None
        mode_text = table.string("mode") or KernelIpsecMode.ESP.value
        try:
            mode = KernelIpsecMode(mode_text)
        except ValueError:
            table.error("mode", f'{mode_text!r}: expected "esp" or "ah"')
        return KernelSink(
            enabled=table.boolean("enabled", True),
            mode=mode,
            neighbours=self.kernel_neighbours(table),
        )

    def warn_unsunk_ipsec(self, peers: Sequence[PeerConfig], sinks: SinksSection) -> None:
        """ospfv3-ipsec keys reach the kernel only through [sinks.kernel]."""
        if sinks.kernel is not None and sinks.kernel.enabled:
            return
        for i, peer in enumerate(peers):
            for j, entry in enumerate(peer.protocols):
                if entry.protocol == ProtocolId.OSPFV3_IPSEC:
                    self.ctx.warn(
                        f"peer[{i}].protocol[{j}]",
                        "ospfv3-ipsec keys become kernel SAs only with [sinks.kernel] "
                        "enabled; without it they stay in the key table",
                    )
                    return

    def kernel_neighbours(self, table: _Table) -> Mapping[str, ipaddress.IPv6Address]:
        """``neighbours = { eth1 = "fe80::2" }``: interface -> the OSPFv3
        neighbour's link-local address on it."""
        value = table.data.get("neighbours")
        if value is None:
            return MappingProxyType({})
        if not isinstance(value, dict):
            table.error("neighbours", f"expected a table, got {_type_name(value)}")
        found: dict[str, ipaddress.IPv6Address] = {}
        for name, text in value.items():
            key = table.key(f"neighbours.{name}")
            if not name or len(name) >= _IFNAMSIZ or any(c in name for c in " /\t%"):
                self.ctx.error(key, f"{name!r} is not a network interface name")
            if not isinstance(text, str):
                self.ctx.error(key, f"expected a string, got {_type_name(text)}")
            try:
                address = ipaddress.IPv6Address(text) if "%" not in text else None
            except ValueError:
                address = None
            if address is None or not address.is_link_local:
                self.ctx.error(key, f"{text!r} is not an IPv6 link-local address (fe80::/10)")
            found[name] = address
        return MappingProxyType(found)
