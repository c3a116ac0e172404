"""``rkmpd demo``: two real sidecars on loopback, no root, no routing daemon.

It writes two configurations (one PSK, TCP-AO + TCP-MD5 + OSPFv2 with the
other side) into a temporary directory, starts two ``Service`` instances in
one asyncio loop, each with its own state directory (a real SQLite key
table), control socket and UDP endpoint on 127.0.0.1 (two free ports, so
the non-ESP marker is used), and lets them negotiate over real UDP. Then it
rekeys the TCP-AO SA through r1's control socket (what ``rkmpctl rekey-sa``
does), prints both key tables, the FRR and BIRD configuration each side
would apply (the sinks' renderers, dry run), and a summary; keys are
masked unless ``--show-secrets``. Exit 0 if everything checked out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from rkmp_frr.daemon import names
from rkmp_frr.daemon.config_load import load_config
from rkmp_frr.daemon.control_protocol import (
    Failure,
    KeysRequest,
    KeysResult,
    LineBuffer,
    RekeySaRequest,
    RekeySaResult,
    Request,
    Response,
    Success,
    decode_response,
    encode_request,
)
from rkmp_frr.daemon.logging_setup import remove_logging, setup_logging
from rkmp_frr.daemon.rkmpctl import render_keys
from rkmp_frr.daemon.service import Service, ServiceOptions
from rkmp_frr.engine import ChildSaCreated, ChildSaRekeyed, Event
from rkmp_frr.keytable import KeyRow
from rkmp_frr.keytable.utc import utc_seconds
from rkmp_frr.sinks import (
    BirdBgpSession,
    BirdOspfArea,
    BirdOspfInstance,
    BirdOspfInterface,
    BirdRenderConfig,
    FrrBgpNeighbor,
    FrrRenderConfig,
    Version,
    bird_features,
    frr_features,
    render_bird,
    render_frr_change,
)
from rkmp_frr.wire.constants import ProtocolId

PROTOCOLS = (ProtocolId.TCP_AO, ProtocolId.TCP_MD5, ProtocolId.OSPFV2)
STEP_TIMEOUT = 20.0


class DemoError(Exception):
    """A step of the demo did not work out."""


@dataclass(frozen=True, slots=True)
class Side:
    name: str
    identity: str
    port: int
    directory: Path

    @property
    def config_file(self) -> Path:
        return self.directory / "rkmpd.toml"

    @property
    def socket(self) -> Path:
        return self.directory / "rkmpd.sock"


def free_udp_ports(count: int) -> list[int]:
    """Ports the kernel says are free on 127.0.0.1 (all held at once, so
    they differ)."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(count)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def config_text(me: Side, other: Side, psk_file: Path) -> str:
    """A complete rkmpd.toml for one side of the demo."""
    return f"""\
# rkmpd demo: {me.name} (written by `rkmpd demo`)
[local]
id = "{me.identity}"
listen = ["127.0.0.1:{me.port}"]
state_dir = "{me.directory / "state"}"
control_socket = "{me.socket}"
hooks_dir = "{me.directory / "hooks.d"}"

[auth]
psk_file = "{psk_file}"

[rkmp]
proposals = ["aes256gcm16-prfsha256-x25519"]
retransmit_timeout = "500ms"
liveness_interval = "30s"

[[peer]]
name = "{other.name}"
address = "127.0.0.1"
port = {other.port}
id = "{other.identity}"

  [[peer.protocol]]
  type = "tcp-ao"
  algorithm = "hmac-sha-256-128"
  tcp_options = "include"

  [[peer.protocol]]
  type = "tcp-md5"
  algorithm = "md5"

  [[peer.protocol]]
  type = "ospfv2"
  interface = "eth0"
  algorithm = "hmac-sha-256"

[sinks.frr]
dry_run = true

[sinks.bird]
include_file = "{me.directory / "bird-rkmp.conf"}"
dry_run = true
"""


def write_setup(root: Path) -> tuple[Side, Side]:
    ports = free_udp_ports(2)
    r1 = Side("r1", "r1.demo.rkmp.example", ports[0], root / "r1")
    r2 = Side("r2", "r2.demo.rkmp.example", ports[1], root / "r2")
    psk_file = root / "psk"
    fd = os.open(psk_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("0x" + secrets.token_hex(32) + "\n")
    for me, other in ((r1, r2), (r2, r1)):
        me.directory.mkdir(mode=0o700)
        me.config_file.write_text(config_text(me, other, psk_file))
    return r1, r2


# --------------------------------------------------------------------------- control socket


async def control_call(path: Path, request: Request, timeout: float = STEP_TIMEOUT) -> Response:
    """One request over the daemon's control socket (rkmpctl's protocol)."""
    reader, writer = await asyncio.open_unix_connection(str(path))
    try:
        writer.write(encode_request(request))
        await writer.drain()
        buffer = LineBuffer()
        async with asyncio.timeout(timeout):
            while True:
                data = await reader.read(65536)
                if not data:
                    raise DemoError(f"{path}: connection closed without an answer")
                lines = buffer.feed(data)
                if lines:
                    return decode_response(lines[0], request.COMMAND)
    finally:
        writer.close()


def _ok(response: Response) -> object:
    if isinstance(response, Failure):
        raise DemoError(f"{response.error.kind.value}: {response.error.message}")
    assert isinstance(response, Success)
    return response.result


# --------------------------------------------------------------------------- sinks seam


# The daemons the demo renders for (no routing daemon runs): Debian 13's.
DEMO_FRR = Version(10, 3)
DEMO_BIRD = Version(2, 17)
DEMO_AS = {"r1": 65001, "r2": 65002}


def render_routing_configs(
    side: str, peer_address: str, rows: Sequence[KeyRow], show_secrets: bool, now: int
) -> list[tuple[str, str]]:
    """(title, text) of the FRR and BIRD configuration the sinks' renderers
    make of ``rows`` (dry run: nothing is applied), masked unless
    ``show_secrets``. The BGP session (AS numbers) and the OSPF area are
    the demo's own sink settings."""
    local_as = DEMO_AS[side]
    frr = render_frr_change(
        (),
        rows,
        FrrRenderConfig(bgp_neighbors=(FrrBgpNeighbor(peer_address, local_as),)),
        frr_features(DEMO_FRR),
        now,
        strict=False,
    )
    frr_text = "\n".join(frr.vtysh_commands()) if show_secrets else frr.masked_text()
    bird = render_bird(
        rows,
        BirdRenderConfig(
            bgp=(
                BirdBgpSession(
                    "rkmp_peer",
                    peer_address,
                    neighbor_as=DEMO_AS["r2" if side == "r1" else "r1"],
                    local_as=local_as,
                ),
            ),
            ospf=(
                BirdOspfInstance(
                    "rkmp_ospf", 2, (BirdOspfArea("0", (BirdOspfInterface("eth0"),)),)
                ),
            ),
        ),
        bird_features(DEMO_BIRD),
        now,
        strict=False,
    )
    bird_text = bird.text if show_secrets else bird.masked_text
    return [
        (
            f"FRR {DEMO_FRR.major}.{DEMO_FRR.minor} (vtysh, configure terminal)",
            _with_notes(frr_text, frr.notes, frr.refused),
        ),
        (
            f"BIRD {DEMO_BIRD.major}.{DEMO_BIRD.minor} (include file)",
            _with_notes(bird_text, bird.notes, bird.refused),
        ),
    ]


def _with_notes(text: str, notes: Sequence[str], refused: Sequence[Exception]) -> str:
    lines = [text.rstrip("\n")]
    lines += [f"# note: {note}" for note in notes]
    lines += [f"# not rendered: {reason}" for reason in refused]
    return "\n".join(lines)


def mask(text: str, rows: Sequence[KeyRow]) -> str:
    """Every key of ``rows`` in ``text`` replaced by a placeholder."""
    for row in sorted(rows, key=lambda r: -len(r.key)):
        text = text.replace(row.key, f"<{len(row.key) // 2} octets masked>")
        text = text.replace(row.key.upper(), f"<{len(row.key) // 2} octets masked>")
    return text


# --------------------------------------------------------------------------- the demo


class _Counter:
    def __init__(self, match: Callable[[Event], bool]) -> None:
        self.match = match
        self.count = 0
        self.changed = asyncio.Event()

    def __call__(self, event: Event) -> None:
        if self.match(event):
            self.count += 1
            self.changed.set()

    async def reach(self, count: int, what: str) -> None:
        try:
            async with asyncio.timeout(STEP_TIMEOUT):
                while self.count < count:
                    self.changed.clear()
                    await self.changed.wait()
        except TimeoutError:
            raise DemoError(f"{what}: not done within {STEP_TIMEOUT:g}s") from None


def _rows(service: Service) -> tuple[KeyRow, ...]:
    assert service.store is not None
    return service.store.rows()


async def demo(show_secrets: bool, out: TextIO, root: Path) -> int:
    r1_side, r2_side = write_setup(root)
    print(f"rkmpd demo: two sidecars on 127.0.0.1 (work directory {root})", file=out)
    print(
        f"  r1 {r1_side.identity} on UDP {r1_side.port}, "
        f"r2 {r2_side.identity} on UDP {r2_side.port}; one PSK; "
        "TCP-AO, TCP-MD5 and OSPFv2 keys with each other",
        file=out,
    )
    services: list[Service] = []
    try:
        r2 = Service(
            load_config(r2_side.config_file),
            options=ServiceOptions(initiate_on_start=False, triggers=False, delete_on_stop=False),
        )
        r1 = Service(
            load_config(r1_side.config_file),
            options=ServiceOptions(triggers=False, delete_on_stop=True),
        )
        created = {s: _Counter(lambda e: isinstance(e, ChildSaCreated)) for s in ("r1", "r2")}
        rekeyed = {s: _Counter(lambda e: isinstance(e, ChildSaRekeyed)) for s in ("r1", "r2")}
        for service, label in ((r1, "r1"), (r2, "r2")):
            service.event_listeners += [created[label], rekeyed[label]]
        await r2.start()
        services.append(r2)
        await r1.start()  # r1 initiates: RKMP_SA_INIT, RKMP_SA_AUTH (+ first child), 2 CHILD SAs
        services.append(r1)
        for label in ("r1", "r2"):
            await created[label].reach(len(PROTOCOLS), f"{label}: three child SAs")
        sa = r1.engine.rkmp_sas()[0] if r1.engine is not None else None
        print("", file=out)
        print("1. RKMP SA and three routing-protocol SAs established over UDP", file=out)
        if sa is not None:
            details = r1.sa_details.get((sa.spi_i, sa.spi_r))
            proposal = details.proposal if details else "?"
            print(f"   RKMP SA {sa.spi_i.hex()}_i {sa.spi_r.hex()}_r, {proposal}", file=out)
        for side_name, service in (("r1", r1), ("r2", r2)):
            rows = _rows(service)
            ids = ", ".join(
                f"{names.protocol_name(row.protocol)} SPI {row.spi}"
                for row in sorted(rows, key=lambda r: r.protocol)
            )
            print(f"   {side_name}: {ids}", file=out)

        ao = next(row for row in _rows(r1) if row.protocol == ProtocolId.TCP_AO)
        result = _ok(
            await control_call(r1_side.socket, RekeySaRequest(ProtocolId.TCP_AO, ao.spi, "r2"))
        )
        assert isinstance(result, RekeySaResult)
        await rekeyed["r2"].reach(1, "r2: TCP-AO rekey")
        print("", file=out)
        print(
            f"2. TCP-AO rekeyed through r1's control socket (rkmpctl rekey-sa tcp-ao {ao.spi}): "
            f"SendID {result.old_spi} -> {result.new_spi}; the old key stays accepted "
            "(make-before-break)",
            file=out,
        )

        print("", file=out)
        print("3. Key tables (RFC 7210 rows)", file=out)
        for side in (r1_side, r2_side):
            keys = _ok(await control_call(side.socket, KeysRequest(show_secrets=show_secrets)))
            assert isinstance(keys, KeysResult)
            print(f"--- {side.name} ({side.directory / 'state' / 'keytable.db'})", file=out)
            print(render_keys(keys), file=out)

        print("", file=out)
        print("4. Routing-daemon configuration each side would apply (dry run)", file=out)
        now = utc_seconds(time.time())
        for side, service in ((r1_side, r1), (r2_side, r2)):
            rows = _rows(service)
            for title, text in render_routing_configs(
                side.name, "127.0.0.1", rows, show_secrets, now
            ):
                print(f"--- {side.name}: {title}", file=out)
                # masked by the renderers; masking again is a second line of defence
                print(text if show_secrets else mask(text, rows), file=out)

        summary = check_summary(_rows(r1), _rows(r2))
        print("", file=out)
        print("5. Summary", file=out)
        for line in summary:
            print(f"   {line}", file=out)
        return 0
    finally:
        for service in reversed(services):
            await service.stop()


def check_summary(rows1: Sequence[KeyRow], rows2: Sequence[KeyRow]) -> list[str]:
    """Compare both tables (keys compared, never printed); DemoError if
    they do not agree."""
    lines = []
    for protocol in PROTOCOLS:
        mine = {(r.spi, r.key) for r in rows1 if r.protocol == protocol}
        theirs = {r.key for r in rows2 if r.protocol == protocol}
        if not mine or {key for _, key in mine} != theirs:
            raise DemoError(f"{protocol.name}: the two key tables do not hold the same keys")
        lines.append(
            f"{names.protocol_name(protocol)}: {len(mine)} key(s), identical on both sides"
        )
    lines.append(
        "real UDP on loopback, real SQLite key tables, sinks in dry run; no root, "
        "no routing daemon needed"
    )
    return lines


def run_demo(show_secrets: bool = False, out: TextIO | None = None, verbose: bool = False) -> int:
    """The ``rkmpd demo`` command: 0 on success, 1 (and why, on stderr) if not."""
    stream = out if out is not None else sys.stdout
    handler = setup_logging(logging.INFO if verbose else logging.WARNING)
    try:
        with tempfile.TemporaryDirectory(prefix="rkmpd-demo-") as tmp:
            return asyncio.run(demo(show_secrets, stream, Path(tmp)))
    except (DemoError, OSError) as exc:
        print(f"rkmpd demo failed: {exc}", file=sys.stderr)
        return 1
    finally:
        with contextlib.suppress(Exception):
            remove_logging(handler)
