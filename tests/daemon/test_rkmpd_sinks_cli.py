"""The ``rkmpd`` process with ``[sinks.frr]``: exit 2 with one line when
FRR cannot key a configured protocol, exit 1 when FRR does not answer,
and ``rkmpctl status`` showing the sink; SIGHUP rebuilds a changed sink
and refuses a file whose protocols FRR cannot key. FRR is a stand-in
``vtysh`` script answering ``show version`` (the sink runs in dry-run, so
nothing else is asked); integration/ runs the real FRR."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rkmp_frr.daemon.rkmpctl import main as rkmpctl_main

from .test_service_support import Node, free_ports, write_config, write_psk

RKMPD = [sys.executable, "-m", "rkmp_frr.daemon.rkmpd"]
MD5_PEER = """
[[peer]]
name = "r2"
address = "127.0.0.2"
port = {port}
  [[peer.protocol]]
  type = "tcp-md5"
  algorithm = "md5"
"""
AO_PROTOCOL = """
  [[peer.protocol]]
  type = "tcp-ao"
  algorithm = "hmac-sha-1-96"
"""
FRR_SINK = """
[sinks.frr]
vtysh = "{vtysh}"
dry_run = true
  [[sinks.frr.bgp_neighbor]]
  address = "127.0.0.2"
  asn = {asn}
"""


def fake_vtysh(directory: Path, answer: str, status: int = 0) -> Path:
    """A vtysh that prints ``answer`` for ``-c 'show version'``."""
    path = directory / "vtysh"
    path.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {directory / "vtysh.calls"}\n'
        f"printf '%s\\n' '{answer}'\n"
        f"exit {status}\n"
    )
    path.chmod(0o755)
    return path


def setup(tmp_path: Path, vtysh: Path, protocols: str = "", asn: int = 65001) -> Node:
    p1, p2 = free_ports(2)
    node = Node("r1", p1, tmp_path / "r1")
    peers = MD5_PEER.format(port=p2) + protocols
    write_config(node, peers + FRR_SINK.format(vtysh=vtysh, asn=asn), write_psk(tmp_path))
    return node


def run_rkmpd(node: Node) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RKMPD, "--config", str(node.config_file)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_frr_cannot_key_a_configured_protocol_exits_2(tmp_path: Path) -> None:
    vtysh = fake_vtysh(tmp_path, "FRRouting 8.4.4 (r1) on Linux(6.1.0).")
    node = setup(tmp_path, vtysh, AO_PROTOCOL)
    result = run_rkmpd(node)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    line = result.stderr.strip()
    assert line.startswith(f"{node.config_file}: peer[0].protocol[1]: ")
    assert "FRR 8.4.4" in line and "cannot do TCP-AO" in line
    assert not node.socket.exists()


def test_frr_not_answering_exits_1(tmp_path: Path) -> None:
    vtysh = fake_vtysh(tmp_path, "Exiting: failed to connect to any daemons.", status=1)
    result = run_rkmpd(setup(tmp_path, vtysh))
    assert result.returncode == 1
    assert "cannot start: frr sink: cannot ask FRR its version" in result.stderr
    assert "Traceback" not in result.stderr


def status(node: Node) -> dict[str, Any]:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stderr(io.StringIO()):
        code = rkmpctl_main(["--socket", str(node.socket), "--json", "status"], stdout=out)
    if code != 0:
        return {}
    answer: dict[str, Any] = json.loads(out.getvalue())["result"]
    return answer


def wait(predicate: Any, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_status_shows_the_sink_and_sighup_rebuilds_or_refuses(tmp_path: Path) -> None:
    vtysh = fake_vtysh(tmp_path, "FRRouting 8.4.4 (r1) on Linux(6.1.0).")
    node = setup(tmp_path, vtysh)
    log = tmp_path / "rkmpd.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*RKMPD, "--config", str(node.config_file)], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait(lambda: status(node).get("sinks"), "rkmpctl status with the sink")
        wait(lambda: status(node)["sinks"][0]["applies"] >= 1, "the first apply")
        [sink] = status(node)["sinks"]
        assert (sink["name"], sink["daemon"], sink["version"]) == ("frr", "FRR", "8.4.4")
        assert sink["dry_run"] and sink["ok"] and sink["last_error"] is None
        # No key yet, and never keyed: the neighbour is the operator's, so
        # there is nothing to apply (nor to record).
        assert sink["last_apply"]["status"] == "unchanged", sink
        assert not list(tmp_path.rglob("frr-sink.keyed"))
        calls = (tmp_path / "vtysh.calls").read_text().splitlines()
        assert calls == ["-c show version"]
        # A changed [sinks.frr]: FRR is asked again, the sink rebuilt.
        setup_text = node.config_file.read_text()
        node.config_file.write_text(setup_text.replace("asn = 65001", "asn = 65002"))
        process.send_signal(signal.SIGHUP)
        wait(lambda: "configuration reloaded" in log.read_text(), "the reload")
        wait(lambda: status(node)["sinks"][0]["applies"] >= 1, "the rebuilt sink's apply")
        assert (tmp_path / "vtysh.calls").read_text().splitlines() == ["-c show version"] * 2
        # A TCP-AO peer FRR cannot key: the reload is refused, all stays.
        node.config_file.write_text(node.config_file.read_text().replace(
            '  algorithm = "md5"\n', '  algorithm = "md5"\n' + AO_PROTOCOL
        ))  # fmt: skip
        process.send_signal(signal.SIGHUP)
        wait(lambda: "reload failed" in log.read_text(), "the refused reload")
        assert "peer[0].protocol[1]" in log.read_text()
        assert process.poll() is None and status(node)["sinks"][0]["name"] == "frr"
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "Traceback" not in log.read_text()
