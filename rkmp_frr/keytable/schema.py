"""The key table's SQLite schema and its migrations.

The schema version is SQLite's ``user_version``; ``application_id`` marks
the file as a key table. Each migration runs in its own ``BEGIN
IMMEDIATE`` transaction together with the version bump (SQLite DDL is
transactional), so a crash leaves the file at one version or the next.
Never edit a released migration: append a new one.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from rkmp_frr.keytable.errors import SchemaError

APPLICATION_ID = 0x524B_4D50  # "RKMP"


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


_TIME_CHECK = "CHECK (length({0}) = 15 AND substr({0}, 15) = 'Z')"

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "RFC 7210 rows, peer index, SA links",
        (
            # One row per key: RFC 7210 §2's fields (times as YYYYmmddHHMMSSZ,
            # erratum 4016), the table's SPI, and the SAs behind the row.
            f"""
            CREATE TABLE key_rows (
                row_id INTEGER PRIMARY KEY,
                admin_key_name TEXT NOT NULL UNIQUE,
                local_key_name TEXT NOT NULL,
                peer_key_name TEXT NOT NULL,
                peers TEXT NOT NULL,
                interfaces TEXT NOT NULL,
                protocol TEXT NOT NULL,
                protocol_specific_info TEXT NOT NULL,
                kdf TEXT NOT NULL,
                alg_id TEXT NOT NULL,
                key TEXT NOT NULL
                    CHECK (key <> '' AND key NOT GLOB '*[^0-9a-f]*' AND length(key) % 2 = 0),
                direction TEXT NOT NULL CHECK (direction IN ('in', 'out', 'both', 'disabled')),
                send_lifetime_start TEXT NOT NULL {_TIME_CHECK.format("send_lifetime_start")},
                send_lifetime_end TEXT NOT NULL {_TIME_CHECK.format("send_lifetime_end")},
                accept_lifetime_start TEXT NOT NULL {_TIME_CHECK.format("accept_lifetime_start")},
                accept_lifetime_end TEXT NOT NULL {_TIME_CHECK.format("accept_lifetime_end")},
                spi INTEGER NOT NULL CHECK (spi > 0),
                child_peer_host TEXT,
                child_peer_port INTEGER,
                child_local_key_id INTEGER,
                child_remote_key_id INTEGER,
                rkmp_peer_host TEXT,
                rkmp_peer_port INTEGER,
                rkmp_spi_i TEXT,
                rkmp_spi_r TEXT,
                superseded_by INTEGER
            )
            """,
            # (protocol, peer, SPI) names a row; one entry per member of Peers.
            """
            CREATE TABLE key_row_peers (
                protocol TEXT NOT NULL,
                peer TEXT NOT NULL,
                spi INTEGER NOT NULL,
                row_id INTEGER NOT NULL REFERENCES key_rows (row_id) ON DELETE CASCADE,
                PRIMARY KEY (protocol, peer, spi)
            ) WITHOUT ROWID
            """,
            "CREATE INDEX key_row_peers_by_row ON key_row_peers (row_id)",
            "CREATE INDEX key_rows_by_protocol_spi ON key_rows (protocol, spi)",
            "CREATE INDEX key_rows_by_rkmp_sa ON key_rows (rkmp_spi_i, rkmp_spi_r)",
            "CREATE INDEX key_rows_by_accept_end ON key_rows (accept_lifetime_end)",
        ),
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version


def schema_version(db: sqlite3.Connection) -> int:
    (version,) = db.execute("PRAGMA user_version").fetchone()
    return int(version)


def migrate(db: sqlite3.Connection, migrations: tuple[Migration, ...] = MIGRATIONS) -> int:
    """Bring the database to the newest schema; returns the version.
    ``db`` must be in autocommit mode (``isolation_level=None``)."""
    latest = migrations[-1].version
    (app_id,) = db.execute("PRAGMA application_id").fetchone()
    if app_id == APPLICATION_ID and schema_version(db) == latest:
        return latest  # the usual case: no write lock needed
    for migration in migrations:
        db.execute("BEGIN IMMEDIATE")
        try:
            # Read inside the write transaction: another process may have
            # migrated since we looked.
            (app_id,) = db.execute("PRAGMA application_id").fetchone()
            version = schema_version(db)
            if app_id not in (0, APPLICATION_ID):
                raise SchemaError("not an rkmp key table (foreign application_id)")
            if version > latest:
                raise SchemaError(f"key table schema {version} is newer than this code ({latest})")
            if version >= migration.version:
                db.execute("ROLLBACK")
                continue
            if version != migration.version - 1:
                raise SchemaError(f"no migration from schema {version}")
            for statement in migration.statements:
                db.execute(statement)
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            db.execute(f"PRAGMA user_version = {migration.version}")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    return schema_version(db)
