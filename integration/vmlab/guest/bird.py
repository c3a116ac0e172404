"""BIRD 2 instances in guest namespaces, driven through birdc.

Each instance has its own config, control socket and pid file under the
scenario's work directory and runs in the foreground (`bird -f`), logging
to stderr, which `Lab.start` sends back to the host.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from integration.harness.netns import NetNs
from integration.harness.process import ManagedProcess, run, wait_until
from integration.vmlab.guest.lab import Lab

# `timeformat protocol iso long` makes "since" one fixed shape.
_PROTOCOL_LINE = re.compile(
    r"^(?P<name>\S+)\s+(?P<proto>\S+)\s+(?P<table>\S+)\s+(?P<state>\S+)\s+"
    r"(?P<since>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?)\s*(?P<info>.*)$"
)


@dataclass(frozen=True)
class ProtocolState:
    """One row of `birdc show protocols`."""

    name: str
    proto: str
    state: str
    since: str
    info: str


def parse_protocols(text: str) -> dict[str, ProtocolState]:
    rows: dict[str, ProtocolState] = {}
    for line in text.splitlines():
        match = _PROTOCOL_LINE.match(line.strip())
        if match:
            rows[match["name"]] = ProtocolState(
                match["name"], match["proto"], match["state"], match["since"],
                match["info"].strip(),
            )  # fmt: skip
    return rows


@dataclass(frozen=True)
class TcpAoState:
    """The TCP-AO block of `birdc show protocols all <bgp>` (BIRD 2.17)."""

    current_key: int
    rnext_key: int
    good_packets: int
    bad_packets: int


_AO_FIELDS = {
    "Current key": "current_key",
    "RNext key": "rnext_key",
    "Good packets": "good_packets",
    "Bad packets": "bad_packets",
}


def parse_tcp_ao(text: str) -> TcpAoState | None:
    """The key IDs in use and packet counts, or None without a TCP-AO block."""
    values: dict[str, int] = {}
    in_block = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped == "TCP-AO:":
            in_block = True
            continue
        if in_block:
            name, sep, value = stripped.partition(":")
            if not sep or name not in _AO_FIELDS or not value.strip().isdigit():
                break
            values[_AO_FIELDS[name]] = int(value)
    return TcpAoState(**values) if len(values) == len(_AO_FIELDS) else None


def bird_version() -> str:
    """ "2.17.6" (bird --version prints on stderr)."""
    result = run(["bird", "--version"], check=False)
    match = re.search(r"(\d+\.\d+(?:\.\d+)?)", result.stdout + result.stderr)
    return match.group(1) if match else "unknown"


@dataclass
class Bird:
    """One BIRD daemon in namespace `ns`."""

    name: str
    ns: NetNs
    directory: Path
    process: ManagedProcess | None = None

    @property
    def config_path(self) -> Path:
        return self.directory / f"{self.name}.conf"

    @property
    def socket_path(self) -> Path:
        return self.directory / f"{self.name}.ctl"

    def start(self, lab: Lab, config: str) -> None:
        self.config_path.write_text(config)
        lab.attach(self.config_path.name, self.config_path)
        self.process = lab.start(
            self.name,
            ["bird", "-f", "-c", str(self.config_path), "-s", str(self.socket_path),
             "-P", str(self.directory / f"{self.name}.pid")],
            netns=self.ns,
        )  # fmt: skip
        wait_until(self.socket_path.exists, timeout=20, what=f"{self.name} control socket",
                   diagnostics=self.process.log_tail)  # fmt: skip

    def birdc(self, *command: str) -> str:
        """A birdc command's output (birdc needs no namespace: a Unix socket)."""
        return run(["birdc", "-s", str(self.socket_path), *command]).stdout

    def configure(self, config: str) -> str:
        """Replace the config file and `birdc configure`; BIRD's answer."""
        self.config_path.write_text(config)
        return self.birdc("configure")

    def protocol(self, name: str) -> ProtocolState | None:
        return parse_protocols(self.birdc("show", "protocols", name)).get(name)

    def tcp_ao(self, protocol: str) -> TcpAoState | None:
        """Key IDs in use on BGP `protocol`'s connection (None without TCP-AO)."""
        return parse_tcp_ao(self.birdc("show", "protocols", "all", protocol))

    def wait_established(self, protocol: str, timeout: float) -> ProtocolState:
        """Poll until BGP `protocol` is Established; return that row."""

        def established() -> ProtocolState | None:
            if self.process is not None:
                self.process.check_alive()
            state = self.protocol(protocol)
            return state if state is not None and state.info.startswith("Established") else None

        state: ProtocolState = wait_until(
            established, timeout=timeout, interval=0.25,
            what=f"{self.name} {protocol} Established",
            diagnostics=lambda: self.birdc("show", "protocols", "all", protocol),
        )  # fmt: skip
        return state
