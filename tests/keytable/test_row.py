"""The row model: RFC 7210 §2 fields, validation, masked keys."""

from __future__ import annotations

import dataclasses

import pytest
from keytable_rows import make_row

from rkmp_frr.keytable.errors import InvalidRow
from rkmp_frr.keytable.row import ALL_INTERFACES, KeyRow, Lifetimes
from rkmp_frr.keytable.utc import FOREVER

RFC7210_FIELDS = [
    "AdminKeyName",
    "LocalKeyName",
    "PeerKeyName",
    "Peers",
    "Interfaces",
    "Protocol",
    "ProtocolSpecificInfo",
    "KDF",
    "AlgID",
    "Key",
    "Direction",
    "SendLifetimeStart",
    "SendLifeTimeEnd",
    "AcceptLifeTimeStart",
    "AcceptLifeTimeEnd",
]


def test_rfc7210_fields_exactly() -> None:
    row = make_row(peers=frozenset({"192.0.2.9", "192.0.2.1"}))
    fields = row.rfc7210_fields()
    assert list(fields) == RFC7210_FIELDS
    assert fields["Peers"] == "192.0.2.1 192.0.2.9"
    assert fields["Interfaces"] == "all"
    assert fields["Protocol"] == "OSPFv2"
    assert fields["Direction"] == "both"
    assert fields["SendLifetimeStart"] == "19700101001640Z"  # 1000 s
    assert fields["Key"] == row.key
    # The model holds those fields (snake_case) plus the table's SPI and link.
    names = [f.name for f in dataclasses.fields(KeyRow)]
    assert len(names) == len(RFC7210_FIELDS) + 2
    assert names[-2:] == ["spi", "link"]


def test_repr_and_str_mask_the_key() -> None:
    row = make_row()
    for text in (repr(row), str(row), repr([row]), f"{row}"):
        assert row.key not in text
        assert "key=<32 octets>" in text


@pytest.mark.parametrize(
    "bad",
    ["ABCD", "abc", "zz", "", "00 11"],
)
def test_key_must_be_lower_case_hex_and_errors_do_not_quote_it(bad: str) -> None:
    with pytest.raises(InvalidRow) as info:
        make_row(key=bad)
    if bad:
        assert bad not in str(info.value)


def test_other_validation() -> None:
    with pytest.raises(InvalidRow):
        make_row(peers=frozenset())
    with pytest.raises(InvalidRow):
        make_row(peers=frozenset({"a b"}))
    with pytest.raises(InvalidRow):
        make_row(interfaces=ALL_INTERFACES | {"eth0"})
    with pytest.raises(InvalidRow):
        make_row(spi=0)
    with pytest.raises(InvalidRow):
        make_row(send=(0, FOREVER + 1))


def test_lifetimes_closed_intervals_and_shift() -> None:
    life = Lifetimes(send_start=10, send_end=20, accept_start=5, accept_end=30)
    assert life.sending(10) and life.sending(20) and not life.sending(21) and not life.sending(9)
    assert life.accepting(5) and life.accepting(30) and not life.accepting(31)
    assert not life.dead(30) and life.dead(31)
    assert life.shifted(100) == Lifetimes(110, 120, 105, 130)
    forever = Lifetimes(0, FOREVER, 0, FOREVER)
    assert forever.shifted(-50) == forever
