"""TCP-MD5 kernel check against the real kernel (DESIGN.md §5: TCP-MD5 works here).

Two namespaces joined by veth play a BGP pair on port 179 with plain Python
sockets: the right node listens with a TCP_MD5SIG key for the left node
(as bgpd sets its listener), the left node connects with the same key, so
the right node has a listening and an established socket, the left node an
established one. ``python -m rkmp_frr.daemon.kernel_check`` then runs in a
namespace (as rkmpd does, with CAP_NET_ADMIN there) and must find:

- the right key on every socket for the peer -> ok;
- another expected key -> mismatch, on each socket;
- an address nobody has a key for -> missing, on the listener;
- the listener rekeyed while the session stays up -> the listener ok, the
  established socket still on the old key (why FRR resets sessions).
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from integration.harness.netns import Endpoint, Link, two_node_network
from integration.harness.process import ManagedProcess, run, start_process, wait_until
from integration.harness.skips import require_netns

KEY = b"rkmp md5 test key"
NEW_KEY = bytes(range(1, 33))  # binary keys work as well as passwords
WRONG_KEY = b"not the key"
WAIT = 15.0

# A socket holder: "listen" binds port 179 on the wildcard address with the
# keys from a JSON file ({peer: key hex}), accepts and holds connections, and
# re-reads the file on SIGUSR1; "connect" connects to ADDRESS:179 with the
# keys set first. struct tcp_md5sig (linux/tcp.h, man 7 tcp):
# sockaddr_storage (128), u8 flags, u8 prefixlen, u16 keylen, int ifindex,
# u8 key[80].
SOCKET_HOLDER = r"""
import json, signal, socket, struct, sys, time

TCP_MD5SIG = 14

def md5sig(peer, key):
    family = socket.AF_INET6 if ":" in peer else socket.AF_INET
    storage = bytearray(128)
    struct.pack_into("=H", storage, 0, family)
    offset = 4 if family == socket.AF_INET else 8
    packed = socket.inet_pton(family, peer)
    storage[offset:offset + len(packed)] = packed
    return bytes(storage) + struct.pack("=BBHi", 0, 0, len(key), 0) + key.ljust(80, b"\0")

def set_keys(sock, path):
    with open(path) as f:
        for peer, key in json.load(f).items():
            sock.setsockopt(socket.IPPROTO_TCP, TCP_MD5SIG, md5sig(peer, bytes.fromhex(key)))

role, address, keys = sys.argv[1:4]
family = socket.AF_INET6 if ":" in address else socket.AF_INET
sock = socket.socket(family, socket.SOCK_STREAM)
set_keys(sock, keys)
if role == "listen":
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((address, 179))
    sock.listen()
    def rekey(*_):
        set_keys(sock, keys)
        print("rekeyed", flush=True)
    signal.signal(signal.SIGUSR1, rekey)
    print("listening", flush=True)
    held = []
    while True:
        conn, peer = sock.accept()
        held.append(conn)
        print("accepted", peer[0], flush=True)
else:
    sock.connect((address, 179))
    print("connected", flush=True)
    while True:
        time.sleep(3600)
"""


@dataclass
class Holder:
    process: ManagedProcess

    def wait_for(self, word: str) -> None:
        def seen() -> bool:
            self.process.check_alive()
            return word in self.process.log_path.read_text(errors="replace").split()

        wait_until(seen, timeout=WAIT, what=f"{self.process.name}: {word}",
                   diagnostics=self.process.log_tail)  # fmt: skip


def write_keys(path: Path, keys: dict[str, bytes]) -> Path:
    path.write_text(json.dumps({peer: key.hex() for peer, key in keys.items()}))
    return path


def hold(node: Endpoint, role: str, address: str, keys: Path, work_dir: Path) -> Holder:
    process = start_process(
        f"{role}-{node.ns.name}",
        [sys.executable, "-c", SOCKET_HOLDER, role, address, str(keys)],
        log_path=work_dir / f"{role}.log",
        netns=node.ns.name,
    )
    return Holder(process)


def kernel_check(node: Endpoint, peer: str, key: bytes) -> tuple[int, dict[str, Any]]:
    """The check as rkmpd runs it: in the node's namespace; key on stdin."""
    argv = [sys.executable, "-m", "rkmp_frr.daemon.kernel_check", peer, "--hex"]
    result = run(argv, netns=node.ns.name, input_text=key.hex() + "\n", check=False)
    assert result.returncode in (0, 1), result.stderr
    assert key.hex() not in result.stdout + result.stderr
    return result.returncode, json.loads(result.stdout)


def verdicts(report: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((s["state"], s["verdict"]) for s in report["sockets"])


@dataclass
class Session:
    link: Link
    listener: Holder
    client: Holder
    keys_file: Path


def bgp_like_session(link: Link, work_dir: Path) -> Iterator[Session]:
    left, right = link.left, link.right
    wildcard = "::" if right.address.version == 6 else "0.0.0.0"
    server_keys = write_keys(work_dir / "server-keys.json", {str(left.address): KEY})
    client_keys = write_keys(work_dir / "client-keys.json", {str(right.address): KEY})
    listener = hold(right, "listen", wildcard, server_keys, work_dir)
    client: Holder | None = None
    try:
        listener.wait_for("listening")
        client = hold(left, "connect", str(right.address), client_keys, work_dir)
        client.wait_for("connected")
        listener.wait_for("accepted")
        yield Session(link, listener, client, server_keys)
    finally:
        if client is not None:
            client.process.stop()
        listener.process.stop()


@pytest.fixture
def session_v4(two_nodes: Link, work_dir: Path) -> Iterator[Session]:
    yield from bgp_like_session(two_nodes, work_dir)


@pytest.fixture
def session_v6(work_dir: Path) -> Iterator[Session]:
    require_netns()
    with two_node_network(ipv6=True) as link:
        yield from bgp_like_session(link, work_dir)


def test_kernel_md5_key_on_listener_and_sessions(session_v4: Session) -> None:
    left, right = session_v4.link.left, session_v4.link.right
    status, report = kernel_check(right, str(left.address), KEY)
    assert (status, report["status"]) == (0, "ok")
    assert verdicts(report) == [("ESTABLISHED", "ok"), ("LISTEN", "ok")]
    (session,) = [s for s in report["sockets"] if s["state"] == "ESTABLISHED"]
    assert (session["local_port"], session["remote"]) == (179, str(left.address))

    # The connecting side: its session socket, remote port 179.
    status, report = kernel_check(left, str(right.address), KEY)
    assert (status, report["status"], report["sockets_checked"]) == (0, "ok", 1)
    assert report["sockets"][0]["remote_port"] == 179


def test_kernel_md5_mismatch_and_missing(session_v4: Session) -> None:
    left, right = session_v4.link.left, session_v4.link.right
    status, report = kernel_check(right, str(left.address), WRONG_KEY)
    assert (status, report["status"]) == (1, "mismatch")
    assert verdicts(report) == [("ESTABLISHED", "mismatch"), ("LISTEN", "mismatch")]

    status, report = kernel_check(right, "10.250.0.3", KEY)  # nobody set a key for it
    assert (status, report["status"]) == (1, "missing")
    assert verdicts(report) == [("LISTEN", "missing")]


def test_kernel_md5_rekeyed_listener_leaves_session_on_old_key(session_v4: Session) -> None:
    left, right = session_v4.link.left, session_v4.link.right
    write_keys(session_v4.keys_file, {str(left.address): NEW_KEY})
    session_v4.listener.process.popen.send_signal(signal.SIGUSR1)
    session_v4.listener.wait_for("rekeyed")
    status, report = kernel_check(right, str(left.address), NEW_KEY)
    assert (status, report["status"]) == (1, "mismatch")
    assert verdicts(report) == [("ESTABLISHED", "mismatch"), ("LISTEN", "ok")]


def test_kernel_md5_ipv6_and_dual_stack_listener(session_v6: Session) -> None:
    left, right = session_v6.link.left, session_v6.link.right
    status, report = kernel_check(right, str(left.address), KEY)
    assert (status, report["status"]) == (0, "ok")
    assert verdicts(report) == [("ESTABLISHED", "ok"), ("LISTEN", "ok")]
    # The wildcard IPv6 listener is dual-stack: an IPv4 peer would reach it,
    # and it has no key for one.
    status, report = kernel_check(right, "10.250.0.1", KEY)
    assert (status, report["status"]) == (1, "missing")
    assert verdicts(report) == [("LISTEN", "missing")]
