"""Two rkmpd processes in two network namespaces joined by veth, PSK auth.

Left (10.250.0.1) has the right node as a static peer; right (10.250.0.2)
has a prefix peer covering the link, so it starts negotiating only when the
kernel learns the left node as a neighbour (RTM_NEWNEIGH), here from a ping.

1. right starts; a ping from right to left makes right negotiate (its log
   shows the netlink trigger) before left even runs; then left starts.
2. ``rkmpctl --json sas`` shows an established RKMP SA with both child SAs
   on both sides; ``rkmpctl --json keys --show-secrets`` shows the same keys.
3. ``rkmpctl rekey-sa`` (TCP-AO from the left, OSPFv2 from the right) gives
   new key IDs, seen in both tables.
4. ``kill -9`` of the right rkmpd: the left one's liveness check fails and
   its revoke hook (RP_revokeSA) writes a file within the liveness budget.
5. The right rkmpd restarts: its key table is still there, and the RKMP SA
   and child SAs are established again.
6. No secret in any output: every log line and every CLI output (without
   ``--show-secrets``) is searched for every key seen (routing keys in hex,
   upper and lower case, and the RKMP SA keys from the keylog): none.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from integration.harness.netns import Link
from integration.harness.process import ManagedProcess, run, start_process, wait_until
from rkmp_frr.engine.policy import RetransmitPolicy

LIVENESS = 1.0
RETRANSMIT = RetransmitPolicy(timeout=0.5, base=1.5, tries=3)
# kill -9 -> revoke hook: the idle time before a liveness check, the check's
# retransmissions, and slack for the hook process and a loaded machine.
REVOKE_BUDGET = LIVENESS + RETRANSMIT.budget + 5.0
WAIT = 30.0  # harness deadline for a state to be reached

BIN = Path(sys.executable).parent
PROTOCOLS = """
  [[peer.protocol]]
  type = "tcp-ao"
  algorithm = "hmac-sha-256-128"

  [[peer.protocol]]
  type = "ospfv2"
  interface = "veth0"
  algorithm = "hmac-sha-256"
"""


def rkmpd_argv(*args: str) -> list[str]:
    script = BIN / "rkmpd"
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-m", "rkmp_frr.daemon.rkmpd", *args]


def rkmpctl_argv(*args: str) -> list[str]:
    script = BIN / "rkmpctl"
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-m", "rkmp_frr.daemon.rkmpctl", *args]


@dataclass
class Node:
    name: str
    netns: str
    address: str
    directory: Path
    peer_toml: str
    process: ManagedProcess | None = None
    runs: int = 0
    outputs: list[str] = field(default_factory=list)  # every CLI output without secrets

    @property
    def config(self) -> Path:
        return self.directory / "rkmpd.toml"

    @property
    def socket(self) -> Path:
        return self.directory / "rkmpd.sock"

    @property
    def hooks(self) -> Path:
        return self.directory / "hooks.d"

    @property
    def keylog(self) -> Path:
        return self.directory / "keylog"

    def write_config(self, psk: Path) -> None:
        self.directory.mkdir(mode=0o700)
        self.hooks.mkdir()
        self.config.write_text(
            f"""
[local]
id = "{self.name}.rkmp.test"
listen = ["{self.address}:500"]
state_dir = "{self.directory / "state"}"
control_socket = "{self.socket}"
hooks_dir = "{self.hooks}"
hook_timeout = "5s"

[auth]
psk_file = "{psk}"

[rkmp]
liveness_interval = "{LIVENESS}s"
retransmit_timeout = "{RETRANSMIT.timeout}s"
retransmit_base = {RETRANSMIT.base}
retransmit_tries = {RETRANSMIT.tries}

{self.peer_toml}
"""
        )

    def start(self) -> None:
        self.runs += 1
        self.process = start_process(
            f"rkmpd-{self.name}",
            rkmpd_argv(
                "--config", str(self.config), "--keylog", str(self.keylog), "--log-level", "debug"
            ),
            log_path=self.directory / f"rkmpd-{self.runs}.log",
            netns=self.netns,
        )
        wait_until(
            lambda: self.answers() or not self.process_running(),
            timeout=WAIT,
            what=f"{self.name}'s control socket",
        )
        assert self.process is not None
        self.process.check_alive()

    def answers(self) -> bool:
        """rkmpctl status works (a killed daemon leaves its socket file)."""
        argv = rkmpctl_argv("--socket", str(self.socket), "status")
        return subprocess.run(argv, capture_output=True, timeout=WAIT, check=False).returncode == 0

    def process_running(self) -> bool:
        return self.process is not None and self.process.running()

    def log_text(self) -> str:
        return "\n".join(
            (self.directory / f"rkmpd-{n}.log").read_text(errors="replace")
            for n in range(1, self.runs + 1)
        )

    def ctl(self, *args: str, secrets: bool = False) -> dict[str, Any]:
        """``rkmpctl --json ARGS`` against this node; the parsed output."""
        argv = rkmpctl_argv("--socket", str(self.socket), "--json", *args)
        result = subprocess.run(argv, capture_output=True, text=True, timeout=WAIT, check=False)
        if not secrets:
            self.outputs += [result.stdout, result.stderr]
        data: dict[str, Any] = json.loads(result.stdout)
        assert data["ok"], (args, data, result.stderr)
        return data["result"]  # type: ignore[no-any-return]

    def ctl_text(self, *args: str) -> str:
        """Plain ``rkmpctl`` output (recorded for the secret search)."""
        argv = rkmpctl_argv("--socket", str(self.socket), *args)
        result = subprocess.run(argv, capture_output=True, text=True, timeout=WAIT, check=False)
        self.outputs += [result.stdout, result.stderr]
        return result.stdout

    def established(self) -> dict[str, Any] | None:
        """The established RKMP SA with an active child SA of each
        protocol, if there is one. (Simultaneous initiation, which step 1
        provokes, can leave two TCP-AO children: both sides asked for one.)"""
        try:
            sas = self.ctl("sas")["sas"]
        except (AssertionError, json.JSONDecodeError):
            return None
        for sa in sas:
            protocols = {c["protocol"] for c in sa["children"] if c["state"] == "active"}
            if sa["state"] == "established" and protocols == {"tcp-ao", "ospfv2"}:
                return sa  # type: ignore[no-any-return]
        return None

    def table(self) -> list[dict[str, Any]]:
        return self.ctl("keys", "--show-secrets", secrets=True)["rows"]  # type: ignore[no-any-return]


def _diagnostics(*nodes: Node) -> str:
    return "\n".join(n.process.log_tail(30) for n in nodes if n.process is not None)


@contextmanager
def node_pair(
    link: Link, work_dir: Path, psk_start: int, left_peers: str, right_peers: str
) -> Iterator[tuple[Node, Node]]:
    """Two rkmpd nodes on ``link`` sharing a PSK (octets psk_start..+32),
    with the given ``[[peer]]`` tables; their processes are stopped after."""
    psk = work_dir / "psk"
    psk.write_text("0x" + bytes(range(psk_start, psk_start + 32)).hex() + "\n")
    psk.chmod(0o600)
    left = Node("left", link.left.ns.name, str(link.left.address), work_dir / "left", left_peers)
    right = Node(
        "right", link.right.ns.name, str(link.right.address), work_dir / "right", right_peers
    )
    for node in (left, right):
        node.write_config(psk)
    try:
        yield left, right
    finally:
        for node in (left, right):
            if node.process is not None:
                node.process.stop()


@pytest.fixture
def nodes(two_nodes: Link, work_dir: Path) -> Iterator[tuple[Node, Node]]:
    right_ip = str(two_nodes.right.address)
    with node_pair(
        two_nodes,
        work_dir,
        7,
        f'[[peer]]\nname = "right"\naddress = "{right_ip}"\nid = "right.rkmp.test"\n{PROTOCOLS}',
        f'[[peer]]\nname = "link"\nprefix = "{two_nodes.left.interface.network}"\n{PROTOCOLS}',
    ) as pair:
        yield pair


def _row_keys(rows: list[dict[str, Any]]) -> set[str]:
    return {row["key"] for row in rows}


def _keylog_secrets(node: Node) -> set[str]:
    found: set[str] = set()
    if node.keylog.exists():
        for line in node.keylog.read_text().splitlines():
            fields = line.split(",")
            found |= {f for i, f in enumerate(fields) if i in (2, 3, 5, 6) and f}
    return found


def test_two_rkmpd_in_namespaces(nodes: tuple[Node, Node], two_nodes: Link) -> None:
    left, right = nodes
    revoked_file = left.directory / "revoked"
    hook = left.hooks / "50-revoked"
    hook.write_text(
        "#!/bin/sh\n"
        '[ "$RKMP_EVENT" = revoke ] || exit 0\n'
        f'echo "$RKMP_PEER_NAME $RKMP_PEER_ADDRESS $RKMP_REASON" >> {revoked_file}\n'
    )
    hook.chmod(0o755)

    # 1. the prefix peer negotiates because of a neighbour, before left runs
    right.start()
    run(["ping", "-c", "1", "-W", "2", left.address], netns=right.netns, check=False)
    wait_until(
        lambda: (
            "netlink trigger" in right.log_text()
            and f"'address': '{left.address}'" in right.log_text()
        ),
        timeout=WAIT,
        what="right's netlink trigger for the left node",
        diagnostics=lambda: _diagnostics(right),
    )
    assert "'action': 'negotiate'" in right.log_text()
    left.start()

    # 2. established on both sides, same keys
    sa_left = wait_until(
        left.established,
        timeout=WAIT,
        what="left established",
        diagnostics=lambda: _diagnostics(left, right),
    )
    sa_right = wait_until(
        right.established,
        timeout=WAIT,
        what="right established",
        diagnostics=lambda: _diagnostics(left, right),
    )
    assert (sa_left["spi_i"], sa_left["spi_r"]) == (sa_right["spi_i"], sa_right["spi_r"])
    assert sa_left["peer"] == "right" and sa_right["peer"] == "link"
    assert sa_left["remote_identity"] == "right.rkmp.test"
    secrets = set()
    keys_left, keys_right = left.table(), right.table()
    secrets |= _row_keys(keys_left)
    assert {row["protocol"] for row in keys_left} == {"tcp-ao", "ospfv2"}
    assert _row_keys(keys_left) == _row_keys(keys_right)
    masked = left.ctl("keys")
    assert all(row["key"] is None for row in masked["rows"])
    left.ctl_text("keys")
    left.ctl_text("sas")
    right.ctl_text("status")

    # 3. rekeys give new key IDs on both sides
    ao = next(row for row in keys_left if row["protocol"] == "tcp-ao")
    rekeyed = left.ctl("rekey-sa", "tcp-ao", str(ao["spi"]))
    assert rekeyed["old_spi"] == ao["spi"] and rekeyed["new_spi"] != ao["spi"]
    ospf = next(row for row in keys_right if row["protocol"] == "ospfv2")
    rekeyed_ospf = right.ctl("rekey-sa", "ospfv2", str(ospf["spi"]))
    assert rekeyed_ospf["new_spi"] != ospf["spi"]

    def both_have_new_keys() -> bool:
        spis_left = {(r["protocol"], r["spi"]) for r in left.table()}
        spis_right = {(r["protocol"], r["spi"]) for r in right.table()}
        new_ao_right = any(
            r["protocol"] == "tcp-ao"
            and f"recv-id={rekeyed['new_spi']}" in r["protocol_specific_info"]
            for r in right.table()
        )
        return (
            ("tcp-ao", rekeyed["new_spi"]) in spis_left
            and ("ospfv2", rekeyed_ospf["new_spi"]) in spis_right
            and ("ospfv2", rekeyed_ospf["new_spi"]) in spis_left
            and new_ao_right
        )

    wait_until(both_have_new_keys, timeout=WAIT, what="rekeyed SAs in both tables")
    keys_left, keys_right = left.table(), right.table()
    secrets |= _row_keys(keys_left) | _row_keys(keys_right)
    assert _row_keys(keys_left) == _row_keys(keys_right)
    rows_right_before_kill = {(r["protocol"], r["spi"], r["key"]) for r in keys_right}

    # 4. kill -9 the right rkmpd: the left one revokes within the liveness budget
    assert right.process is not None
    right.process.popen.send_signal(signal.SIGKILL)
    right.process.popen.wait(WAIT)
    right.process.stopped = True
    wait_until(
        lambda: revoked_file.exists() and revoked_file.read_text().strip(),
        timeout=REVOKE_BUDGET,
        what="left's revoke hook after the right rkmpd was killed",
        diagnostics=lambda: _diagnostics(left),
    )
    name, address, reason = revoked_file.read_text().split()[:3]
    assert (name, address) == ("right", right.address)
    assert reason in ("liveness-timeout", "timeout")
    assert left.table() == []  # RP_revokeSA withdrew them

    # 5. restarted, it still holds its key table and re-establishes
    right.start()
    rows_after_restart = {(r["protocol"], r["spi"], r["key"]) for r in right.table()}
    assert rows_right_before_kill <= rows_after_restart
    wait_until(
        lambda: left.established() and right.established(),
        timeout=WAIT,
        what="re-established after the restart",
        diagnostics=lambda: _diagnostics(left, right),
    )
    wait_until(lambda: len(left.table()) == 2, timeout=WAIT, what="left keyed again")
    keys_left = left.table()
    secrets |= _row_keys(keys_left) | _row_keys(right.table())
    assert _row_keys(keys_left) <= _row_keys(right.table())
    left.ctl_text("sas")
    right.ctl_text("keys")

    # 6. no secret anywhere
    for node in (left, right):
        assert node.process is not None
        node.process.stop()
    secrets |= _keylog_secrets(left) | _keylog_secrets(right)
    assert len(secrets) >= 8
    outputs = [left.log_text(), right.log_text(), *left.outputs, *right.outputs]
    for text in outputs:
        lowered = text.lower()
        for secret in secrets:
            assert secret.lower() not in lowered, "a key appeared in a log or CLI output"
