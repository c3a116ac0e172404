"""Kernel check: do the routing daemon's TCP sockets carry the TCP-MD5 key?

After a TCP-MD5 key (RFC 2385) is handed to FRR or BIRD, rkmpd asks the
kernel, not the daemon, what it applied: sock_diag (NETLINK_SOCK_DIAG,
SOCK_DIAG_BY_FAMILY) lists the TCP sockets, and with the INET_DIAG_INFO
extension requested each one carries INET_DIAG_MD5SIG: an array of
``struct tcp_diag_md5sig`` (linux/inet_diag.h)::

    __u8 tcpm_family; __u8 tcpm_prefixlen; __u16 tcpm_keylen;
    __be32 tcpm_addr[4]; __u8 tcpm_key[TCP_MD5SIG_MAXKEYLEN = 80];

(100 octets each, the key length in host order). The kernel includes keys
only for a requester with CAP_NET_ADMIN in the socket's network namespace,
so the check runs inside the routing daemon's namespace, as rkmpd does;
without that capability every socket would look "missing". Since Linux
6.13 a socket with more keys than fit in one message has its list cut and
NLM_F_DUMP_INTR set; a peer whose key is not in a cut list is "unknown".

Which sockets are "for the peer" (port = BGP's 179 unless told):
- listeners on the port that can accept the peer's connection (same
  family, or a dual-stack IPv6 listener for an IPv4 peer);
- connected and connecting sockets (ESTABLISHED, SYN_SENT) with the peer
  as remote address and the port at either end.
Each one's key for the peer is the kernel's choice: the longest matching
prefix (tcp_md5_do_lookup); an IPv4 peer on an IPv6 socket is looked up as
IPv4 (the kernel stores v4-mapped keys as AF_INET keys).

An established socket keeps the key it was created with: after a key change
it shows a mismatch until the routing daemon resets the session (FRR and
BIRD do on a password change).

Pure: ``parse_md5sig``, ``evaluate_md5``. I/O: ``dump_tcp_sockets``,
``check_md5``, ``check_md5_async``. Keys never appear in a repr, a message
or the JSON form. ``python -m rkmp_frr.daemon.kernel_check PEER`` (key on
stdin) prints a result as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import ipaddress
import json
import socket
import struct
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from typing import Any, TypeAlias

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network

BGP_PORT = 179
TCP_MD5SIG_MAXKEYLEN = 80  # linux/tcp.h
# struct tcp_diag_md5sig (linux/inet_diag.h): family, prefixlen, keylen (host
# order), address (network order, IPv4 in the first 4 octets), key.
TCP_DIAG_MD5SIG = struct.Struct(f"=BBH16s{TCP_MD5SIG_MAXKEYLEN}s")
INET_DIAG_INFO = 2  # requesting it also makes tcp_diag add INET_DIAG_MD5SIG
NLM_F_DUMP_INTR = 0x10  # linux/netlink.h: set when a socket's key list was cut
_V4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


class TcpState(IntEnum):
    """include/net/tcp_states.h"""

    ESTABLISHED = 1
    SYN_SENT = 2
    SYN_RECV = 3
    FIN_WAIT1 = 4
    FIN_WAIT2 = 5
    TIME_WAIT = 6
    CLOSE = 7
    CLOSE_WAIT = 8
    LAST_ACK = 9
    LISTEN = 10
    CLOSING = 11
    NEW_SYN_RECV = 12


# The states whose sockets carry the peering's key: listening, connecting and
# established. Closing ones are on their way out; TIME_WAIT and request
# sockets are not reported with keys.
CHECKED_STATES = (TcpState.LISTEN, TcpState.ESTABLISHED, TcpState.SYN_SENT)


class KernelCheckError(Exception):
    """The kernel could not be asked (sock_diag failed)."""


# --- records --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Md5Key:
    """One TCP-MD5 key of a socket: the peers it covers, and the key."""

    network: IPNetwork
    key: bytes = field(repr=False)

    def __str__(self) -> str:
        return f"TCP-MD5 key for {self.network} ({len(self.key)} octets)"


@dataclass(frozen=True, slots=True)
class TcpSocket:
    """A socket's identity as reported (addresses as the socket has them)."""

    state: TcpState
    local: IPAddress
    local_port: int
    remote: IPAddress
    remote_port: int

    def __str__(self) -> str:
        local = _endpoint(self.local, self.local_port)
        if self.state is TcpState.LISTEN:
            return f"{local} {self.state.name}"
        return f"{local} {_endpoint(self.remote, self.remote_port)} {self.state.name}"


def _endpoint(address: IPAddress, port: int) -> str:
    return f"[{address}]:{port}" if address.version == 6 else f"{address}:{port}"


@dataclass(frozen=True, slots=True)
class TcpSocketRecord:
    """One sock_diag row: the socket and its TCP-MD5 keys."""

    socket: TcpSocket
    md5_keys: tuple[Md5Key, ...] = ()
    v6only: bool = False  # IPV6_V6ONLY (IPv6 sockets)
    keys_truncated: bool = False  # NLM_F_DUMP_INTR: not every key is listed


def parse_md5sig(data: bytes) -> tuple[Md5Key, ...]:
    """Decode an INET_DIAG_MD5SIG attribute; entries of unknown families
    are skipped, a malformed attribute raises ValueError (without key bytes)."""
    if len(data) % TCP_DIAG_MD5SIG.size:
        raise ValueError(
            f"INET_DIAG_MD5SIG length {len(data)} is not a multiple of {TCP_DIAG_MD5SIG.size}"
        )
    keys: list[Md5Key] = []
    for family, prefixlen, keylen, raw_address, raw_key in TCP_DIAG_MD5SIG.iter_unpack(data):
        if keylen > TCP_MD5SIG_MAXKEYLEN:
            raise ValueError(f"TCP-MD5 key length {keylen} exceeds {TCP_MD5SIG_MAXKEYLEN}")
        address: IPAddress
        if family == socket.AF_INET:
            address = ipaddress.IPv4Address(raw_address[:4])
        elif family == socket.AF_INET6:
            address = ipaddress.IPv6Address(raw_address)
        else:
            continue
        if prefixlen > address.max_prefixlen:
            raise ValueError(f"TCP-MD5 key prefix length {prefixlen} for {address}")
        network = ipaddress.ip_network((address, prefixlen), strict=False)
        keys.append(Md5Key(network, bytes(raw_key[:keylen])))
    return tuple(keys)


# --- verdicts ---------------------------------------------------------------------------


class Md5Verdict(Enum):
    """One socket's key for the peer compared with the expected one."""

    OK = "ok"
    MISMATCH = "mismatch"  # a key for the peer, but another one
    MISSING = "missing"  # no key covers the peer
    UNKNOWN = "unknown"  # not among the listed keys, but the list was cut


class Md5Status(Enum):
    """The whole check; the worst verdict wins."""

    OK = "ok"
    MISMATCH = "mismatch"
    MISSING = "missing"
    UNKNOWN = "unknown"
    NO_SOCKETS = "no-sockets"  # nothing to check (routing daemon not listening?)


_SEVERITY = (Md5Verdict.MISMATCH, Md5Verdict.MISSING, Md5Verdict.UNKNOWN)


@dataclass(frozen=True, slots=True)
class SocketVerdict:
    socket: TcpSocket
    verdict: Md5Verdict


@dataclass(frozen=True, slots=True)
class Md5CheckResult:
    """What the kernel has for ``peer`` on ``port``; carries no key."""

    peer: str
    port: int
    sockets: tuple[SocketVerdict, ...]

    @property
    def status(self) -> Md5Status:
        if not self.sockets:
            return Md5Status.NO_SOCKETS
        verdicts = {entry.verdict for entry in self.sockets}
        for verdict in _SEVERITY:
            if verdict in verdicts:
                return Md5Status(verdict.value)
        return Md5Status.OK

    @property
    def ok(self) -> bool:
        return self.status is Md5Status.OK

    @property
    def sockets_checked(self) -> int:
        return len(self.sockets)

    def with_verdict(self, verdict: Md5Verdict) -> tuple[TcpSocket, ...]:
        return tuple(entry.socket for entry in self.sockets if entry.verdict is verdict)

    @property
    def mismatched(self) -> tuple[TcpSocket, ...]:
        return self.with_verdict(Md5Verdict.MISMATCH)

    @property
    def missing(self) -> tuple[TcpSocket, ...]:
        return self.with_verdict(Md5Verdict.MISSING)

    def describe(self) -> str:
        """One line for ``rkmpctl status`` and the log."""
        subject = f"TCP-MD5 key for {self.peer} (port {self.port})"
        status = self.status
        if status is Md5Status.NO_SOCKETS:
            return f"{subject}: no socket to check"
        if status is Md5Status.OK:
            return f"{subject}: on all {self.sockets_checked} sockets"
        problems = [
            f"{verdict.value} on {', '.join(str(s) for s in self.with_verdict(verdict))}"
            for verdict in _SEVERITY
            if self.with_verdict(verdict)
        ]
        return f"{subject}: {'; '.join(problems)} ({self.sockets_checked} sockets checked)"

    def as_dict(self) -> dict[str, object]:
        return {
            "peer": self.peer,
            "port": self.port,
            "status": self.status.value,
            "sockets_checked": self.sockets_checked,
            "sockets": [
                {
                    "state": entry.socket.state.name,
                    "local": str(entry.socket.local),
                    "local_port": entry.socket.local_port,
                    "remote": str(entry.socket.remote),
                    "remote_port": entry.socket.remote_port,
                    "verdict": entry.verdict.value,
                }
                for entry in self.sockets
            ],
        }


def _canonical(address: IPAddress) -> IPAddress:
    """IPv4 peers reach IPv6 sockets as v4-mapped addresses."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _canonical_network(network: IPNetwork) -> IPNetwork:
    if (
        isinstance(network, ipaddress.IPv6Network)
        and network.prefixlen >= 96
        and network.subnet_of(_V4_MAPPED)
    ):
        mapped = network.network_address.ipv4_mapped
        assert mapped is not None
        return ipaddress.IPv4Network((mapped, network.prefixlen - 96))
    return network


def _accepts_from(record: TcpSocketRecord, peer: IPAddress) -> bool:
    """Could this listener accept a connection from ``peer``?"""
    local = record.socket.local
    if local.version == 4:
        return peer.version == 4
    if peer.version == 6:
        return True
    dual_stack_bound = local.is_unspecified or _canonical(local).version == 4
    return not record.v6only and dual_stack_bound


def _is_for_peer(record: TcpSocketRecord, peer: IPAddress, port: int) -> bool:
    sock = record.socket
    if sock.state is TcpState.LISTEN:
        return sock.local_port == port and _accepts_from(record, peer)
    if sock.state not in CHECKED_STATES:
        return False
    return _canonical(sock.remote) == peer and port in (sock.local_port, sock.remote_port)


def _verdict(record: TcpSocketRecord, peer: IPAddress, expected_key: bytes) -> Md5Verdict:
    covering = [
        key
        for key in record.md5_keys
        if (network := _canonical_network(key.network)).version == peer.version and peer in network
    ]
    if not covering:
        return Md5Verdict.UNKNOWN if record.keys_truncated else Md5Verdict.MISSING
    longest = max(_canonical_network(key.network).prefixlen for key in covering)
    best = [key for key in covering if _canonical_network(key.network).prefixlen == longest]
    # Keys of equal prefix differ only in what sock_diag does not show (the
    # L3 device they are bound to); one of them matching is taken as a match.
    if any(hmac.compare_digest(key.key, expected_key) for key in best):
        return Md5Verdict.OK
    return Md5Verdict.MISMATCH


def evaluate_md5(
    records: Iterable[TcpSocketRecord],
    peer_address: str,
    expected_key: bytes,
    *,
    port: int = BGP_PORT,
) -> Md5CheckResult:
    """Compare the sockets' keys for ``peer_address`` with ``expected_key``."""
    peer = _canonical(ipaddress.ip_address(peer_address))
    verdicts = tuple(
        SocketVerdict(record.socket, _verdict(record, peer, expected_key))
        for record in records
        if _is_for_peer(record, peer, port)
    )
    return Md5CheckResult(peer=str(peer), port=port, sockets=verdicts)


# --- sock_diag (pyroute2) ----------------------------------------------------------------


def record_from_message(msg: Any) -> TcpSocketRecord | None:
    """A decoded pyroute2 ``inet_diag_msg`` as a record (None: a state we
    do not know)."""
    try:
        state = TcpState(int(msg["idiag_state"]))
    except ValueError:
        return None
    raw_keys = msg.get_attr("INET_DIAG_MD5SIG")  # pyroute2 decodes it as "0a:1b:..."
    keys = parse_md5sig(bytes.fromhex(raw_keys.replace(":", ""))) if raw_keys else ()
    v6only = msg.get_attr("INET_DIAG_SKV6ONLY")
    return TcpSocketRecord(
        socket=TcpSocket(
            state=state,
            local=ipaddress.ip_address(msg["idiag_src"]),
            local_port=int(msg["idiag_sport"]),
            remote=ipaddress.ip_address(msg["idiag_dst"]),
            remote_port=int(msg["idiag_dport"]),
        ),
        md5_keys=keys,
        v6only=bool(v6only),
        keys_truncated=bool(int(msg["header"]["flags"]) & NLM_F_DUMP_INTR),
    )


def dump_tcp_sockets(
    states: Sequence[TcpState] = CHECKED_STATES,
) -> tuple[TcpSocketRecord, ...]:
    """Every IPv4 and IPv6 TCP socket in ``states`` of this network
    namespace, with its TCP-MD5 keys. Blocking (one netlink dump per family)."""
    from pyroute2 import DiagSocket

    state_mask = 0
    for state in states:
        state_mask |= 1 << state
    records: list[TcpSocketRecord] = []
    try:
        with DiagSocket() as diag:
            diag.bind()
            for family in (socket.AF_INET, socket.AF_INET6):
                for msg in diag.get_sock_stats(
                    family=family,
                    states=state_mask,
                    protocol=socket.IPPROTO_TCP,
                    extensions=1 << (INET_DIAG_INFO - 1),
                ):
                    record = record_from_message(msg)
                    if record is not None:
                        records.append(record)
    except Exception as exc:  # pyroute2's NetlinkError, OSError, a malformed attribute
        raise KernelCheckError(f"sock_diag dump failed: {type(exc).__name__}: {exc}") from exc
    return tuple(records)


def check_md5(peer_address: str, expected_key: bytes, *, port: int = BGP_PORT) -> Md5CheckResult:
    """Ask the kernel (this network namespace) whether the TCP sockets for
    ``peer_address`` on ``port`` carry ``expected_key``. Blocking; raises
    KernelCheckError if the kernel cannot be asked."""
    ipaddress.ip_address(peer_address)  # a bad address fails before any I/O
    return evaluate_md5(dump_tcp_sockets(), peer_address, expected_key, port=port)


async def check_md5_async(
    peer_address: str, expected_key: bytes, *, port: int = BGP_PORT
) -> Md5CheckResult:
    """``check_md5`` in a worker thread (pyroute2's synchronous sockets run
    their own event loop, which must not be the daemon's)."""
    return await asyncio.to_thread(check_md5, peer_address, expected_key, port=port)


# --- command line ---------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rkmp_frr.daemon.kernel_check",
        description="Check the kernel's TCP-MD5 keys for a peer; the key is read from stdin.",
    )
    parser.add_argument("peer", help="the peer's address")
    parser.add_argument("--port", type=int, default=BGP_PORT)
    parser.add_argument("--hex", action="store_true", help="stdin holds the key in hex")
    args = parser.parse_args(argv)
    text = sys.stdin.readline().rstrip("\r\n")
    try:
        key = bytes.fromhex(text) if args.hex else text.encode()
    except ValueError:
        parser.error("the key on stdin is not hex")
    try:
        result = asyncio.run(check_md5_async(args.peer, key, port=args.port))
    except (ValueError, KernelCheckError) as exc:
        print(f"kernel_check: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result.as_dict()), flush=True)
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
