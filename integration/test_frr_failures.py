"""Failure cases with FRR and rkmpd in namespaces.

- Mismatched credentials between the two rkmpd: no key is made, FRR's
  configuration does not change, and the existing session keeps its old
  key (rkmpd never keyed that neighbour, so fail closed does not apply).
- FRR refuses the rendered change (an operator template with a typo): the
  previous configuration stays in place and `rkmpctl status` shows the
  error (without the key).
- FRR 8.4 cannot key TCP-AO: rkmpd refuses to start (exit 2) with one line
  naming the peer's protocol.
- The peer's rkmpd is killed: liveness fails, RP_revokeSA runs the revoke
  hook and, with on_failure = "revoke", the key leaves FRR's configuration.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from integration.harness.netns import Link
from integration.harness.process import run, wait_until
from integration.harness.routing import (
    RkmpdNode,
    RoutingLab,
    bird_base_config,
    bird_unavailable_reason,
    frr_bgp_config,
    frr_unavailable_reason,
    routing_lab,
)
from integration.test_frr_rkmpd import (
    PSK,
    bird_bgp_sink,
    frr_sink,
    kernel_check,
    md5_key,
    md5_peer,
    rkmpd_config,
    wait_keyed_session,
    write_psk,
)
from rkmp_frr.sinks.features import FRR_BGP_TCP_AO, frr_features, parse_frr_version
from rkmp_frr.sinks.render import packaged_templates_dir


@pytest.fixture
def lab(work_dir: Path) -> Iterator[RoutingLab]:
    with routing_lab(work_dir, frr_unavailable_reason) as routing:
        yield routing


def _logged(rkmpd: RkmpdNode, text: str) -> bool:
    return text in rkmpd.log_text().lower()


OPERATOR_PASSWORD = "typed-by-the-operator"
OBSERVE_SAMPLES = 30  # 15 s at 0.5 s: many RKMP retries and liveness periods (1 s)


def test_frr_frr_mismatched_psk_changes_nothing(
    two_nodes: Link, lab: RoutingLab, work_dir: Path
) -> None:
    """Mismatched credentials: no key on either side, the routing config
    byte-identical, and the existing session (keyed with the operator's own
    TCP-MD5 password) stays Established with its old key throughout. The
    sinks secure that neighbour, but rkmpd never keyed it, so it is left
    as the operator configured it (rkmp_frr.sinks.keyed)."""
    left, right = two_nodes.left, two_nodes.right
    a = lab.frr(left.ns, "a", config=frr_bgp_config(
        65001, "10.250.0.1", "10.250.0.2", 65002, password=OPERATOR_PASSWORD))  # fmt: skip
    b = lab.frr(right.ns, "b", config=frr_bgp_config(
        65002, "10.250.0.2", "10.250.0.1", 65001, password=OPERATOR_PASSWORD))  # fmt: skip
    a.wait_bgp_established("10.250.0.2")
    before = {"a": a.running_config(), "b": b.running_config()}
    established = a.bgp_established_count("10.250.0.2")
    configs = {
        "b": rkmpd_config("b", "10.250.0.2", work_dir, md5_peer("a", "10.250.0.1"),
                          write_psk(work_dir, "psk-b", "0x" + "ab" * 32),
                          frr_sink(b, "10.250.0.1", 65002)),
        "a": rkmpd_config("a", "10.250.0.1", work_dir, md5_peer("b", "10.250.0.2"),
                          write_psk(work_dir, "psk-a", PSK), frr_sink(a, "10.250.0.2", 65001)),
    }  # fmt: skip
    started = {}
    for name, ns in (("b", right.ns), ("a", left.ns)):
        text = configs[name].replace('liveness_interval = "30s"', 'liveness_interval = "1s"')
        started[name] = lab.rkmpd(ns, name, text)
    ra, rb = started["a"], started["b"]
    # Each side's AUTH fails at the other: both log it.
    for rkmpd in (ra, rb):
        wait_until(
            partial(_logged, rkmpd, "authentication"),
            timeout=20,
            what=f"rkmpd {rkmpd.name} to log the failed authentication",
        )
    # Keep watching while rkmpd retries: the session never drops, FRR's
    # configuration never changes.
    for sample in range(OBSERVE_SAMPLES):
        assert a.bgp_state("10.250.0.2") == "Established", f"session down (sample {sample})"
        assert a.running_config() == before["a"], f"a's config changed (sample {sample})"
        assert b.running_config() == before["b"], f"b's config changed (sample {sample})"
        time.sleep(0.5)
    assert a.bgp_established_count("10.250.0.2") == established  # no reset either
    for rkmpd, ns, peer in ((ra, left.ns, "10.250.0.2"), (rb, right.ns, "10.250.0.1")):
        assert rkmpd.keys() == []
        sink = rkmpd.sink("frr")
        assert sink["ok"] and sink["failures"] == 0 and sink["rows"] == 0, sink
        assert sink["last_change"] is None, sink  # nothing ever applied
        assert not (rkmpd.directory / "state" / "frr-sink.keyed").exists()
        # The old key is still the one on bgpd's sockets.
        assert '"status": "ok"' in kernel_check(ns, peer, OPERATOR_PASSWORD)
        assert not _logged(rkmpd, "fail closed")


def test_frr_bird_mismatched_psk_changes_nothing(
    two_nodes: Link, lab: RoutingLab, work_dir: Path
) -> None:
    """FRR to BIRD, mismatched PSKs: BIRD's include file (the session block
    as the sink configuration has it, never keyed: no password, nothing
    disabled) and FRR's running config stay byte-identical, and the session
    stays Established on both sides."""
    reason = bird_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    left, right = two_nodes.left, two_nodes.right
    a = lab.frr(left.ns, "a", config=frr_bgp_config(65001, "10.250.0.1", "10.250.0.2", 65002))
    include = work_dir / "rkmpd-b" / "rkmp.conf"
    include.parent.mkdir(mode=0o700)
    include.write_text("")
    b = lab.bird(
        right.ns, "b",
        bird_base_config("10.250.0.2", work_dir / "bird-b.log") + f'include "{include}";\n',
    )  # fmt: skip
    # BIRD's rkmpd first: its sink writes the session block (never keyed).
    rb = lab.rkmpd(
        right.ns, "b",
        rkmpd_config("b", "10.250.0.2", work_dir, md5_peer("a", "10.250.0.1"),
                     write_psk(work_dir, "psk-b", "0x" + "ab" * 32), bird_bgp_sink(b, include)),
    )  # fmt: skip
    wait_until(lambda: rb.sink("bird")["applies"] >= 1, timeout=20, what="b's first apply")
    b.wait_bgp_established("peer_a")
    a.wait_bgp_established("10.250.0.2")
    before_include, before_frr = include.read_bytes(), a.running_config()
    assert b"protocol bgp peer_a" in before_include
    for word in (b"disabled", b"password", b"authentication"):
        assert word not in before_include
    established = a.bgp_established_count("10.250.0.2")
    ra = lab.rkmpd(
        left.ns, "a",
        rkmpd_config("a", "10.250.0.1", work_dir, md5_peer("b", "10.250.0.2"),
                     write_psk(work_dir, "psk-a", PSK), frr_sink(a, "10.250.0.2", 65001)),
    )  # fmt: skip
    for rkmpd in (ra, rb):
        wait_until(
            partial(_logged, rkmpd, "authentication"),
            timeout=20,
            what=f"rkmpd {rkmpd.name} to log the failed authentication",
        )
    for sample in range(OBSERVE_SAMPLES):
        assert a.bgp_state("10.250.0.2") == "Established", f"FRR session down (sample {sample})"
        assert b.bgp_state("peer_a") == "Established", f"BIRD session down (sample {sample})"
        assert include.read_bytes() == before_include, f"include changed (sample {sample})"
        assert a.running_config() == before_frr, f"FRR config changed (sample {sample})"
        time.sleep(0.5)
    assert a.bgp_established_count("10.250.0.2") == established
    assert ra.keys() == [] and rb.keys() == []
    for rkmpd, name in ((ra, "frr"), (rb, "bird")):
        sink = rkmpd.sink(name)
        assert sink["ok"] and sink["failures"] == 0 and sink["rows"] == 0, sink
        assert not (rkmpd.directory / "state" / f"{name}-sink.keyed").exists()


def broken_bgpd_template(directory: Path) -> Path:
    """An operator template directory whose bgpd.j2 misspells the
    password command (everything else as packaged): bgpd refuses it."""
    packaged = (packaged_templates_dir() / "frr" / "bgpd.j2").read_text()
    assert " password {{ n.key }}" in packaged
    (directory / "frr").mkdir(parents=True)
    (directory / "frr" / "bgpd.j2").write_text(
        packaged.replace(" password {{ n.key }}", " passwrd {{ n.key }}")
    )
    return directory


def test_frr_rejected_change_restores_previous_config(
    two_nodes: Link, lab: RoutingLab, work_dir: Path
) -> None:
    left, right = two_nodes.left, two_nodes.right
    psk = write_psk(work_dir)
    a = lab.frr(left.ns, "a", config=frr_bgp_config(65001, "10.250.0.1", "10.250.0.2", 65002))
    b = lab.frr(right.ns, "b", config=frr_bgp_config(65002, "10.250.0.2", "10.250.0.1", 65001))
    rb = lab.rkmpd(
        right.ns, "b",
        rkmpd_config("b", "10.250.0.2", work_dir, md5_peer("a", "10.250.0.1"),
                     psk, frr_sink(b, "10.250.0.1", 65002)),
    )  # fmt: skip
    # a's operator overrode the bgpd template with a typo: FRR refuses the
    # password command when the key comes.
    templates = broken_bgpd_template(work_dir / "templates-a")
    sink_a = frr_sink(a, "10.250.0.2", 65001).replace(
        "[sinks.frr]\n", f'[sinks.frr]\ntemplates_dir = "{templates}"\n'
    )
    ra = lab.rkmpd(
        left.ns, "a",
        rkmpd_config("a", "10.250.0.1", work_dir, md5_peer("b", "10.250.0.2"), psk, sink_a),
    )  # fmt: skip
    sink = wait_until(
        lambda: (s := ra.sink("frr"))["last_error"] and s,
        timeout=30,
        what="rkmpctl status to show the FRR sink's error",
        diagnostics=ra.log_text,
    )
    assert not sink["ok"] and sink["failures"] >= 1 and sink["rows"] == 1, sink
    change = sink["last_change"]
    assert change["status"] == "failed-restored", sink  # the previous config is in place
    for text in (sink["last_error"], change["error"], change["line"]):
        assert "rejected the change" in text and "passwrd <key:" in text, text
    key = md5_key(ra)[1]
    status_text = json.dumps(ra.rkmpctl("status"))
    assert key not in status_text and key.upper() not in status_text  # keys never shown
    assert key not in ra.log_text()
    # What was in place before the key came: the operator's neighbour, never
    # keyed, so neither shut nor given a password; and still not recorded
    # as keyed (the refused first key was undone).
    running = a.running_config()
    assert "shutdown" not in running, running
    assert "password" not in running and "passwrd" not in running, running
    keyed = ra.directory / "state" / "frr-sink.keyed"
    assert not keyed.exists() or "bgp 10.250.0.2" not in keyed.read_text()
    # The human output names the error too.
    human = run([sys.executable, "-m", "rkmp_frr.daemon.rkmpctl", "--socket",
                 str(ra.control_socket), "status"]).stdout  # fmt: skip
    assert "frr (FRR " in human and "FAILING" in human and "passwrd" in human, human
    del rb


def test_frr_peer_rkmpd_killed_revokes_keys(
    two_nodes: Link, lab: RoutingLab, work_dir: Path
) -> None:
    left, right = two_nodes.left, two_nodes.right
    psk = write_psk(work_dir)
    a = lab.frr(left.ns, "a", config=frr_bgp_config(65001, "10.250.0.1", "10.250.0.2", 65002))
    b = lab.frr(right.ns, "b", config=frr_bgp_config(65002, "10.250.0.2", "10.250.0.1", 65001))
    hooks = work_dir / "rkmpd-a" / "hooks.d"
    hooks.mkdir(parents=True)
    hook_out = work_dir / "hook-events"
    hook = hooks / "50-record.sh"
    hook.write_text(f'#!/bin/sh\necho "$RKMP_EVENT $RKMP_PEER_NAME $RKMP_REASON" >> {hook_out}\n')
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)
    config_a = rkmpd_config("a", "10.250.0.1", work_dir, md5_peer("b", "10.250.0.2"), psk,
                            frr_sink(a, "10.250.0.2", 65001))  # fmt: skip
    config_a = config_a.replace('liveness_interval = "30s"', 'liveness_interval = "1s"')
    rb = lab.rkmpd(
        right.ns, "b",
        rkmpd_config("b", "10.250.0.2", work_dir, md5_peer("a", "10.250.0.1"),
                     psk, frr_sink(b, "10.250.0.1", 65002)),
    )  # fmt: skip
    ra = lab.rkmpd(left.ns, "a", config_a)
    _, key = wait_keyed_session(a, "10.250.0.2", ra)
    assert rb.process is not None
    os.kill(rb.process.pid, 9)  # no orderly delete: a crash
    rb.process.popen.wait(10)

    def revoked() -> bool:
        events = hook_out.read_text() if hook_out.exists() else ""
        return (
            "revoke b" in events
            and "password"
            not in a.vtysh("show running-config bgpd").stdout.split("router bgp", 1)[1]
        )

    wait_until(
        revoked, timeout=30, what="the revoke hook and the password gone from FRR",
        interval=0.2, diagnostics=lambda: ra.process.log_tail() if ra.process else "",
    )  # fmt: skip
    assert ra.keys("tcp-md5") == []
    running = a.running_config()
    assert key not in running
    assert "neighbor 10.250.0.2 shutdown message rkmpd: no usable key" in running  # fail closed
    sink = ra.sink("frr")
    assert sink["ok"] and sink["rows"] == 0, sink
    assert (sink["last_change"]["status"], sink["last_change"]["rows"]) == ("applied", 0), sink


def test_frr_cannot_key_tcp_ao_rkmpd_exits_2(
    two_nodes: Link, lab: RoutingLab, work_dir: Path
) -> None:
    left = two_nodes.left
    a = lab.frr(left.ns, "a", config=frr_bgp_config(65001, "10.250.0.1", "10.250.0.2", 65002))
    version = parse_frr_version(a.vtysh("show version").stdout)
    if frr_features(version).has(FRR_BGP_TCP_AO):
        pytest.skip(f"FRR {version} keys TCP-AO")
    peers = md5_peer("b", "10.250.0.2").replace(
        'type = "tcp-md5"\n  algorithm = "md5"', 'type = "tcp-ao"\n  algorithm = "hmac-sha-1-96"'
    )
    config = rkmpd_config("a", "10.250.0.1", work_dir, peers, write_psk(work_dir),
                          frr_sink(a, "10.250.0.2", 65001))  # fmt: skip
    path = work_dir / "rkmpd-a.toml"
    path.write_text(config)
    result = run([sys.executable, "-m", "rkmp_frr.daemon.rkmpd", "--config", str(path)],
                 netns=left.ns.name, check=False, timeout=60)  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"{path}: peer[0].protocol[0]: "), result.stderr
    assert f"FRR {version}" in result.stderr and "cannot do TCP-AO" in result.stderr
