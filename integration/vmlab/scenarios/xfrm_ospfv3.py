"""OSPFv3 over IPsec (RFC 4552) keyed by rkmpd: Protocol ID 207 child SAs
as kernel XFRM SAs, BIRD OSPFv3 across them, a hitless rekey, revocation.

Two namespaces on a veth pair, one real `rkmpd --config` and one BIRD 2.17
in each. Both rkmpd have a `[[peer.protocol]] type = "ospfv3-ipsec"` on
veth0 and `[sinks.kernel]` (ESP, NULL encryption, HMAC-SHA-256-128).
rkmpd "left" initiates (a static peer); "right" only answers: its peer is
a prefix holding left's RKMP address (on left's loopback), and left sends
ARP from its link address (`arp_announce = 2`), so right's netlink
triggers never see that address as a neighbour and never initiate.

- xfrm_sas_installed: `ip xfrm state` on both sides shows rkmpd's SAs for
  the child SA: the same SPI, the key table's key and the same key on both
  sides, one SA for ff02::5, ff02::6 and the side's own link-local
  address; `ip xfrm policy` shows the out policy with that SPI.
- ospf6_full_over_esp: BIRD OSPFv3 (point-to-point, hello 1, dead 4)
  reaches Full and learns the other side's stub prefix; the ESP SAs count
  packets; no XFRM input errors.
- xfrm_rekey: `rkmpctl rekey-sa ospfv3-ipsec SPI` on left. With short
  rollover timings both SPIs' SAs are present on both sides during the
  grace period, the out policy moves to the new SPI, then only the new SAs
  remain. Every poll meanwhile: OSPF Full on both sides; afterwards the
  new SA carries the traffic.
- xfrm_revoke: right's rkmpd is killed (SIGKILL); left's liveness check
  fails, RP_revokeSA (`on_failure = "revoke"`) deletes the rows and the
  kernel sink removes left's SAs and policies. Right's stay (a killed
  sidecar withdraws nothing), so right's inbound policies now refuse
  left's cleartext OSPFv3 (XfrmInTmplMismatch rises) and the adjacency
  goes down: the policies, not just the SAs, protect OSPFv3.

Keys are read from `ip xfrm state` and the key table only to compare them;
no key goes into a check's detail or a log. PSK and addresses are fixed
test values for a throwaway guest.
"""

from __future__ import annotations

import json
import re
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from integration.harness.netns import NetNs
from integration.harness.process import HarnessError, ManagedProcess, wait_until
from integration.harness.process import run as run_command
from integration.vmlab.config import GUEST_VENV
from integration.vmlab.guest import kernelstat
from integration.vmlab.guest.bird import Bird, bird_version
from integration.vmlab.guest.lab import Lab

KERNEL_MODULES = ("veth", "dummy", "xfrm_user", "esp6", "ah6")
TIMEOUT = 480.0

RKMPD = f"{GUEST_VENV}/bin/rkmpd"
RKMPCTL = f"{GUEST_VENV}/bin/rkmpctl"
PSK = "0x" + bytes(range(140, 172)).hex()
REQID = 0x524B4D50  # rkmp_frr.sinks.kernel_sink.RKMP_REQID
SEND_DELAY = 6  # [rollover.ospfv3-ipsec]: seconds until the new SA is sent
ACCEPT_GRACE = 6  # ... and the old one accepted after that
LIVENESS = "1s"
START_TIMEOUT = 90.0  # rkmpd's Python start-up under TCG
SA_TIMEOUT = 60.0
OSPF_TIMEOUT = 90.0
ROLLOVER_TIMEOUT = 60.0
REVOKE_TIMEOUT = 60.0
POLL = 0.3
INPUT_ERRORS = (
    "XfrmInError",
    "XfrmInNoStates",
    "XfrmInStateProtoError",
    "XfrmInStateInvalid",
    "XfrmInTmplMismatch",
    "XfrmInNoPols",
    "XfrmInPolBlock",
)


@dataclass(frozen=True)
class Side:
    name: str
    link: str  # IPv4 on veth0 (/24)
    rkmp: str  # the RKMP address rkmpd listens on
    stub: str  # an IPv6 prefix on dummy0, announced by OSPF


LEFT = Side("left", "10.252.0.1", "10.253.0.1", "fd00:72b:1::1/64")
RIGHT = Side("right", "10.252.0.2", "10.252.0.2", "fd00:72b:2::1/64")


# --- `ip xfrm` output ------------------------------------------------------------------------


@dataclass(frozen=True)
class XfrmText:
    """One SA of `ip xfrm state` (the key only to compare, never shown)."""

    src: str
    dst: str
    proto: str
    spi: int
    reqid: int
    auth: str = ""
    auth_bits: int = 0
    key: str = field(default="", repr=False)
    enc: str = ""


_HEAD = re.compile(r"^src (\S+) dst (\S+)\s*$")
# `ip -s` adds values in parentheses: "spi 0x00001000(4096)", "(256 bits)".
_ID = re.compile(r"^\s+proto (\S+) spi (0x[0-9a-f]+)(?:\(\d+\))? reqid (\d+)")
_AUTH = re.compile(r"^\s+auth-trunc (\S+) 0x([0-9a-f]+) (?:\(\d+ bits\) )?(\d+)")
_ENC = re.compile(r"^\s+enc (\S+)")


def parse_xfrm_states(text: str) -> list[XfrmText]:
    """`ip xfrm state` (iproute2 6.x) -> one record per SA."""
    found: list[XfrmText] = []
    current: dict[str, Any] | None = None
    for line in text.splitlines():
        if match := _HEAD.match(line):
            if current is not None and "spi" in current:
                found.append(XfrmText(**current))
            current = {"src": match[1], "dst": match[2]}
        elif current is None:
            continue
        elif match := _ID.match(line):
            current.update(proto=match[1], spi=int(match[2], 16), reqid=int(match[3]))
        elif match := _AUTH.match(line):
            current.update(auth=match[1], key=match[2], auth_bits=int(match[3]))
        elif match := _ENC.match(line):
            current.update(enc=match[1])
    if current is not None and "spi" in current:
        found.append(XfrmText(**current))
    return found


@dataclass(frozen=True)
class PolicyText:
    direction: str
    selector: str
    spi: int
    reqid: int


_POLICY_DIR = re.compile(r"^\s+dir (\S+) ")
_TMPL = re.compile(r"^\s+proto (\S+) (?:spi (0x[0-9a-f]+)(?:\(\d+\))? )?reqid (\d+)")


def parse_xfrm_policies(text: str) -> list[PolicyText]:
    """`ip xfrm policy` -> direction, selector line, template SPI and reqid."""
    found: list[PolicyText] = []
    selector, direction = "", ""
    for line in text.splitlines():
        if line.startswith("src "):
            selector, direction = line.strip(), ""
        elif match := _POLICY_DIR.match(line):
            direction = match[1]
        elif (match := _TMPL.match(line)) and selector:
            spi = int(match[2], 16) if match[2] else 0
            found.append(PolicyText(direction, selector, spi, int(match[3])))
    return found


def states(ns: NetNs) -> list[XfrmText]:
    return [s for s in parse_xfrm_states(ns.ip("xfrm", "state").stdout) if s.reqid == REQID]


def policies(ns: NetNs) -> list[PolicyText]:
    return [p for p in parse_xfrm_policies(ns.ip("xfrm", "policy").stdout) if p.reqid == REQID]


def out_spi(ns: NetNs) -> int | None:
    found = [p.spi for p in policies(ns) if p.direction == "out"]
    return found[0] if len(found) == 1 else None


def link_local(ns: NetNs) -> str:
    text = ns.ip("-6", "-o", "addr", "show", "dev", "veth0", "scope", "link").stdout
    match = re.search(r"inet6 (fe80::[0-9a-f:]+)/64", text)
    if match is None:
        raise HarnessError(f"no link-local address on veth0: {text!r}")
    return match[1]


# --- rkmpd -----------------------------------------------------------------------------------


@dataclass
class Node:
    side: Side
    ns: NetNs
    directory: Path
    bird: Bird
    process: ManagedProcess | None = None

    @property
    def socket(self) -> Path:
        return self.directory / "ctl.sock"

    def write_config(self, psk: Path, peer: str) -> None:
        self.directory.mkdir(mode=0o700, exist_ok=True)
        (self.directory / "hooks.d").mkdir(exist_ok=True)
        config = self.directory / "rkmpd.toml"
        config.write_text(f"""\
[local]
id = "{self.side.name}.xfrm.test"
listen = ["{self.side.rkmp}:500"]
state_dir = "{self.directory / "state"}"
control_socket = "{self.socket}"
hooks_dir = "{self.directory / "hooks.d"}"
hook_timeout = "5s"

[auth]
psk_file = "{psk}"

[rkmp]
liveness_interval = "{LIVENESS}"
retransmit_timeout = "500ms"
retransmit_base = 1.5
retransmit_tries = 4

[rollover.ospfv3-ipsec]
send_delay = "{SEND_DELAY}s"
accept_grace = "{ACCEPT_GRACE}s"
hard_expiry = "0s"

{peer}
  [[peer.protocol]]
  type = "ospfv3-ipsec"
  interface = "veth0"
  algorithm = "hmac-sha-256-128"

[sinks.kernel]
enabled = true
mode = "esp"
""")

    def start(self, lab: Lab) -> None:
        config = str(self.directory / "rkmpd.toml")
        self.process = lab.start(
            f"rkmpd-{self.side.name}", [RKMPD, "--config", config, "--log-level", "debug"],
            netns=self.ns,
        )  # fmt: skip
        lab.attach(f"rkmpd-{self.side.name}.toml", self.directory / "rkmpd.toml")
        wait_until(self.answers, timeout=START_TIMEOUT, interval=0.5,
                   what=f"rkmpd {self.side.name} control socket",
                   diagnostics=self.process.log_tail)  # fmt: skip

    def answers(self) -> bool:
        if self.process is not None:
            self.process.check_alive()
        return self.ctl("status", check=False) is not None

    def ctl(self, *args: str, check: bool = True) -> Any:
        argv = [RKMPCTL, "--socket", str(self.socket), "--json", *args]
        result = run_command(argv, timeout=30, check=False)
        try:
            data = json.loads(result.stdout)
        except json.JSONDecodeError:
            data = None
        if data is None or not data.get("ok"):
            if check:
                raise HarnessError(f"rkmpctl {' '.join(args)}: {result.stdout} {result.stderr}")
            return None
        return data["result"]

    def rows(self) -> list[dict[str, Any]]:
        """The OSPFv3-IPsec rows, keys included (compared, never shown)."""
        result = self.ctl("keys", "--protocol", "ospfv3-ipsec", "--show-secrets")
        return list(result["rows"])

    def kill(self) -> None:
        assert self.process is not None
        self.process.popen.send_signal(signal.SIGKILL)
        self.process.popen.wait(30)
        self.process.stopped = True


# --- BIRD ------------------------------------------------------------------------------------


def bird_config(side: Side) -> str:
    return f"""\
log stderr all;
router id {side.link};
timeformat protocol iso long;
protocol device {{ scan time 2; }}
protocol ospf v3 ospf6 {{
  ipv6 {{ import all; export none; }};
  area 0 {{
    interface "veth0" {{ type ptp; hello 1; dead 4; }};
    interface "dummy0" {{ stub yes; }};
  }};
}}
"""


def ospf_state(bird: Bird) -> str:
    """The neighbour's state on veth0 ("Full/PtP"), or what BIRD said."""
    try:
        text = bird.birdc("show", "ospf", "neighbors", "ospf6")
    except HarnessError as exc:
        return f"birdc failed: {exc}"[:80]
    for line in text.splitlines():
        words = line.split()
        if "veth0" in words and len(words) >= 3:
            return words[2]
    return "none"


def learned(bird: Bird, prefix: str) -> bool:
    network = prefix.split("::")[0] + "::"
    return network in bird.birdc("show", "route", "protocol", "ospf6")


def wait_learned(bird: Bird, prefix: str) -> bool:
    wait_until(lambda: learned(bird, prefix), timeout=30, interval=0.5,
               what=f"{prefix} in {bird.name}'s routes")  # fmt: skip
    return True


# --- the network -----------------------------------------------------------------------------


def build_network(lab: Lab, left: NetNs, right: NetNs) -> None:
    for ns in (left, right):
        # Link-local addresses usable at once (no DAD wait); veth0 gets them.
        ns.run(["sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0"])
        ns.run(["sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0"])
    run_command(["ip", "link", "add", "veth0", "netns", left.name, "type", "veth",
         "peer", "name", "veth0", "netns", right.name])  # fmt: skip
    for ns, side in ((left, LEFT), (right, RIGHT)):
        ns.ip("addr", "add", f"{side.link}/24", "dev", "veth0")
        ns.ip("link", "set", "veth0", "up")
        ns.ip("link", "add", "dummy0", "type", "dummy")
        ns.ip("addr", "add", side.stub, "dev", "dummy0")
        ns.ip("link", "set", "dummy0", "up")
    # Left's RKMP address lives on its loopback; right reaches it via left.
    left.ip("addr", "add", f"{LEFT.rkmp}/32", "dev", "lo")
    left.run(["sysctl", "-qw", "net.ipv4.conf.all.arp_announce=2"])
    left.run(["sysctl", "-qw", "net.ipv4.conf.veth0.arp_announce=2"])
    right.ip("route", "add", f"{LEFT.rkmp}/32", "via", LEFT.link)
    lab.log("network: veth0 10.252.0.0/24, left's RKMP address 10.253.0.1 on lo")


# --- checks ----------------------------------------------------------------------------------


def packets(ns: NetNs, spi: int, dst: str = "ff02::5") -> int:
    return sum(s.packets for s in kernelstat.xfrm_states(ns) if s.spi == spi and s.dst == dst)


def input_errors(ns: NetNs) -> dict[str, int]:
    stats = kernelstat.xfrm_stat(ns)
    return {name: stats.get(name, 0) for name in INPUT_ERRORS}


def spis(found: list[XfrmText]) -> list[str]:
    return sorted({f"0x{s.spi:08x}" for s in found})


def check_installed(lab: Lab, nodes: tuple[Node, Node]) -> int:
    left, right = nodes
    with lab.check("xfrm_sas_installed") as check:
        psk = lab.work / "psk"
        psk.write_text(PSK + "\n")
        psk.chmod(0o600)
        left.write_config(psk, f'[[peer]]\nname = "right"\naddress = "{RIGHT.rkmp}"\n'
                               'id = "right.xfrm.test"\non_failure = "revoke"\n')  # fmt: skip
        right.write_config(psk, f'[[peer]]\nname = "left"\nprefix = "{LEFT.rkmp}/32"\n'
                                'id = "left.xfrm.test"\non_failure = "revoke"\n')  # fmt: skip
        started = time.monotonic()
        right.start(lab)
        left.start(lab)
        check.detail["rkmpd_up_s"] = round(time.monotonic() - started, 1)

        def one_row_each() -> tuple[dict[str, Any], dict[str, Any]] | None:
            rows = left.rows(), right.rows()
            if all(len(r) == 1 for r in rows):
                return rows[0][0], rows[1][0]
            return None

        row_left, row_right = wait_until(one_row_each, timeout=SA_TIMEOUT, interval=0.5,
                                         what="one OSPFv3-IPsec row on each side")  # fmt: skip
        spi = int(row_left["spi"])
        check.detail["spi"] = f"0x{spi:08x}"
        check.detail["rows_agree"] = (row_left["spi"], row_left["key"]) == (
            row_right["spi"], row_right["key"],
        )  # fmt: skip

        def installed() -> tuple[list[XfrmText], list[XfrmText]] | None:
            found = states(left.ns), states(right.ns)
            return found if all(len(f) == 3 for f in found) else None

        found_left, found_right = wait_until(installed, timeout=SA_TIMEOUT, interval=0.5,
                                             what="three SAs on each side")  # fmt: skip
        check.detail["sa_after_s"] = round(time.monotonic() - started, 1)
        lab.log_text("xfrm-policy-left", left.ns.ip("xfrm", "policy").stdout)
        ll_left, ll_right = link_local(left.ns), link_local(right.ns)
        check.detail["spis_left"] = spis(found_left)
        check.detail["spis_right"] = spis(found_right)
        check.detail["dsts_left"] = sorted(s.dst for s in found_left)
        check.detail["dsts_right"] = sorted(s.dst for s in found_right)
        check.detail["own_link_local"] = [
            ll_left in check.detail["dsts_left"], ll_right in check.detail["dsts_right"],
        ]  # fmt: skip
        table_key = str(row_left["key"]).lower()
        every = found_left + found_right
        check.detail["keys_identical"] = len({s.key for s in every}) == 1
        check.detail["keys_are_the_tables"] = all(s.key == table_key for s in every)
        check.detail["algorithms"] = sorted({f"{s.proto} {s.auth} {s.auth_bits} {s.enc}"
                                             for s in every})  # fmt: skip
        multicast = {
            name: sorted((s.dst, s.spi, s.key) for s in found if s.dst.startswith("ff02::"))
            for name, found in (("left", found_left), ("right", found_right))
        }
        check.detail["multicast_identical"] = multicast["left"] == multicast["right"]
        check.detail["out_spi"] = [f"0x{out_spi(n.ns) or 0:08x}" for n in nodes]
        check.detail["policies"] = [len(policies(n.ns)) for n in nodes]
        check.require(check.detail["rows_agree"], "the key tables differ")
        check.require(check.detail["spis_left"] == check.detail["spis_right"] == [f"0x{spi:08x}"],
                      "SPIs differ from the key table's")  # fmt: skip
        check.require(check.detail["keys_identical"], "the SAs' keys differ")
        check.require(check.detail["keys_are_the_tables"], "the SAs' keys are not the table's")
        check.require(check.detail["multicast_identical"], "ff02::5/6 SAs differ between sides")
        check.require(all(check.detail["own_link_local"]), "no SA for the own link-local address")
        check.require(check.detail["out_spi"] == [f"0x{spi:08x}"] * 2, "out policy SPI")
        return spi
    raise HarnessError("xfrm_sas_installed failed")


def check_ospf(lab: Lab, nodes: tuple[Node, Node], spi: int) -> None:
    left, right = nodes
    with lab.check("ospf6_full_over_esp") as check:
        errors_before = [input_errors(n.ns) for n in nodes]
        started = time.monotonic()
        for node in nodes:
            node.bird.start(lab, bird_config(node.side))

        def full() -> bool:
            for node in nodes:
                if node.bird.process is not None:
                    node.bird.process.check_alive()
            return all(ospf_state(n.bird).startswith("Full") for n in nodes)

        wait_until(full, timeout=OSPF_TIMEOUT, interval=0.5, what="OSPFv3 Full on both sides",
                   diagnostics=lambda: left.bird.birdc("show", "ospf", "neighbors"))  # fmt: skip
        check.detail["full_after_s"] = round(time.monotonic() - started, 1)
        check.detail["states"] = [ospf_state(n.bird) for n in nodes]
        check.detail["routes"] = [
            wait_learned(left.bird, RIGHT.stub),
            wait_learned(right.bird, LEFT.stub),
        ]
        time.sleep(2)
        check.detail["esp_packets"] = [packets(n.ns, spi) for n in nodes]
        errors_after = [input_errors(n.ns) for n in nodes]
        check.detail["input_errors"] = [
            {k: after[k] - before[k] for k in after if after[k] != before[k]}
            for before, after in zip(errors_before, errors_after, strict=True)
        ]
        counters = left.ns.ip("-s", "xfrm", "state").stdout
        lab.log_text("xfrm-state-left-counters", re.sub(r"0x[0-9a-f]{16,}", "0x<key>", counters))
        check.require(all(p > 0 for p in check.detail["esp_packets"]), "ESP SAs carried nothing")
        check.require(check.detail["input_errors"] == [{}, {}], "XFRM input errors")


@dataclass(frozen=True)
class Sample:
    at: float
    spis: tuple[tuple[int, ...], tuple[int, ...]]
    out: tuple[int | None, int | None]
    ospf: tuple[str, str]


def sample(nodes: tuple[Node, Node], started: float) -> Sample:
    found = [tuple(sorted({s.spi for s in states(n.ns)})) for n in nodes]
    return Sample(
        at=round(time.monotonic() - started, 2),
        spis=(found[0], found[1]),
        out=(out_spi(nodes[0].ns), out_spi(nodes[1].ns)),
        ospf=(ospf_state(nodes[0].bird), ospf_state(nodes[1].bird)),
    )


def check_rekey(lab: Lab, nodes: tuple[Node, Node], old: int) -> None:
    left = nodes[0]
    with lab.check("xfrm_rekey") as check:
        before = [packets(n.ns, old) for n in nodes]
        rekeyed = left.ctl("rekey-sa", "ospfv3-ipsec", str(old))
        new = int(rekeyed["new_spi"])
        check.detail["old_spi"], check.detail["new_spi"] = f"0x{old:08x}", f"0x{new:08x}"
        started = time.monotonic()
        samples: list[Sample] = []
        deadline = started + ROLLOVER_TIMEOUT
        while time.monotonic() < deadline:
            samples.append(sample(nodes, started))
            last = samples[-1]
            if last.spis == ((new,), (new,)) and last.out == (new, new):
                break
            time.sleep(POLL)
        for _ in range(5):  # a little longer: OSPF must stay Full after the old SA went
            time.sleep(POLL)
            samples.append(sample(nodes, started))
        lab.log_text("rekey-samples", "\n".join(repr(s) for s in samples))
        both = tuple(sorted((old, new)))  # samples list SPIs sorted
        check.detail["samples"] = len(samples)
        check.detail["overlap_s"] = [s.at for s in samples if s.spis == (both, both)][:1] + [
            s.at for s in samples if s.spis == (both, both)
        ][-1:]
        check.detail["out_switched_at"] = next((s.at for s in samples if s.out == (new, new)), None)
        check.detail["old_gone_at"] = next(
            (s.at for s in samples if s.spis == ((new,), (new,))), None
        )
        check.detail["out_spis_seen"] = sorted({f"0x{x:08x}" for s in samples for x in s.out if x})
        check.detail["not_full"] = [
            (s.at, s.ospf) for s in samples if not all(o.startswith("Full") for o in s.ospf)
        ]
        check.detail["final"] = [[f"0x{x:08x}" for x in side] for side in samples[-1].spis]
        time.sleep(2)
        check.detail["new_sa_packets"] = [packets(n.ns, new) for n in nodes]
        check.detail["old_sa_packets_before"] = before
        rows = [n.rows() for n in nodes]
        check.detail["rows_after"] = [sorted(f"0x{int(r['spi']):08x}" for r in rs) for rs in rows]
        check.require(check.detail["overlap_s"], "old and new SAs were never both present")
        check.require(samples[0].out == (old, old), "the new SA was sent before its send delay")
        check.require(check.detail["out_switched_at"] is not None, "the out policy never switched")
        check.require(check.detail["old_gone_at"] is not None, "the old SAs were not removed")
        check.require(not check.detail["not_full"], "OSPF left Full during the rekey")
        check.require(all(p > 0 for p in check.detail["new_sa_packets"]), "new SA carried nothing")


def check_revoke(lab: Lab, nodes: tuple[Node, Node]) -> None:
    left, right = nodes
    with lab.check("xfrm_revoke") as check:
        check.detail["before"] = [len(states(n.ns)) for n in nodes]
        errors_before = input_errors(right.ns)
        started = time.monotonic()
        right.kill()

        def gone() -> bool:
            return not states(left.ns) and not policies(left.ns)

        wait_until(gone, timeout=REVOKE_TIMEOUT, interval=0.5,
                   what="left's SAs and policies removed after the revoke")  # fmt: skip
        check.detail["gone_after_s"] = round(time.monotonic() - started, 1)
        check.detail["left_rows"] = len(left.rows())
        check.detail["right_states_kept"] = len(states(right.ns))
        log = left.process.log_path.read_text(errors="replace") if left.process else ""
        check.detail["revoked_logged"] = "keys revoked" in log
        # Left now sends OSPFv3 in the clear; right's inbound policies refuse
        # it (the template mismatch counter), so right's adjacency dies.
        wait_until(lambda: not ospf_state(right.bird).startswith("Full"), timeout=30,
                   interval=0.5, what="right's OSPF adjacency down")  # fmt: skip
        check.detail["right_ospf_after"] = ospf_state(right.bird)
        after = input_errors(right.ns)
        check.detail["right_input_errors"] = {
            k: after[k] - errors_before[k] for k in after if after[k] != errors_before[k]
        }
        check.require(check.detail["left_rows"] == 0, "left's key table still has the rows")
        check.require(check.detail["right_states_kept"] == 3, "right's SAs went with its rkmpd")
        check.require(
            check.detail["right_input_errors"].get("XfrmInTmplMismatch", 0) > 0,
            "right accepted cleartext OSPFv3",
        )


def run(lab: Lab) -> None:
    lab.fact("bird", bird_version())
    lab.fact("kernel", Path("/proc/sys/kernel/osrelease").read_text().strip())
    left_ns, right_ns = lab.namespace("ipsl"), lab.namespace("ipsr")
    build_network(lab, left_ns, right_ns)
    nodes = (
        Node(LEFT, left_ns, lab.work / "left", Bird("bird-left", left_ns, lab.work)),
        Node(RIGHT, right_ns, lab.work / "right", Bird("bird-right", right_ns, lab.work)),
    )
    spi = check_installed(lab, nodes)
    check_ospf(lab, nodes, spi)
    check_rekey(lab, nodes, spi)
    check_revoke(lab, nodes)
