"""rkmpctl against a small real Unix-socket server that answers with canned
responses: this tests the client and the protocol, not the daemon."""

from __future__ import annotations

import io
import json
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import pytest

from rkmp_frr.daemon.control_protocol import (
    DeleteRequest,
    DeleteResult,
    ErrorKind,
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
    RevokeRequest,
    RevokeResult,
    SaRef,
    SasRequest,
    SasResult,
    StatusRequest,
    StatusResult,
    Success,
    decode_request,
    encode_response,
    to_json,
)
from rkmp_frr.daemon.rkmpctl import ExitCode, main, parse_spi
from rkmp_frr.wire.constants import ProtocolId

from .test_control_protocol import APPLIED, CHILD, KEY_HEX, RESULTS, ROW, SA, SINK

HANG = "hang"  # the server reads the request and never answers
CLOSE = "close"  # the server reads the request and closes


@dataclass
class CannedServer:
    """Accepts connections one at a time; answers the n-th with the n-th
    canned reply (a Response, raw bytes, HANG or CLOSE)."""

    path: str
    replies: list[Response | bytes | str]
    requests: list[Request] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def serve(self, listener: socket.socket) -> None:
        for reply in self.replies:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                buffer = LineBuffer()
                lines: list[bytes] = []
                while not lines:
                    data = conn.recv(65536)
                    if not data:
                        break
                    lines = buffer.feed(data)
                if not lines:
                    continue
                self.requests.append(decode_request(lines[0]))
                if reply == HANG:
                    self.stop.wait()
                elif reply == CLOSE:
                    pass
                elif isinstance(reply, bytes):
                    conn.sendall(reply)
                else:
                    assert not isinstance(reply, str)
                    conn.sendall(encode_response(reply))


class _Starter(Protocol):
    def __call__(self, *replies: Response | bytes | str) -> CannedServer: ...


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    # AF_UNIX paths are short (108 octets): keep it under /tmp.
    directory = Path(tempfile.mkdtemp(prefix="rkmpctl-", dir="/tmp"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def serve(socket_dir: Path) -> Iterator[_Starter]:
    started: list[tuple[CannedServer, socket.socket, threading.Thread]] = []

    def start(*replies: Response | bytes | str) -> CannedServer:
        path = str(socket_dir / "rkmpd.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen()
        server = CannedServer(path, list(replies))
        thread = threading.Thread(target=server.serve, args=(listener,), daemon=True)
        thread.start()
        started.append((server, listener, thread))
        return server

    yield start
    for server, listener, thread in started:
        server.stop.set()
        listener.close()
        thread.join(timeout=5)


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


# --------------------------------------------------------------------------- commands


def test_status(serve: _Starter) -> None:
    server = serve(Success(RESULTS[StatusRequest.COMMAND]))
    code, out, err = run("--socket", server.path, "status")
    assert (code, err) == (ExitCode.OK, "")
    assert server.requests == [StatusRequest()]
    assert out.splitlines() == [
        "rkmpd 0.1.0 (pid 4242), up 2h3m",
        "  config:    /etc/rkmp/rkmpd.toml",
        "  identity:  r1.example.net",
        "  listening: 10.0.0.1:500, [2001:db8::1]:500",
        "  peers: 2 configured, RKMP SAs: 1, child SAs: 2, key rows: 3",
        "  sinks:",
        "    frr (FRR 8.4.4): ok, 1 key row(s), 3 apply(ies), 0 failed",
        "      last change 20231114221640Z: frr: applied (1 row(s), 0.25 s)",
        "      note: BGP sessions reset by the key change: 10.0.0.2",
    ]


def test_status_with_a_failing_sink(serve: _Starter) -> None:
    status = RESULTS[StatusRequest.COMMAND]
    assert isinstance(status, StatusResult)
    failed = replace(
        APPLIED,
        status="failed-restored",
        ok=False,
        line="frr: failed-restored (1 row(s), 0.30 s): FRR refused the change: ...",
        notes=(),
    )
    sink = replace(
        SINK,
        ok=False,
        pending=True,
        failures=1,
        last_error=failed.line,
        last_apply=failed,
        last_change=failed,
        kernel_problems=("TCP-MD5 key for 10.0.0.2: not on bgpd's socket",),
    )
    server = serve(Success(replace(status, sinks=(sink,))))
    code, out, _ = run("--socket", server.path, "status")
    assert code == ExitCode.OK
    assert out.splitlines()[-3:] == [
        "    frr (FRR 8.4.4): FAILING, 1 key row(s), 3 apply(ies), 1 failed, changes pending",
        "      last change 20231114221640Z: " + failed.line,
        "      kernel: TCP-MD5 key for 10.0.0.2: not on bgpd's socket",
    ]


def test_status_json(serve: _Starter) -> None:
    result = RESULTS[StatusRequest.COMMAND]
    server = serve(Success(result))
    code, out, _ = run("--socket", server.path, "--json", "status")
    assert code == ExitCode.OK
    assert json.loads(out) == {"ok": True, "result": to_json(result)}


def test_global_options_after_the_command(serve: _Starter) -> None:
    server = serve(Success(RESULTS[StatusRequest.COMMAND]))
    code, out, _ = run("status", "--json", "--socket", server.path, "--timeout", "5")
    assert code == ExitCode.OK
    assert json.loads(out)["ok"] is True


def test_sas(serve: _Starter) -> None:
    server = serve(Success(SasResult(sas=(SA,), orphans=(CHILD,))))
    code, out, _ = run("--socket", server.path, "sas", "r2")
    assert code == ExitCode.OK
    assert server.requests == [SasRequest(peer="r2")]
    assert out.splitlines() == [
        "r2: #established, 10.0.0.2[500], r1.example.net === r2.example.net",
        "  initiator, SPIs: 0123456789abcdef_i* fedcba9876543210_r",
        "  aes256gcm16-prfsha256-x25519, established 2m ago, rekeying in 3h36m",
        "  tcp-ao: active, SPI 0x05 out, 0x07 in, hmac-sha-256-128, tcp-options=include, "
        "pfs x25519",
        "    initiator, rekeying in 55m, expires in 1h6m",
        "child SAs without an RKMP SA:",
        "  r2 tcp-ao: active, SPI 0x05 out, 0x07 in, hmac-sha-256-128, tcp-options=include, "
        "pfs x25519",
        "    initiator, rekeying in 55m, expires in 1h6m",
    ]


def test_sas_empty(serve: _Starter) -> None:
    server = serve(Success(SasResult(sas=())))
    code, out, _ = run("--socket", server.path, "sas")
    assert (code, out) == (ExitCode.OK, "no RKMP SAs\n")
    assert server.requests == [SasRequest(peer=None)]


def test_keys_masked(serve: _Starter) -> None:
    server = serve(Success(RESULTS[KeysRequest.COMMAND]))
    code, out, _ = run("--socket", server.path, "keys", "--protocol", "tcp-ao")
    assert code == ExitCode.OK
    assert server.requests == [KeysRequest(protocol=ProtocolId.TCP_AO)]
    assert KEY_HEX not in out
    assert out.splitlines() == [
        "tcp-ao 10.0.0.2 SPI 0x05: rkmp/TCP-AO/10.0.0.2/05",
        "  HMAC-SHA-256-128, kdf KDF_HMAC_SHA1, direction both, interfaces all, "
        "names 07 in / 05 out",
        "  send   2023-11-14 22:16:20Z .. forever",
        "  accept 2023-11-14 22:13:20Z .. forever (accepting)",
        "  superseded by SPI 0x06",
        "  key    <32 octets>",
    ]


def test_keys_show_secrets(serve: _Starter) -> None:
    row = KeyRowInfo.from_row(ROW, 1_700_000_200, show_secrets=True)
    server = serve(Success(KeysResult(1_700_000_200, True, (row,))))
    code, out, _ = run("--socket", server.path, "keys", "--peer", "r2", "--show-secrets")
    assert code == ExitCode.OK
    assert server.requests == [KeysRequest(peer="r2", show_secrets=True)]
    assert f"  key    {KEY_HEX}" in out.splitlines()
    assert "(sending)" in out


def test_generate_sa(serve: _Starter) -> None:
    server = serve(Success(GenerateSaResult("r2", ProtocolId.OSPFV3, 0x0102, 0x0102)))
    code, out, _ = run("--socket", server.path, "generate-sa", "r2", "ospfv3")
    assert code == ExitCode.OK
    assert server.requests == [GenerateSaRequest("r2", ProtocolId.OSPFV3)]
    assert out == "ospfv3 SA with r2: SPI 0x0102 (peer's 0x0102)\n"


@pytest.mark.parametrize("spi", ["0x05", "0X5", "5"])
def test_rekey_sa_spi_forms(serve: _Starter, spi: str) -> None:
    server = serve(Success(RekeySaResult("r2", ProtocolId.TCP_AO, 5, 6)))
    code, out, _ = run("--socket", server.path, "rekey-sa", "tcp-ao", spi, "--peer", "r2")
    assert code == ExitCode.OK
    assert server.requests == [RekeySaRequest(ProtocolId.TCP_AO, 5, peer="r2")]
    assert out == "tcp-ao SA 0x05 with r2 rekeyed: new SPI 0x06\n"


def test_delete_all_of_a_protocol(serve: _Starter) -> None:
    refs = (SaRef(ProtocolId.BFD, 1, "10.0.0.2", "r2"), SaRef(ProtocolId.BFD, 2, "10.0.0.6", None))
    server = serve(Success(DeleteResult(refs)))
    code, out, _ = run("--socket", server.path, "delete", "bfd", "0")
    assert code == ExitCode.OK
    assert server.requests == [DeleteRequest(ProtocolId.BFD, 0)]
    assert out == "deleted 2 SA(s): bfd r2 SPI 0x01, bfd 10.0.0.6 SPI 0x02\n"


def test_revoke(serve: _Starter) -> None:
    result = RevokeResult("r2", (SaRef(ProtocolId.TCP_MD5, 1, "10.0.0.2", "r2"),))
    server = serve(Success(result))
    code, out, _ = run("--socket", server.path, "--json", "revoke", "r2")
    assert code == ExitCode.OK
    assert server.requests == [RevokeRequest("r2")]
    assert json.loads(out) == {
        "ok": True,
        "result": {
            "peer": "r2",
            "revoked": [{"protocol": "tcp-md5", "spi": 1, "address": "10.0.0.2", "peer": "r2"}],
        },
    }


# --------------------------------------------------------------------------- failures: exit 1


def test_daemon_error_exits_1(serve: _Starter) -> None:
    server = serve(Failure.of(ErrorKind.UNKNOWN_PEER, "no peer named 'r9'"))
    code, out, err = run("--socket", server.path, "revoke", "r9")
    assert (code, out, err) == (ExitCode.FAILED, "", "rkmpctl: no peer named 'r9'\n")


def test_daemon_error_json(serve: _Starter) -> None:
    server = serve(Failure.of(ErrorKind.FAILED, "NO_PROPOSAL_CHOSEN"))
    code, out, _ = run("--socket", server.path, "--json", "generate-sa", "r2", "bfd")
    assert code == ExitCode.FAILED
    assert json.loads(out) == {
        "ok": False,
        "error": {"kind": "failed", "message": "NO_PROPOSAL_CHOSEN"},
    }


@pytest.mark.parametrize(
    "reply",
    [b"garbage\n", b'{"version": 1, "ok": true, "result": {}}\n', CLOSE],
    ids=["not JSON", "wrong result", "closed"],
)
def test_bad_answers_exit_1(serve: _Starter, reply: bytes | str) -> None:
    server = serve(reply)
    code, out, err = run("--socket", server.path, "--json", "revoke", "r2")
    assert code == ExitCode.FAILED
    assert json.loads(out)["error"]["kind"] == "bad-response"
    assert err.startswith("rkmpctl: ")


# --------------------------------------------------------------------------- unreachable: exit 3


def test_no_socket_exits_3(socket_dir: Path) -> None:
    path = str(socket_dir / "missing.sock")
    code, out, err = run("--socket", path, "--json", "status")
    assert code == ExitCode.UNREACHABLE
    assert json.loads(out)["error"] == {
        "kind": "unreachable",
        "message": f"cannot connect to {path}: No such file or directory",
    }
    assert err == f"rkmpctl: cannot connect to {path}: No such file or directory\n"


def test_refused_exits_3(socket_dir: Path) -> None:
    path = str(socket_dir / "dead.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as stale:
        stale.bind(path)  # the file exists, nobody listens
    code, _, err = run("--socket", path, "status")
    assert code == ExitCode.UNREACHABLE
    assert "Connection refused" in err


def test_no_answer_in_time_exits_3(serve: _Starter) -> None:
    server = serve(HANG)
    code, _, err = run("--socket", server.path, "--timeout", "0.2", "status")
    assert code == ExitCode.UNREACHABLE
    assert "no answer" in err
    assert server.requests == [StatusRequest()]


# --------------------------------------------------------------------------- usage: exit 2


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["reboot"],
        ["generate-sa", "r2"],
        ["generate-sa", "r2", "rip"],
        ["rekey-sa", "tcp-ao", "0xzz"],
        ["rekey-sa", "tcp-ao", "0"],
        ["delete", "tcp-ao", "-1"],
        ["delete", "tcp-ao", "4294967296"],
        ["keys", "--protocol", "ospf"],
        ["--timeout", "0", "status"],
        ["--timeout", "soon", "status"],
    ],
)
def test_usage_errors_exit_2(socket_dir: Path, argv: list[str]) -> None:
    # No daemon is needed: a usage error is found before connecting.
    code, _, err = run("--socket", str(socket_dir / "unused.sock"), *argv)
    assert code == ExitCode.USAGE
    assert err


def test_help_exits_0() -> None:
    code, out, _ = run("--help")
    assert code == ExitCode.OK
    assert "exit codes: 0 ok, 1 operation failed, 2 usage error, 3 daemon not reachable" in out


def test_parse_spi() -> None:
    assert [parse_spi(t) for t in ("0", "10", "0x10", "0XfF", "4294967295")] == [
        0,
        10,
        16,
        255,
        2**32 - 1,
    ]
