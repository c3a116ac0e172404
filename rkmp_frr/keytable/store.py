"""The durable key table: SQLite in WAL mode, one transaction per operation
(or per batch of operations: ``begin_batch`` / ``commit_batch``).

The file lives under the state directory (default
``/var/lib/rkmp/keytable.db``), is created 0600 before SQLite opens it
(SQLite gives its ``-wal`` and ``-shm`` files the database file's mode), and
a new state directory is made 0700. ``synchronous=FULL``: a committed
operation survives a crash of the process and of the machine.
``secure_delete`` overwrites deleted rows (keys) in the database pages.

Operations are the seed's (``Keytable_getSA``, ``Keytable_insertSA``,
``Keytable_rekeySA``, ``Keytable_delete``) plus RFC 7210 §3 selection,
expiry, revocation, re-linking after an RKMP SA rekey, and the clock-step
shift. Every write runs in one ``BEGIN IMMEDIATE`` transaction and tells the
subscribed sinks after it has committed. In a batch (the daemon opens one
per event-loop round) each write is a savepoint of the batch's transaction
and the sinks are told after the batch's COMMIT: fewer fsyncs, and still no
sink sees a key that is not durable. Times are passed in (whole UTC
seconds); nothing here reads a clock.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from rkmp_frr.engine.events import ChildRef, FailureReason, RkmpSaRef
from rkmp_frr.keytable import selection
from rkmp_frr.keytable.changes import (
    Change,
    DeleteCause,
    LifetimesShifted,
    Notifier,
    RowInserted,
    RowRekeyed,
    RowsDeleted,
    Sink,
    SinkErrors,
)
from rkmp_frr.keytable.errors import InvalidRow, SaExists, SaNotFound
from rkmp_frr.keytable.protocols import protocol_from_name, protocol_name
from rkmp_frr.keytable.rollover import end_predecessor
from rkmp_frr.keytable.row import Direction, KeyRow, RowLink, SaId, join_set, split_set
from rkmp_frr.keytable.schema import migrate
from rkmp_frr.keytable.utc import UtcSeconds, format_utc, parse_utc
from rkmp_frr.wire.constants import ProtocolId

DEFAULT_STATE_DIR = Path("/var/lib/rkmp")
DB_NAME = "keytable.db"
_FILE_MODE = 0o600
_DIR_MODE = 0o700

_COLUMNS = (
    "row_id",
    "admin_key_name",
    "local_key_name",
    "peer_key_name",
    "peers",
    "interfaces",
    "protocol",
    "protocol_specific_info",
    "kdf",
    "alg_id",
    "key",
    "direction",
    "send_lifetime_start",
    "send_lifetime_end",
    "accept_lifetime_start",
    "accept_lifetime_end",
    "spi",
    "child_peer_host",
    "child_peer_port",
    "child_local_key_id",
    "child_remote_key_id",
    "rkmp_peer_host",
    "rkmp_peer_port",
    "rkmp_spi_i",
    "rkmp_spi_r",
    "superseded_by",
)
_SELECT = "SELECT " + ", ".join(f"r.{c}" for c in _COLUMNS) + " FROM key_rows r"
_INSERT = (
    "INSERT INTO key_rows ("
    + ", ".join(_COLUMNS[1:])
    + ") VALUES ("
    + ", ".join("?" * (len(_COLUMNS) - 1))
    + ")"
)


def _row_values(row: KeyRow) -> tuple[Any, ...]:
    link = row.link
    child = link.child if link else None
    sa = link.rkmp_sa if link else None
    return (
        row.admin_key_name,
        row.local_key_name,
        row.peer_key_name,
        join_set(row.peers),
        join_set(row.interfaces),
        protocol_name(row.protocol),
        row.protocol_specific_info,
        row.kdf,
        row.alg_id,
        row.key,
        row.direction.value,
        format_utc(row.send_lifetime_start),
        format_utc(row.send_lifetime_end),
        format_utc(row.accept_lifetime_start),
        format_utc(row.accept_lifetime_end),
        row.spi,
        child.peer[0] if child else None,
        child.peer[1] if child else None,
        child.local_key_id if child else None,
        child.remote_key_id if child else None,
        sa.peer[0] if sa else None,
        sa.peer[1] if sa else None,
        sa.spi_i.hex() if sa else None,
        sa.spi_r.hex() if sa else None,
        link.superseded_by if link else None,
    )


def _from_db(values: Sequence[Any]) -> tuple[int, KeyRow]:
    (
        row_id,
        admin_key_name,
        local_key_name,
        peer_key_name,
        peers,
        interfaces,
        protocol,
        protocol_specific_info,
        kdf,
        alg_id,
        key,
        direction,
        send_start,
        send_end,
        accept_start,
        accept_end,
        spi,
        child_host,
        child_port,
        local_key_id,
        remote_key_id,
        sa_host,
        sa_port,
        spi_i,
        spi_r,
        superseded_by,
    ) = values
    proto = protocol_from_name(protocol)
    link: RowLink | None = None
    if child_host is not None:
        sa = None
        if spi_i is not None:
            sa = RkmpSaRef((sa_host, sa_port), bytes.fromhex(spi_i), bytes.fromhex(spi_r))
        child = ChildRef((child_host, child_port), proto, local_key_id, remote_key_id)
        link = RowLink(child, sa, superseded_by)
    row = KeyRow(
        admin_key_name=admin_key_name,
        local_key_name=local_key_name,
        peer_key_name=peer_key_name,
        peers=split_set(peers),
        interfaces=split_set(interfaces),
        protocol=proto,
        protocol_specific_info=protocol_specific_info,
        kdf=kdf,
        alg_id=alg_id,
        key=key,
        direction=Direction(direction),
        send_lifetime_start=parse_utc(send_start),
        send_lifetime_end=parse_utc(send_end),
        accept_lifetime_start=parse_utc(accept_start),
        accept_lifetime_end=parse_utc(accept_end),
        spi=spi,
        link=link,
    )
    return row_id, row


def _as_addresses(addresses: str | Iterable[str]) -> tuple[str, ...]:
    return (addresses,) if isinstance(addresses, str) else tuple(addresses)


def _prepare_file(path: Path) -> None:
    """Create the database file 0600 (and a new parent 0700) before SQLite
    opens it, so that it is never readable by others, not even briefly;
    tighten an existing file's (and its WAL/SHM files') mode."""
    if not path.parent.exists():
        path.parent.mkdir(mode=_DIR_MODE, parents=True)
    flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
    fd = os.open(path, flags, _FILE_MODE)
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) & 0o077:
            os.fchmod(fd, _FILE_MODE)
    finally:
        os.close(fd)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists() and stat.S_IMODE(side.stat().st_mode) & 0o077:
            side.chmod(_FILE_MODE)


class KeyTableStore:
    """The key table on disk. One instance per process; not thread-safe."""

    def __init__(self, db: sqlite3.Connection, path: Path | None) -> None:
        self._db = db
        self.path = path
        self._notifier = Notifier()
        self._batch: list[Change] | None = None  # changes of the open batch, untold

    # --- opening --------------------------------------------------------------------

    @classmethod
    def open(
        cls, path: Path | str | None = None, *, state_dir: Path | str | None = None
    ) -> KeyTableStore:
        """Open (creating and migrating as needed) the table at ``path``,
        or ``state_dir/keytable.db`` (default ``/var/lib/rkmp``)."""
        if path is None:
            path = Path(state_dir if state_dir is not None else DEFAULT_STATE_DIR) / DB_NAME
        path = Path(path)
        _prepare_file(path)
        db = sqlite3.connect(path, isolation_level=None, timeout=10.0)
        try:
            cls._configure(db)
            migrate(db)
        except BaseException:
            db.close()
            raise
        return cls(db, path)

    @classmethod
    def open_memory(cls) -> KeyTableStore:
        """A throw-away table (tests, dry runs): same schema, no durability."""
        db = sqlite3.connect(":memory:", isolation_level=None)
        db.execute("PRAGMA foreign_keys = ON")
        migrate(db)
        return cls(db, None)

    @staticmethod
    def _configure(db: sqlite3.Connection) -> None:
        (mode,) = db.execute("PRAGMA journal_mode = WAL").fetchone()
        if str(mode).lower() != "wal":
            raise sqlite3.OperationalError(f"cannot use WAL mode (got {mode})")
        db.execute("PRAGMA synchronous = FULL")
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("PRAGMA secure_delete = ON")
        db.execute("PRAGMA trusted_schema = OFF")

    def close(self) -> None:
        """Close the table; a batch still open is rolled back (untold)."""
        if self._batch is not None:
            self.abort_batch()
        self._db.close()

    def __enter__(self) -> KeyTableStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def integrity_check(self) -> str:
        """``PRAGMA integrity_check``: "ok" or the problems found."""
        return "\n".join(str(r[0]) for r in self._db.execute("PRAGMA integrity_check"))

    # --- notifications --------------------------------------------------------------

    def subscribe(self, sink: Sink) -> Callable[[], None]:
        """Tell ``sink`` about every change after it commits; returns an
        unsubscribe function."""
        return self._notifier.subscribe(sink)

    @contextmanager
    def _transaction(self) -> Iterator[list[Change]]:
        """One write transaction; the changes appended to the yielded list
        are told to the sinks after COMMIT (never after a ROLLBACK). Inside
        a batch it is a savepoint instead: a failing operation undoes only
        itself, and its changes wait for the batch's COMMIT."""
        if self._batch is not None:
            with self._savepoint() as joined:
                yield joined
            return
        changes: list[Change] = []
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield changes
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        self._tell(changes)

    @contextmanager
    def _savepoint(self) -> Iterator[list[Change]]:
        assert self._batch is not None
        changes: list[Change] = []
        self._db.execute("SAVEPOINT operation")
        try:
            yield changes
        except BaseException:
            self._db.execute("ROLLBACK TO operation")
            self._db.execute("RELEASE operation")
            raise
        self._db.execute("RELEASE operation")
        self._batch.extend(changes)

    def _tell(self, changes: Sequence[Change]) -> None:
        errors: list[Exception] = []
        for change in changes:
            try:
                self._notifier.notify(change)
            except SinkErrors as group:  # tell every change before raising
                errors.extend(group.exceptions)
        if errors:
            raise SinkErrors(f"{len(errors)} key table sink call(s) failed", errors)

    # --- batches --------------------------------------------------------------------

    @property
    def in_batch(self) -> bool:
        return self._batch is not None

    def begin_batch(self) -> None:
        """Open one transaction for the operations that follow, until
        ``commit_batch``: one COMMIT (one fsync) for many keys. Each
        operation still succeeds or fails as a whole (a savepoint), reads
        see the batch's writes, and no sink hears of a change before the
        COMMIT has made it durable."""
        if self._batch is not None:
            raise RuntimeError("a key table batch is already open")
        self._db.execute("BEGIN IMMEDIATE")
        self._batch = []

    def commit_batch(self) -> int:
        """Make the batch durable, then tell the sinks its changes, in
        order; returns how many changes it held. If the COMMIT fails the
        batch is rolled back, nothing is told and the error is raised."""
        changes = self._batch
        if changes is None:
            return 0
        self._batch = None
        try:
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        self._tell(changes)
        return len(changes)

    def abort_batch(self) -> None:
        """Drop the batch: its operations are undone and never told."""
        if self._batch is None:
            return
        self._batch = None
        self._db.execute("ROLLBACK")

    # --- reading --------------------------------------------------------------------

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[int, KeyRow]]:
        return [_from_db(values) for values in self._db.execute(sql, params)]

    def _rows_for(
        self, protocol: ProtocolId, addresses: tuple[str, ...], spi: int | None = None
    ) -> list[tuple[int, KeyRow]]:
        if not addresses:
            return []
        marks = ", ".join("?" * len(addresses))
        sql = (
            f"{_SELECT} WHERE r.row_id IN (SELECT p.row_id FROM key_row_peers p"
            f" WHERE p.protocol = ? AND p.peer IN ({marks})"
        )
        params: list[Any] = [protocol_name(protocol), *addresses]
        if spi is not None:
            sql += " AND p.spi = ?"
            params.append(spi)
        return self._rows(sql + ") ORDER BY r.row_id", params)

    def Keytable_getSA(
        self, protocol: ProtocolId, addresses: str | Iterable[str], spi: int | None = None
    ) -> tuple[KeyRow, ...]:
        """Rows of ``protocol`` whose Peers include one of ``addresses``
        (with ``spi``: only that SPI; 0 or None: all SPIs)."""
        return tuple(
            row for _, row in self._rows_for(protocol, _as_addresses(addresses), spi or None)
        )

    def get(self, sa: SaId) -> KeyRow | None:
        found = self._rows_for(sa.protocol, (sa.peer,), sa.spi)
        return found[0][1] if found else None

    def rows(self, protocol: ProtocolId | None = None) -> tuple[KeyRow, ...]:
        """Every row (of one protocol), in insertion order."""
        if protocol is None:
            return tuple(row for _, row in self._rows(f"{_SELECT} ORDER BY r.row_id"))
        return tuple(
            row
            for _, row in self._rows(
                f"{_SELECT} WHERE r.protocol = ? ORDER BY r.row_id", (protocol_name(protocol),)
            )
        )

    def count(self) -> int:
        (n,) = self._db.execute("SELECT count(*) FROM key_rows").fetchone()
        return int(n)

    def select_send_key(
        self, protocol: ProtocolId, peer: str, now: UtcSeconds, interface: str | None = None
    ) -> KeyRow | None:
        """RFC 7210 §3: the key to send to ``peer`` with at ``now``."""
        return selection.select_send_key(
            self.Keytable_getSA(protocol, peer), protocol, peer, now, interface
        )

    def select_receive_key(
        self,
        protocol: ProtocolId,
        peer: str,
        local_key_name: str,
        now: UtcSeconds,
        interface: str | None = None,
    ) -> KeyRow | None:
        """RFC 7210 §3: the key for a message from ``peer`` naming
        ``local_key_name``, received at ``now``."""
        return selection.select_receive_key(
            self.Keytable_getSA(protocol, peer), protocol, peer, local_key_name, now, interface
        )

    # --- writing --------------------------------------------------------------------

    def _clear_clashes(self, row: KeyRow, changes: list[Change]) -> None:
        """Delete the rows whose (protocol, peer, SPI) ``row`` takes."""
        found: dict[int, KeyRow] = {}
        for sa in row.sa_ids():
            found.update(self._rows_for(sa.protocol, (sa.peer,), sa.spi))
        if found:
            changes.append(
                RowsDeleted(self._delete_rows(sorted(found.items())), DeleteCause.REPLACED)
            )

    def _insert(self, row: KeyRow) -> None:
        for sa in row.sa_ids():
            if self._db.execute(
                "SELECT 1 FROM key_row_peers WHERE protocol = ? AND peer = ? AND spi = ?",
                (protocol_name(sa.protocol), sa.peer, sa.spi),
            ).fetchone():
                raise SaExists(f"{protocol_name(sa.protocol)} SPI {sa.spi} with {sa.peer} exists")
        try:
            cursor = self._db.execute(_INSERT, _row_values(row))
        except sqlite3.IntegrityError as exc:
            # AdminKeyName taken, or a CHECK the model missed. SQLite's
            # message names the constraint, never the values.
            raise InvalidRow(f"row rejected: {exc}") from None
        self._db.executemany(
            "INSERT INTO key_row_peers (protocol, peer, spi, row_id) VALUES (?, ?, ?, ?)",
            [(protocol_name(row.protocol), peer, row.spi, cursor.lastrowid) for peer in row.peers],
        )

    def Keytable_insertSA(self, row: KeyRow, *, replace_existing: bool = False) -> None:
        """Add a row; SaExists if its (protocol, peer, SPI) is taken, unless
        ``replace_existing``: then the row holding it goes (same transaction)."""
        with self._transaction() as changes:
            if replace_existing:
                self._clear_clashes(row, changes)
            self._insert(row)
            changes.append(RowInserted(row))

    def insert_many(self, rows: Iterable[KeyRow]) -> int:
        """Add many rows in one transaction (loading, benchmarks): all or none."""
        with self._transaction() as changes:
            n = 0
            for row in rows:
                self._insert(row)
                changes.append(RowInserted(row))
                n += 1
        return n

    def Keytable_rekeySA(
        self, old: SaId, new: KeyRow, accept_grace: int, *, replace_existing: bool = False
    ) -> RowRekeyed:
        """Atomically add ``new`` and end ``old``: it is sent until the new
        row's SendLifetimeStart and accepted ``accept_grace`` seconds longer
        (DESIGN.md §2). SaNotFound if ``old`` is missing; SaExists if the new
        row's SPI is taken, unless ``replace_existing`` (then that row goes)."""
        if old in new.sa_ids():
            raise InvalidRow("a successor needs an SPI of its own")
        with self._transaction() as changes:
            found = self._rows_for(old.protocol, (old.peer,), old.spi)
            if not found:
                raise SaNotFound(f"{protocol_name(old.protocol)} SPI {old.spi} with {old.peer}")
            row_id, previous = found[0]
            if replace_existing:
                self._clear_clashes(new, changes)
            ended = previous.with_lifetimes(
                end_predecessor(previous.lifetimes, new.send_lifetime_start, accept_grace)
            )
            if ended.link is not None:
                ended = ended.with_link(
                    RowLink(ended.link.child, ended.link.rkmp_sa, superseded_by=new.spi)
                )
            self._update(row_id, ended)
            self._insert(new)
            change = RowRekeyed(ended, new)
            changes.append(change)
        return change

    def _update(self, row_id: int, row: KeyRow) -> None:
        """Rewrite a row's lifetimes and link (its identity stays)."""
        values = _row_values(row)
        names = _COLUMNS[1:]
        keep = {"admin_key_name", "peers", "protocol", "spi", "key"}
        assignments = [(n, v) for n, v in zip(names, values, strict=True) if n not in keep]
        self._db.execute(
            "UPDATE key_rows SET "
            + ", ".join(f"{n} = ?" for n, _ in assignments)
            + " WHERE row_id = ?",
            [v for _, v in assignments] + [row_id],
        )

    def _delete_rows(self, found: list[tuple[int, KeyRow]]) -> tuple[KeyRow, ...]:
        self._db.executemany("DELETE FROM key_rows WHERE row_id = ?", [(i,) for i, _ in found])
        return tuple(row for _, row in found)

    def Keytable_delete(
        self,
        protocol: ProtocolId,
        spi: int,
        addresses: str | Iterable[str] | None = None,
        *,
        cause: DeleteCause = DeleteCause.DELETED,
    ) -> tuple[KeyRow, ...]:
        """Delete the rows of ``protocol`` with ``spi`` (0: every row of the
        protocol), with any peer or only with one of ``addresses``."""
        with self._transaction() as changes:
            if addresses is not None:
                found = self._rows_for(protocol, _as_addresses(addresses), spi or None)
            elif spi:
                found = self._rows(
                    f"{_SELECT} WHERE r.protocol = ? AND r.spi = ? ORDER BY r.row_id",
                    (protocol_name(protocol), spi),
                )
            else:
                found = self._rows(
                    f"{_SELECT} WHERE r.protocol = ? ORDER BY r.row_id", (protocol_name(protocol),)
                )
            deleted = self._delete_rows(found)
            if deleted:
                changes.append(RowsDeleted(deleted, cause))
        return deleted

    def expire(self, now: UtcSeconds) -> tuple[KeyRow, ...]:
        """Delete every row that will never be sent or accepted again
        (``now`` past both SendLifeTimeEnd and AcceptLifeTimeEnd)."""
        text = format_utc(now)
        with self._transaction() as changes:
            found = self._rows(
                f"{_SELECT} WHERE r.accept_lifetime_end < ? AND r.send_lifetime_end < ?"
                " ORDER BY r.row_id",
                (text, text),
            )
            deleted = self._delete_rows(found)
            if deleted:
                changes.append(RowsDeleted(deleted, DeleteCause.EXPIRED))
        return deleted

    def revoke(
        self,
        sa: RkmpSaRef,
        children: Iterable[ChildRef],
        failure: FailureReason | None = None,
    ) -> tuple[KeyRow, ...]:
        """RP_revokeSA's table part: delete the rows made under the RKMP SA
        ``sa`` and the rows of ``children``, in one transaction."""
        with self._transaction() as changes:
            found = dict(
                self._rows(
                    f"{_SELECT} WHERE r.rkmp_spi_i = ? AND r.rkmp_spi_r = ?"
                    " AND r.rkmp_peer_host = ?",
                    (sa.spi_i.hex(), sa.spi_r.hex(), sa.peer[0]),
                )
            )
            for child in children:
                found.update(self._rows_for(child.protocol, (child.peer[0],), child.local_key_id))
            deleted = self._delete_rows(sorted(found.items()))
            if deleted:
                changes.append(RowsDeleted(deleted, DeleteCause.REVOKED, sa, failure))
        return deleted

    def relink(self, old: RkmpSaRef, new: RkmpSaRef) -> int:
        """After an RKMP SA rekey its children belong to the new SA
        (RFC 7296 §2.8): move the rows' links. Not a change sinks see."""
        with self._transaction():
            cursor = self._db.execute(
                "UPDATE key_rows SET rkmp_peer_host = ?, rkmp_peer_port = ?, rkmp_spi_i = ?,"
                " rkmp_spi_r = ? WHERE rkmp_spi_i = ? AND rkmp_spi_r = ? AND rkmp_peer_host = ?",
                (
                    new.peer[0],
                    new.peer[1],
                    new.spi_i.hex(),
                    new.spi_r.hex(),
                    old.spi_i.hex(),
                    old.spi_r.hex(),
                    old.peer[0],
                ),
            )
        return cursor.rowcount

    def shift_lifetimes(self, delta: int) -> tuple[KeyRow, ...]:
        """Move every finite lifetime boundary of the rows RKMP made by
        ``delta`` seconds (a wall-clock step; see ``keytable.clock``). Rows
        entered by hand keep their absolute times."""
        if delta == 0:
            return ()
        with self._transaction() as changes:
            found = self._rows(f"{_SELECT} WHERE r.child_peer_host IS NOT NULL ORDER BY r.row_id")
            shifted = []
            for row_id, row in found:
                moved = row.with_lifetimes(row.lifetimes.shifted(delta))
                self._update(row_id, moved)
                shifted.append(moved)
            if shifted:
                changes.append(LifetimesShifted(delta, tuple(shifted)))
        return tuple(shifted)
