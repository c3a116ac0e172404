"""The routing daemons' time zone, for the sinks' renderers.

FRR and BIRD read configured key lifetimes as local time, so the renderers
must know the daemons' zone (``rkmp_frr.sinks.render.local_time``). The
configuration names it (``[sinks.frr] timezone = "Europe/Berlin"``) or
leaves it to this host's zone, which is what daemons started on the same
host use.
"""

from __future__ import annotations

import functools
import os
from datetime import UTC, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

LOCALTIME = "/etc/localtime"
UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Z"})


def check_timezone_name(name: str) -> None:
    """ValueError unless ``name`` is "UTC" or a zone in the time zone
    database (``Europe/Berlin``)."""
    if name in UTC_NAMES:
        return
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f'{name!r} is not a time zone name (e.g. "UTC", "Europe/Berlin")'
        ) from None
    except OSError as exc:  # an unreadable zone file
        raise ValueError(f"{name!r}: {exc.strerror or exc}") from None


def timezone_named(name: str | None) -> tzinfo:
    """The zone a checked name stands for; None: this host's zone."""
    if name is None:
        return local_timezone()
    if name in UTC_NAMES:
        return UTC
    return ZoneInfo(name)


@functools.cache
def local_timezone() -> tzinfo:
    """This host's zone as the C library sees it: ``TZ`` if it names a
    zone, else /etc/localtime, else UTC. Read once per process (a new
    host zone needs a restart, as it does for FRR and BIRD)."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    try:
        with open(LOCALTIME, "rb") as handle:
            return ZoneInfo.from_file(handle, key="localtime")
    except (OSError, ValueError):
        return UTC
