"""Key chain lifetimes as FRR writes them (``send-lifetime`` /
``accept-lifetime``).

FRR reads lifetimes as local time: ``FrrRenderConfig.timezone`` must be
the FRR daemons' time zone. FRR's lifetime years are 1993-2035: earlier
starts are clamped to 1993, ends after 2035 become ``infinite``.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from rkmp_frr.keytable.utc import FOREVER, UtcSeconds
from rkmp_frr.sinks.frr_plan import Window
from rkmp_frr.sinks.render import instant_of, local_time

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _frr_clock(instant: UtcSeconds, tz: tzinfo, zero_pad_day: bool) -> str:
    moment = local_time(instant, tz)
    day = f"{moment.day:02d}" if zero_pad_day else str(moment.day)
    return f"{moment:%H:%M:%S} {_MONTHS[moment.month - 1]} {day} {moment.year}"


def frr_lifetime(window: Window, tz: tzinfo, *, zero_pad_day: bool = True) -> str:
    """A ``send-lifetime`` / ``accept-lifetime`` argument: ``HH:MM:SS Mon DD
    YYYY HH:MM:SS Mon DD YYYY`` or ``... infinite``, in ``tz``. FRR's years
    are 1993-2035; None (never) is a one-second window in 1993."""
    first = instant_of(datetime(1993, 1, 1, tzinfo=tz))
    last = instant_of(datetime(2035, 12, 31, 23, 59, 59, tzinfo=tz))
    if window is not None and (window[0] > last or window[1] < first):
        window = None
    if window is None:
        start, end = first, first + 1
    else:
        start, end = max(window[0], first), window[1]
        if end >= FOREVER or end > last:
            return f"{_frr_clock(start, tz, zero_pad_day)} infinite"
        end = max(end, start + 1)  # FRR wants the end after the start
    return f"{_frr_clock(start, tz, zero_pad_day)} {_frr_clock(end, tz, zero_pad_day)}"
