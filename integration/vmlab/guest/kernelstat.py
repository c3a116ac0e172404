"""Kernel counters and state the scenarios read (inside a namespace or not).

`/proc/net/*` files show the reading process's network namespace, so they
are read through `ip netns exec NS cat` for a namespace; the numbers are
the ones `nstat -az` prints (TcpExtTCPAOGood is `TcpExt: TCPAOGood`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from integration.harness.netns import NetNs
from integration.harness.process import run


def _read(path: str, ns: NetNs | None) -> str:
    if ns is None:
        return Path(path).read_text()
    return run(["cat", path], netns=ns.name).stdout


def parse_snmp_pairs(text: str) -> dict[str, int]:
    """/proc/net/netstat and /proc/net/snmp: header/value line pairs ->
    {"TcpExt.TCPAOGood": n, ...}."""
    counters: dict[str, int] = {}
    lines = text.splitlines()
    for header, values in zip(lines[::2], lines[1::2], strict=False):
        prefix, _, names = header.partition(":")
        _, _, numbers = values.partition(":")
        for name, number in zip(names.split(), numbers.split(), strict=False):
            counters[f"{prefix}.{name}"] = int(number)
    return counters


def tcp_ext(ns: NetNs | None = None) -> dict[str, int]:
    """TcpExt counters: {"TCPAOGood": n, "TCPAOBad": n, ...}."""
    counters = parse_snmp_pairs(_read("/proc/net/netstat", ns))
    return {k.removeprefix("TcpExt."): v for k, v in counters.items() if k.startswith("TcpExt.")}


def xfrm_stat(ns: NetNs | None = None) -> dict[str, int]:
    """/proc/net/xfrm_stat (CONFIG_XFRM_STATISTICS): {"XfrmInStateProtoError": n, ...}."""
    stats: dict[str, int] = {}
    for line in _read("/proc/net/xfrm_stat", ns).splitlines():
        words = line.split()
        if len(words) == 2 and words[1].isdigit():
            stats[words[0]] = int(words[1])
    return stats


@dataclass(frozen=True)
class XfrmStateCounters:
    """One SA of `ip -s xfrm state`: identity and traffic (never its keys)."""

    src: str
    dst: str
    proto: str
    spi: int
    octets: int
    packets: int


_STATE_HEAD = re.compile(r"^src (\S+) dst (\S+)$")
_STATE_PROTO = re.compile(r"^\s+proto (\S+) spi (0x[0-9a-f]+)")
_STATE_CURRENT = re.compile(r"^\s+(\d+)\(bytes\), (\d+)\(packets\)")


def xfrm_states(ns: NetNs | None) -> list[XfrmStateCounters]:
    """The SAs of `ip -s xfrm state`, parsed; key lines are skipped unread."""
    argv = ["ip", "-s", "xfrm", "state"]
    text = run(argv, netns=ns.name if ns else None).stdout
    states: list[XfrmStateCounters] = []
    head: tuple[str, str] | None = None
    proto: tuple[str, int] | None = None
    in_current = False
    for line in text.splitlines():
        if match := _STATE_HEAD.match(line):
            head, proto, in_current = (match.group(1), match.group(2)), None, False
        elif (match := _STATE_PROTO.match(line)) and head:
            proto = (match.group(1), int(match.group(2), 16))
        elif line.strip() == "lifetime current:":
            in_current = True
        elif in_current and (match := _STATE_CURRENT.match(line)) and head and proto:
            states.append(
                XfrmStateCounters(
                    head[0], head[1], proto[0], proto[1], int(match.group(1)), int(match.group(2))
                )
            )
            in_current = False
    return states


@dataclass(frozen=True)
class TcpConnection:
    """An established TCP connection as `ss -Htn` lists it."""

    local: str
    peer: str


def tcp_established(ns: NetNs | None, port: int) -> list[TcpConnection]:
    """Established connections with `port` at either end (e.g. BGP's 179):
    a rekey that keeps the session keeps these (same ports)."""
    argv = ["ss", "-Htn", "state", "established", f"( sport = :{port} or dport = :{port} )"]
    text = run(argv, netns=ns.name if ns else None).stdout
    connections: list[TcpConnection] = []
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 4:
            connections.append(TcpConnection(words[-2], words[-1]))
    return connections
