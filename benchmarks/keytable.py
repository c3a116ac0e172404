"""Key table benchmark (issue 4): Keytable_getSA and RFC 7210 §3 send-key
selection latency, and Keytable_insertSA / Keytable_rekeySA throughput, on an
on-disk table (WAL, synchronous=FULL, one transaction per operation, and
inserts in batches of 16 per transaction as rkmpd makes them) that holds
``--rows`` rows.

    .venv/bin/python benchmarks/keytable.py --rows 100000 [--ops 2000] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from rkmp_frr.engine.events import ChildRef, RkmpSaRef
from rkmp_frr.keytable.row import ALL_INTERFACES, Direction, KeyRow, RowLink, SaId
from rkmp_frr.keytable.store import KeyTableStore
from rkmp_frr.wire.constants import ProtocolId

PROTOCOLS = (
    ProtocolId.TCP_AO,
    ProtocolId.OSPFV2,
    ProtocolId.OSPFV3,
    ProtocolId.ISIS,
    ProtocolId.BFD,
)
NOW = 1_800_000_000
SA = RkmpSaRef(("198.51.100.1", 500), b"\x01" * 8, b"\x02" * 8)


def peer(n: int) -> str:
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def row(n: int, spi: int, start: int = NOW - 600) -> KeyRow:
    """Row ``n``: one key of one protocol with one peer (n // 5)."""
    protocol = PROTOCOLS[n % len(PROTOCOLS)]
    address = peer(n // len(PROTOCOLS))
    return KeyRow(
        admin_key_name=f"bench/{protocol.name}/{address}/{spi}",
        local_key_name=f"{spi:02x}",
        peer_key_name=f"{spi:02x}",
        peers=frozenset({address}),
        interfaces=ALL_INTERFACES,
        protocol=protocol,
        protocol_specific_info="",
        kdf="none",
        alg_id="HMAC-SHA-256",
        key=(n * 2654435761 % 2**64).to_bytes(8, "big").hex() * 4,
        direction=Direction.BOTH,
        send_lifetime_start=start + 180,
        send_lifetime_end=start + 3960,
        accept_lifetime_start=start,
        accept_lifetime_end=start + 3960,
        spi=spi,
        link=RowLink(ChildRef((address, 500), protocol, spi, spi), SA),
    )


BATCH = 16  # inserts per batch: a busy rkmpd round's worth


def batches(first: int, count: int, size: int = 10_000) -> Iterator[list[KeyRow]]:
    for lo in range(first, first + count, size):
        yield [row(n, 1) for n in range(lo, min(first + count, lo + size))]


def latencies(operation: Callable[[int], object], count: int) -> list[float]:
    out = []
    for i in range(count):
        start = time.perf_counter()
        operation(i)
        out.append(time.perf_counter() - start)
    return out


def summary(prefix: str, samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        f"{prefix}_p50_us": ordered[len(ordered) // 2] * 1e6,
        f"{prefix}_p99_us": ordered[int(len(ordered) * 0.99)] * 1e6,
        f"{prefix}_mean_us": statistics.fmean(ordered) * 1e6,
    }


def measure(rows: int, ops: int, lookups: int, directory: Path) -> dict[str, float]:
    rng = random.Random(1)
    results: dict[str, float] = {"rows": rows}
    with KeyTableStore.open(directory / "keytable.db") as store:
        start = time.perf_counter()
        for batch in batches(0, rows):
            store.insert_many(batch)
        results["bulk_load_rows_per_s"] = rows / (time.perf_counter() - start)

        picks = [rng.randrange(rows) for _ in range(lookups)]

        def get_sa(i: int) -> object:
            n = picks[i]
            return store.Keytable_getSA(PROTOCOLS[n % len(PROTOCOLS)], peer(n // len(PROTOCOLS)))

        def get_sa_spi(i: int) -> object:
            n = picks[i]
            return store.Keytable_getSA(PROTOCOLS[n % len(PROTOCOLS)], peer(n // len(PROTOCOLS)), 1)

        def send_key(i: int) -> object:
            n = picks[i]
            address = peer(n // len(PROTOCOLS))
            return store.select_send_key(PROTOCOLS[n % len(PROTOCOLS)], address, NOW)

        results |= summary("getsa", latencies(get_sa, lookups))
        results |= summary("getsa_spi", latencies(get_sa_spi, lookups))
        results |= summary("select_send_key", latencies(send_key, lookups))

        # Single operations, each its own committed (fsynced) transaction.
        inserts = latencies(lambda i: store.Keytable_insertSA(row(rows + i, 1)), ops)
        results["insert_per_s"] = ops / sum(inserts)
        results |= summary("insert", inserts)

        # The same inserts as rkmpd makes them under load: one batch (one
        # COMMIT, one fsync) per event-loop round, each insert a savepoint.
        size = BATCH
        start = time.perf_counter()
        for lo in range(0, ops, size):
            store.begin_batch()
            for i in range(lo, min(ops, lo + size)):
                store.Keytable_insertSA(row(rows + ops + i, 1))
            store.commit_batch()
        results[f"insert_batch{size}_per_s"] = ops / (time.perf_counter() - start)

        victims = rng.sample(range(rows), ops)

        def rekey(i: int) -> object:
            n = victims[i]
            successor = row(n, 2, start=NOW)
            return store.Keytable_rekeySA(
                SaId(successor.protocol, peer(n // len(PROTOCOLS)), 1), successor, 300
            )

        rekeys = latencies(rekey, ops)
        results["rekey_per_s"] = ops / sum(rekeys)
        results |= summary("rekey", rekeys)
        results["rows_at_end"] = store.count()
        results["db_bytes_per_row"] = (directory / "keytable.db").stat().st_size / store.count()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows in the table")
    parser.add_argument("--ops", type=int, default=2_000, help="single inserts and rekeys")
    parser.add_argument("--lookups", type=int, default=20_000, help="lookups per measurement")
    parser.add_argument("--dir", type=Path, help="directory for the database (default: a temp dir)")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    args = parser.parse_args()
    if args.dir is not None:
        args.dir.mkdir(parents=True, exist_ok=True)
        results = measure(args.rows, args.ops, args.lookups, args.dir)
    else:
        with tempfile.TemporaryDirectory(prefix="rkmp-keytable-bench-") as tmp:
            results = measure(args.rows, args.ops, args.lookups, Path(tmp))
    for name, value in results.items():
        print(f"{name:28} {value:14,.1f}")
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
