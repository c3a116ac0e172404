"""Two rkmpd processes on loopback: RKMP SAs with one child SA each for many
peers, established per second; CPU time per SA on each side; resident
memory per established peer.

    .venv/bin/python benchmarks/daemon_load.py --peers 1000 [--runs 3] [--json]
        [--window 128] [--responder prefix|per-peer] [--dir /dev/shm]

Layout, like a router with one point-to-point link per neighbour: peer i is
a /30 on loopback (127.64.0.0/16): the initiator listens on 4i+1, the
responder on 4i+2, both on port 5000 (so every message carries the non-ESP
marker). The initiator has one static ``[[peer]]`` per responder address,
each presenting its own identity (``local_id = "p0001.init.example"`` ...).
The responder (``--responder prefix``, the default) has one prefix peer
covering them all that takes any identity the PSK authenticates, as
strongSwan's responder in the anchor measurement took any initiator
identity; ``--responder per-peer`` gives it one /32 peer per initiator
instead, naming the identity that initiator must present (``id``) and
presenting its own (``local_id = "p0001.resp.example"``). Each peer gets
one TCP-AO child SA inside RKMP_SA_AUTH; PSK, ``aes256gcm16-prfsha256-x25519``.
COOKIE thresholds are raised on the responder (as the strongSwan anchor
had to be), liveness checks are off, logging is at the default level
(info) to files, and the key tables are real (SQLite, ``synchronous=FULL``)
in a temporary directory.

Measurement: both daemons start and settle; the initiator starts with no
peers. Then its configuration gains the N peers and it gets SIGHUP, which
initiates them, at most ``--window`` (``[rkmp] max_half_open_initiations``)
outstanding at once, as the strongSwan run kept 128 outstanding. The time
runs from the SIGHUP to the last child SA the initiator logs; CPU time
(user + system, /proc/PID/stat) and resident memory (VmRSS) of each process
are read before the SIGHUP and after every SA is up on both sides, so
startup is excluded and the configuration reload of N peers is included.
Memory per peer is the growth of the resident set divided by N. Completion
is polled over the control sockets from this process (no rkmpctl process
per poll: those took the cores the daemons are measured on).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
PORT = 5000
BASE = 0x7F400000  # 127.64.0.0
TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KB = 1
STEP_TIMEOUT = 300.0
PSK = "0x" + bytes(range(64, 96)).hex()


def address(value: int) -> str:
    return ".".join(str((value >> shift) & 0xFF) for shift in (24, 16, 8, 0))


def initiator_address(i: int) -> str:
    return address(BASE + 4 * i + 1)


def responder_address(i: int) -> str:
    return address(BASE + 4 * i + 2)


def listen_list(addresses: list[str]) -> str:
    return "[" + ", ".join(f'"{a}:{PORT}"' for a in addresses) + "]"


def common_rkmp(window: int) -> str:
    """``window`` 0 leaves ``max_half_open_initiations`` out (the daemon's
    default; an rkmpd older than the key refuses it)."""
    pacing = f"max_half_open_initiations = {window}\n" if window else ""
    return f"""
[rkmp]
proposals = ["aes256gcm16-prfsha256-x25519"]
liveness_interval = 0
cookie_threshold = 1000000
cookie_threshold_per_address = 1000000
{pacing}"""


def initiator_identity(i: int) -> str:
    return f"p{i:04d}.init.example"


def responder_identity(i: int) -> str:
    return f"p{i:04d}.resp.example"


TCP_AO = """
  [[peer.protocol]]
  type = "tcp-ao"
  algorithm = "hmac-sha-256-128"
"""


def local_section(name: str, directory: Path, listen: str) -> str:
    return f"""
[local]
id = "{name}.bench.example"
listen = {listen}
state_dir = "{directory / "state"}"
control_socket = "{directory / "ctl.sock"}"
hooks_dir = "{directory / "hooks.d"}"

[auth]
psk_file = "{directory.parent / "psk"}"
"""


def responder_config(directory: Path, peers: int, per_peer: bool, window: int) -> str:
    """``per_peer``: one /32 prefix peer per initiator address naming the
    identity it must present (``id``) and its own ``local_id``; else one
    prefix peer for all that takes any identity the PSK authenticates."""
    listen = listen_list([responder_address(i) for i in range(peers)])
    text = local_section("responder", directory, listen) + common_rkmp(window)
    if not per_peer:
        return (
            text + f'\n[[peer]]\nname = "links"\nprefix = "127.64.0.0/16"\nport = {PORT}\n' + TCP_AO
        )
    for i in range(peers):
        text += (
            f'\n[[peer]]\nname = "p{i}"\nprefix = "{initiator_address(i)}/32"\nport = {PORT}\n'
            f'id = "{initiator_identity(i)}"\nlocal_id = "{responder_identity(i)}"\n' + TCP_AO
        )
    return text


def initiator_config(
    directory: Path, peers: int, with_peers: bool, per_peer: bool, window: int
) -> str:
    """Each peer presents its own identity (``local_id``); with
    ``per_peer`` it also names the responder's (``id``)."""
    listen = listen_list([initiator_address(i) for i in range(peers)])
    text = local_section("initiator", directory, listen) + common_rkmp(window)
    if with_peers:
        for i in range(peers):
            remote = f'id = "{responder_identity(i)}"\n' if per_peer else ""
            text += (
                f'\n[[peer]]\nname = "p{i}"\naddress = "{responder_address(i)}"\nport = {PORT}\n'
                f'local_id = "{initiator_identity(i)}"\n{remote}' + TCP_AO
            )
    return text


@dataclass
class Usage:
    user: float  # seconds
    system: float
    rss_kb: int

    @property
    def cpu(self) -> float:
        return self.user + self.system


def usage(pid: int) -> Usage:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    user, system = int(fields[11]) / TICKS, int(fields[12]) / TICKS  # utime, stime
    rss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    return Usage(user, system, rss)


def machine_busy() -> tuple[float, float]:
    """(CPU seconds all processes spent busy, wall seconds), to see how much
    of the machine other work took during a run (/proc/stat, all CPUs)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = [int(f) for f in fields]
    idle = ticks[3] + ticks[4]  # idle, iowait
    return (sum(ticks[:8]) - idle) / TICKS, time.monotonic()


class Daemon:
    def __init__(self, name: str, directory: Path, profile: bool = False) -> None:
        self.name = name
        self.profile = profile
        self.directory = directory
        self.config = directory / "rkmpd.toml"
        self.log = directory / "rkmpd.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            argv = [str(BIN / "rkmpd"), "--config", str(self.config)]
            if self.profile:
                profile = str(self.directory / "profile.out")
                argv = [sys.executable, "-m", "cProfile", "-o", profile, *argv]
            self.process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def status(self) -> dict[str, object] | None:
        """``rkmpctl --json status``'s result, asked over the control socket
        from this process: an rkmpctl process per poll (~0.2 s of CPU for
        Python's start) would take the cores the two daemons are measured on."""
        request = {"version": 1, "command": "status", "args": {}}
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(10.0)
                sock.connect(str(self.directory / "ctl.sock"))
                sock.sendall(json.dumps(request).encode() + b"\n")
                answer = b""
                while not answer.endswith(b"\n"):
                    chunk = sock.recv(65536)
                    if not chunk:
                        return None
                    answer += chunk
        except OSError:
            return None
        reply = json.loads(answer)
        if not reply.get("ok"):
            return None
        data: dict[str, object] = reply["result"]
        return data

    def wait(self, done: object, what: str, interval: float = 0.05) -> None:
        deadline = time.monotonic() + STEP_TIMEOUT
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see {self.log}")
            status = self.status()
            if status is not None and done(status):  # type: ignore[operator]
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: {what} not reached; see {self.log}")
            time.sleep(interval)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _when(line: str) -> float:
    return datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()


def last_child_time(log: Path) -> float:
    """The wall time of the last child SA the daemon logged."""
    lines = [
        line
        for line in log.read_text(errors="replace").splitlines()
        if " created" in line and " key " in line
    ]
    if not lines:
        raise RuntimeError(f"no child SA in {log}")
    return _when(lines[-1])


def first_initiation_time(log: Path, after: float) -> float | None:
    """When the reload began initiating: the first static-peer trigger it
    logged (the configuration is parsed and applied by then)."""
    for line in log.read_text(errors="replace").splitlines():
        if "'reason': 'static-peer'" in line and _when(line) >= after - 0.002:
            return _when(line)
    return None


def reloads(log: Path) -> int:
    return log.read_text(errors="replace").count("configuration reloaded")


@dataclass
class Result:
    peers: int
    seconds: float  # SIGHUP to the last child SA
    sas_per_s: float
    handshake_seconds: float  # first initiation to the last child SA
    handshake_sas_per_s: float
    initiator_cpu_ms_per_sa: float  # the reload (parsing N peers) included
    initiator_cpu_ms_per_sa_without_reload: float
    responder_cpu_ms_per_sa: float
    initiator_kb_per_peer: float
    responder_kb_per_peer: float
    initiator_system_share: float  # of its CPU time, in the kernel (sockets, fsync)
    others_cores: float  # CPU the rest of the machine used meanwhile, in cores (of 2 here)
    responder_system_share: float


def prepare(
    peers: int, root: Path, per_peer: bool, window: int, profile: bool = False
) -> tuple[Daemon, Daemon, Callable[[bool], str]]:
    """The PSK, both daemons' directories and configurations (the initiator
    without its peers); and the initiator's configuration text, with or
    without them, for the SIGHUP that starts the run."""
    (root / "psk").write_text(PSK + "\n")
    (root / "psk").chmod(0o600)
    responder = Daemon("responder", root / "responder", profile)
    initiator = Daemon("initiator", root / "initiator", profile)
    for daemon in (responder, initiator):
        daemon.directory.mkdir(mode=0o700)
    responder.config.write_text(responder_config(responder.directory, peers, per_peer, window))

    def initiator_text(with_peers: bool) -> str:
        return initiator_config(initiator.directory, peers, with_peers, per_peer, window)

    initiator.config.write_text(initiator_text(False))
    return responder, initiator, initiator_text


def run_once(
    peers: int, root: Path, profile: bool = False, per_peer: bool = False, window: int = 128
) -> Result:
    responder, initiator, initiator_text = prepare(peers, root, per_peer, window, profile)
    try:
        responder.start()
        initiator.start()
        for daemon in (responder, initiator):
            daemon.wait(lambda s: True, "start")
        time.sleep(1.0)  # settle (imports done, GC quiet)
        before = {d.name: usage(d.pid) for d in (responder, initiator)}
        machine_before = machine_busy()
        initiator.config.write_text(initiator_text(True))
        started = time.time()
        os.kill(initiator.pid, signal.SIGHUP)
        for daemon in (initiator, responder):
            daemon.wait(
                lambda s: s["rkmp_sas"] == peers and s["child_sas"] == peers,
                f"{peers} RKMP SAs with one child each",
                interval=0.25,
            )
        after = {d.name: usage(d.pid) for d in (responder, initiator)}
        machine_after = machine_busy()
        done = last_child_time(initiator.log)
        seconds = done - started
        first = first_initiation_time(initiator.log, started) or started
        # The reload's own cost: the same reload again, with nothing to set up.
        os.kill(initiator.pid, signal.SIGHUP)
        deadline = time.monotonic() + STEP_TIMEOUT
        while reloads(initiator.log) < 2:
            if time.monotonic() > deadline:
                raise RuntimeError(f"second reload not done; see {initiator.log}")
            time.sleep(0.05)
        time.sleep(0.2)
        reload_cpu = usage(initiator.pid).cpu - after["initiator"].cpu
    finally:
        for daemon in (initiator, responder):
            daemon.stop()

    def cpu_ms(name: str) -> float:
        return (after[name].cpu - before[name].cpu) * 1000 / peers

    def kb(name: str) -> float:
        return (after[name].rss_kb - before[name].rss_kb) / peers

    daemons_cpu = sum(after[name].cpu - before[name].cpu for name in after)

    def system_share(name: str) -> float:
        spent = after[name].cpu - before[name].cpu
        return (after[name].system - before[name].system) / spent if spent else 0.0

    return Result(
        peers=peers,
        seconds=round(seconds, 3),
        sas_per_s=round(peers / seconds),
        handshake_seconds=round(done - first, 3),
        handshake_sas_per_s=round(peers / (done - first)),
        initiator_cpu_ms_per_sa=round(cpu_ms("initiator"), 3),
        initiator_cpu_ms_per_sa_without_reload=round(
            cpu_ms("initiator") - reload_cpu * 1000 / peers, 3
        ),
        responder_cpu_ms_per_sa=round(cpu_ms("responder"), 3),
        initiator_kb_per_peer=round(kb("initiator"), 1),
        responder_kb_per_peer=round(kb("responder"), 1),
        initiator_system_share=round(system_share("initiator"), 2),
        responder_system_share=round(system_share("responder"), 2),
        others_cores=round(
            (machine_after[0] - machine_before[0] - daemons_cpu)
            / max(machine_after[1] - machine_before[1], 1e-9),
            2,
        ),
    )


def trace_memory(peers: int, root: Path, per_peer: bool, window: int, side: str) -> None:
    """Where the memory per established peer goes: ``side`` runs in this
    process as a Service under tracemalloc, the other as rkmpd; prints the
    growth over the same span as ``run_once``, per source file and line,
    per peer. tracemalloc sees Python's allocations only: OpenSSL's
    contexts (inside ``cryptography`` objects) and SQLite's page cache are
    in the resident set but not here."""
    import asyncio
    import gc
    import logging
    import tracemalloc

    from rkmp_frr.daemon.config_load import load_config
    from rkmp_frr.daemon.logging_setup import setup_logging
    from rkmp_frr.daemon.service import Service, ServiceOptions

    responder, initiator, initiator_text = prepare(peers, root, per_peer, window)
    traced, other = (responder, initiator) if side == "responder" else (initiator, responder)
    with traced.log.open("a") as log_file:
        setup_logging(logging.INFO, log_file)

        async def run() -> None:
            service = Service(load_config(traced.config), options=ServiceOptions())
            await service.start()
            other.start()
            try:
                while other.status() is None:
                    await asyncio.sleep(0.05)
                await asyncio.sleep(1.0)
                gc.collect()
                tracemalloc.start(1)
                before = tracemalloc.take_snapshot()
                rss_before = usage(os.getpid()).rss_kb
                initiator.config.write_text(initiator_text(True))
                if traced is initiator:
                    await service.apply_config(load_config(initiator.config))
                else:
                    os.kill(other.pid, signal.SIGHUP)

                def done() -> bool:
                    engine = service.engine
                    assert engine is not None
                    sas = len(engine.rkmp_sas())
                    children = sum(len(engine.child_sas(p)) for p in service.peers_seen)
                    return sas == peers and children == peers

                deadline = time.monotonic() + STEP_TIMEOUT
                while not done():
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"not every SA came up; see {traced.log}")
                    await asyncio.sleep(0.05)
                service.flush()
                await asyncio.sleep(0.5)
                gc.collect()
                after = tracemalloc.take_snapshot()
                rss_after = usage(os.getpid()).rss_kb
                tracemalloc.stop()
            finally:
                other.stop()
                await service.stop()
            report_memory(side, peers, before, after, rss_after - rss_before)

        asyncio.run(run())


def report_memory(side: str, peers: int, before: Any, after: Any, rss_kb: int) -> None:
    stats = after.compare_to(before, "lineno")
    total = sum(stat.size_diff for stat in stats)
    groups: dict[str, int] = {}
    for stat in stats:
        name = stat.traceback[0].filename
        if "/rkmp_frr/" in name:
            group = "rkmp_frr/" + name.split("/rkmp_frr/", 1)[1].split("/", 1)[0]
        else:
            group = Path(name).name
        groups[group] = groups.get(group, 0) + stat.size_diff
    print(
        f"{side}: resident set +{rss_kb / peers:.1f} KB per peer; Python objects "
        f"(tracemalloc) +{total / 1024 / peers:.2f} KB per peer"
    )
    print("  by package or file (KB per peer):")
    for group, size in sorted(groups.items(), key=lambda item: -item[1])[:12]:
        print(f"    {size / 1024 / peers:7.3f}  {group}")
    print("  by line (bytes per peer):")
    for stat in stats[:25]:
        frame = stat.traceback[0]
        where = (
            frame.filename.split("/rkmp_frr/", 1)[-1]
            if "/rkmp_frr/" in frame.filename
            else (Path(frame.filename).name)
        )
        print(f"    {stat.size_diff / peers:8.0f}  {where}:{frame.lineno}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peers", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument(
        "--dir",
        default=None,
        help="where the work directories (key tables) go: default the system's temporary "
        "directory; /dev/shm puts them in memory (no fsync cost)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="run both daemons under cProfile (profile.out in each kept directory; implies --keep)",
    )
    parser.add_argument(
        "--responder",
        choices=("prefix", "per-peer"),
        default="prefix",
        help="prefix: one prefix peer takes any identity the PSK authenticates (as strongSwan's "
        "responder took any initiator identity); per-peer: one /32 peer per initiator with its "
        "id and local_id",
    )
    parser.add_argument(
        "--window",
        type=int,
        default=128,
        help="[rkmp] max_half_open_initiations: initiations outstanding at once (0: the "
        "daemon's default, and no such key in the file)",
    )
    parser.add_argument(
        "--trace-memory",
        choices=("responder", "initiator"),
        default=None,
        help="run that side in this process under tracemalloc and print where its memory "
        "per peer goes (no rate or CPU figures)",
    )
    args = parser.parse_args()
    if not 1 <= args.peers <= 16000:
        parser.error("--peers must be 1..16000 (127.64.0.0/16 holds 16384 /30s)")
    if args.trace_memory is not None:
        root = Path(tempfile.mkdtemp(prefix="rkmpd-load-", dir=args.dir))
        try:
            trace_memory(
                args.peers, root, args.responder == "per-peer", args.window, args.trace_memory
            )
        finally:
            if not args.keep:
                subprocess.run(["rm", "-rf", str(root)], check=False)
        return 0
    results = []
    for _ in range(args.runs):
        root = Path(tempfile.mkdtemp(prefix="rkmpd-load-", dir=args.dir))
        result = run_once(args.peers, root, args.profile, args.responder == "per-peer", args.window)
        results.append(result)
        print(
            f"{result.peers} peers in {result.seconds:.2f} s: {result.sas_per_s:,} SAs/s "
            f"(handshakes alone {result.handshake_seconds:.2f} s: "
            f"{result.handshake_sas_per_s:,} SAs/s); "
            f"CPU per SA: initiator {result.initiator_cpu_ms_per_sa:.3f} ms "
            f"({result.initiator_cpu_ms_per_sa_without_reload:.3f} ms without the reload), "
            f"responder {result.responder_cpu_ms_per_sa:.3f} ms; "
            f"memory per peer: initiator {result.initiator_kb_per_peer:.1f} KB, "
            f"responder {result.responder_kb_per_peer:.1f} KB; "
            f"kernel share of CPU: {result.initiator_system_share:.0%} / "
            f"{result.responder_system_share:.0%}; "
            f"other processes meanwhile: {result.others_cores:.2f} cores"
            + (f" (kept {root})" if args.keep or args.profile else ""),
            flush=True,
        )
        if not (args.keep or args.profile):
            subprocess.run(["rm", "-rf", str(root)], check=False)
    if args.json:
        median = {
            field: statistics.median(getattr(r, field) for r in results)
            for field in asdict(results[0])
        }
        print(json.dumps({"runs": [asdict(r) for r in results], "median": median}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
