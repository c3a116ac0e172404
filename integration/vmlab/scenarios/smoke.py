"""The lab's own proof: what later scenarios rely on works in this guest.

- kernel: the booted kernel has TCP-AO built in and the lab's modules load;
- project_installed: the project's wheel is in the guest venv with its
  console scripts; `rkmp-selfcheck` (both halves of RKMP_SA_INIT/AUTH for
  six suites, on the guest's cryptography wheel) passes;
- tcp_ao_loopback: two Python sockets with the same TCP-AO master key
  (setsockopt TCP_AO_ADD_KEY) connect and exchange data, TcpExt TCPAOGood
  rises; a client with another secret never gets through (TCPAOBad rises);
- bird_bgp_tcp_ao: two BIRD 2.17 instances in two namespaces on a veth pair,
  `authentication ao` with one static key, reach BGP Established and trade
  a route; TCPAOGood rises, TCPAOBad stays 0;
- xfrm_esp_transport: a manual ESP transport SA pair (NULL encryption,
  HMAC-SHA-256-128) and policies between two namespaces; ping goes through
  them (`ip -s xfrm state` counters rise), and once the receiver's inbound
  SA has another key, ping fails and XfrmInStateProtoError rises.

The keys here are fixed test keys for a throwaway guest.
"""

from __future__ import annotations

import importlib.metadata
import socket
import time
from pathlib import Path

from integration.harness.netns import NetNs, link_veth
from integration.harness.process import HarnessError
from integration.vmlab.config import GUEST_VENV
from integration.vmlab.guest import kernelstat, tcpao
from integration.vmlab.guest.bird import Bird, bird_version
from integration.vmlab.guest.lab import Lab

KERNEL_MODULES = ("veth", "esp4", "xfrm_user")
TIMEOUT = 180.0

AO_SECRET = b"rkmp-vmlab smoke tcp-ao secret"
BGP_LEFT = ("10.250.0.1", 65001, "10.99.1.0/24")
BGP_RIGHT = ("10.250.0.2", 65002, "10.99.2.0/24")
XFRM_LEFT = "10.251.0.1"
XFRM_RIGHT = "10.251.0.2"
SPI_LEFT_TO_RIGHT = 0x1001
SPI_RIGHT_TO_LEFT = 0x1002
AUTH_KEY_LR = "0x" + "11" * 32
AUTH_KEY_RL = "0x" + "22" * 32
AUTH_KEY_WRONG = "0x" + "33" * 32


def run(lab: Lab) -> None:
    lab.fact("bird", bird_version())
    check_kernel(lab)
    check_project(lab)
    check_tcp_ao_loopback(lab)
    check_bird_bgp(lab)
    check_xfrm(lab)


def check_kernel(lab: Lab) -> None:
    with lab.check("kernel") as check:
        release = Path("/proc/sys/kernel/osrelease").read_text().strip()
        config = Path(f"/usr/lib/modules/{release}/config").read_text()
        check.detail["release"] = release
        check.detail["tcp_ao"] = "CONFIG_TCP_AO=y" in config.splitlines()
        loaded = {line.split()[0] for line in Path("/proc/modules").read_text().splitlines()}
        check.detail["modules"] = sorted(m for m in KERNEL_MODULES if m in loaded)
        check.require(check.detail["tcp_ao"], "CONFIG_TCP_AO is not y")
        check.require(set(KERNEL_MODULES) <= loaded, f"modules not loaded: {KERNEL_MODULES}")


def check_project(lab: Lab) -> None:
    with lab.check("project_installed") as check:
        check.detail["version"] = importlib.metadata.version("rkmp-frr")
        selfcheck = f"{GUEST_VENV}/bin/rkmp-selfcheck"
        for attempt in ("first", "second"):  # the first run compiles the bytecode
            started = time.monotonic()
            result = lab.run([selfcheck], timeout=120, check=False)
            check.detail[f"selfcheck_{attempt}_s"] = round(time.monotonic() - started, 2)
        lines = result.stdout.strip().splitlines()
        check.detail["selfcheck"] = lines[-1] if lines else result.stderr.strip()[-200:]
        check.require(result.returncode == 0, f"rkmp-selfcheck exited {result.returncode}")
        check.require(check.detail["selfcheck"].endswith(" 0 failed"), "selfcheck failed")


def _ao_socket(peer: str, secret: bytes) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcpao.add_key(sock, peer, secret, send_id=1, recv_id=1)
    return sock


def check_tcp_ao_loopback(lab: Lab) -> None:
    with lab.check("tcp_ao_loopback") as check:
        before = kernelstat.tcp_ext()
        server = _ao_socket("127.0.0.1", AO_SECRET)
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        port = server.getsockname()[1]
        client = _ao_socket("127.0.0.1", AO_SECRET)
        client.settimeout(10)
        client.connect(("127.0.0.1", port))
        accepted, _ = server.accept()
        client.sendall(b"hello over tcp-ao")
        check.detail["echo"] = accepted.recv(64).decode()
        accepted.close()
        client.close()
        after_good = kernelstat.tcp_ext()

        stranger = _ao_socket("127.0.0.1", b"another secret")
        stranger.settimeout(3)
        try:
            stranger.connect(("127.0.0.1", port))
            check.detail["wrong_key_connected"] = True
        except OSError as exc:  # the SYN's MAC is wrong: dropped, connect times out
            check.detail["wrong_key_connected"] = False
            check.detail["wrong_key_error"] = type(exc).__name__
        finally:
            stranger.close()
            server.close()
        after_bad = kernelstat.tcp_ext()
        check.detail["ao_good"] = after_good.get("TCPAOGood", 0) - before.get("TCPAOGood", 0)
        check.detail["ao_bad"] = after_bad.get("TCPAOBad", 0) - after_good.get("TCPAOBad", 0)
        check.require(check.detail["echo"] == "hello over tcp-ao", "data did not arrive")
        check.require(check.detail["ao_good"] > 0, "TCPAOGood did not rise")
        check.require(not check.detail["wrong_key_connected"], "a wrong key connected")
        check.require(check.detail["ao_bad"] > 0, "TCPAOBad did not rise for the wrong key")


def bird_config(local: tuple[str, int, str], peer: tuple[str, int, str]) -> str:
    address, asn, prefix = local
    peer_address, peer_asn, _ = peer
    return f"""\
log stderr all;
router id {address};
timeformat protocol iso long;
protocol device {{ }}
protocol static originate {{
  ipv4;
  route {prefix} blackhole;
}}
protocol bgp peer {{
  local {address} as {asn};
  neighbor {peer_address} as {peer_asn};
  hold time 9; keepalive time 3;
  connect retry time 2; connect delay time 1; error wait time 1, 5;
  authentication ao;
  keys {{
    key {{ send id 1; recv id 1; secret "{AO_SECRET.decode()}"; algorithm hmac sha256; }};
  }};
  ipv4 {{ import all; export all; }};
}}
"""


def check_bird_bgp(lab: Lab) -> None:
    with lab.check("bird_bgp_tcp_ao") as check:
        left_ns, right_ns = lab.namespace("bgpl"), lab.namespace("bgpr")
        link_veth(left_ns, right_ns, f"{BGP_LEFT[0]}/24", f"{BGP_RIGHT[0]}/24")
        left = Bird("bird-left", left_ns, lab.work)
        right = Bird("bird-right", right_ns, lab.work)
        started = time.monotonic()
        left.start(lab, bird_config(BGP_LEFT, BGP_RIGHT))
        right.start(lab, bird_config(BGP_RIGHT, BGP_LEFT))
        state = left.wait_established("peer", timeout=60)
        right.wait_established("peer", timeout=30)
        check.detail["established_after_s"] = round(time.monotonic() - started, 2)
        check.detail["left_state"] = state.info
        check.detail["left_since"] = state.since
        check.detail["route_received"] = _wait_route(left, BGP_RIGHT[2])
        connections = kernelstat.tcp_established(left_ns, 179)
        check.detail["connections"] = [f"{c.local} {c.peer}" for c in connections]
        lab.log_text("bird-left-peer", left.birdc("show", "protocols", "all", "peer"))
        ao_state = left.tcp_ao("peer")
        check.detail["bird_ao_current_key"] = ao_state.current_key if ao_state else None
        check.detail["bird_ao_rnext_key"] = ao_state.rnext_key if ao_state else None
        counters = kernelstat.tcp_ext(left_ns)
        check.detail["ao_good"] = counters.get("TCPAOGood", 0)
        check.detail["ao_bad"] = counters.get("TCPAOBad", 0)
        check.detail["ao_key_not_found"] = counters.get("TCPAOKeyNotFound", 0)
        check.require(check.detail["route_received"], f"{BGP_RIGHT[2]} not received over BGP")
        check.require(len(connections) == 1, f"expected one BGP connection: {connections}")
        check.require(check.detail["ao_good"] > 0, "TCPAOGood is 0 on the left")
        check.require(check.detail["ao_bad"] == 0, "TCPAOBad is not 0 on the left")


def _wait_route(bird: Bird, prefix: str, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if prefix in bird.birdc("show", "route", "for", prefix.split("/")[0]):
            return True
        time.sleep(0.25)
    return False


def _xfrm_sa(ns: NetNs, src: str, dst: str, spi: int, key: str) -> None:
    ns.ip(
        "xfrm", "state", "add", "src", src, "dst", dst,
        "proto", "esp", "spi", hex(spi), "mode", "transport",
        "enc", "ecb(cipher_null)", "", "auth-trunc", "hmac(sha256)", key, "128",
    )  # fmt: skip


def _xfrm_policy(ns: NetNs, src: str, dst: str, direction: str) -> None:
    ns.ip(
        "xfrm", "policy", "add", "src", f"{src}/32", "dst", f"{dst}/32", "dir", direction,
        "tmpl", "src", src, "dst", dst, "proto", "esp", "mode", "transport",
    )  # fmt: skip


def _ping(ns: NetNs, address: str, count: int) -> bool:
    try:
        ns.run(["ping", "-c", str(count), "-i", "0.2", "-W", "2", address], timeout=30)
    except HarnessError:
        return False
    return True


def _packets(ns: NetNs, spi: int) -> int:
    return sum(s.packets for s in kernelstat.xfrm_states(ns) if s.spi == spi)


def check_xfrm(lab: Lab) -> None:
    with lab.check("xfrm_esp_transport") as check:
        left, right = lab.namespace("xfrml"), lab.namespace("xfrmr")
        link_veth(left, right, f"{XFRM_LEFT}/24", f"{XFRM_RIGHT}/24")
        for ns in (left, right):
            _xfrm_sa(ns, XFRM_LEFT, XFRM_RIGHT, SPI_LEFT_TO_RIGHT, AUTH_KEY_LR)
            _xfrm_sa(ns, XFRM_RIGHT, XFRM_LEFT, SPI_RIGHT_TO_LEFT, AUTH_KEY_RL)
        _xfrm_policy(left, XFRM_LEFT, XFRM_RIGHT, "out")
        _xfrm_policy(left, XFRM_RIGHT, XFRM_LEFT, "in")
        _xfrm_policy(right, XFRM_RIGHT, XFRM_LEFT, "out")
        _xfrm_policy(right, XFRM_LEFT, XFRM_RIGHT, "in")
        check.detail["ping_ok"] = _ping(left, XFRM_RIGHT, 3)
        check.detail["left_out_packets"] = _packets(left, SPI_LEFT_TO_RIGHT)
        check.detail["right_in_packets"] = _packets(right, SPI_LEFT_TO_RIGHT)
        check.detail["left_in_packets"] = _packets(left, SPI_RIGHT_TO_LEFT)
        check.detail["spis"] = sorted({hex(s.spi) for s in kernelstat.xfrm_states(left)})
        errors_before = kernelstat.xfrm_stat(right).get("XfrmInStateProtoError", 0)
        # `ip xfrm state update` keeps an SA's keys: replace the SA instead.
        right.ip("xfrm", "state", "delete", "src", XFRM_LEFT, "dst", XFRM_RIGHT,
                 "proto", "esp", "spi", hex(SPI_LEFT_TO_RIGHT))  # fmt: skip
        _xfrm_sa(right, XFRM_LEFT, XFRM_RIGHT, SPI_LEFT_TO_RIGHT, AUTH_KEY_WRONG)
        check.detail["ping_with_wrong_key_ok"] = _ping(left, XFRM_RIGHT, 1)
        check.detail["proto_errors"] = (
            kernelstat.xfrm_stat(right).get("XfrmInStateProtoError", 0) - errors_before
        )
        check.require(check.detail["ping_ok"], "ping through the ESP SAs failed")
        check.require(check.detail["left_out_packets"] >= 3, "outbound SA counted no packets")
        check.require(check.detail["right_in_packets"] >= 3, "inbound SA counted no packets")
        check.require(not check.detail["ping_with_wrong_key_ok"], "ping passed a wrong ICV key")
        check.require(check.detail["proto_errors"] > 0, "XfrmInStateProtoError did not rise")
