"""TCP-MD5 kernel check: INET_DIAG_MD5SIG decoding and the comparison (no sockets)."""

from __future__ import annotations

import ipaddress
import json
import socket
import struct
from typing import Any

import pytest
from pyroute2.netlink.diag import SOCK_DIAG_BY_FAMILY, MarshalDiag, inet_diag_msg

from rkmp_frr.daemon.kernel_check import (
    Md5CheckResult,
    Md5Key,
    Md5Status,
    Md5Verdict,
    SocketVerdict,
    TcpSocket,
    TcpSocketRecord,
    TcpState,
    evaluate_md5,
    parse_md5sig,
    record_from_message,
)

KEY = b"s3cr3t-key-material"
OTHER = b"an0ther-key"


def _zero_padded(key: bytes) -> bytes:
    return key + bytes(80 - len(key))


# INET_DIAG_MD5SIG as kernel 6.18 reported it on this machine (sock_diag dump,
# INET_DIAG_INFO requested):
# an IPv4 listener with keys "other" for 127.0.0.2 and "secret1" for 127.0.0.1
# (added in that order; the kernel lists the newest first) ...
OBSERVED_V4 = (
    bytes.fromhex("02200500" "7f000002" + "00" * 12) + _zero_padded(b"other")
    + bytes.fromhex("02200700" "7f000001" + "00" * 12) + _zero_padded(b"secret1")
)  # fmt: skip
# ... and an IPv6 listener with "k6" for fd00::2, "k4" for ::ffff:10.1.2.3 (kept
# by the kernel as an IPv4 key) and "pfx" for fd00:1::/48 (TCP_MD5SIG_EXT).
OBSERVED_V6 = (
    bytes.fromhex("0a300300" "fd000001" + "00" * 12) + _zero_padded(b"pfx")
    + bytes.fromhex("02200200" "0a010203" + "00" * 12) + _zero_padded(b"k4")
    + bytes.fromhex("0a800200" "fd000000" + "00" * 11 + "02") + _zero_padded(b"k6")
)  # fmt: skip


def test_parse_observed_ipv4_keys() -> None:
    keys = parse_md5sig(OBSERVED_V4)
    assert [(str(k.network), k.key) for k in keys] == [
        ("127.0.0.2/32", b"other"),
        ("127.0.0.1/32", b"secret1"),
    ]


def test_parse_observed_ipv6_keys() -> None:
    keys = parse_md5sig(OBSERVED_V6)
    assert [(str(k.network), k.key) for k in keys] == [
        ("fd00:1::/48", b"pfx"),
        ("10.1.2.3/32", b"k4"),
        ("fd00::2/128", b"k6"),
    ]


def test_parse_rejects_malformed_attributes_without_showing_keys() -> None:
    with pytest.raises(ValueError, match="multiple of 100") as cut:
        parse_md5sig(OBSERVED_V4[:-1])
    assert b"secret1".decode() not in str(cut.value)
    too_long = bytearray(OBSERVED_V4[:100])
    too_long[2:4] = (81).to_bytes(2, "little")
    with pytest.raises(ValueError, match="exceeds 80"):
        parse_md5sig(bytes(too_long))
    bad_prefix = bytearray(OBSERVED_V4[:100])
    bad_prefix[1] = 33
    with pytest.raises(ValueError, match="prefix length 33"):
        parse_md5sig(bytes(bad_prefix))
    unknown_family = bytearray(OBSERVED_V4[:100])
    unknown_family[0] = 99
    assert parse_md5sig(bytes(unknown_family) + OBSERVED_V4[100:]) == parse_md5sig(
        OBSERVED_V4[100:]
    )
    assert parse_md5sig(b"") == ()


# --- evaluation ------------------------------------------------------------------------------

V4_LOCAL, V4_PEER = ipaddress.ip_address("10.250.0.2"), ipaddress.ip_address("10.250.0.1")
V6_LOCAL, V6_PEER = ipaddress.ip_address("fd00::2"), ipaddress.ip_address("fd00::1")
ANY4, ANY6 = ipaddress.ip_address("0.0.0.0"), ipaddress.ip_address("::")


def key(network: str, material: bytes = KEY) -> Md5Key:
    return Md5Key(ipaddress.ip_network(network), material)


def listener(local: Any = ANY4, *keys: Md5Key, port: int = 179, **kw: Any) -> TcpSocketRecord:
    any_remote = ANY6 if local.version == 6 else ANY4
    sock = TcpSocket(TcpState.LISTEN, local, port, any_remote, 0)
    return TcpSocketRecord(sock, keys, **kw)


def connected(
    local: Any, local_port: int, remote: Any, remote_port: int, *keys: Md5Key, **kw: Any
) -> TcpSocketRecord:
    state = kw.pop("state", TcpState.ESTABLISHED)
    return TcpSocketRecord(TcpSocket(state, local, local_port, remote, remote_port), keys, **kw)


def verdicts(result: Md5CheckResult) -> list[tuple[TcpState, Md5Verdict]]:
    return [(entry.socket.state, entry.verdict) for entry in result.sockets]


def test_listener_and_sessions_carry_the_key() -> None:
    records = [
        listener(ANY4, key("10.250.0.1/32"), key("10.250.0.7/32", OTHER)),
        connected(V4_LOCAL, 179, V4_PEER, 40001, key("10.250.0.1/32")),  # peer connected to us
        connected(V4_LOCAL, 40002, V4_PEER, 179, key("10.250.0.1/32"), state=TcpState.SYN_SENT),
    ]
    result = evaluate_md5(records, "10.250.0.1", KEY)
    assert result.ok and result.status is Md5Status.OK
    assert result.sockets_checked == 3
    assert verdicts(result) == [
        (TcpState.LISTEN, Md5Verdict.OK),
        (TcpState.ESTABLISHED, Md5Verdict.OK),
        (TcpState.SYN_SENT, Md5Verdict.OK),
    ]


def test_other_key_is_a_mismatch_and_no_key_is_missing() -> None:
    records = [
        listener(ANY4, key("10.250.0.1/32", OTHER)),
        connected(V4_LOCAL, 179, V4_PEER, 40001),  # session without any key
    ]
    result = evaluate_md5(records, "10.250.0.1", KEY)
    assert result.status is Md5Status.MISMATCH  # the worse of the two
    assert not result.ok
    assert [str(s) for s in result.mismatched] == ["0.0.0.0:179 LISTEN"]
    assert [str(s) for s in result.missing] == ["10.250.0.2:179 10.250.0.1:40001 ESTABLISHED"]
    assert evaluate_md5(records[1:], "10.250.0.1", KEY).status is Md5Status.MISSING


def test_only_sockets_for_the_peer_and_port_are_checked() -> None:
    records = [
        listener(ANY4, port=2179),  # another port
        connected(V4_LOCAL, 179, ipaddress.ip_address("10.250.0.9"), 40001),  # another peer
        connected(V4_LOCAL, 22, V4_PEER, 40001),  # the peer, another service
        connected(V4_LOCAL, 179, V4_PEER, 40003, state=TcpState.CLOSE_WAIT),  # on its way out
        listener(V6_LOCAL),  # IPv6-only address: cannot accept an IPv4 peer
        listener(ANY6, v6only=True),
    ]
    result = evaluate_md5(records, "10.250.0.1", KEY)
    assert result.status is Md5Status.NO_SOCKETS and result.sockets_checked == 0
    assert not result.ok
    assert "no socket to check" in result.describe()
    assert evaluate_md5(records, "10.250.0.1", KEY, port=2179).sockets_checked == 1


def test_longest_prefix_decides_like_the_kernel() -> None:
    specific_wrong = listener(ANY4, key("10.250.0.0/24"), key("10.250.0.1/32", OTHER))
    assert evaluate_md5([specific_wrong], "10.250.0.1", KEY).status is Md5Status.MISMATCH
    specific_right = listener(ANY4, key("10.250.0.0/24", OTHER), key("10.250.0.1/32"))
    assert evaluate_md5([specific_right], "10.250.0.1", KEY).ok
    prefix_only = listener(ANY4, key("10.250.0.0/16"), key("fd00::/8", OTHER))
    assert evaluate_md5([prefix_only], "10.250.0.1", KEY).ok
    assert evaluate_md5([prefix_only], "10.251.0.1", KEY).status is Md5Status.MISSING


def test_ipv4_peer_on_dual_stack_ipv6_sockets() -> None:
    mapped_peer = ipaddress.ip_address("::ffff:10.250.0.1")
    mapped_local = ipaddress.ip_address("::ffff:10.250.0.2")
    records = [
        listener(ANY6, key("10.250.0.1/32"), v6only=False),  # kernel >= 5.x: an IPv4 key
        connected(mapped_local, 179, mapped_peer, 40001, key("::ffff:10.250.0.1/128")),  # older
    ]
    result = evaluate_md5(records, "10.250.0.1", KEY)
    assert verdicts(result) == [
        (TcpState.LISTEN, Md5Verdict.OK),
        (TcpState.ESTABLISHED, Md5Verdict.OK),
    ]
    # The peer may be given in its mapped form too.
    assert evaluate_md5(records, "::ffff:10.250.0.1", KEY).peer == "10.250.0.1"


def test_ipv6_peer() -> None:
    records = [
        listener(ANY6, key("fd00::/64", OTHER), key("fd00::1/128"), v6only=True),
        listener(ANY4, key("10.250.0.1/32")),  # an IPv4 listener cannot take it
        connected(V6_LOCAL, 51000, V6_PEER, 179, key("fd00::/64", OTHER)),
    ]
    result = evaluate_md5(records, "fd00::1", KEY)
    assert verdicts(result) == [
        (TcpState.LISTEN, Md5Verdict.OK),
        (TcpState.ESTABLISHED, Md5Verdict.MISMATCH),
    ]
    assert "[fd00::2]:51000 [fd00::1]:179 ESTABLISHED" in result.describe()


def test_cut_key_list_is_unknown_not_missing() -> None:
    cut = listener(ANY4, key("10.250.0.7/32", OTHER), keys_truncated=True)
    assert evaluate_md5([cut], "10.250.0.1", KEY).status is Md5Status.UNKNOWN
    listed = listener(ANY4, key("10.250.0.1/32"), keys_truncated=True)
    assert evaluate_md5([listed], "10.250.0.1", KEY).ok


def test_status_is_the_worst_verdict() -> None:
    def result(*found: Md5Verdict) -> Md5CheckResult:
        sock = TcpSocket(TcpState.LISTEN, ANY4, 179, ANY4, 0)
        return Md5CheckResult("10.250.0.1", 179, tuple(SocketVerdict(sock, v) for v in found))

    assert result(Md5Verdict.OK, Md5Verdict.UNKNOWN).status is Md5Status.UNKNOWN
    assert result(Md5Verdict.UNKNOWN, Md5Verdict.MISSING).status is Md5Status.MISSING
    assert result(Md5Verdict.MISSING, Md5Verdict.MISMATCH).status is Md5Status.MISMATCH
    assert result(Md5Verdict.OK, Md5Verdict.OK).status is Md5Status.OK


def test_keys_never_leak_into_reprs_messages_or_json() -> None:
    records = [
        listener(ANY4, key("10.250.0.1/32", OTHER)),
        connected(V4_LOCAL, 179, V4_PEER, 40001, key("10.250.0.1/32")),
    ]
    result = evaluate_md5(records, "10.250.0.1", KEY)
    texts = [
        repr(records),
        str(records[0].md5_keys[0]),
        repr(result),
        result.describe(),
        json.dumps(result.as_dict()),
    ]
    for text in texts:
        for secret in (KEY, OTHER):
            assert secret.decode() not in text
            assert secret.hex() not in text


def test_result_as_dict() -> None:
    records = [connected(V4_LOCAL, 179, V4_PEER, 40001, key("10.250.0.1/32"))]
    assert evaluate_md5(records, "10.250.0.1", KEY).as_dict() == {
        "peer": "10.250.0.1",
        "port": 179,
        "status": "ok",
        "sockets_checked": 1,
        "sockets": [
            {
                "state": "ESTABLISHED",
                "local": "10.250.0.2",
                "local_port": 179,
                "remote": "10.250.0.1",
                "remote_port": 40001,
                "verdict": "ok",
            }
        ],
    }


# --- pyroute2's decoded sock_diag rows -> records -----------------------------------------------


def _diag_row(
    family: int,
    state: int,
    src: str,
    sport: int,
    dst: str,
    dport: int,
    attrs: list[Any],
    flags: int,
) -> Any:
    """An inet_diag_msg encoded and decoded by pyroute2, as a dump yields it."""

    def words(address: str) -> tuple[int, ...]:
        packed = socket.inet_pton(family, address).ljust(16, b"\0")
        return struct.unpack(">4I", packed)

    msg = inet_diag_msg()
    msg["idiag_family"] = family
    msg["idiag_state"] = state
    msg["idiag_sport"], msg["idiag_dport"] = sport, dport
    msg["idiag_src"], msg["idiag_dst"] = words(src), words(dst)
    msg["attrs"] = attrs
    msg["header"]["type"] = SOCK_DIAG_BY_FAMILY
    msg["header"]["flags"] = flags
    msg.encode()
    (decoded,) = MarshalDiag().parse(msg.data)
    return decoded


def test_record_from_ipv4_row() -> None:
    row = _diag_row(
        socket.AF_INET, 1, "10.250.0.2", 179, "10.250.0.1", 40001,
        [("INET_DIAG_MD5SIG", OBSERVED_V4)], flags=0x02,
    )  # fmt: skip
    record = record_from_message(row)
    assert record is not None
    assert record.socket == TcpSocket(TcpState.ESTABLISHED, V4_LOCAL, 179, V4_PEER, 40001)
    assert record.md5_keys == parse_md5sig(OBSERVED_V4)
    assert not record.keys_truncated and not record.v6only


def test_record_from_ipv6_row_cut_short() -> None:
    row = _diag_row(
        socket.AF_INET6, 10, "::", 179, "::", 0,
        [("INET_DIAG_SKV6ONLY", 1), ("INET_DIAG_MD5SIG", OBSERVED_V6)], flags=0x02 | 0x10,
    )  # fmt: skip
    record = record_from_message(row)
    assert record is not None
    assert record.socket.state is TcpState.LISTEN and record.socket.local == ANY6
    assert record.v6only and record.keys_truncated
    assert len(record.md5_keys) == 3


def test_record_without_keys_and_unknown_state() -> None:
    plain = record_from_message(_diag_row(socket.AF_INET, 10, "0.0.0.0", 179, "0.0.0.0", 0, [], 2))
    assert plain is not None and plain.md5_keys == ()
    assert (
        record_from_message(_diag_row(socket.AF_INET, 99, "0.0.0.0", 1, "0.0.0.0", 0, [], 2))
        is None
    )
