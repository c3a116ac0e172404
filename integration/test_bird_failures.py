"""BIRD refuses the rendered include file: the previous file is put back,
BIRD keeps running the previous configuration (the OSPF adjacency stays
Full with its key), and ``rkmpctl status`` shows the error, without the key.

The refusal comes from the real path: rkmpd a's ``[sinks.bird]`` is edited
to an interface option BIRD rejects (``dead 0;``) and rkmpd is sent SIGHUP,
which rebuilds the sink; its first apply renders the new file, ``birdc
configure check`` refuses it, and the file BIRD runs is written back.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.harness.netns import Link
from integration.harness.process import wait_until
from integration.harness.routing import RoutingLab, bird_unavailable_reason, routing_lab
from integration.test_bird_rkmpd import bird_sink, current_spi, full, start_pair

STEADY_SAMPLES = 10  # 2 s at 0.2 s: the adjacency stays Full on the old file


@pytest.fixture
def lab(work_dir: Path) -> Iterator[RoutingLab]:
    with routing_lab(work_dir, bird_unavailable_reason) as routing:
        yield routing


def test_bird_refused_include_is_taken_back(
    two_nodes: Link, lab: RoutingLab, work_dir: Path
) -> None:
    a, _, rkmpd_a, _ = start_pair(lab, two_nodes, work_dir)
    include = rkmpd_a.directory / "rkmp.conf"
    previous = include.read_text()
    spi = current_spi(rkmpd_a)
    assert f"id {spi};" in previous

    # The operator's edit BIRD refuses (dead interval out of range); SIGHUP.
    config = rkmpd_a.config_file.read_text()
    assert bird_sink(rkmpd_a.directory, a) in config
    rkmpd_a.config_file.write_text(
        config.replace(bird_sink(rkmpd_a.directory, a), bird_sink(rkmpd_a.directory, a, "dead 0;"))
    )
    rkmpd_a.reload()
    sink = wait_until(
        lambda: (s := rkmpd_a.sink("bird"))["last_error"] and s,
        timeout=30,
        what="rkmpctl status to show the BIRD sink's error",
        diagnostics=rkmpd_a.log_text,
    )
    assert "configuration reloaded" in rkmpd_a.log_text()
    assert not sink["ok"] and sink["failures"] >= 1, sink
    assert rkmpd_a.log_text().count("bird sink: BIRD") == 2  # rebuilt: BIRD asked again
    change = sink["last_change"]
    assert change["status"] == "failed-restored" and change["restore_error"] is None, sink
    assert "configure check" in change["error"] and "configure check" in sink["last_error"]
    [row] = rkmpd_a.rkmpctl("keys", "--show-secrets")["result"]["rows"]
    key = row["key"]
    assert key not in json.dumps(rkmpd_a.rkmpctl("status"))  # the key never shows
    assert key not in rkmpd_a.log_text()

    # The previous file is back, BIRD parses what is in place and keeps the
    # adjacency on the old key.
    assert include.read_text() == previous
    assert a.birdc("configure", "check").returncode == 0
    for _ in range(STEADY_SAMPLES):
        assert full(a, "10.250.0.2")
        time.sleep(0.2)
    assert current_spi(rkmpd_a) == spi
