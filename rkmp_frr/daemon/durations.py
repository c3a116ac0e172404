"""Durations as operators write them: ``"500ms"``, ``"30s"``, ``"5m"``,
``"4h"``, ``"1d"``, compounds such as ``"1h30m"``, or a plain number of
seconds (an integer or a float in TOML)."""

from __future__ import annotations

import math
import re

_UNITS: dict[str, float] = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+")


def parse_duration(value: object) -> float:
    """Seconds; ValueError saying what is wrong (the caller adds the key)."""
    if isinstance(value, bool):  # bool is an int subclass; true is no duration
        raise ValueError('expected a duration such as "30s" or a number of seconds, not a boolean')
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower()
        if text.isdigit():
            seconds = float(text)
        elif _WHOLE.fullmatch(text):
            seconds = sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(text))
        else:
            raise ValueError(
                f'{value!r} is not a duration (write e.g. "500ms", "30s", "5m", "4h", "1d")'
            )
    else:
        raise ValueError(f'expected a duration such as "30s", not {type(value).__name__}')
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError("a duration must be a finite, non-negative number of seconds")
    return seconds


def format_duration(seconds: float) -> str:
    """A short human form: ``"4h"``, ``"1h30m"``, ``"45s"``, ``"250ms"``."""
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    remaining = round(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts[:2]) or "0s"
