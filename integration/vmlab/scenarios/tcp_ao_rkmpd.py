"""BIRD to BIRD BGP with TCP-AO keys from rkmpd: hitless rekeys, revocation.

Two namespaces on a veth pair, one BIRD 2.17 and one `rkmpd --config` in
each, configured as an operator would: each has the other as a static
peer (so both may initiate; "b" starts first) with `[sinks.bird]` and one
`[[sinks.bird.bgp]]`. BIRD's own configuration holds a BGP template and
includes the file the sink writes: the whole `protocol bgp` block with
`authentication ao` and the keys of the key table (DESIGN.md §2: the
TCP-AO SPI is the proposer's SendID); `disabled;` once rkmpd has keyed
the session and then has no usable key (a never-keyed one is left as
configured).

- established: the TCP-AO child SA reaches BIRD on both sides and the
  session comes up with it: each BIRD's current key is its own SendID and
  its RNext the peer's; one TCP-AO child SA per side.
- three_rekeys: `rkmpctl rekey-sa tcp-ao <SendID>` three times. Short
  rollover timing (`[rollover.tcp-ao]`: the new key is sent after
  SEND_DELAY, the old one accepted ACCEPT_GRACE longer) so each rekey's
  plain -> preferred -> (old) deprecated -> gone steps happen here. After
  each rekey we wait until BIRD's current key (both sides) is the new
  SendID and the old key has left both include files. Throughout, every
  0.5 s: both BIRDs Established, one BGP connection with the same ports,
  BIRD's "since" unchanged, TCPAOBad not rising in either namespace.
- revoke: rkmpd "b" is killed (SIGKILL). With a short liveness interval
  "a" finds the RKMP SA failed, RP_revokeSA withdraws the peer's keys
  (`on_failure = "revoke"`), the revoke hook runs, and a's include file
  (and so BIRD's configuration) no longer has TCP-AO keys for the session:
  it is `disabled;` (the sink fails closed) and BIRD shows it down.

Polls read BIRD's control socket and /proc/PID/net of BIRD's process (its
namespace) directly: a birdc or ss process per poll costs tenths of a
second under TCG emulation, and the polls must keep a 0.5 s cadence.

PSK and addresses are fixed test values for a throwaway guest.
"""

from __future__ import annotations

import itertools
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from integration.harness.netns import NetNs, link_veth
from integration.harness.process import HarnessError, ManagedProcess, wait_until
from integration.vmlab.guest import kernelstat
from integration.vmlab.guest.bird import Bird, bird_version, parse_protocols, parse_tcp_ao
from integration.vmlab.guest.lab import Check, Lab
from integration.vmlab.guest.rkmpd import Rkmpd, protocol_info, rkmpd_toml, write_psk

KERNEL_MODULES = ("veth",)
TIMEOUT = 300.0

PSK = "0x" + bytes(range(100, 132)).hex()
PROTOCOL = "bgp_rkmp"  # the BGP protocol's name in both BIRDs ("peer" is a birdc keyword)
SEND_DELAY = 3  # seconds ([rollover.tcp-ao])
ACCEPT_GRACE = 3
SAMPLE_INTERVAL = 0.5
REKEYS = 3
ROLLOVER_TIMEOUT = 40.0  # per rekey: send delay + grace + applies, generously
LIVENESS = "2s"
REVOKE_TIMEOUT = 60.0


@dataclass(frozen=True)
class Side:
    name: str
    address: str
    asn: int
    prefix: str


LEFT = Side("a", "10.250.0.1", 65001, "10.99.1.0/24")
RIGHT = Side("b", "10.250.0.2", 65002, "10.99.2.0/24")

RKMP = {
    "retransmit_timeout": '"500ms"',
    "retransmit_base": "1.5",
    "retransmit_tries": "4",
    "liveness_interval": f'"{LIVENESS}"',
}
ROLLOVER = f"""
[rollover.tcp-ao]
send_delay = "{SEND_DELAY}s"
accept_grace = "{ACCEPT_GRACE}s"
hard_expiry = "0s"
"""


def peer_section(other: Side) -> str:
    return f"""
[[peer]]
name = "{other.name}"
address = "{other.address}"
id = "{other.name}.rkmp.test"
on_failure = "revoke"
  [[peer.protocol]]
  type = "tcp-ao"
  algorithm = "hmac-sha-256"
"""


def bird_config(side: Side, include: Path) -> str:
    """BIRD's own file: the session's template; rkmpd's file defines it."""
    return f"""\
log stderr all;
router id {side.address};
timeformat protocol iso long;
protocol device {{ }}
protocol static originate {{
  ipv4;
  route {side.prefix} blackhole;
}}
template bgp rkmp_peer {{
  local {side.address} as {side.asn};
  hold time 9; keepalive time 3;
  connect retry time 2; connect delay time 1; error wait time 1, 5;
  ipv4 {{ import all; export all; }};
}}
include "{include}";
"""


def bird_sink(bird: Bird, include: Path, other: Side) -> str:
    """`[sinks.bird]`: rkmpd writes the session into `include`."""
    return f"""
[sinks.bird]
socket = "{bird.socket_path}"
include_file = "{include}"

[[sinks.bird.bgp]]
name = "{PROTOCOL}"
neighbor = "{other.address}"
neighbor_as = {other.asn}
template = "rkmp_peer"
"""


@dataclass
class Node:
    side: Side
    ns: NetNs
    bird: Bird
    rkmpd: Rkmpd
    include: Path

    def ao_send_ids(self) -> list[int]:
        """The SendIDs of the keys in rkmpd's include file (what BIRD was
        configured with)."""
        return [int(m) for m in re.findall(r"send id (\d+);", self.include.read_text())]

    def current_row(self) -> dict[str, Any]:
        """The TCP-AO row not (yet) superseded: the newest key."""
        rows = [r for r in self.rkmpd.keys("tcp-ao") if r["superseded_by"] is None]
        if len(rows) != 1:
            raise HarnessError(f"{self.side.name}: expected one current TCP-AO row, got {rows}")
        return rows[0]

    def send_id(self) -> int:
        return int(protocol_info(self.current_row())["send-id"])

    def bird_restarts(self) -> int:
        """BIRD's log lines saying it restarted the session (reconfiguration)."""
        process = self.bird.process
        text = process.log_path.read_text(errors="replace") if process else ""
        return text.count(f"Restarting protocol {PROTOCOL}")


@dataclass(frozen=True)
class Sample:
    """One poll of both sides."""

    at: float  # seconds since the sampler started
    took: float  # seconds the poll took
    states: tuple[str, str]
    since: tuple[str, str]
    current: tuple[int | None, int | None]
    rnext: tuple[int | None, int | None]
    connections: tuple[str, ...]
    ao_bad: tuple[int, int]
    ao_good: tuple[int, int]

    def established(self) -> bool:
        return all(s.startswith("Established") for s in self.states)


def _tcp_ext_of(process: ManagedProcess | None) -> dict[str, int]:
    """TcpExt counters of the namespace `process` runs in: /proc/PID/net
    is that namespace's (no `ip netns exec` per poll)."""
    if process is None:
        return {}
    text = Path(f"/proc/{process.pid}/net/netstat").read_text()
    counters = kernelstat.parse_snmp_pairs(text)
    return {k.removeprefix("TcpExt."): v for k, v in counters.items() if k.startswith("TcpExt.")}


def bird_query(control_socket: Path, command: str) -> str:
    """One command on BIRD's control socket, its reply as birdc prints it
    (no birdc process per poll: under emulation a fork/exec costs tenths of
    a second). Reply lines are "DDDD-text" (more follows), "DDDD text"
    (the last) or " text" (a continuation)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5.0)
        sock.connect(str(control_socket))
        with sock.makefile("rb") as reader:
            reader.readline()  # "0001 BIRD 2.17.6 ready."
            sock.sendall(command.encode() + b"\n")
            lines: list[str] = []
            for raw in reader:
                line = raw.decode(errors="replace").rstrip("\n")
                if len(line) >= 5 and line[:4].isdigit():
                    if line[5:] or line[4] == "-":  # birdc leaves out the empty "0000 "
                        lines.append(line[5:])
                    if line[4] == " ":
                        break
                else:
                    lines.append(line[1:])
    return "\n".join(lines) + "\n"


def hex_endpoint(text: str) -> str:
    """/proc/net/tcp's "0100FA0A:00B3" as "10.250.0.1:179"."""
    address, port = text.split(":")
    octets = bytes.fromhex(address)[::-1]  # the kernel prints the u32 in host order
    return f"{'.'.join(str(o) for o in octets)}:{int(port, 16)}"


def tcp_established_of(process: ManagedProcess | None, port: int) -> tuple[str, ...]:
    """Established IPv4 connections with `port` at either end, in the
    namespace `process` runs in (/proc/PID/net/tcp: no `ss` per poll)."""
    if process is None:
        return ()
    found = []
    for line in Path(f"/proc/{process.pid}/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) < 4 or fields[3] != "01":  # TCP_ESTABLISHED
            continue
        local, remote = hex_endpoint(fields[1]), hex_endpoint(fields[2])
        if local.endswith(f":{port}") or remote.endswith(f":{port}"):
            found.append(f"{local} {remote}")
    return tuple(sorted(found))


def _poll_side(node: Node) -> tuple[str, dict[str, int]]:
    try:
        text = bird_query(node.bird.socket_path, f"show protocols all {PROTOCOL}")
    except OSError as exc:  # BIRD did not answer: not Established
        text = f"(BIRD control socket: {exc})"
    return text, _tcp_ext_of(node.bird.process)


def poll(nodes: tuple[Node, Node], started: float) -> Sample:
    begun = time.monotonic()
    states, since, current, rnext, bad, good = [], [], [], [], [], []
    for node in nodes:
        text, counters = _poll_side(node)
        row = parse_protocols(text).get(PROTOCOL)
        ao = parse_tcp_ao(text)
        states.append(row.info if row else text.strip()[-120:])
        since.append(row.since if row else "")
        current.append(ao.current_key if ao else None)
        rnext.append(ao.rnext_key if ao else None)
        bad.append(counters.get("TCPAOBad", 0))
        good.append(counters.get("TCPAOGood", 0))
    return Sample(
        at=round(begun - started, 2),
        took=round(time.monotonic() - begun, 3),
        states=(states[0], states[1]),
        since=(since[0], since[1]),
        current=(current[0], current[1]),
        rnext=(rnext[0], rnext[1]),
        connections=tcp_established_of(nodes[0].bird.process, 179),
        ao_bad=(bad[0], bad[1]),
        ao_good=(good[0], good[1]),
    )


class Sampler:
    """Polls both sides every SAMPLE_INTERVAL in a thread, whatever the
    scenario's own thread is doing (rkmpctl calls take seconds here)."""

    def __init__(self, nodes: tuple[Node, Node]) -> None:
        self.nodes = nodes
        self.started = time.monotonic()
        self.samples: list[Sample] = []
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            try:
                sample = poll(self.nodes, self.started)
            except BaseException as exc:  # reported by `wait_for` and at the end
                self.error = exc
                return
            with self._lock:
                self.samples.append(sample)
            next_at = max(next_at + SAMPLE_INTERVAL, time.monotonic())
            self._stop.wait(next_at - time.monotonic())

    def taken(self) -> list[Sample]:
        with self._lock:
            return list(self.samples)

    def wait_for(self, done: Callable[[Sample], bool], timeout: float, what: str) -> Sample:
        """The first sample from now on for which `done` holds."""
        deadline = time.monotonic() + timeout
        seen = len(self.taken())
        while True:
            if self.error is not None:
                raise HarnessError(f"sampling failed: {self.error!r}")
            samples = self.taken()
            for sample in samples[seen:]:
                if done(sample):
                    return sample
            seen = len(samples)
            if time.monotonic() > deadline:
                last = samples[-1] if samples else None
                raise HarnessError(f"timed out after {timeout:.0f} s waiting for {what}: {last}")
            time.sleep(0.1)


def run(lab: Lab) -> None:
    lab.fact("bird", bird_version())
    nodes: tuple[Node, Node] | None = None
    with lab.check("established") as check:
        nodes = start_pair(lab, check)
    with lab.check("three_rekeys") as check:
        check.require(nodes is not None, "no session to rekey")
        assert nodes is not None
        three_rekeys(lab, check, nodes)
    with lab.check("revoke") as check:
        check.require(nodes is not None, "no session to revoke")
        assert nodes is not None
        revoke(lab, check, nodes)
    if nodes is not None:
        for node in nodes:
            lab.attach(f"include-{node.side.name}.conf", node.include)
            lab.attach(f"events-{node.side.name}.log", node.rkmpd.event_log)


def start_pair(lab: Lab, check: Check) -> tuple[Node, Node]:
    left_ns, right_ns = lab.namespace("aol"), lab.namespace("aor")
    link_veth(left_ns, right_ns, f"{LEFT.address}/24", f"{RIGHT.address}/24")
    psk = write_psk(lab.work / "psk", PSK)
    built: list[Node] = []
    for side, ns in ((LEFT, left_ns), (RIGHT, right_ns)):
        rkmpd = Rkmpd(f"rkmpd-{side.name}", ns, lab.work / f"rkmpd-{side.name}")
        rkmpd.install_event_hook()
        include = rkmpd.directory / "bird-rkmp.conf"
        include.write_text("")  # BIRD starts without the session
        bird = Bird(f"bird-{side.name}", ns, lab.work)
        bird.start(lab, bird_config(side, include))
        built.append(Node(side, ns, bird, rkmpd, include))
    started = time.monotonic()
    for node, other in ((built[1], LEFT), (built[0], RIGHT)):  # b first: a finds it up
        config = rkmpd_toml(
            identity=f"{node.side.name}.rkmp.test", listen=[f"{node.side.address}:500"],
            directory=node.rkmpd.directory, psk_file=psk, rkmp=RKMP, rollover=ROLLOVER,
            peers=peer_section(other), sinks=bird_sink(node.bird, node.include, other),
        )  # fmt: skip
        node.rkmpd.start(lab, config)
    check.detail["rkmpd_started_s"] = round(time.monotonic() - started, 2)
    a, b = built
    for bird in (a.bird, b.bird):
        wait_until(partial(_established, bird), timeout=90, interval=0.25,
                   what=f"{bird.name} {PROTOCOL} Established")  # fmt: skip
    check.detail["established_after_s"] = round(time.monotonic() - started, 2)
    send_ids = (a.send_id(), b.send_id())  # from the key tables
    check.detail["send_ids"] = list(send_ids)
    check.detail["include_send_ids"] = [a.ao_send_ids(), b.ao_send_ids()]
    with Sampler((a, b)) as sampler:
        sample = sampler.wait_for(lambda s: s.current == send_ids, 30,
                                  "BIRD's current keys to be the SendIDs")  # fmt: skip
    check.detail["bird_current_keys"] = list(sample.current)
    check.detail["bird_rnext_keys"] = list(sample.rnext)
    check.detail["states"] = list(sample.states)
    check.detail["connections"] = list(sample.connections)
    check.detail["authentication_ao"] = ["authentication ao;" in n.include.read_text()
                                         for n in (a, b)]  # fmt: skip
    check.detail["ao_good"] = list(sample.ao_good)
    check.detail["ao_bad"] = list(sample.ao_bad)
    # Before its first key the session is in the include without TCP-AO
    # (the renderer's choice); BIRD restarts it when the keys arrive.
    check.detail["bird_restarts"] = [n.bird_restarts() for n in (a, b)]
    # One TCP-AO child SA per side, whichever end initiated (both may).
    check.detail["tcp_ao_children"] = [n.rkmpd.children("tcp-ao") for n in (a, b)]
    check.require(sample.established(), f"not Established: {sample.states}")
    check.require(len(sample.connections) == 1, f"expected one BGP connection: {sample}")
    check.require(all(check.detail["authentication_ao"]), "an include file lacks TCP-AO")
    check.require(check.detail["include_send_ids"] == [[send_ids[0]], [send_ids[1]]],
                  "the include files do not hold the key tables' keys")  # fmt: skip
    # a's current key is its SendID; b's RNext asks a for it, and back.
    check.require(sample.rnext == (send_ids[1], send_ids[0]), f"RNext keys {sample.rnext}")
    return a, b


def three_rekeys(lab: Lab, check: Check, nodes: tuple[Node, Node]) -> None:
    a, b = nodes
    rounds: list[dict[str, Any]] = []
    restarts_before = [n.bird_restarts() for n in nodes]
    current = (a.send_id(), b.send_id())
    with Sampler(nodes) as sampler:
        try:
            sampler.wait_for(lambda _: True, 10, "a first sample")
            for number in range(1, REKEYS + 1):
                rounds.append(one_rekey(lab, sampler, number, current))
                current = (rounds[-1]["new"][0], rounds[-1]["new"][1])
            settle = time.monotonic() + 4 * SAMPLE_INTERVAL  # the settled state, sampled
            sampler.wait_for(lambda _: time.monotonic() > settle, 10, "settled samples")
        finally:
            samples = sampler.taken()
            check.detail["rounds"] = rounds
            lab.log_text("rekey-samples", "\n".join(str(s) for s in samples))
            if samples:
                summarize(check, samples[0], samples)
    first = samples[0]
    check.detail["bird_restarts_during"] = [
        n.bird_restarts() - before for n, before in zip(nodes, restarts_before, strict=True)
    ]
    ids = [first.current[0]] + [r["new"][0] for r in rounds]
    check.require(len(rounds) == REKEYS, f"{len(rounds)} of {REKEYS} rekeys completed")
    check.require(check.detail["non_established_samples"] == 0, "a sample was not Established")
    check.require(
        check.detail["connections_seen"] == list(first.connections[:1])
        and check.detail["connections_per_sample"] == [1],
        "the BGP connection changed",
    )
    check.require(check.detail["since_seen"] == [list(first.since)], "BIRD's since changed")
    check.require(check.detail["bird_restarts_during"] == [0, 0], "BIRD restarted the session")
    check.require(check.detail["ao_bad_delta"] == [0, 0], "TCPAOBad rose")
    check.require(all(d > 0 for d in check.detail["ao_good_delta"]), "TCPAOGood did not rise")
    check.require(len(set(ids)) == REKEYS + 1, f"a current key ID repeated: {ids}")
    check.require(samples[-1].current == current, "not on the last key")


def one_rekey(lab: Lab, sampler: Sampler, number: int, old: tuple[int, int]) -> dict[str, Any]:
    """`rkmpctl rekey-sa` on a; wait until BIRD sends with the new keys on
    both sides and the old keys have left both include files."""
    a, b = sampler.nodes
    answer = a.rkmpd.rkmpctl("rekey-sa", "tcp-ao", str(old[0]))
    if not answer.get("ok"):
        raise HarnessError(f"rekey-sa failed: {answer}")
    rekeyed_at = time.monotonic()
    new_a = int(answer["result"]["new_spi"])
    # b's new SendID: the key its include file gained (rkmpctl is slow here).
    new_b: int = wait_until(lambda: _other_id(b.ao_send_ids(), old[1]), timeout=15,
                            interval=0.1, what="b's include file to gain the new key")  # fmt: skip
    new = (new_a, new_b)
    lab.log(f"rekey {number}: SendIDs {old} -> {new}")
    switched = sampler.wait_for(lambda s: s.current == new, ROLLOVER_TIMEOUT,
                                f"BIRD's current keys {new}")  # fmt: skip
    switched_after = time.monotonic() - rekeyed_at
    sampler.wait_for(lambda _: old[0] not in a.ao_send_ids() and old[1] not in b.ao_send_ids(),
                     ROLLOVER_TIMEOUT, f"old keys {old} to leave the includes")  # fmt: skip
    return {
        "old": list(old),
        "new": list(new),
        "switched_after_s": round(switched_after, 2),
        "old_gone_after_s": round(time.monotonic() - rekeyed_at, 2),
        "rnext_after": list(switched.rnext),
        "include_send_ids": [a.ao_send_ids(), b.ao_send_ids()],
        "key_table_send_id": a.send_id(),
    }


def _other_id(ids: list[int], old: int) -> int | None:
    others = [i for i in ids if i != old]
    return others[0] if len(others) == 1 else None


def summarize(check: Check, first: Sample, samples: list[Sample]) -> None:
    last = samples[-1]
    gaps = [round(b.at - a.at, 2) for a, b in itertools.pairwise(samples)]
    check.detail["samples"] = len(samples)
    check.detail["sampled_s"] = round(last.at - first.at, 1)
    check.detail["max_sample_gap_s"] = max(gaps) if gaps else None
    check.detail["max_poll_s"] = max(s.took for s in samples)
    check.detail["non_established_samples"] = sum(not s.established() for s in samples)
    check.detail["connections_seen"] = sorted({c for s in samples for c in s.connections})
    check.detail["connections_per_sample"] = sorted({len(s.connections) for s in samples})
    check.detail["since_seen"] = sorted({s.since for s in samples}, key=str)
    check.detail["since_seen"] = [list(s) for s in check.detail["since_seen"]]
    check.detail["current_keys_seen"] = list(dict.fromkeys(s.current for s in samples))
    check.detail["final_keys"] = {"current": list(last.current), "rnext": list(last.rnext)}
    check.detail["ao_bad_delta"] = [last.ao_bad[i] - first.ao_bad[i] for i in (0, 1)]
    check.detail["ao_good_delta"] = [last.ao_good[i] - first.ao_good[i] for i in (0, 1)]
    check.detail["ao_bad"] = list(last.ao_bad)


def revoke(lab: Lab, check: Check, nodes: tuple[Node, Node]) -> None:
    a, b = nodes
    check.detail["a_rows_before"] = len(a.rkmpd.keys("tcp-ao"))
    b.rkmpd.kill()
    killed = time.monotonic()
    lab.log("rkmpd-b killed")

    def revoked() -> bool:
        if a.rkmpd.process is not None:
            a.rkmpd.process.check_alive()
        return any(line.startswith("revoke ") for line in a.rkmpd.events())

    wait_until(revoked, timeout=REVOKE_TIMEOUT, interval=0.25,
               what="a's revoke hook", diagnostics=lambda: "\n".join(a.rkmpd.events()))  # fmt: skip
    check.detail["hook_after_s"] = round(time.monotonic() - killed, 2)
    check.detail["revoke_events"] = [e for e in a.rkmpd.events() if e.startswith("revoke ")]
    wait_until(lambda: "authentication ao" not in a.include.read_text(), timeout=30,
               interval=0.25, what="a's include file without TCP-AO keys")  # fmt: skip
    check.detail["include_clear_after_s"] = round(time.monotonic() - killed, 2)
    text = a.include.read_text()
    check.detail["include_has_keys"] = "key {" in text or "secret" in text
    check.detail["include_has_session"] = f"protocol bgp {PROTOCOL}" in text
    check.detail["a_rows_after"] = len(a.rkmpd.keys("tcp-ao"))
    # BIRD took the file: its session has no TCP-AO block any more, and
    # without keys it cannot come back against b (whose BIRD still has them).
    details: str = wait_until(lambda: _session_without_ao(a.bird), timeout=30, interval=0.5,
                              what="a's BIRD session without TCP-AO")  # fmt: skip
    lab.log_text("bird-a-after-revoke", details)
    row = parse_protocols(details).get(PROTOCOL)
    check.detail["bird_state_after"] = f"{row.state} {row.info}".strip() if row else None
    check.detail["include_disabled"] = "disabled;" in text
    sinks = a.rkmpd.sinks()
    check.detail["sinks"] = [
        {k: sink.get(k) for k in ("name", "version", "ok", "applies", "failures", "last_error")}
        for sink in sinks
    ]
    check.detail["sink_results_ok"] = bool(sinks) and all(sink["ok"] for sink in sinks)
    check.detail["b_rkmpd_exit"] = b.rkmpd.process.popen.returncode if b.rkmpd.process else None
    check.require(check.detail["revoke_events"], "no revoke event")
    check.require(not check.detail["include_has_keys"], "keys left in a's include file")
    check.require(check.detail["a_rows_after"] == 0, "TCP-AO rows left in a's key table")
    check.require(check.detail["sink_results_ok"], "a sink apply failed")


def _established(bird: Bird) -> bool:
    """The session exists (rkmpd wrote it) and is up; with keys or not."""
    row = parse_protocols(bird.birdc("show", "protocols")).get(PROTOCOL)
    return row is not None and row.info.startswith("Established")


def _session_without_ao(bird: Bird) -> str | None:
    """BIRD's view of the session once it has no TCP-AO and is not up."""
    text = bird.birdc("show", "protocols", "all", PROTOCOL)
    row = parse_protocols(text).get(PROTOCOL)
    established = row is not None and row.info.startswith("Established")
    return text if parse_tcp_ao(text) is None and not established else None
