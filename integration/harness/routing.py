"""FRR and BIRD routing daemons inside test namespaces.

Each daemon runs in the foreground (so the PID the harness holds is the
daemon's own, and it is stopped by that PID), with every path explicit
and below the test's work directory, so several instances of the same
daemon run side by side on one machine, next to other test runs:

- FRR (DESIGN.md §5): ``zebra``/``bgpd``/``ospfd``/``ospf6d`` with
  ``-f CONF -i PID -z ZSERV --vty_socket DIR -P 0`` (no TCP vty), DIR owned
  by frr:frr; ``/run/frr`` (where ospf(6)d keep state files whatever the
  paths) is a private directory per node, bound over it in a private mount
  namespace. Configuration goes in through ``vtysh --vty_socket DIR -f``,
  the way an operator's integrated config would.
- BIRD: ``bird -f -c CONF -s SOCK -P PID`` with ``birdc -s SOCK``.

Readiness and state come from the daemons' own show commands (JSON for
FRR, ``birdc`` text for BIRD); the wait helpers poll them with harness
deadlines (a timeout is a HarnessError with the daemon's view attached,
never a timing assertion).
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest

from integration.harness.netns import NetNs
from integration.harness.process import (
    HarnessError,
    ManagedProcess,
    run,
    start_process,
    wait_until,
)

FRR_SBIN_CANDIDATES = ("/usr/lib/frr", "/usr/libexec/frr", "/usr/sbin")
FRR_RELOAD_CANDIDATES = ("/usr/lib/frr/frr-reload.py", "/usr/libexec/frr/frr-reload.py")
FRR_USER = "frr"
START_TIMEOUT = 15.0
SESSION_TIMEOUT = 30.0
FRR_RUN_DIR = "/run/frr"


# --- what the machine has ---------------------------------------------------------------


def frr_sbin_dir() -> Path | None:
    """The directory holding zebra, bgpd, ... (RKMP_FRR_SBIN overrides)."""
    override = os.environ.get("RKMP_FRR_SBIN")
    for candidate in (override,) if override else FRR_SBIN_CANDIDATES:
        if candidate and os.access(Path(candidate) / "zebra", os.X_OK):
            return Path(candidate)
    return None


def frr_reload_path() -> Path | None:
    for candidate in FRR_RELOAD_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


def frr_unavailable_reason() -> str | None:
    """None when FRR daemons can run here, else why not (for a skip)."""
    if frr_sbin_dir() is None:
        return f"FRR daemons not found (looked in {', '.join(FRR_SBIN_CANDIDATES)})"
    if shutil.which("vtysh") is None:
        return "vtysh not found"
    try:
        pwd.getpwnam(FRR_USER)
    except KeyError:
        return f"no {FRR_USER!r} user (the FRR package creates it)"
    missing = [name for name in ("unshare", "mount") if shutil.which(name) is None]
    if missing:
        return f"missing programs: {', '.join(missing)}"
    return None


def bird_unavailable_reason() -> str | None:
    missing = [name for name in ("bird", "birdc") if shutil.which(name) is None]
    if missing:
        return f"BIRD 2 not found: missing {', '.join(missing)}"
    return None


# --- FRR ---------------------------------------------------------------------------------


class FrrDaemon(StrEnum):
    ZEBRA = "zebra"
    BGPD = "bgpd"
    OSPFD = "ospfd"
    OSPF6D = "ospf6d"
    STATICD = "staticd"


def _chown_frr(path: Path) -> None:
    user = pwd.getpwnam(FRR_USER)
    os.chown(path, user.pw_uid, user.pw_gid)


@dataclass
class FrrNode:
    """A set of FRR daemons in one namespace, sharing one vty socket dir."""

    name: str
    ns: NetNs
    directory: Path  # owned by frr:frr: sockets, pid files, logs, config
    daemons: tuple[FrrDaemon, ...]
    processes: dict[FrrDaemon, ManagedProcess] = field(default_factory=dict)

    # --- paths ---------------------------------------------------------------------

    @property
    def vty_dir(self) -> Path:
        return self.directory

    @property
    def zserv_path(self) -> Path:
        return self.directory / "zserv.api"

    @property
    def run_dir(self) -> Path:
        """Bound over /run/frr for this node's daemons."""
        return self.directory / "run"

    def config_path(self, daemon: FrrDaemon) -> Path:
        return self.directory / f"{daemon}.conf"

    def log_path(self, daemon: FrrDaemon) -> Path:
        return self.directory / f"{daemon}.log"

    def vtysh_argv(self) -> list[str]:
        """vtysh for this node (run it inside ``ns``)."""
        return ["vtysh", "--vty_socket", str(self.vty_dir)]

    # --- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        sbin = frr_sbin_dir()
        if sbin is None:
            raise HarnessError("FRR daemons not found")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(exist_ok=True)
        for path in (self.directory, self.run_dir):
            _chown_frr(path)
        # Every daemon starts from a file that only names its log; the real
        # configuration goes in through vtysh (configure()).
        for daemon in self.daemons:
            path = self.config_path(daemon)
            path.write_text(f"hostname {self.name}\nlog file {self.log_path(daemon)}\n")
            _chown_frr(path)
        Path(FRR_RUN_DIR).mkdir(exist_ok=True)  # the bind mount's target
        ordered = sorted(self.daemons, key=lambda d: d is not FrrDaemon.ZEBRA)
        for daemon in ordered:
            argv = [
                str(sbin / daemon),
                "-f", str(self.config_path(daemon)),
                "-i", str(self.directory / f"{daemon}.pid"),
                "-z", str(self.zserv_path),
                "--vty_socket", str(self.vty_dir),
                "-P", "0",
            ]  # fmt: skip
            self.processes[daemon] = start_process(
                f"{daemon}[{self.name}]",
                argv,
                log_path=self.directory / f"{daemon}.out",
                netns=self.ns.name,
                bind_mounts={FRR_RUN_DIR: self.run_dir},
            )
            self._wait_vty(daemon)
        wait_until(
            lambda: self.vtysh("show version", check=False).returncode == 0,
            timeout=START_TIMEOUT,
            what=f"vtysh to reach the daemons of {self.name}",
            diagnostics=self.diagnostics,
        )

    def restart(self, config: str | None = None) -> None:
        """Stop every daemon by its PID and start them again from their
        startup files (hostname and log only), then apply ``config`` (the
        operator's configuration; nothing rkmpd put in comes back)."""
        self.stop()
        for daemon in self.daemons:  # stale sockets and pid files of the old daemons
            for path in (self.vty_dir / f"{daemon}.vty", self.directory / f"{daemon}.pid"):
                path.unlink(missing_ok=True)
        self.zserv_path.unlink(missing_ok=True)
        self.processes.clear()
        self.start()
        if config is not None:
            self.configure(config)

    def _wait_vty(self, daemon: FrrDaemon) -> None:
        vty = self.vty_dir / f"{daemon}.vty"
        process = self.processes[daemon]

        def ready() -> bool:
            process.check_alive()
            return vty.exists()

        wait_until(
            ready,
            timeout=START_TIMEOUT,
            what=f"{daemon} of {self.name} to open {vty}",
            diagnostics=self.diagnostics,
        )

    def stop(self) -> None:
        """Stop every daemon by its PID, zebra last."""
        for daemon in sorted(self.processes, key=lambda d: d is FrrDaemon.ZEBRA):
            self.processes[daemon].stop()

    def check_alive(self) -> None:
        for process in self.processes.values():
            process.check_alive()

    def diagnostics(self) -> str:
        parts = [process.log_tail(20) for process in self.processes.values()]
        for daemon in self.daemons:
            parts.append(f"--- {self.log_path(daemon)}:\n{_tail(self.log_path(daemon))}")
        return "\n".join(parts)

    # --- vtysh ---------------------------------------------------------------------

    def vtysh(self, *commands: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = self.vtysh_argv()
        for command in commands:
            argv += ["-c", command]
        return run(argv, netns=self.ns.name, check=check)

    def configure(self, config: str) -> None:
        """Apply integrated-config text (what an operator's frr.conf holds)."""
        path = self.directory / "startup.conf"
        path.write_text(config)
        result = run([*self.vtysh_argv(), "-f", str(path)], netns=self.ns.name, check=False)
        # vtysh -f exits non-zero on any rejected line; show which.
        if result.returncode != 0:
            raise HarnessError(
                f"vtysh -f refused part of the config of {self.name}:\n"
                f"{result.stdout}{result.stderr}\n--- config:\n{config}"
            )

    def show_json(self, command: str) -> Any:
        """A ``show ... json`` command's answer, parsed ({} when empty)."""
        text = self.vtysh(command).stdout.strip()
        return json.loads(text) if text else {}

    def running_config(self) -> str:
        return self.vtysh("show running-config").stdout

    # --- state -----------------------------------------------------------------------

    def bgp_neighbor(self, peer: str) -> dict[str, Any]:
        data = self.show_json(f"show bgp neighbors {peer} json")
        entry = data.get(peer)
        return entry if isinstance(entry, dict) else {}

    def bgp_state(self, peer: str) -> str | None:
        state = self.bgp_neighbor(peer).get("bgpState")
        return str(state) if state is not None else None

    def bgp_established_count(self, peer: str) -> int:
        """How often the session came up (FRR's ``connectionsEstablished``)."""
        return int(self.bgp_neighbor(peer).get("connectionsEstablished", 0))

    def ospf_neighbor_states(self) -> dict[str, str]:
        """OSPFv2 neighbour router ID -> state ("Full/-", ...)."""
        data = self.show_json("show ip ospf neighbor json")
        states: dict[str, str] = {}
        for router_id, entries in data.get("neighbors", {}).items():
            for entry in entries if isinstance(entries, list) else [entries]:
                states[router_id] = str(entry.get("nbrState") or entry.get("state", ""))
        return states

    def ospf6_neighbor_states(self) -> dict[str, str]:
        """OSPFv3 neighbour router ID -> state ("Full", ...)."""
        data = self.show_json("show ipv6 ospf6 neighbor json")
        return {
            str(entry["neighborId"]): str(entry.get("state", ""))
            for entry in data.get("neighbors", [])
        }

    def wait_bgp_established(self, peer: str, timeout: float = SESSION_TIMEOUT) -> None:
        wait_until(
            lambda: self._checked(lambda: self.bgp_state(peer) == "Established"),
            timeout=timeout,
            what=f"BGP session {self.name} -> {peer} Established",
            interval=0.1,
            diagnostics=lambda: (
                f"{self.vtysh('show bgp summary', check=False).stdout}\n" + self.diagnostics()
            ),
        )

    def wait_ospf_full(self, router_id: str, timeout: float = SESSION_TIMEOUT) -> None:
        wait_until(
            lambda: self._checked(
                lambda: self.ospf_neighbor_states().get(router_id, "").startswith("Full")
            ),
            timeout=timeout,
            what=f"OSPF neighbour {router_id} of {self.name} Full",
            interval=0.1,
            diagnostics=lambda: (
                self.vtysh("show ip ospf neighbor", check=False).stdout + self.diagnostics()
            ),
        )

    def wait_ospf6_full(self, router_id: str, timeout: float = SESSION_TIMEOUT) -> None:
        wait_until(
            lambda: self._checked(
                lambda: self.ospf6_neighbor_states().get(router_id, "") == "Full"
            ),
            timeout=timeout,
            what=f"OSPFv3 neighbour {router_id} of {self.name} Full",
            interval=0.1,
            diagnostics=lambda: (
                self.vtysh("show ipv6 ospf6 neighbor", check=False).stdout + self.diagnostics()
            ),
        )

    def _checked(self, predicate: Any) -> bool:
        self.check_alive()
        return bool(predicate())


def start_frr(
    ns: NetNs,
    work_dir: Path,
    name: str,
    daemons: Sequence[FrrDaemon] = (FrrDaemon.ZEBRA, FrrDaemon.BGPD),
    config: str | None = None,
) -> FrrNode:
    """FRR daemons for ``name`` in ``ns``, files under ``work_dir/frr-<name>``.

    The work directory is opened for traversal (the daemons run as frr).
    On any failure the daemons already started are stopped.
    """
    os.chmod(work_dir, 0o711)
    wanted = tuple(dict.fromkeys((FrrDaemon.ZEBRA, *daemons)))
    node = FrrNode(name=name, ns=ns, directory=work_dir / f"frr-{name}", daemons=wanted)
    try:
        node.start()
        if config is not None:
            node.configure(config)
    except BaseException:
        node.stop()
        raise
    return node


# --- BIRD --------------------------------------------------------------------------------


@dataclass
class BirdNode:
    """One BIRD 2 in a namespace, with its control socket under ``directory``."""

    name: str
    ns: NetNs
    directory: Path
    process: ManagedProcess | None = None

    @property
    def config_path(self) -> Path:
        return self.directory / "bird.conf"

    @property
    def socket_path(self) -> Path:
        return self.directory / "bird.ctl"

    @property
    def log_path(self) -> Path:
        return self.directory / "bird.log"

    def birdc_argv(self) -> list[str]:
        return ["birdc", "-s", str(self.socket_path)]

    def start(self, config: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(config)
        argv = [
            "bird", "-f",
            "-c", str(self.config_path),
            "-s", str(self.socket_path),
            "-P", str(self.directory / "bird.pid"),
        ]  # fmt: skip
        self.process = start_process(
            f"bird[{self.name}]",
            argv,
            log_path=self.directory / "bird.out",
            netns=self.ns.name,
        )
        wait_until(
            lambda: self._checked(lambda: self.birdc("show status", check=False).returncode == 0),
            timeout=START_TIMEOUT,
            what=f"BIRD {self.name} to answer on {self.socket_path}",
            diagnostics=self.diagnostics,
        )

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def check_alive(self) -> None:
        if self.process is not None:
            self.process.check_alive()

    def diagnostics(self) -> str:
        head = self.process.log_tail(20) if self.process is not None else ""
        return f"{head}\n--- {self.log_path}:\n{_tail(self.log_path)}"

    def _checked(self, predicate: Any) -> bool:
        self.check_alive()
        return bool(predicate())

    def birdc(self, *words: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = run([*self.birdc_argv(), *words], netns=self.ns.name, check=check)
        return result

    def configure(self, config: str | None = None) -> str:
        """Replace bird.conf (when given) and ``birdc configure``; returns
        birdc's answer (raises if BIRD refused it)."""
        if config is not None:
            self.config_path.write_text(config)
        answer = self.birdc("configure").stdout
        if "Reconfigured" not in answer and "Reconfiguration in progress" not in answer:
            raise HarnessError(f"birdc configure of {self.name} failed:\n{answer}")
        return answer

    def protocol_details(self, protocol: str) -> str:
        return self.birdc("show", "protocols", "all", protocol).stdout

    def bgp_state(self, protocol: str) -> str | None:
        match = re.search(r"^\s*BGP state:\s+(\S+)", self.protocol_details(protocol), re.M)
        return match[1] if match else None

    def ospf_neighbor_states(self, protocol: str) -> dict[str, str]:
        """Router ID -> state ("Full/PtP", ...) from ``show ospf neighbors``."""
        text = self.birdc("show", "ospf", "neighbors", protocol).stdout
        return parse_bird_ospf_neighbors(text)

    def wait_bgp_established(self, protocol: str, timeout: float = SESSION_TIMEOUT) -> None:
        wait_until(
            lambda: self._checked(lambda: self.bgp_state(protocol) == "Established"),
            timeout=timeout,
            what=f"BIRD {self.name} protocol {protocol} Established",
            interval=0.1,
            diagnostics=lambda: self.protocol_details(protocol) + self.diagnostics(),
        )

    def wait_ospf_full(
        self, protocol: str, router_id: str, timeout: float = SESSION_TIMEOUT
    ) -> None:
        wait_until(
            lambda: self._checked(
                lambda: self.ospf_neighbor_states(protocol).get(router_id, "").startswith("Full")
            ),
            timeout=timeout,
            what=f"BIRD {self.name} OSPF neighbour {router_id} Full",
            interval=0.1,
            diagnostics=lambda: (
                self.birdc("show", "ospf", "neighbors", check=False).stdout + self.diagnostics()
            ),
        )


_BIRD_NEIGHBOR_RE = re.compile(
    r"^(?P<router_id>\d+\.\d+\.\d+\.\d+)\s+(?P<priority>\d+)\s+(?P<state>\S+)\s", re.M
)


def parse_bird_ospf_neighbors(text: str) -> dict[str, str]:
    """``birdc show ospf neighbors`` rows: router ID -> state."""
    return {m["router_id"]: m["state"] for m in _BIRD_NEIGHBOR_RE.finditer(text)}


def start_bird(ns: NetNs, work_dir: Path, name: str, config: str) -> BirdNode:
    """BIRD for ``name`` in ``ns`` with ``config``; files under ``work_dir/bird-<name>``."""
    node = BirdNode(name=name, ns=ns, directory=work_dir / f"bird-{name}")
    try:
        node.start(config)
    except BaseException:
        node.stop()
        raise
    return node


# --- shared ------------------------------------------------------------------------------


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(none)"


def bird_version() -> str | None:
    """``bird --version`` (it answers on stderr), e.g. "2.0.12"."""
    try:
        result = subprocess.run(
            ["bird", "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except FileNotFoundError:
        return None
    match = re.search(r"BIRD version (\S+)", result.stdout + result.stderr)
    return match[1] if match else None


# --- a test's daemons --------------------------------------------------------------------


@dataclass
class RoutingLab:
    """The routing daemons of one test; ``close`` stops them all by PID
    (FRR and BIRD alike), whatever happened in the test."""

    work_dir: Path
    frr_nodes: list[FrrNode] = field(default_factory=list)
    bird_nodes: list[BirdNode] = field(default_factory=list)
    rkmpd_nodes: list[RkmpdNode] = field(default_factory=list)

    def rkmpd(self, ns: NetNs, name: str, config: str) -> RkmpdNode:
        """``rkmpd --config`` with ``config`` (its ``[sinks.*]`` included)."""
        node = start_rkmpd(ns, self.work_dir, name, config)
        self.rkmpd_nodes.append(node)
        return node

    def frr(
        self,
        ns: NetNs,
        name: str,
        daemons: Sequence[FrrDaemon] = (FrrDaemon.ZEBRA, FrrDaemon.BGPD),
        config: str | None = None,
    ) -> FrrNode:
        node = start_frr(ns, self.work_dir, name, daemons, config)
        self.frr_nodes.append(node)
        return node

    def bird(self, ns: NetNs, name: str, config: str) -> BirdNode:
        node = start_bird(ns, self.work_dir, name, config)
        self.bird_nodes.append(node)
        return node

    def close(self) -> None:
        errors: list[BaseException] = []
        stops = [n.stop for n in self.rkmpd_nodes]
        stops += [n.stop for n in self.frr_nodes] + [n.stop for n in self.bird_nodes]
        for stop in stops:
            try:
                stop()
            except Exception as exc:  # stop the others all the same
                errors.append(exc)
        self.rkmpd_nodes.clear()
        self.frr_nodes.clear()
        self.bird_nodes.clear()
        if errors:
            raise errors[0]


# --- OSPF packets on the wire ------------------------------------------------------------

OSPF_IP_PROTOCOL = 89
_OSPF_AUTH_CRYPTOGRAPHIC = 2


@contextmanager
def routing_lab(work_dir: Path, *needs: Callable[[], str | None]) -> Iterator[RoutingLab]:
    """A RoutingLab in ``work_dir``, closed after; the test is skipped, with
    the reason printed, when one of ``needs`` (e.g. frr_unavailable_reason)
    names something this machine lacks."""
    for need in needs:
        reason = need()
        if reason is not None:
            pytest.skip(reason)
    lab = RoutingLab(work_dir)
    try:
        yield lab
    finally:
        lab.close()


@dataclass(frozen=True, slots=True)
class OspfPacket:
    """What an OSPFv2 packet says about its authentication (RFC 2328
    D.3: AuType 2 carries Key ID and the sequence number)."""

    timestamp: float
    router_id: str
    packet_type: int
    auth_type: int
    key_id: int | None
    sequence: int | None


def ospf_packets(records: Sequence[Any]) -> list[OspfPacket]:
    """OSPFv2 packets in Ethernet pcap records (``integration.harness.pcap``)."""
    packets: list[OspfPacket] = []
    for record in records:
        frame = bytes(record.data)
        if len(frame) < 14 + 20 or frame[12:14] != b"\x08\x00":
            continue
        ip = frame[14:]
        header_length = (ip[0] & 0x0F) * 4
        if ip[9] != OSPF_IP_PROTOCOL:
            continue
        ospf = ip[header_length:]
        if len(ospf) < 24 or ospf[0] != 2:
            continue
        auth_type = int.from_bytes(ospf[14:16], "big")
        crypto = auth_type == _OSPF_AUTH_CRYPTOGRAPHIC
        packets.append(
            OspfPacket(
                timestamp=float(record.timestamp),
                router_id=".".join(str(b) for b in ospf[4:8]),
                packet_type=ospf[1],
                auth_type=auth_type,
                key_id=ospf[18] if crypto else None,
                sequence=int.from_bytes(ospf[20:24], "big") if crypto else None,
            )
        )
    return packets


# --- test configurations (short timers: DESIGN.md §5 session-up budgets) -------------------


def frr_bgp_config(
    asn: int, router_id: str, peer: str, peer_asn: int, password: str | None = None
) -> str:
    """An FRR ``router bgp`` with one neighbour and short timers."""
    lines = [
        f"router bgp {asn}",
        f" bgp router-id {router_id}",
        " no bgp ebgp-requires-policy",
        " timers bgp 3 9",
        f" neighbor {peer} remote-as {peer_asn}",
        f" neighbor {peer} timers connect 1",
    ]
    if password is not None:
        lines.append(f" neighbor {peer} password {password}")
    return "\n".join([*lines, "exit", ""])


def bird_base_config(router_id: str, log_path: Path) -> str:
    return f'router id {router_id};\nlog "{log_path}" all;\nprotocol device {{ }}\n'


def bird_bgp_protocol(
    name: str,
    local: str,
    asn: int,
    peer: str,
    peer_asn: int,
    password: str | None = None,
    extra: str = "",
) -> str:
    """A BIRD BGP protocol with short timers (``extra`` goes inside it:
    e.g. an ``include``)."""
    auth = f'  password "{password}";\n' if password is not None else ""
    return (
        f"protocol bgp {name} {{\n"
        f"  local {local} as {asn};\n"
        f"  neighbor {peer} as {peer_asn};\n"
        f"{auth}{extra}"
        "  hold time 9; keepalive time 3; connect retry time 2; connect delay time 1;\n"
        "  error wait time 1, 5;\n"
        "  ipv4 { import none; export none; };\n"
        "}\n"
    )


def bird_ospf_protocol(name: str, interface: str, auth: str) -> str:
    """BIRD OSPFv2 on a point-to-point interface, hello 1 / dead 4; ``auth``
    goes inside the interface block (passwords or an ``include``)."""
    return (
        f"protocol ospf v2 {name} {{\n"
        "  ipv4 { import none; export none; };\n"
        "  area 0 {\n"
        f'    interface "{interface}" {{\n'
        "      type ptp; hello 1; dead 4;\n"
        f"{auth}"
        "    };\n"
        "  };\n"
        "}\n"
    )


# --- rkmpd ----------------------------------------------------------------------------------


@dataclass
class RkmpdNode:
    """``rkmpd --config`` in a namespace, with its own config, key table
    and control socket; its sinks' state comes from ``rkmpctl status``."""

    name: str
    ns: NetNs
    directory: Path
    process: ManagedProcess | None = None

    @property
    def config_file(self) -> Path:
        return self.directory / "rkmpd.toml"

    @property
    def control_socket(self) -> Path:
        return self.directory / "ctl.sock"

    @property
    def hooks_dir(self) -> Path:
        return self.directory / "hooks.d"

    def log_text(self) -> str:
        return self.process.log_path.read_text(errors="replace") if self.process else ""

    def rkmpctl(self, *args: str, check: bool = True, timeout: float = 40.0) -> Any:
        import sys

        result = run(
            [sys.executable, "-m", "rkmp_frr.daemon.rkmpctl", "--socket",
             str(self.control_socket), "--json", *args],
            check=check, timeout=timeout,
        )  # fmt: skip
        return json.loads(result.stdout) if result.stdout.strip() else {}

    def keys(self, protocol: str | None = None) -> list[dict[str, Any]]:
        args = ["keys"] + (["--protocol", protocol] if protocol else [])
        answer = self.rkmpctl(*args)
        return list(answer["result"]["rows"])

    def sink(self, name: str) -> dict[str, Any]:
        """The ``sinks`` entry of ``rkmpctl --json status`` for ``name``
        ("frr", "bird"): daemon, version, last apply and change, errors."""
        answer = self.rkmpctl("status")
        assert answer.get("ok"), answer
        found = [s for s in answer["result"]["sinks"] if s["name"] == name]
        assert len(found) == 1, answer["result"]["sinks"]
        return dict(found[0])

    def reload(self) -> None:
        """SIGHUP (re-read rkmpd.toml)."""
        if self.process is not None:
            os.kill(self.process.pid, signal.SIGHUP)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def check_alive(self) -> None:
        if self.process is not None:
            self.process.check_alive()


def rkmpd_toml(
    *,
    identity: str,
    listen: str,
    directory: Path,
    psk_file: Path,
    peers: str,
    rollover: str = "",
    on_failure_liveness: str = '"30s"',
    sinks: str = "",
) -> str:
    return f"""
[local]
id = "{identity}"
listen = ["{listen}:500"]
state_dir = "{directory / "state"}"
control_socket = "{directory / "ctl.sock"}"
hooks_dir = "{directory / "hooks.d"}"
hook_timeout = "5s"

[auth]
psk_file = "{psk_file}"

[rkmp]
retransmit_timeout = "200ms"
retransmit_base = 1.5
retransmit_tries = 4
liveness_interval = {on_failure_liveness}
{rollover}
{peers}
{sinks}
"""


def frr_sink_toml(
    frr: FrrNode,
    neighbors: Sequence[tuple[str, int]] = (),
    mode: str = "vtysh",
    check_interval: str | None = None,
) -> str:
    """``[sinks.frr]`` for ``frr``'s vty sockets; ``neighbors``: (address,
    ASN of its ``router bgp``) for TCP-MD5; ``check_interval``: how often
    rkmpd reads FRR back for drift (None: rkmpd's default)."""
    text = f'\n[sinks.frr]\nvty_socket = "{frr.vty_dir}"\nmode = "{mode}"\n'
    if check_interval is not None:
        text += f'check_interval = "{check_interval}"\n'
    for address, asn in neighbors:
        text += f'[[sinks.frr.bgp_neighbor]]\naddress = "{address}"\nasn = {asn}\n'
    return text


def toml_strings(values: Sequence[str]) -> str:
    return "[" + ", ".join(json.dumps(value) for value in values) + "]"


def start_rkmpd(ns: NetNs, work_dir: Path, name: str, config: str) -> RkmpdNode:
    """``rkmpd --config`` for ``name`` in ``ns``; returns once its control
    socket answers."""
    import sys

    node = RkmpdNode(name=name, ns=ns, directory=work_dir / f"rkmpd-{name}")
    node.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    node.hooks_dir.mkdir(exist_ok=True)
    node.config_file.write_text(config)
    repo = Path(__file__).resolve().parents[2]
    node.process = start_process(
        f"rkmpd[{name}]",
        [sys.executable, "-m", "rkmp_frr.daemon.rkmpd", "--config", str(node.config_file),
         "--foreground"],
        log_path=node.directory / "rkmpd.log",
        netns=ns.name,
        cwd=repo,
    )  # fmt: skip

    def ready() -> bool:
        node.check_alive()
        if not node.control_socket.exists():
            return False
        return node.rkmpctl("status", check=False).get("ok") is True

    wait_until(ready, timeout=START_TIMEOUT, what=f"rkmpd {name} to answer",
               diagnostics=node.process.log_tail)  # fmt: skip
    return node
