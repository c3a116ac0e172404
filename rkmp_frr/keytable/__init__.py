"""The RFC 7210 key table: rows, selection, rollover, SQLite store, and the
wiring from engine events to the table (``rkmp_frr.keytable.wiring``)."""

from __future__ import annotations

from rkmp_frr.keytable.changes import (
    Change,
    DeleteCause,
    LifetimesShifted,
    RowInserted,
    RowRekeyed,
    RowsDeleted,
    Sink,
)
from rkmp_frr.keytable.errors import InvalidRow, KeyTableError, SaExists, SaNotFound, SchemaError
from rkmp_frr.keytable.rollover import RolloverPolicy, end_predecessor, new_key_lifetimes
from rkmp_frr.keytable.row import ALL_INTERFACES, Direction, KeyRow, Lifetimes, RowLink, SaId
from rkmp_frr.keytable.selection import select_receive_key, select_send_key
from rkmp_frr.keytable.store import DEFAULT_STATE_DIR, KeyTableStore

__all__ = [
    "ALL_INTERFACES",
    "DEFAULT_STATE_DIR",
    "Change",
    "DeleteCause",
    "Direction",
    "InvalidRow",
    "KeyRow",
    "KeyTableError",
    "KeyTableStore",
    "Lifetimes",
    "LifetimesShifted",
    "RolloverPolicy",
    "RowInserted",
    "RowLink",
    "RowRekeyed",
    "RowsDeleted",
    "SaExists",
    "SaId",
    "SaNotFound",
    "SchemaError",
    "Sink",
    "end_predecessor",
    "new_key_lifetimes",
    "select_receive_key",
    "select_send_key",
]
