"""UTC instants as RFC 7210 writes them.

RFC 7210 §2 lifetimes are UTC date-times "YYYYmmddHHMMSSZ" (the format as
corrected by erratum 4016, which restores the minutes the RFC's pattern
omits). The table works in whole POSIX seconds (UTC, leap seconds not
counted) and renders that text only at its edges; fixed-width text compares
like the instants it names, which the SQLite store relies on.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TypeAlias

UtcSeconds: TypeAlias = int
"""Whole seconds since 1970-01-01T00:00:00Z."""

_FORMAT = "%Y%m%d%H%M%SZ"
TEXT_LENGTH = 15  # len("YYYYmmddHHMMSSZ")

FOREVER: UtcSeconds = 253_402_300_799  # 9999-12-31T23:59:59Z, the last instant the format holds
BEGINNING: UtcSeconds = 0  # 1970-01-01T00:00:00Z


def utc_seconds(wall: float) -> UtcSeconds:
    """A wall-clock reading (POSIX seconds) as whole seconds, rounded down."""
    return max(BEGINNING, min(FOREVER, int(wall // 1)))


def format_utc(instant: UtcSeconds) -> str:
    """RFC 7210 §2 text (erratum 4016): ``YYYYmmddHHMMSSZ``."""
    if not BEGINNING <= instant <= FOREVER:
        raise ValueError(f"instant {instant} outside {BEGINNING}..{FOREVER}")
    return time.strftime(_FORMAT, time.gmtime(instant))


def parse_utc(text: str) -> UtcSeconds:
    """The inverse of :func:`format_utc`; ValueError on anything else."""
    if len(text) != TEXT_LENGTH or not text.endswith("Z") or not text[:-1].isdigit():
        raise ValueError(f"not an RFC 7210 UTC time: {text!r}")
    instant = datetime(
        int(text[0:4]),
        int(text[4:6]),
        int(text[6:8]),
        int(text[8:10]),
        int(text[10:12]),
        int(text[12:14]),
        tzinfo=UTC,
    )
    return int(instant.timestamp())
