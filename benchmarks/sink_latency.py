"""Time from a key table change to the key in use by the routing daemon.

    .venv/bin/python benchmarks/sink_latency.py [--peers 1 100] [--repeats 5] [--json]

For each path (FRR through vtysh, FRR through frr-reload.py, BIRD through
``birdc configure``) and each peer count, the benchmark starts the routing
daemon in a fresh network namespace with N BGP neighbours (10.251.x.y, not
reachable: only the daemon's listening socket matters), then, inside that
namespace:

1. inserts one TCP-MD5 row per neighbour in a key table and lets the sink
   apply them (the starting state);
2. repeatedly rekeys every neighbour's row in one event-loop round (N key
   table transactions, which the batching sink turns into one apply) and
   times (a) until the sink's apply returned (applied and verified against
   the daemon: running-config for FRR, protocols for BIRD) and (b) until the
   kernel shows every neighbour's new key on the daemon's listening socket
   (sock_diag, ``rkmp_frr.daemon.kernel_check``): the key in use. The
   kernel leaves a socket with more than ~34 TCP-MD5 keys out of sock_diag
   dumps, so (b) is measured up to 30 neighbours only.

Needs root (namespaces), FRR with frr-pythontools, and BIRD 2. Figures are
medians over ``--repeats`` rekeys.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from integration.harness.netns import NamespacePool  # noqa: E402
from integration.harness.routing import (  # noqa: E402
    RoutingLab,
    bird_base_config,
    frr_reload_path,
)
from rkmp_frr.daemon.kernel_check import dump_tcp_sockets, evaluate_md5  # noqa: E402
from rkmp_frr.keytable import KeyRow, KeyTableStore, SaId  # noqa: E402
from rkmp_frr.keytable.row import ALL_INTERFACES, Direction  # noqa: E402
from rkmp_frr.keytable.utc import FOREVER  # noqa: E402
from rkmp_frr.wire.constants import ProtocolId  # noqa: E402

LOCAL_AS, PEER_AS = 65001, 65002
PATHS = ("frr-vtysh", "frr-reload", "bird")
# Observed on kernel 6.18: a socket holding more than ~34 TCP-MD5 keys is left
# out of sock_diag dumps altogether (ss shows it neither), so the kernel
# cannot be asked about a listener with 100 neighbours' keys.
SOCK_DIAG_MAX_KEYS = 30


def neighbours(count: int) -> list[str]:
    return [f"10.251.{i // 250}.{i % 250 + 1}" for i in range(count)]


def frr_config(peers: list[str]) -> str:
    lines = [f"router bgp {LOCAL_AS}", " bgp router-id 10.250.0.1", " no bgp ebgp-requires-policy"]
    lines += [f" neighbor {p} remote-as {PEER_AS}" for p in peers]
    return "\n".join([*lines, "exit", ""])


def md5_row(peer: str, spi: int, key: str, now: int) -> KeyRow:
    return KeyRow(
        admin_key_name=f"bench/{peer}/{spi}",
        local_key_name="",
        peer_key_name="",
        peers=frozenset({peer}),
        interfaces=ALL_INTERFACES,
        protocol=ProtocolId.TCP_MD5,
        protocol_specific_info="",
        kdf="none",
        alg_id="MD5",
        key=key,
        direction=Direction.BOTH,
        send_lifetime_start=now,
        send_lifetime_end=FOREVER,
        accept_lifetime_start=now,
        accept_lifetime_end=FOREVER,
        spi=spi,
    )


# --- inside the namespace -------------------------------------------------------------------


def build_sink(spec: dict[str, Any]) -> Any:
    from rkmp_frr.sinks.batching import BatchingSink
    from rkmp_frr.sinks.bird_apply import BirdApplier, BirdApplierOptions, BirdcCommand
    from rkmp_frr.sinks.bird_render import BirdBgpSession, BirdRenderConfig
    from rkmp_frr.sinks.features import Version, bird_features, frr_features
    from rkmp_frr.sinks.frr_apply import (
        FrrApplier,
        FrrApplierOptions,
        FrrApplyMode,
        VtyshCommand,
    )
    from rkmp_frr.sinks.frr_config import FrrBgpNeighbor, FrrRenderConfig

    peers = spec["peers"]
    if spec["path"] == "bird":
        options = BirdApplierOptions(
            include_file=Path(spec["include"]),
            birdc=BirdcCommand(socket=Path(spec["socket"])),
            render=BirdRenderConfig(
                bgp=tuple(
                    BirdBgpSession(
                        f"p{i}",
                        peer,
                        neighbor_as=PEER_AS,
                        local_as=LOCAL_AS,
                        options=("ipv4 { import none; export none; };",),
                    )
                    for i, peer in enumerate(peers)
                )
            ),
            kernel_check=False,
        )
        return BatchingSink(BirdApplier(options, bird_features(Version.parse(spec["version"]))))
    mode = FrrApplyMode.FRR_RELOAD if spec["path"] == "frr-reload" else FrrApplyMode.VTYSH
    frr_options = FrrApplierOptions(
        vtysh=VtyshCommand(vty_socket=Path(spec["vty"])),
        render=FrrRenderConfig(bgp_neighbors=tuple(FrrBgpNeighbor(p, LOCAL_AS) for p in peers)),
        mode=mode,
        kernel_check=False,
    )
    return BatchingSink(FrrApplier(frr_options, frr_features(Version.parse(spec["version"]))))


def keys_in_kernel(peers: list[str], key: str) -> bool:
    records = dump_tcp_sockets()
    return all(evaluate_md5(records, peer, key.encode()).ok for peer in peers)


async def measure_inside(spec: dict[str, Any]) -> dict[str, Any]:
    peers: list[str] = spec["peers"]
    store = KeyTableStore.open_memory()
    sink = build_sink(spec)
    changed: list[str] = []
    sink.on_result = lambda result: changed.append(result.status.value)
    store.subscribe(sink)
    now = int(time.time())
    key = f"{0:032x}"
    store.insert_many(md5_row(p, 1, key, now) for p in peers)
    first = await sink.drain()
    assert first is not None and first.ok, first.describe() if first else "no apply"
    changed.clear()
    applied, in_use = [], []
    for round_ in range(1, spec["repeats"] + 1):
        key = f"{round_:032x}"
        now = int(time.time())
        start = time.perf_counter()
        for peer in peers:  # one event-loop round: one apply
            store.Keytable_rekeySA(SaId(ProtocolId.TCP_MD5, peer, round_),
                                   md5_row(peer, round_ + 1, key, now), accept_grace=0)  # fmt: skip
        result = await sink.drain()
        applied.append(time.perf_counter() - start)
        assert result is not None and result.ok, result.describe() if result else "no apply"
        if len(peers) > SOCK_DIAG_MAX_KEYS:
            await asyncio.sleep(0.2)
            continue
        deadline = time.monotonic() + 30
        while not await asyncio.to_thread(keys_in_kernel, peers, key):
            if time.monotonic() > deadline:
                seen = await asyncio.to_thread(dump_tcp_sockets)
                raise RuntimeError(f"new keys not in the kernel after 30 s: {seen}")
            await asyncio.sleep(0.002)
        in_use.append(time.perf_counter() - start)
        await asyncio.sleep(0.2)
    await sink.close()
    store.close()
    return {
        "applied_s": statistics.median(applied),
        "in_use_s": statistics.median(in_use) if in_use else None,
        "applies": changed.count("applied"),
        "rekeys": spec["repeats"],
    }


# --- outside: namespaces and daemons -----------------------------------------------------------


def run_case(path: str, count: int, repeats: int) -> dict[str, Any]:
    from rkmp_frr.sinks.features import parse_bird_version, parse_frr_version

    peers = neighbours(count)
    pool = NamespacePool()
    with tempfile.TemporaryDirectory(prefix="rkmpb-", dir="/tmp") as tmp:
        work = Path(tmp)
        lab = RoutingLab(work)
        try:
            ns = pool.create("bench")
            ns.ip("addr", "add", "10.250.0.1/24", "dev", "lo")
            # The neighbours on a connected network (BIRD opens a session,
            # and so its listening socket, only for a reachable neighbour).
            ns.ip("link", "add", "v0", "type", "veth", "peer", "name", "v1")
            ns.ip("addr", "add", "10.251.255.254/16", "dev", "v0")
            ns.ip("link", "set", "v0", "up")
            ns.ip("link", "set", "v1", "up")
            spec: dict[str, Any] = {"path": path, "peers": peers, "repeats": repeats}
            if path == "bird":
                include = work / "rkmp.conf"
                include.write_text("")
                bird = lab.bird(ns, "b", bird_base_config("10.250.0.1", work / "bird.log")
                                + f'include "{include}";\n')  # fmt: skip
                version = parse_bird_version(bird.birdc("show", "status").stdout)
                spec.update(include=str(include), socket=str(bird.socket_path))
            else:
                frr = lab.frr(ns, "f", config=frr_config(peers))
                version = parse_frr_version(frr.vtysh("show version").stdout)
                spec.update(vty=str(frr.vty_dir))
            spec["version"] = str(version)
            spec_file = work / "spec.json"
            spec_file.write_text(json.dumps(spec))
            out = subprocess.run(
                ["ip", "netns", "exec", ns.name, sys.executable, __file__, "--inner",
                 str(spec_file)],
                capture_output=True, text=True, timeout=600, check=False,
            )  # fmt: skip
            if out.returncode != 0:
                raise RuntimeError(f"{path} x{count} failed:\n{out.stdout}{out.stderr}")
            result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
            result.update(path=path, peers=count, daemon_version=str(version))
            return result
        finally:
            lab.close()
            pool.close()


@dataclasses.dataclass
class Args:
    peers: list[int]
    repeats: int
    json: bool
    inner: str | None
    paths: list[str]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peers", type=int, nargs="+", default=[1, 30, 100])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--paths", nargs="+", choices=PATHS, default=list(PATHS))
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--inner", help=argparse.SUPPRESS)
    args = Args(**vars(parser.parse_args()))
    if args.inner:
        spec = json.loads(Path(args.inner).read_text())
        print(json.dumps(asyncio.run(measure_inside(spec))))
        return 0
    if args.paths and "frr-reload" in args.paths and frr_reload_path() is None:
        print("frr-reload.py not found: skipping that path", file=sys.stderr)
        args.paths.remove("frr-reload")
    results = [run_case(p, n, args.repeats) for p in args.paths for n in args.peers]
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"{'path':<11} {'peers':>5} {'applied (median)':>17} {'key in use (median)':>20}"
          f" {'applies/rekeys':>15}  daemon")  # fmt: skip
    for r in results:
        in_use = (
            f"{r['in_use_s'] * 1000:>17.0f} ms" if r["in_use_s"] is not None else f"{'n/a':>20}"
        )
        print(f"{r['path']:<11} {r['peers']:>5} {r['applied_s'] * 1000:>14.0f} ms"
              f" {in_use} {r['applies']:>7}/{r['rekeys']:<7}  {r['daemon_version']}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
