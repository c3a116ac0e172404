"""Helpers for the Service tests: two rkmpd services on 127.0.0.1 with real
UDP, real key tables in a temporary directory and short timers.

(Named ``test_*`` to sit with the tests it serves; it holds no tests but one
that checks the configuration it writes is valid.)
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rkmp_frr.daemon.config_load import load_config
from rkmp_frr.daemon.service import Service, ServiceOptions
from rkmp_frr.engine import Event
from rkmp_frr.keytable import KeyRow

PSK = b"0x" + bytes(range(32)).hex().encode()  # a test key, hex form

PROTOCOLS_TOML = """
  [[peer.protocol]]
  type = "tcp-ao"
  algorithm = "hmac-sha-256-128"

  [[peer.protocol]]
  type = "ospfv2"
  interface = "eth0"
  algorithm = "hmac-sha-256"
"""

FAST_RKMP = """
[rkmp]
retransmit_timeout = "100ms"
retransmit_base = 1.5
retransmit_tries = 3
liveness_interval = "30s"
"""


def free_ports(count: int) -> list[int]:
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(count)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


@dataclass
class Node:
    name: str
    port: int
    directory: Path
    host: str = "127.0.0.1"
    events: list[Event] = field(default_factory=list)

    @property
    def identity(self) -> str:
        return f"{self.name}.test.example"

    @property
    def config_file(self) -> Path:
        return self.directory / "rkmpd.toml"

    @property
    def socket(self) -> Path:
        return self.directory / "ctl.sock"

    @property
    def hooks_dir(self) -> Path:
        return self.directory / "hooks.d"

    @property
    def state_dir(self) -> Path:
        return self.directory / "state"


def peer_toml(other: Node, protocols: str = PROTOCOLS_TOML, extra: str = "") -> str:
    return f"""
[[peer]]
name = "{other.name}"
address = "{other.host}"
port = {other.port}
id = "{other.identity}"
{extra}
{protocols}
"""


def write_config(
    node: Node,
    peers: str,
    psk_file: Path,
    rkmp: str = FAST_RKMP,
    listen: str | None = None,
) -> Path:
    node.directory.mkdir(mode=0o700, exist_ok=True)
    node.hooks_dir.mkdir(exist_ok=True)
    listen_list = listen if listen is not None else f'["{node.host}:{node.port}"]'
    node.config_file.write_text(
        f"""
[local]
id = "{node.identity}"
listen = {listen_list}
state_dir = "{node.state_dir}"
control_socket = "{node.socket}"
hooks_dir = "{node.hooks_dir}"
hook_timeout = "5s"

[auth]
psk_file = "{psk_file}"
{rkmp}
{peers}
"""
    )
    return node.config_file


def write_psk(directory: Path) -> Path:
    path = directory / "psk"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(PSK + b"\n")
    return path


def make_pair(tmp: Path, rkmp: str = FAST_RKMP) -> tuple[Node, Node]:
    """r1 and r2, each with the other as a static peer (TCP-AO + OSPFv2)."""
    p1, p2 = free_ports(2)
    r1, r2 = Node("r1", p1, tmp / "r1"), Node("r2", p2, tmp / "r2")
    psk = write_psk(tmp)
    write_config(r1, peer_toml(r2), psk, rkmp)
    write_config(r2, peer_toml(r1), psk, rkmp)
    return r1, r2


async def start(node: Node, **options: object) -> Service:
    """A started Service for ``node``; its events are recorded on the node."""
    defaults: dict[str, object] = {"triggers": False, "stop_grace": 0.5}
    defaults.update(options)
    service = Service(
        load_config(node.config_file),
        options=ServiceOptions(**defaults),  # type: ignore[arg-type]
    )
    service.event_listeners.append(node.events.append)
    await service.start()
    return service


async def until(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    """Wait (polling the loop) until ``predicate()``; AssertionError if not."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.01)


def rows(service: Service) -> tuple[KeyRow, ...]:
    assert service.store is not None
    return service.store.rows()


def keys(service: Service) -> set[str]:
    return {row.key for row in rows(service)}


def children(service: Service) -> int:
    assert service.engine is not None
    return sum(len(service.engine.child_sas(p)) for p in service.peers_seen)


def test_written_configuration_is_valid(tmp_path: Path) -> None:
    r1, r2 = make_pair(tmp_path)
    config = load_config(r1.config_file)
    assert config.local.identity == "r1.test.example"
    assert [p.name for p in config.peers] == ["r2"]
    assert config.peers[0].port == r2.port
