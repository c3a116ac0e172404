"""RFC 7210 §2 time text (erratum 4016: YYYYmmddHHMMSSZ)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rkmp_frr.keytable.utc import FOREVER, format_utc, parse_utc, utc_seconds


def test_known_instants() -> None:
    assert format_utc(0) == "19700101000000Z"
    # 2014-04-01T12:34:56Z, RFC 7210's month; minutes are there (erratum 4016).
    assert format_utc(1396355696) == "20140401123456Z"
    assert parse_utc("20140401123456Z") == 1396355696
    assert format_utc(FOREVER) == "99991231235959Z"


@settings(max_examples=200, deadline=None)
@given(st.integers(0, FOREVER), st.integers(0, FOREVER))
def test_round_trip_and_text_order_is_time_order(a: int, b: int) -> None:
    assert parse_utc(format_utc(a)) == a
    assert (format_utc(a) < format_utc(b)) == (a < b)


@pytest.mark.parametrize(
    "text", ["2014040112345Z", "20140401123456", "20141301123456Z", "2014040112345xZ", ""]
)
def test_rejects_malformed_text(text: str) -> None:
    with pytest.raises(ValueError):
        parse_utc(text)


def test_wall_readings_round_down_and_clamp() -> None:
    assert utc_seconds(1000.999) == 1000
    assert utc_seconds(-5.0) == 0
    assert utc_seconds(1e13) == FOREVER
    with pytest.raises(ValueError):
        format_utc(FOREVER + 1)
