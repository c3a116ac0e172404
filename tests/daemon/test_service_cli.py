"""The ``rkmpd`` command: --check-config, signals on a real process (SIGHUP
reloads, SIGTERM stops with exit 0), and exit codes when it cannot start."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rkmp_frr.daemon.rkmpd import main

from .test_service_support import Node, free_ports, peer_toml, write_config, write_psk

RKMPD = [sys.executable, "-m", "rkmp_frr.daemon.rkmpd"]


def _wait(predicate: object, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(str(path))
        except OSError:
            return False
        sock.sendall(b'{"version": 1, "command": "status"}\n')
        return b'"ok":true' in sock.recv(65536)


def test_check_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p1, p2 = free_ports(2)
    node = Node("r1", p1, tmp_path / "r1")
    write_config(node, peer_toml(Node("r2", p2, tmp_path / "r2")), write_psk(tmp_path))
    assert main(["--check-config", "--config", str(node.config_file)]) == 0
    assert "OK" in capsys.readouterr().out
    node.config_file.write_text("[local]\nid = 5\n")
    assert main(["--check-config", "--config", str(node.config_file)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "local.id" in error
    assert main(["--config", str(node.config_file)]) == 2


def test_signals_on_a_running_daemon(tmp_path: Path) -> None:
    p1, p2, p3 = free_ports(3)
    psk = write_psk(tmp_path)
    node = Node("r1", p1, tmp_path / "r1")
    r2, r3 = Node("r2", p2, tmp_path / "r2"), Node("r3", p3, tmp_path / "r3", host="127.0.0.3")
    write_config(node, peer_toml(r2), psk)
    log = tmp_path / "rkmpd.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*RKMPD, "--config", str(node.config_file), "--foreground"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait(lambda: _answers(node.socket), "the control socket")
        write_config(node, peer_toml(r2) + peer_toml(r3), psk)
        process.send_signal(signal.SIGHUP)
        _wait(lambda: "configuration reloaded: 2 peer(s)" in log.read_text(), "the reload")
        node.config_file.write_text("[local\n")  # a broken file is refused, the daemon runs on
        process.send_signal(signal.SIGHUP)
        _wait(lambda: "reload failed" in log.read_text(), "the refused reload")
        assert process.poll() is None
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = log.read_text()
    assert "rkmpd stopped" in text and "Traceback" not in text
    assert not node.socket.exists()
    assert all(line[:4].isdigit() for line in text.splitlines())  # one event per line


def test_a_port_in_use_exits_1(tmp_path: Path) -> None:
    (p1,) = free_ports(1)
    node = Node("r1", p1, tmp_path / "r1")
    write_config(node, "", write_psk(tmp_path))
    blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    blocker.bind(("127.0.0.1", p1))
    try:
        result = subprocess.run(
            [*RKMPD, "--config", str(node.config_file)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    finally:
        blocker.close()
    assert result.returncode == 1
    assert "cannot start" in result.stderr and "Traceback" not in result.stderr
