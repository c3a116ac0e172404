"""Key table errors. None of them ever carries key material."""

from __future__ import annotations


class KeyTableError(Exception):
    """Base of the key table's errors."""


class InvalidRow(KeyTableError, ValueError):
    """A row violates RFC 7210 §2 or this table's rules."""


class SaExists(KeyTableError):
    """Keytable_insertSA: a row with this (protocol, peer, SPI) exists."""


class SaNotFound(KeyTableError):
    """No row with this (protocol, peer, SPI)."""


class SchemaError(KeyTableError):
    """The database's schema is newer than this code, or damaged."""
