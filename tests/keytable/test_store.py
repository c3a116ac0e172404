"""The SQLite key table: the seed's operations, transactions, durability
settings, file modes, schema versions, notifications."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from keytable_rows import PEER, PEER_B, SA, make_row

from rkmp_frr.engine.events import FailureReason, RkmpSaRef
from rkmp_frr.keytable.changes import (
    Change,
    DeleteCause,
    LifetimesShifted,
    RowInserted,
    RowRekeyed,
    RowsDeleted,
    SinkErrors,
)
from rkmp_frr.keytable.errors import InvalidRow, SaExists, SaNotFound, SchemaError
from rkmp_frr.keytable.row import Lifetimes, RowLink, SaId
from rkmp_frr.keytable.schema import LATEST_VERSION, Migration, migrate, schema_version
from rkmp_frr.keytable.store import KeyTableStore
from rkmp_frr.keytable.utc import FOREVER
from rkmp_frr.wire.constants import ProtocolId

OSPF = ProtocolId.OSPFV2


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "keytable.db"


@pytest.fixture
def store(path: Path) -> Iterator[KeyTableStore]:
    s = KeyTableStore.open(path)
    yield s
    s.close()


def recorded(store: KeyTableStore) -> list[Change]:
    changes: list[Change] = []
    store.subscribe(changes.append)
    return changes


# --- opening -----------------------------------------------------------------------


def test_file_modes_wal_and_synchronous_full(path: Path, store: KeyTableStore) -> None:
    store.Keytable_insertSA(make_row())  # makes the WAL and SHM files exist
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    for name in ("keytable.db", "keytable.db-wal", "keytable.db-shm"):
        assert stat.S_IMODE((path.parent / name).stat().st_mode) == 0o600, name
    db = store._db
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store.integrity_check() == "ok"


def test_file_is_never_open_to_others_even_with_a_lax_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        path = tmp_path / "lax" / "k.db"
        with KeyTableStore.open(path) as s:
            s.Keytable_insertSA(make_row())
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in path.parent.iterdir()}
    finally:
        os.umask(old)
    assert modes and all(mode == 0o600 for mode in modes.values()), modes


def test_existing_loose_file_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    path.touch(mode=0o644)
    path.chmod(0o644)
    KeyTableStore.open(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_default_location_under_state_dir(tmp_path: Path) -> None:
    with KeyTableStore.open(state_dir=tmp_path / "rkmp") as s:
        assert s.path == tmp_path / "rkmp" / "keytable.db"


def test_rows_survive_reopen(path: Path) -> None:
    row = make_row()
    with KeyTableStore.open(path) as s:
        s.Keytable_insertSA(row)
    with KeyTableStore.open(path) as s:
        assert s.rows() == (row,)


def test_schema_version_and_migrations(path: Path) -> None:
    KeyTableStore.open(path).close()
    db = sqlite3.connect(path, isolation_level=None)
    assert schema_version(db) == LATEST_VERSION
    # A later migration applies on top, atomically with its version bump.
    extra = Migration(LATEST_VERSION + 1, "test", ("CREATE TABLE extra (x INTEGER)",))
    from rkmp_frr.keytable.schema import MIGRATIONS

    assert migrate(db, (*MIGRATIONS, extra)) == LATEST_VERSION + 1
    db.close()
    # This code refuses a newer schema rather than guess at it.
    with pytest.raises(SchemaError):
        KeyTableStore.open(path)


def test_failed_migration_leaves_the_old_version(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    from rkmp_frr.keytable.schema import MIGRATIONS

    broken = Migration(LATEST_VERSION + 1, "broken", ("CREATE TABLE y (a)", "NOT SQL"))
    with pytest.raises(sqlite3.OperationalError):
        migrate(db, (*MIGRATIONS, broken))
    assert schema_version(db) == LATEST_VERSION
    assert db.execute("SELECT name FROM sqlite_master WHERE name = 'y'").fetchone() is None


def test_refuses_a_foreign_database(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    db = sqlite3.connect(path)
    db.execute("PRAGMA application_id = 1234")
    db.commit()
    db.close()
    with pytest.raises(SchemaError):
        KeyTableStore.open(path)


# --- the seed's operations ---------------------------------------------------------


def test_insert_and_get(store: KeyTableStore) -> None:
    a, b = make_row(1), make_row(2)
    other_peer = make_row(1, peers=frozenset({PEER_B}))
    isis = make_row(1, protocol=ProtocolId.ISIS)
    for row in (a, b, other_peer, isis):
        store.Keytable_insertSA(row)
    assert store.Keytable_getSA(OSPF, PEER) == (a, b)
    assert store.Keytable_getSA(OSPF, [PEER, PEER_B]) == (a, b, other_peer)
    assert store.Keytable_getSA(OSPF, PEER, 2) == (b,)
    assert store.Keytable_getSA(OSPF, PEER, 0) == (a, b)  # SPI 0: all
    assert store.Keytable_getSA(OSPF, "203.0.113.1") == ()
    assert store.get(SaId(ProtocolId.ISIS, PEER, 1)) == isis


def test_insert_fails_if_the_spi_exists_and_changes_nothing(store: KeyTableStore) -> None:
    store.Keytable_insertSA(make_row(1))
    changes = recorded(store)
    duplicate = make_row(1, key="ab" * 32)
    with pytest.raises(SaExists) as info:
        store.Keytable_insertSA(duplicate)
    assert duplicate.key not in str(info.value)
    assert store.count() == 1 and changes == []
    # A clash on any member of Peers counts.
    with pytest.raises(SaExists):
        store.Keytable_insertSA(make_row(1, peers=frozenset({PEER_B, PEER})))
    assert store.count() == 1


def test_insert_replace_existing(store: KeyTableStore) -> None:
    old = make_row(1)
    store.Keytable_insertSA(old)
    changes = recorded(store)
    new = make_row(1, key="cd" * 32)
    store.Keytable_insertSA(new, replace_existing=True)
    assert store.rows() == (new,)
    assert changes == [RowsDeleted((old,), DeleteCause.REPLACED), RowInserted(new)]


def test_rekey_adds_successor_and_ends_predecessor(store: KeyTableStore) -> None:
    old = make_row(1, send=(1000, 9000), accept=(900, 9000))
    store.Keytable_insertSA(old)
    changes = recorded(store)
    new = make_row(2, send=(5030, 9500), accept=(5000, 9500))
    result = store.Keytable_rekeySA(SaId(OSPF, PEER, 1), new, accept_grace=60)
    ended = store.get(SaId(OSPF, PEER, 1))
    assert ended is not None
    assert ended.lifetimes == Lifetimes(1000, 5030, 900, 5090)
    assert ended.link == RowLink(old.link.child, SA, superseded_by=2)  # type: ignore[union-attr]
    assert ended.key == old.key and ended.admin_key_name == old.admin_key_name
    assert store.get(SaId(OSPF, PEER, 2)) == new
    assert changes == [RowRekeyed(ended, new)] and result == changes[0]


def test_rekey_never_lengthens_a_lifetime(store: KeyTableStore) -> None:
    store.Keytable_insertSA(make_row(1, send=(1000, 2000), accept=(900, 2010)))
    store.Keytable_rekeySA(SaId(OSPF, PEER, 1), make_row(2, send=(5000, 9000)), 60)
    ended = store.get(SaId(OSPF, PEER, 1))
    assert ended is not None and ended.lifetimes == Lifetimes(1000, 2000, 900, 2010)


def test_rekey_is_all_or_nothing(store: KeyTableStore) -> None:
    old = make_row(1)
    taken = make_row(2)
    store.Keytable_insertSA(old)
    store.Keytable_insertSA(taken)
    changes = recorded(store)
    with pytest.raises(SaExists):
        store.Keytable_rekeySA(SaId(OSPF, PEER, 1), make_row(2, key="ee" * 32), 60)
    # The predecessor's update was rolled back with the failed insert.
    assert store.rows() == (old, taken) and changes == []
    with pytest.raises(SaNotFound):
        store.Keytable_rekeySA(SaId(OSPF, PEER, 7), make_row(8), 60)
    with pytest.raises(InvalidRow):
        store.Keytable_rekeySA(SaId(OSPF, PEER, 1), make_row(1, key="ee" * 32), 60)
    assert store.rows() == (old, taken) and changes == []


def test_delete_one_spi_and_spi_zero(store: KeyTableStore) -> None:
    rows = [make_row(1), make_row(2), make_row(1, peers=frozenset({PEER_B}))]
    isis = make_row(1, protocol=ProtocolId.ISIS)
    for row in [*rows, isis]:
        store.Keytable_insertSA(row)
    changes = recorded(store)
    assert store.Keytable_delete(OSPF, 1, PEER) == (rows[0],)
    assert store.Keytable_delete(OSPF, 5) == ()
    assert store.Keytable_delete(OSPF, 0) == (rows[1], rows[2])  # SPI 0: the whole protocol
    assert store.rows() == (isis,)
    assert changes == [
        RowsDeleted((rows[0],), DeleteCause.DELETED),
        RowsDeleted((rows[1], rows[2]), DeleteCause.DELETED),
    ]


def test_delete_spi_without_peer_hits_every_peer(store: KeyTableStore) -> None:
    a, b = make_row(3), make_row(3, peers=frozenset({PEER_B}))
    store.insert_many([a, b, make_row(4)])
    assert store.Keytable_delete(OSPF, 3) == (a, b)
    assert store.count() == 1


# --- selection, expiry, revocation, links, shifts -----------------------------------


def test_select_through_the_store(store: KeyTableStore) -> None:
    old = make_row(1, send=(1000, 5000), accept=(900, 5060))
    new = make_row(2, send=(5000, 9000), accept=(4970, 9000))
    store.insert_many([old, new])
    assert store.select_send_key(OSPF, PEER, 4999) == old
    assert store.select_send_key(OSPF, PEER, 5000) == new
    assert store.select_receive_key(OSPF, PEER, "01", 5060) == old
    assert store.select_receive_key(OSPF, PEER, "01", 5061) is None
    assert store.select_receive_key(OSPF, PEER, "02", 4970) == new


def test_expire_removes_only_dead_rows(store: KeyTableStore) -> None:
    sending = make_row(1, send=(0, 100), accept=(0, 50))
    accepting = make_row(2, send=(0, 50), accept=(0, 100))
    dead = make_row(3, send=(0, 99), accept=(0, 99))
    forever = make_row(4, send=(0, FOREVER), accept=(0, FOREVER))
    store.insert_many([sending, accepting, dead, forever])
    changes = recorded(store)
    assert store.expire(100) == (dead,)
    assert store.expire(100) == ()
    assert store.expire(101) == (sending, accepting)
    assert store.rows() == (forever,)
    assert [c.cause for c in changes if isinstance(c, RowsDeleted)] == [DeleteCause.EXPIRED] * 2


def test_revoke_deletes_the_sas_rows_and_tells(store: KeyTableStore) -> None:
    other_sa = RkmpSaRef((PEER_B, 500), b"\xaa" * 8, b"\xbb" * 8)
    mine = [make_row(1), make_row(2, protocol=ProtocolId.BFD)]
    unlinked_child = make_row(3, rkmp_sa=None)
    theirs = make_row(1, peers=frozenset({PEER_B}), rkmp_sa=other_sa)
    store.insert_many([*mine, unlinked_child, theirs])
    changes = recorded(store)
    assert unlinked_child.link is not None
    revoked = store.revoke(SA, [unlinked_child.link.child], FailureReason.LIVENESS_TIMEOUT)
    assert revoked == (*mine, unlinked_child)
    assert store.rows() == (theirs,)
    assert changes == [
        RowsDeleted(revoked, DeleteCause.REVOKED, SA, FailureReason.LIVENESS_TIMEOUT)
    ]


def test_relink_moves_rows_to_the_new_rkmp_sa(store: KeyTableStore) -> None:
    store.insert_many([make_row(1), make_row(2), make_row(3, rkmp_sa=None)])
    new_sa = RkmpSaRef((PEER, 500), b"\x21" * 8, b"\x22" * 8)
    assert store.relink(SA, new_sa) == 2
    links = [r.link.rkmp_sa for r in store.rows() if r.link]
    assert links == [new_sa, new_sa, None]
    assert store.revoke(new_sa, []) != ()


def test_shift_moves_rkmp_rows_only(store: KeyTableStore) -> None:
    rkmp = make_row(1, send=(1000, 2000), accept=(900, FOREVER))
    manual = make_row(2, send=(1000, 2000), link=False)
    store.insert_many([rkmp, manual])
    changes = recorded(store)
    shifted = store.shift_lifetimes(-300)
    assert [r.lifetimes for r in shifted] == [Lifetimes(700, 1700, 600, FOREVER)]
    assert store.rows() == (*shifted, manual)
    assert changes == [LifetimesShifted(-300, shifted)]


# --- notifications --------------------------------------------------------------------


def test_sinks_hear_after_commit_and_a_broken_sink_does_not_silence_others(
    store: KeyTableStore,
) -> None:
    seen_in_db: list[int] = []
    heard: list[Change] = []

    def looks(change: Change) -> None:
        seen_in_db.append(store.count())  # the change is already committed

    def breaks(change: Change) -> None:
        raise RuntimeError("sink bug")

    store.subscribe(looks)
    store.subscribe(breaks)
    unsubscribe = store.subscribe(heard.append)
    row = make_row()
    with pytest.raises(SinkErrors):
        store.Keytable_insertSA(row)
    assert seen_in_db == [1] and heard == [RowInserted(row)]
    assert store.rows() == (row,)  # the write stands
    unsubscribe()
    with pytest.raises(SinkErrors):
        store.Keytable_delete(OSPF, 0)
    assert heard == [RowInserted(row)]


# --- batches ----------------------------------------------------------------------------


def committed_rows(path: Path) -> int:
    """Rows another connection sees: what is committed (WAL readers never
    see an open transaction)."""
    db = sqlite3.connect(path)
    try:
        (n,) = db.execute("SELECT count(*) FROM key_rows").fetchone()
        return int(n)
    finally:
        db.close()


def test_batch_tells_sinks_only_after_its_commit_made_every_change_durable(
    path: Path, store: KeyTableStore
) -> None:
    durable_when_told: list[int] = []
    heard: list[Change] = []
    store.subscribe(lambda change: durable_when_told.append(committed_rows(path)))
    store.subscribe(heard.append)
    rows = [make_row(spi) for spi in (1, 2, 3)]
    store.begin_batch()
    assert store.in_batch
    for row in rows:
        store.Keytable_insertSA(row)
    store.Keytable_delete(OSPF, 2, PEER)
    assert store.count() == 2  # reads see the batch's writes
    assert committed_rows(path) == 0 and heard == []  # nothing durable, nothing told
    assert store.commit_batch() == 4
    assert not store.in_batch
    assert durable_when_told == [2, 2, 2, 2]
    assert heard == [
        *(RowInserted(row) for row in rows),
        RowsDeleted((rows[1],), DeleteCause.DELETED),
    ]
    assert committed_rows(path) == 2


def test_a_failing_operation_in_a_batch_undoes_only_itself(store: KeyTableStore) -> None:
    heard = recorded(store)
    first, clash, second = make_row(1), make_row(1, key_name="77"), make_row(2)
    store.begin_batch()
    store.Keytable_insertSA(first)
    with pytest.raises(SaExists):
        store.Keytable_insertSA(clash)
    store.Keytable_insertSA(second)
    store.commit_batch()
    assert store.rows() == (first, second)
    assert heard == [RowInserted(first), RowInserted(second)]


def test_an_aborted_or_unclosed_batch_leaves_nothing_and_tells_no_one(path: Path) -> None:
    store = KeyTableStore.open(path)
    heard = recorded(store)
    store.begin_batch()
    store.Keytable_insertSA(make_row(1))
    with pytest.raises(RuntimeError):
        store.begin_batch()
    store.abort_batch()
    assert store.count() == 0 and heard == []
    store.begin_batch()
    store.Keytable_insertSA(make_row(2))
    store.close()  # as a crash before the COMMIT
    with KeyTableStore.open(path) as again:
        assert again.count() == 0 and again.integrity_check() == "ok"
    assert heard == []


def test_memory_store_for_tests() -> None:
    s = KeyTableStore.open_memory()
    s.Keytable_insertSA(make_row())
    assert s.count() == 1 and s.integrity_check() == "ok"
