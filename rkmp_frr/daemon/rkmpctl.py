"""``rkmpctl``: talk to a running ``rkmpd`` over its control socket.

    rkmpctl [--socket PATH] [--json] [--timeout SECONDS] COMMAND [ARGS]

Commands: ``status``; ``sas [PEER]``; ``keys [--protocol P] [--peer PEER]
[--show-secrets]``; ``generate-sa PEER PROTOCOL``; ``rekey-sa PROTOCOL SPI
[--peer PEER]``; ``delete PROTOCOL SPI [--peer PEER]``; ``revoke PEER``.
SPIs are decimal or ``0x`` hex; protocols are named as in the
configuration. The global options may also follow the command.

Exit codes: 0 ok, 1 the operation failed (the daemon said no, or its answer
made no sense), 2 usage error, 3 the daemon is not reachable (no socket,
refused, permission denied, or no answer within ``--timeout``).

``--json`` prints one JSON object on stdout, ``{"ok": true, "result": ...}``
or ``{"ok": false, "error": {"kind": ..., "message": ...}}``; the result
shapes are documented in ``docs/rkmpctl.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import sys
import time
from collections.abc import Callable, Sequence
from enum import Enum, IntEnum
from typing import Any, TextIO

from rkmp_frr.daemon import names
from rkmp_frr.daemon.config_model import DEFAULT_CONTROL_SOCKET
from rkmp_frr.daemon.control_protocol import (
    MAX_SPI,
    ChildSaInfo,
    Command,
    ControlProtocolError,
    DeleteRequest,
    DeleteResult,
    ErrorInfo,
    Failure,
    GenerateSaRequest,
    GenerateSaResult,
    KeyRowInfo,
    KeysRequest,
    KeysResult,
    LineBuffer,
    RekeySaRequest,
    RekeySaResult,
    Request,
    Response,
    Result,
    RevokeRequest,
    RevokeResult,
    RkmpSaInfo,
    SaRef,
    SasRequest,
    SasResult,
    SinkInfo,
    StatusRequest,
    StatusResult,
    Success,
    decode_response,
    encode_request,
    to_json,
)
from rkmp_frr.daemon.durations import format_duration
from rkmp_frr.keytable.utc import FOREVER, format_utc
from rkmp_frr.wire.constants import ROUTING_SPI_SIZE, ProtocolId

DEFAULT_TIMEOUT = 30.0  # generate-sa and rekey-sa wait for an exchange


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    UNREACHABLE = 3


class ClientErrorKind(Enum):
    """``error.kind`` values rkmpctl itself reports in ``--json`` output
    (next to the daemon's ``ErrorKind`` values)."""

    USAGE = "usage"
    UNREACHABLE = "unreachable"
    BAD_RESPONSE = "bad-response"


class DaemonUnreachable(Exception):
    """No answer from the daemon: exit code 3."""


class BadResponse(Exception):
    """The daemon answered something that is not a response: exit code 1."""


# --------------------------------------------------------------------------- the client


def call(socket_path: str, request: Request, timeout: float) -> Response:
    """Send one request and wait at most ``timeout`` seconds in all for
    its response."""
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(socket_path)
        except (TimeoutError, OSError) as exc:
            raise DaemonUnreachable(f"cannot connect to {socket_path}: {_reason(exc)}") from None
        try:
            sock.sendall(encode_request(request))
            line = _read_line(sock, deadline)
        except TimeoutError:
            raise DaemonUnreachable(
                f"no answer from {socket_path} within {format_duration(timeout)}"
            ) from None
        except OSError as exc:
            raise BadResponse(f"connection to {socket_path} failed: {_reason(exc)}") from None
    try:
        return decode_response(line, request.COMMAND)
    except ControlProtocolError as exc:
        raise BadResponse(str(exc)) from None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _read_line(sock: socket.socket, deadline: float) -> bytes:
    buffer = LineBuffer()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        sock.settimeout(remaining)
        data = sock.recv(65536)
        if not data:
            raise BadResponse("the daemon closed the connection without an answer")
        try:
            lines = buffer.feed(data)
        except ControlProtocolError as exc:
            raise BadResponse(str(exc)) from None
        if lines:
            return lines[0]


# --------------------------------------------------------------------------- arguments


def parse_spi(text: str) -> int:
    """Decimal or 0x-hex, 0..2**32-1 (argparse type)."""
    try:
        value = int(text[2:], 16) if text.lower().startswith("0x") else int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a decimal or 0x-hex SPI") from None
    if not 0 <= value <= MAX_SPI:
        raise argparse.ArgumentTypeError(f"SPI {text} is out of range 0..{MAX_SPI:#x}")
    return value


def parse_protocol(text: str) -> ProtocolId:
    try:
        return names.protocol_id(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _global_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    # The same options before and after the command; after it, unset
    # options must not overwrite what was given before.
    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument(
        "--socket",
        default=default(str(DEFAULT_CONTROL_SOCKET)),
        metavar="PATH",
        help=f"control socket (default {DEFAULT_CONTROL_SOCKET})",
    )
    parser.add_argument(
        "--json", action="store_true", default=default(False), help="print JSON (stable format)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=default(DEFAULT_TIMEOUT),
        metavar="SECONDS",
        help=f"give up waiting for the daemon after this long (default {DEFAULT_TIMEOUT:g})",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rkmpctl",
        description="Control a running rkmpd.",
        epilog="exit codes: 0 ok, 1 operation failed, 2 usage error, 3 daemon not reachable",
    )
    _global_options(parser, suppress=False)
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, suppress=True)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(command: Command, help_text: str) -> argparse.ArgumentParser:
        return commands.add_parser(command.value, parents=[common], help=help_text)

    add(Command.STATUS, "daemon status")
    sas = add(Command.SAS, "RKMP SAs and their child SAs")
    sas.add_argument("peer", nargs="?", help="only this peer")
    keys = add(Command.KEYS, "key table rows (keys masked)")
    keys.add_argument("--protocol", type=parse_protocol, help="only this protocol")
    keys.add_argument("--peer", help="only rows of this peer")
    keys.add_argument("--show-secrets", action="store_true", help="print the keys themselves")
    generate = add(Command.GENERATE_SA, "negotiate a new child SA (RKMP_generateSA)")
    generate.add_argument("peer")
    generate.add_argument("protocol", type=parse_protocol)
    rekey = add(Command.REKEY_SA, "rekey a child SA (RKMP_rekeySA)")
    rekey.add_argument("protocol", type=parse_protocol)
    rekey.add_argument("spi", type=parse_spi)
    rekey.add_argument("--peer", help="the peer, if several have an SA with this SPI")
    delete = add(Command.DELETE, "delete an SA and its keys (SPI 0: all of the protocol)")
    delete.add_argument("protocol", type=parse_protocol)
    delete.add_argument("spi", type=parse_spi)
    delete.add_argument("--peer", help="only with this peer")
    revoke = add(Command.REVOKE, "withdraw a peer's keys now (RP_revokeSA)")
    revoke.add_argument("peer")
    return parser


def make_request(args: argparse.Namespace) -> Request:
    """ValueError if the arguments make no valid request."""
    command = Command(args.command)
    if command is Command.STATUS:
        return StatusRequest()
    if command is Command.SAS:
        return SasRequest(peer=args.peer)
    if command is Command.KEYS:
        return KeysRequest(protocol=args.protocol, peer=args.peer, show_secrets=args.show_secrets)
    if command is Command.GENERATE_SA:
        return GenerateSaRequest(peer=args.peer, protocol=args.protocol)
    if command is Command.REKEY_SA:
        return RekeySaRequest(protocol=args.protocol, spi=args.spi, peer=args.peer)
    if command is Command.DELETE:
        return DeleteRequest(protocol=args.protocol, spi=args.spi, peer=args.peer)
    return RevokeRequest(peer=args.peer)


# --------------------------------------------------------------------------- human output


def spi_text(protocol: ProtocolId, spi: int) -> str:
    return f"0x{spi:0{2 * ROUTING_SPI_SIZE[protocol]}x}"


def _in(seconds: float | None) -> str:
    return "not scheduled" if seconds is None else f"in {format_duration(seconds)}"


def render_status(result: StatusResult) -> str:
    lines = [
        f"rkmpd {result.daemon_version} (pid {result.pid}), up {format_duration(result.uptime)}",
        f"  config:    {result.config_file}",
        f"  identity:  {result.identity}",
        f"  listening: {', '.join(result.listen) or 'nowhere'}",
        f"  peers: {result.peers} configured, RKMP SAs: {result.rkmp_sas}, "
        f"child SAs: {result.child_sas}, key rows: {result.key_rows}",
    ]
    if result.sinks:
        lines.append("  sinks:")
        for sink in result.sinks:
            lines += _sink_lines(sink)
    return "\n".join(lines)


def _sink_lines(sink: SinkInfo) -> list[str]:
    daemon = f"{sink.daemon} {sink.version}" if sink.version else sink.daemon
    mode = ", dry run" if sink.dry_run else ""
    state = "ok" if sink.ok else "FAILING"
    pending = ", changes pending" if sink.pending else ""
    lines = [
        f"    {sink.name} ({daemon}{mode}): {state}, {sink.rows} key row(s), "
        f"{sink.applies} apply(ies), {sink.failures} failed{pending}"
    ]
    change = sink.last_change
    if change is not None:
        lines.append(f"      last change {_utc_text(change.started_at)}: {change.line}")
        lines += [f"      note: {note}" for note in change.notes]
    if sink.last_error is not None and (change is None or sink.last_error != change.line):
        lines.append(f"      last error: {sink.last_error}")
    lines += [f"      kernel: {problem}" for problem in sink.kernel_problems]
    if sink.last_drift_at is not None:
        lines.append(
            f"      drift {_utc_text(sink.last_drift_at)} ({sink.drifts} in"
            f" {sink.drift_checks} check(s)), applied again: {sink.last_drift}"
        )
    if sink.check_error is not None:
        lines.append(f"      drift check: {sink.check_error}")
    return lines


def _utc_text(instant: float) -> str:
    try:
        return format_utc(int(instant))
    except ValueError:
        return "?"


def _child_lines(child: ChildSaInfo, indent: str, label: str = "") -> list[str]:
    name = names.protocol_name(child.protocol)
    ids = spi_text(child.protocol, child.spi)
    if child.remote_spi != child.spi:
        ids = f"{ids} out, {spi_text(child.protocol, child.remote_spi)} in"
    details = [child.algorithm, *child.options]
    if child.pfs_group:
        details.append(f"pfs {child.pfs_group}")
    role = "initiator" if child.initiator else "responder"
    return [
        f"{indent}{label}{name}: {child.state}, SPI {ids}, {', '.join(details)}",
        f"{indent}  {role}, rekeying {_in(child.rekey_in)}, expires {_in(child.expires_in)}",
    ]


def _sa_lines(sa: RkmpSaInfo) -> list[str]:
    host = f"[{sa.address}]" if ":" in sa.address else sa.address
    ids = f"{sa.local_identity or '?'} === {sa.remote_identity or '?'}"
    role = "initiator" if sa.initiator else "responder"
    mark_i, mark_r = ("*", "") if sa.initiator else ("", "*")
    lines = [
        f"{sa.peer}: #{sa.state}, {host}[{sa.port}], {ids}",
        f"  {role}, SPIs: {sa.spi_i}_i{mark_i} {sa.spi_r}_r{mark_r}",
    ]
    timing = []
    if sa.established_for is not None:
        timing.append(f"established {format_duration(sa.established_for)} ago")
    timing.append(f"rekeying {_in(sa.rekey_in)}")
    lines.append(f"  {sa.proposal or 'no proposal yet'}, {', '.join(timing)}")
    for child in sa.children:
        lines += _child_lines(child, "  ")
    return lines


def render_sas(result: SasResult) -> str:
    if not result.sas and not result.orphans:
        return "no RKMP SAs"
    lines: list[str] = []
    for sa in result.sas:
        lines += _sa_lines(sa)
    if result.orphans:
        lines.append("child SAs without an RKMP SA:")
        for child in result.orphans:
            lines += _child_lines(child, "  ", f"{child.peer} ")
    return "\n".join(lines)


def _when(instant: int) -> str:
    if instant >= FOREVER:
        return "forever"
    text = format_utc(instant)  # YYYYmmddHHMMSSZ
    return f"{text[0:4]}-{text[4:6]}-{text[6:8]} {text[8:10]}:{text[10:12]}:{text[12:14]}Z"


def _key_lines(row: KeyRowInfo) -> list[str]:
    name = names.protocol_name(row.protocol)
    peers = ", ".join(row.peers)
    key_names = f"names {row.local_key_name or '-'} in / {row.peer_key_name or '-'} out"
    sending = " (sending)" if row.sending else ""
    accepting = " (accepting)" if row.accepting else ""
    lines = [
        f"{name} {peers} SPI {spi_text(row.protocol, row.spi)}: {row.admin_key_name}",
        f"  {row.alg_id}, kdf {row.kdf}, direction {row.direction.value}, "
        f"interfaces {', '.join(row.interfaces)}, {key_names}",
        f"  send   {_when(row.send_lifetime_start)} .. {_when(row.send_lifetime_end)}{sending}",
        f"  accept {_when(row.accept_lifetime_start)} .. "
        f"{_when(row.accept_lifetime_end)}{accepting}",
    ]
    if row.protocol_specific_info:
        lines.append(f"  info   {row.protocol_specific_info}")
    if row.superseded_by is not None:
        lines.append(f"  superseded by SPI {spi_text(row.protocol, row.superseded_by)}")
    lines.append(f"  key    {row.key if row.key is not None else f'<{row.key_octets} octets>'}")
    return lines


def render_keys(result: KeysResult) -> str:
    if not result.rows:
        return "no keys"
    lines: list[str] = []
    for row in result.rows:
        lines += _key_lines(row)
    return "\n".join(lines)


def _refs(refs: Sequence[SaRef]) -> str:
    return ", ".join(
        f"{names.protocol_name(r.protocol)} {r.peer or r.address} SPI {spi_text(r.protocol, r.spi)}"
        for r in refs
    )


def render_generate(result: GenerateSaResult) -> str:
    return (
        f"{names.protocol_name(result.protocol)} SA with {result.peer}: "
        f"SPI {spi_text(result.protocol, result.spi)} "
        f"(peer's {spi_text(result.protocol, result.remote_spi)})"
    )


def render_rekey(result: RekeySaResult) -> str:
    return (
        f"{names.protocol_name(result.protocol)} SA "
        f"{spi_text(result.protocol, result.old_spi)} with {result.peer} rekeyed: "
        f"new SPI {spi_text(result.protocol, result.new_spi)}"
    )


def render_delete(result: DeleteResult) -> str:
    if not result.deleted:
        return "nothing deleted"
    return f"deleted {len(result.deleted)} SA(s): {_refs(result.deleted)}"


def render_revoke(result: RevokeResult) -> str:
    if not result.revoked:
        return f"revoked {result.peer}: no keys to withdraw"
    return f"revoked {result.peer}: withdrew {len(result.revoked)} SA(s): {_refs(result.revoked)}"


def render(result: Result) -> str:
    renderers: dict[type, Callable[[Any], str]] = {
        StatusResult: render_status,
        SasResult: render_sas,
        KeysResult: render_keys,
        GenerateSaResult: render_generate,
        RekeySaResult: render_rekey,
        DeleteResult: render_delete,
        RevokeResult: render_revoke,
    }
    return renderers[type(result)](result)


# --------------------------------------------------------------------------- main


def _report_error(kind: str, message: str, as_json: bool, out: TextIO, err: TextIO) -> None:
    if as_json:
        print(json.dumps({"ok": False, "error": {"kind": kind, "message": message}}), file=out)
    print(f"rkmpctl: {message}", file=err)


def main(
    argv: Sequence[str] | None = None,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    parser = build_parser()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: 2 on a usage error, 0 for --help
        return int(exc.code or 0)
    as_json = bool(args.json)
    if not args.timeout > 0:
        _report_error(ClientErrorKind.USAGE.value, "--timeout must be positive", as_json, out, err)
        return ExitCode.USAGE
    try:
        request = make_request(args)
    except ValueError as exc:
        _report_error(ClientErrorKind.USAGE.value, str(exc), as_json, out, err)
        return ExitCode.USAGE
    try:
        response = call(args.socket, request, args.timeout)
    except DaemonUnreachable as exc:
        _report_error(ClientErrorKind.UNREACHABLE.value, str(exc), as_json, out, err)
        return ExitCode.UNREACHABLE
    except BadResponse as exc:
        _report_error(ClientErrorKind.BAD_RESPONSE.value, str(exc), as_json, out, err)
        return ExitCode.FAILED
    if isinstance(response, Failure):
        error: ErrorInfo = response.error
        _report_error(error.kind.value, error.message, as_json, out, err)
        return ExitCode.FAILED
    assert isinstance(response, Success)
    if as_json:
        print(json.dumps({"ok": True, "result": to_json(response.result)}, indent=2), file=out)
    else:
        print(render(response.result), file=out)
    return ExitCode.OK


if __name__ == "__main__":
    sys.exit(main())
