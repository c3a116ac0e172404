"""The control protocol: requests and responses round-trip through JSON
lines, malformed messages give typed errors, the documented shapes hold,
and key material appears only where asked for."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rkmp_frr.daemon.control_protocol import (
    MAX_MESSAGE_SIZE,
    MAX_SPI,
    PROTOCOL_VERSION,
    RESULT_TYPES,
    ChildSaInfo,
    Command,
    ControlProtocolError,
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
    Result,
    RevokeRequest,
    RevokeResult,
    RkmpSaInfo,
    SaRef,
    SasRequest,
    SasResult,
    SinkApplyInfo,
    SinkInfo,
    StatusRequest,
    StatusResult,
    Success,
    decode_request,
    decode_response,
    encode_request,
    encode_response,
    from_json,
    to_json,
)
from rkmp_frr.engine.events import ChildParams, ChildRef
from rkmp_frr.keytable.row import ALL_INTERFACES, Direction, KeyRow, RowLink
from rkmp_frr.keytable.utc import FOREVER
from rkmp_frr.wire.constants import IntegId, KeId, ProtocolId, RkmpOptionId

KEY_HEX = "5f3c9a0e" * 8  # 32 octets

# --------------------------------------------------------------------------- samples

CHILD = ChildSaInfo(
    peer="r2",
    protocol=ProtocolId.TCP_AO,
    state="active",
    spi=5,
    remote_spi=7,
    algorithm="hmac-sha-256-128",
    options=("tcp-options=include",),
    pfs_group="x25519",
    initiator=True,
    rekey_in=3300.0,
    expires_in=3960.0,
)
SA = RkmpSaInfo(
    peer="r2",
    address="10.0.0.2",
    port=500,
    state="established",
    initiator=True,
    local_identity="r1.example.net",
    remote_identity="r2.example.net",
    spi_i="0123456789abcdef",
    spi_r="fedcba9876543210",
    proposal="aes256gcm16-prfsha256-x25519",
    established_for=120.0,
    rekey_in=13000.0,
    expires_in=15000.0,
    children=(CHILD,),
)
ROW = KeyRow(
    admin_key_name="rkmp/TCP-AO/10.0.0.2/05",
    local_key_name="07",
    peer_key_name="05",
    peers=frozenset({"10.0.0.2"}),
    interfaces=ALL_INTERFACES,
    protocol=ProtocolId.TCP_AO,
    protocol_specific_info="",
    kdf="KDF_HMAC_SHA1",
    alg_id="HMAC-SHA-256-128",
    key=KEY_HEX,
    direction=Direction.BOTH,
    send_lifetime_start=1_700_000_180,
    send_lifetime_end=FOREVER,
    accept_lifetime_start=1_700_000_000,
    accept_lifetime_end=FOREVER,
    spi=5,
    link=RowLink(ChildRef(("10.0.0.2", 500), ProtocolId.TCP_AO, 5, 7), None, superseded_by=6),
)
REF = SaRef(ProtocolId.OSPFV2, 3, "10.0.0.2", "r2")
APPLIED = SinkApplyInfo(
    status="applied",
    ok=True,
    started_at=1_700_000_200.5,
    duration=0.25,
    rows=1,
    line="frr: applied (1 row(s), 0.25 s)",
    error=None,
    restore_error=None,
    refused=(),
    notes=("BGP sessions reset by the key change: 10.0.0.2",),
    kernel_problems=(),
)
SINK = SinkInfo(
    name="frr",
    daemon="FRR",
    version="8.4.4",
    detected="FRRouting 8.4.4 (r1) on Linux(6.1.0).",
    dry_run=False,
    ok=True,
    rows=1,
    pending=False,
    applies=3,
    failures=0,
    last_error=None,
    last_apply=APPLIED,
    last_change=APPLIED,
    kernel_problems=(),
)

RESULTS: dict[Command, Result] = {
    Command.STATUS: StatusResult(
        daemon_version="0.1.0",
        pid=4242,
        uptime=7384.5,
        config_file="/etc/rkmp/rkmpd.toml",
        identity="r1.example.net",
        listen=("10.0.0.1:500", "[2001:db8::1]:500"),
        peers=2,
        rkmp_sas=1,
        child_sas=2,
        key_rows=3,
        sinks=(SINK,),
    ),
    Command.SAS: SasResult(sas=(SA,), orphans=(CHILD,)),
    Command.KEYS: KeysResult(
        now=1_700_000_100,
        secrets_shown=False,
        rows=(KeyRowInfo.from_row(ROW, 1_700_000_100, show_secrets=False),),
    ),
    Command.GENERATE_SA: GenerateSaResult("r2", ProtocolId.BFD, 9, 9),
    Command.REKEY_SA: RekeySaResult("r2", ProtocolId.ISIS, 0x0102, 0x0103),
    Command.DELETE: DeleteResult((REF,)),
    Command.REVOKE: RevokeResult("r2", (REF, SaRef(ProtocolId.TCP_AO, 5, "10.0.0.2", "r2"))),
}

REQUESTS: list[Request] = [
    StatusRequest(),
    SasRequest(),
    SasRequest(peer="r2"),
    KeysRequest(),
    KeysRequest(protocol=ProtocolId.OSPFV3, peer="r2", show_secrets=True),
    GenerateSaRequest("r2", ProtocolId.TCP_AO),
    RekeySaRequest(ProtocolId.TCP_MD5, 1),
    RekeySaRequest(ProtocolId.OSPFV3_IPSEC, MAX_SPI, peer="r3"),
    DeleteRequest(ProtocolId.BFD, 0),
    DeleteRequest(ProtocolId.ISIS, 0x1234, peer="r2"),
    RevokeRequest("r2"),
]


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("request_", REQUESTS, ids=repr)
def test_request_round_trip(request_: Request) -> None:
    line = encode_request(request_)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert decode_request(line) == request_


@pytest.mark.parametrize("command", list(Command))
def test_result_round_trip(command: Command) -> None:
    response = Success(RESULTS[command])
    line = encode_response(response)
    assert line.count(b"\n") == 1
    assert decode_response(line, command) == response


def test_failure_round_trip() -> None:
    failure = Failure.of(ErrorKind.UNKNOWN_PEER, "no peer named 'r9'")
    line = encode_response(failure)
    assert json.loads(line) == {
        "version": PROTOCOL_VERSION,
        "ok": False,
        "error": {"kind": "unknown-peer", "message": "no peer named 'r9'"},
    }
    assert decode_response(line, Command.REVOKE) == failure


_names = st.text(st.characters(codec="utf-8"), min_size=1, max_size=20)
_protocols = st.sampled_from(list(ProtocolId)).filter(lambda p: p >= 201)
_requests = st.one_of(
    st.builds(StatusRequest),
    st.builds(SasRequest, peer=st.none() | _names),
    st.builds(
        KeysRequest,
        protocol=st.none() | _protocols,
        peer=st.none() | _names,
        show_secrets=st.booleans(),
    ),
    st.builds(GenerateSaRequest, peer=_names, protocol=_protocols),
    st.builds(
        RekeySaRequest, protocol=_protocols, spi=st.integers(1, MAX_SPI), peer=st.none() | _names
    ),
    st.builds(
        DeleteRequest, protocol=_protocols, spi=st.integers(0, MAX_SPI), peer=st.none() | _names
    ),
    st.builds(RevokeRequest, peer=_names),
)


@settings(max_examples=60, deadline=None)
@given(_requests)
def test_any_request_round_trips(request_: Request) -> None:
    assert decode_request(encode_request(request_)) == request_


# --------------------------------------------------------------------------- the documented shapes


def test_request_shape() -> None:
    line = encode_request(RekeySaRequest(ProtocolId.TCP_AO, 5, peer="r2"))
    assert json.loads(line) == {
        "version": 1,
        "command": "rekey-sa",
        "args": {"protocol": "tcp-ao", "spi": 5, "peer": "r2"},
    }


def test_status_shape() -> None:
    assert to_json(RESULTS[Command.STATUS]) == {
        "daemon_version": "0.1.0",
        "pid": 4242,
        "uptime": 7384.5,
        "config_file": "/etc/rkmp/rkmpd.toml",
        "identity": "r1.example.net",
        "listen": ["10.0.0.1:500", "[2001:db8::1]:500"],
        "peers": 2,
        "rkmp_sas": 1,
        "child_sas": 2,
        "key_rows": 3,
        "sinks": [
            {
                "name": "frr",
                "daemon": "FRR",
                "version": "8.4.4",
                "detected": "FRRouting 8.4.4 (r1) on Linux(6.1.0).",
                "dry_run": False,
                "ok": True,
                "rows": 1,
                "pending": False,
                "applies": 3,
                "failures": 0,
                "last_error": None,
                "last_apply": to_json(APPLIED),
                "last_change": to_json(APPLIED),
                "kernel_problems": [],
                "drift_checks": 0,
                "drifts": 0,
                "last_drift_at": None,
                "last_drift": None,
                "check_error": None,
            }
        ],
    }
    assert to_json(APPLIED) == {
        "status": "applied",
        "ok": True,
        "started_at": 1_700_000_200.5,
        "duration": 0.25,
        "rows": 1,
        "line": "frr: applied (1 row(s), 0.25 s)",
        "error": None,
        "restore_error": None,
        "refused": [],
        "notes": ["BGP sessions reset by the key change: 10.0.0.2"],
        "kernel_problems": [],
    }


def test_status_of_a_daemon_without_sinks_field() -> None:
    """``sinks`` was added to ``status``: an answer without it (an older
    rkmpd) still decodes, with no sinks."""
    obj = json.loads(encode_response(Success(RESULTS[Command.STATUS])))
    del obj["result"]["sinks"]
    response = decode_response(json.dumps(obj).encode() + b"\n", Command.STATUS)
    assert isinstance(response, Success) and isinstance(response.result, StatusResult)
    assert response.result.sinks == ()
    assert response.result.key_rows == 3


def test_sas_shape() -> None:
    shape = to_json(RESULTS[Command.SAS])
    assert set(shape) == {"sas", "orphans"}
    [sa] = shape["sas"]
    assert list(sa) == [
        "peer", "address", "port", "state", "initiator", "local_identity", "remote_identity",
        "spi_i", "spi_r", "proposal", "established_for", "rekey_in", "expires_in", "children",
    ]  # fmt: skip
    assert sa["children"][0] == {
        "peer": "r2",
        "protocol": "tcp-ao",
        "state": "active",
        "spi": 5,
        "remote_spi": 7,
        "algorithm": "hmac-sha-256-128",
        "options": ["tcp-options=include"],
        "pfs_group": "x25519",
        "initiator": True,
        "rekey_in": 3300.0,
        "expires_in": 3960.0,
    }


def test_keys_shape_and_masking() -> None:
    info = KeyRowInfo.from_row(ROW, 1_700_000_100, show_secrets=False)
    assert to_json(info) == {
        "protocol": "tcp-ao",
        "spi": 5,
        "admin_key_name": "rkmp/TCP-AO/10.0.0.2/05",
        "local_key_name": "07",
        "peer_key_name": "05",
        "peers": ["10.0.0.2"],
        "interfaces": ["all"],
        "protocol_specific_info": "",
        "kdf": "KDF_HMAC_SHA1",
        "alg_id": "HMAC-SHA-256-128",
        "direction": "both",
        "send_lifetime_start": 1_700_000_180,
        "send_lifetime_end": FOREVER,
        "accept_lifetime_start": 1_700_000_000,
        "accept_lifetime_end": FOREVER,
        "sending": False,  # its send start is still 80 s away
        "accepting": True,
        "superseded_by": 6,
        "key_octets": 32,
        "key": None,
    }
    line = encode_response(Success(KeysResult(1_700_000_100, False, (info,))))
    assert KEY_HEX.encode() not in line


def test_keys_with_secrets() -> None:
    info = KeyRowInfo.from_row(ROW, 1_700_000_200, show_secrets=True)
    assert info.key == KEY_HEX
    assert info.sending and info.accepting
    assert KEY_HEX not in repr(info)
    line = encode_response(Success(KeysResult(1_700_000_200, True, (info,))))
    assert json.loads(line)["result"]["rows"][0]["key"] == KEY_HEX


def test_child_info_from_engine_params() -> None:
    params = ChildParams(
        ref=ChildRef(("10.0.0.2", 500), ProtocolId.OSPFV2, 3, 3),
        integ=IntegId.RKMP_HMAC_SHA2_256,
        options=(),
        pfs_group=KeId.ECP_256,
        rekey_at=1100.0,
        expires_at=float("inf"),
        initiator=False,
        master_key=bytes.fromhex(KEY_HEX),
    )
    info = ChildSaInfo.from_params(params, "r2", "active", now=1000.0)
    assert info == ChildSaInfo(
        peer="r2",
        protocol=ProtocolId.OSPFV2,
        state="active",
        spi=3,
        remote_spi=3,
        algorithm="hmac-sha-256",
        options=(),
        pfs_group="ecp256",
        initiator=False,
        rekey_in=100.0,
        expires_in=None,
    )
    tcp = ChildParams(
        ChildRef(("10.0.0.2", 500), ProtocolId.TCP_AO, 5, 7),
        IntegId.AES_CMAC_96,
        (RkmpOptionId.TCP_AO_EXCLUDE_OPTIONS,),
        None,
        0.0,
        10.0,
        True,
        bytes(32),
    )
    tcp_info = ChildSaInfo.from_params(tcp, "r2", "rekeying", now=5.0)
    assert (tcp_info.algorithm, tcp_info.options, tcp_info.pfs_group) == (
        "aes-128-cmac-96",
        ("tcp-options=exclude",),
        None,
    )
    assert (tcp_info.rekey_in, tcp_info.expires_in) == (0.0, 5.0)


def test_unknown_result_fields_are_ignored() -> None:
    obj = json.loads(encode_response(Success(RESULTS[Command.GENERATE_SA])))
    obj["result"]["added_in_a_later_release"] = [1, 2]
    line = json.dumps(obj).encode() + b"\n"
    assert decode_response(line, Command.GENERATE_SA) == Success(RESULTS[Command.GENERATE_SA])


# --------------------------------------------------------------------------- malformed requests


def _line(obj: object) -> bytes:
    return json.dumps(obj).encode() + b"\n"


@pytest.mark.parametrize(
    ("line", "kind", "fragment"),
    [
        (b"not json\n", ErrorKind.BAD_REQUEST, "not a JSON text"),
        (b"\xff\xfe\n", ErrorKind.BAD_REQUEST, "not a JSON text"),
        (_line([1, 2]), ErrorKind.BAD_REQUEST, "expected a JSON object"),
        (_line({"command": "status"}), ErrorKind.UNSUPPORTED_VERSION, "version None"),
        (_line({"version": 2, "command": "status"}), ErrorKind.UNSUPPORTED_VERSION, "version 2"),
        (_line({"version": 1, "command": "reboot"}), ErrorKind.BAD_REQUEST, "unknown command"),
        (_line({"version": 1}), ErrorKind.BAD_REQUEST, "unknown command None"),
        (
            _line({"version": 1, "command": "status", "extra": 1}),
            ErrorKind.BAD_REQUEST,
            "unknown field 'extra'",
        ),
        (
            _line({"version": 1, "command": "sas", "args": {"peeer": "r2"}}),
            ErrorKind.BAD_REQUEST,
            "args.peeer: unknown field",
        ),
        (
            _line({"version": 1, "command": "sas", "args": []}),
            ErrorKind.BAD_REQUEST,
            "args: expected an object",
        ),
        (
            _line({"version": 1, "command": "revoke", "args": {}}),
            ErrorKind.BAD_REQUEST,
            "args.peer: missing",
        ),
        (
            _line({"version": 1, "command": "revoke", "args": {"peer": 7}}),
            ErrorKind.BAD_REQUEST,
            "args.peer: expected a string",
        ),
        (
            _line(
                {"version": 1, "command": "generate-sa", "args": {"peer": "r2", "protocol": "rip"}}
            ),
            ErrorKind.BAD_REQUEST,
            "unknown protocol 'rip'",
        ),
        (
            _line({"version": 1, "command": "rekey-sa", "args": {"protocol": "bfd", "spi": 0}}),
            ErrorKind.BAD_REQUEST,
            "SPI 0 is out of range",
        ),
        (
            _line({"version": 1, "command": "delete", "args": {"protocol": "bfd", "spi": 2**32}}),
            ErrorKind.BAD_REQUEST,
            "out of range",
        ),
        (
            _line({"version": 1, "command": "delete", "args": {"protocol": "bfd", "spi": True}}),
            ErrorKind.BAD_REQUEST,
            "args.spi: expected an integer",
        ),
        (
            _line({"version": 1, "command": "keys", "args": {"show_secrets": 1}}),
            ErrorKind.BAD_REQUEST,
            "args.show_secrets: expected true or false",
        ),
        (b" " * MAX_MESSAGE_SIZE + b"\n", ErrorKind.TOO_LARGE, "exceeds"),
    ],
)
def test_malformed_requests(line: bytes, kind: ErrorKind, fragment: str) -> None:
    with pytest.raises(ControlProtocolError) as info:
        decode_request(line)
    assert info.value.kind is kind
    assert fragment in info.value.message


@pytest.mark.parametrize(
    "line",
    [
        _line({"version": 1, "result": {}}),
        _line({"version": 1, "ok": "yes"}),
        _line({"version": 1, "ok": True, "result": {"peer": "r2"}}),
        _line({"version": 1, "ok": False, "error": {"kind": "nonsense", "message": "x"}}),
        _line({"version": 1, "ok": False}),
    ],
)
def test_malformed_responses(line: bytes) -> None:
    with pytest.raises(ControlProtocolError) as info:
        decode_response(line, Command.REVOKE)
    assert info.value.kind is ErrorKind.BAD_REQUEST
    assert "malformed response" in info.value.message


def test_requests_validate_spis() -> None:
    with pytest.raises(ValueError):
        RekeySaRequest(ProtocolId.TCP_AO, 0)
    with pytest.raises(ValueError):
        DeleteRequest(ProtocolId.TCP_AO, -1)


def test_oversized_response_is_refused() -> None:
    rows = tuple(
        KeyRowInfo.from_row(ROW, 1_700_000_100, show_secrets=True)
        for _ in range(MAX_MESSAGE_SIZE // 500)
    )
    with pytest.raises(ControlProtocolError) as info:
        encode_response(Success(KeysResult(0, True, rows)))
    assert info.value.kind is ErrorKind.TOO_LARGE


# --------------------------------------------------------------------------- framing


def test_line_buffer_splits_and_joins() -> None:
    buffer = LineBuffer()
    assert buffer.feed(b'{"a":') == []
    assert buffer.pending == 5
    assert buffer.feed(b'1}\n{"b":2}\n{"c"') == [b'{"a":1}\n', b'{"b":2}\n']
    assert buffer.feed(b":3}\n") == [b'{"c":3}\n']
    assert buffer.pending == 0


def test_line_buffer_limit() -> None:
    buffer = LineBuffer(limit=8)
    assert buffer.feed(b"1234567\n") == [b"1234567\n"]  # exactly the limit
    assert buffer.feed(b"1234567") == []
    with pytest.raises(ControlProtocolError) as info:
        buffer.feed(b"8")
    assert info.value.kind is ErrorKind.TOO_LARGE
    with pytest.raises(ControlProtocolError):
        LineBuffer(limit=8).feed(b"123456789\n")


# --------------------------------------------------------------------------- the documentation

DOC = Path(__file__).resolve().parents[2] / "docs" / "rkmpctl.md"


def _documented_results() -> dict[Command, object]:
    """The first JSON block after each "### `command`" heading."""
    found: dict[Command, object] = {}
    for match in re.finditer(
        r"^### `([a-z-]+)`\n.*?```json\n(.*?)```", DOC.read_text(), re.M | re.S
    ):
        found[Command(match.group(1))] = json.loads(match.group(2))
    return found


def test_every_command_has_a_documented_result() -> None:
    assert set(_documented_results()) == set(Command)


@pytest.mark.parametrize("command", list(Command))
def test_documented_result_matches_the_dataclass(command: Command) -> None:
    documented = _documented_results()[command]
    result = from_json(RESULT_TYPES[command], documented, strict=True)
    # Every documented field exists and every field is documented.
    assert to_json(result) == documented
