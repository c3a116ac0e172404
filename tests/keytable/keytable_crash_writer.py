"""The writer the crash-safety test kills, and the model it is checked against.

Operation ``i`` is a pure function of ``i`` (see :func:`op_for`), so the
state after the first ``n`` operations can be computed without the
database. The writer logs ``b i n`` before and ``d i n`` after each
operation (``n`` = 1) or batch of ``n`` operations from ``i`` to a journal it
fsyncs; after a SIGKILL the table must hold exactly the state after all
``d``-logged operations, or that plus the whole ``b``-logged operation or
batch in flight: never a part of one.

Run standalone: ``python tests/keytable/keytable_crash_writer.py DB JOURNAL START [BATCH]``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from rkmp_frr.engine.events import ChildRef, RkmpSaRef
from rkmp_frr.keytable.rollover import end_predecessor
from rkmp_frr.keytable.row import ALL_INTERFACES, Direction, KeyRow, RowLink, SaId
from rkmp_frr.keytable.store import KeyTableStore
from rkmp_frr.wire.constants import ProtocolId

PROTOCOLS = (ProtocolId.OSPFV2, ProtocolId.ISIS, ProtocolId.BFD)
GRACE = 60
SA = RkmpSaRef(("198.51.100.1", 500), b"\x01" * 8, b"\x02" * 8)


@dataclass(frozen=True)
class Insert:
    row: KeyRow


@dataclass(frozen=True)
class InsertMany:
    rows: tuple[KeyRow, ...]


@dataclass(frozen=True)
class Rekey:
    old: SaId
    new: KeyRow


@dataclass(frozen=True)
class Delete:
    protocol: ProtocolId
    spi: int
    peer: str | None


Op = Insert | InsertMany | Rekey | Delete
Model = dict[SaId, KeyRow]


def _peer(slot: int) -> str:
    return f"10.{(slot >> 16) & 255}.{(slot >> 8) & 255}.{slot & 255}"


def _row(slot: int, spi: int, op: int) -> KeyRow:
    protocol = PROTOCOLS[slot % len(PROTOCOLS)]
    peer = _peer(slot)
    start = 1_000_000 + 10 * slot + spi
    return KeyRow(
        admin_key_name=f"crash/{protocol.name}/{peer}/{spi}",
        local_key_name=f"{spi:02x}",
        peer_key_name=f"{spi:02x}",
        peers=frozenset({peer}),
        interfaces=ALL_INTERFACES,
        protocol=protocol,
        protocol_specific_info=f"op={op}",
        kdf="none",
        alg_id="HMAC-SHA-256",
        key=op.to_bytes(4, "big").hex() * 8,  # each operation's rows are recognisable
        direction=Direction.BOTH,
        send_lifetime_start=start + 30,
        send_lifetime_end=start + 4000,
        accept_lifetime_start=start,
        accept_lifetime_end=start + 4000,
        spi=spi,
        link=RowLink(ChildRef((peer, 500), protocol, spi, spi), SA),
    )


def op_for(i: int) -> Op:
    """Slots of four operations: insert a row (SPI 1), rekey it to SPI 2,
    delete SPI 1, then either add three rows at once or delete every row of
    one protocol (SPI 0)."""
    slot, phase = divmod(i, 4)
    protocol = PROTOCOLS[slot % len(PROTOCOLS)]
    if phase == 0:
        return Insert(_row(slot, 1, i))
    if phase == 1:
        return Rekey(SaId(protocol, _peer(slot), 1), _row(slot, 2, i))
    if phase == 2:
        return Delete(protocol, 1, _peer(slot))
    if slot % 7 == 6:
        return Delete(protocol, 0, None)
    return InsertMany(tuple(_row(slot, 10 + k, i) for k in range(3)))


def apply_to_store(store: KeyTableStore, op: Op) -> None:
    match op:
        case Insert(row=row):
            store.Keytable_insertSA(row)
        case InsertMany(rows=rows):
            store.insert_many(rows)
        case Rekey(old=old, new=new):
            store.Keytable_rekeySA(old, new, GRACE)
        case Delete(protocol=protocol, spi=spi, peer=peer):
            store.Keytable_delete(protocol, spi, peer)


def apply_to_model(model: Model, op: Op) -> Model:
    """The table's documented semantics, on a dict; returns a new dict."""
    out = dict(model)
    match op:
        case Insert(row=row):
            out.update({sa: row for sa in row.sa_ids()})
        case InsertMany(rows=rows):
            out.update({sa: row for row in rows for sa in row.sa_ids()})
        case Rekey(old=old, new=new):
            previous = out[old]
            assert previous.link is not None
            ended = previous.with_lifetimes(
                end_predecessor(previous.lifetimes, new.send_lifetime_start, GRACE)
            ).with_link(RowLink(previous.link.child, previous.link.rkmp_sa, new.spi))
            out[old] = ended
            out.update({sa: new for sa in new.sa_ids()})
        case Delete(protocol=protocol, spi=spi, peer=peer):
            for sa in list(out):
                if (
                    sa.protocol == protocol
                    and (spi == 0 or sa.spi == spi)
                    and (peer is None or sa.peer == peer)
                ):
                    del out[sa]
    return out


def state(rows: tuple[KeyRow, ...] | list[KeyRow]) -> frozenset[KeyRow]:
    return frozenset(rows)


def _log(fd: int, line: str) -> None:
    os.write(fd, line.encode())
    os.fsync(fd)


def batch_size(start: int, batch: int) -> int:
    """How many operations the batch starting at ``start`` holds (1 to
    ``batch``, varied but a pure function of ``start``)."""
    return 1 + (start * 7) % batch


def run_writer(
    db: str, journal: str, start: int, ready_fd: int | None = None, batch: int = 1
) -> None:
    """Apply operations ``start``, ``start + 1``, ... until killed. With
    ``batch`` > 1 they go in batches (``begin_batch`` / ``commit_batch``,
    one COMMIT each, as rkmpd makes one per event-loop round), logged as
    ``b i n`` / ``d i n`` for the ``n`` operations from ``i``."""
    store = KeyTableStore.open(db)
    log = os.open(journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    if ready_fd is not None:
        os.write(ready_fd, b"r")
    i = start
    while True:
        n = batch_size(i, batch)
        _log(log, f"b {i} {n}\n")
        if batch > 1:
            store.begin_batch()
        for j in range(i, i + n):
            apply_to_store(store, op_for(j))
        if batch > 1:
            store.commit_batch()
        _log(log, f"d {i} {n}\n")
        i += n


if __name__ == "__main__":
    run_writer(
        sys.argv[1], sys.argv[2], int(sys.argv[3]), batch=int(sys.argv[4]) if sys.argv[4:] else 1
    )
