"""Drift checks as rkmpd runs them: ``[sinks.frr] check_interval`` wired to
the FRR sink's batching sink (BIRD has none), and what ``rkmpctl status``
shows of them, in text and in ``--json`` (fields only added: an older
daemon's answer still decodes)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from rkmp_frr.daemon.control_protocol import (
    Command,
    StatusResult,
    Success,
    decode_response,
    encode_response,
    to_json,
)
from rkmp_frr.daemon.rkmpctl import render_status

from .test_control_protocol import RESULTS, SINK
from .test_routing_sinks import BIRD_SINK, FRR_SINK, MD5_PEER, build, config_text, frr

_STATUS = RESULTS[Command.STATUS]
assert isinstance(_STATUS, StatusResult)
STATUS: StatusResult = _STATUS
DRIFT_LINE = "BGP neighbour 10.0.0.2: 'neighbor 10.0.0.2 password <key:32B:ab12cd34>' missing"
DRIFTED = dataclasses.replace(
    SINK, drift_checks=12, drifts=1, last_drift_at=1_700_000_200.5, last_drift=DRIFT_LINE
)


def test_the_frr_sink_checks_every_check_interval(tmp_path: Path) -> None:
    config = config_text(
        tmp_path / "r1",
        MD5_PEER,
        FRR_SINK.replace("[sinks.frr]", '[sinks.frr]\ncheck_interval = "5s"'),
    )
    [sink] = build(config, frr())
    assert sink.batching.check_interval == 5.0
    assert sink.batching.checker is not None


def test_check_interval_zero_turns_the_checks_off(tmp_path: Path) -> None:
    config = config_text(
        tmp_path / "r1",
        MD5_PEER,
        FRR_SINK.replace("[sinks.frr]", '[sinks.frr]\ncheck_interval = "0"'),
    )
    [sink] = build(config, frr())
    assert sink.batching.check_interval == 0.0


def test_bird_has_no_drift_check(tmp_path: Path) -> None:
    from rkmp_frr.sinks.runner import CommandResult

    from .test_routing_sinks import BIRD_STATUS, ScriptedDaemons

    daemons = ScriptedDaemons({BIRD_STATUS: CommandResult((), 0, "BIRD 2.0.12 ready.\n", "")})
    [sink] = build(config_text(tmp_path / "r1", MD5_PEER, BIRD_SINK), daemons)
    assert sink.batching.checker is None


def test_status_text_shows_the_last_drift() -> None:
    text = render_status(dataclasses.replace(STATUS, sinks=(DRIFTED,)))
    assert text.splitlines()[-1] == (
        "      drift 20231114221640Z (1 in 12 check(s)), applied again: " + DRIFT_LINE
    )
    unreadable = dataclasses.replace(SINK, drift_checks=3, check_error="cannot read it")
    last = render_status(dataclasses.replace(STATUS, sinks=(unreadable,))).splitlines()[-1]
    assert last == "      drift check: cannot read it"


def test_status_json_adds_the_drift_fields() -> None:
    data = to_json(DRIFTED)
    assert (data["drift_checks"], data["drifts"], data["last_drift_at"]) == (12, 1, 1_700_000_200.5)
    assert data["last_drift"] == DRIFTED.last_drift and data["check_error"] is None
    line = encode_response(Success(dataclasses.replace(STATUS, sinks=(DRIFTED,))))
    decoded = decode_response(line, Command.STATUS)
    assert isinstance(decoded, Success) and decoded.result.sinks == (DRIFTED,)  # type: ignore[union-attr]


def test_an_older_daemons_status_reads_as_no_checks() -> None:
    line = encode_response(Success(STATUS))
    obj = json.loads(line)
    for sink in obj["result"]["sinks"]:
        for name in ("drift_checks", "drifts", "last_drift_at", "last_drift", "check_error"):
            del sink[name]
    decoded = decode_response(json.dumps(obj).encode() + b"\n", Command.STATUS)
    assert isinstance(decoded, Success)
    [sink] = decoded.result.sinks  # type: ignore[union-attr]
    assert (sink.drift_checks, sink.drifts, sink.last_drift_at, sink.last_drift) == (
        0,
        0,
        None,
        None,
    )
