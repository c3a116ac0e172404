"""The VM lab (integration/vmlab): a QEMU guest with the trixie-backports
kernel (TCP-AO, ESP, netem), BIRD 2.17 and the project's wheel.

One boot per test session runs the `smoke` scenario; each test below asserts
on one of its checks. The first run on a machine builds the base image from
Debian packages (~1.5 min, cached under /var/tmp/rkmp-vmlab); later runs
reuse it and only rebuild the small project layer. The tests skip, with the
reason in pytest's summary, only when the lab cannot run here (not root,
QEMU/debootstrap missing, Debian or PyPI unreachable with nothing cached).

The tests after those, without the `smoke_run` fixture, check the lab's own
parsers and writers without a VM. Select everything with
`pytest integration -k vmlab`.
"""

from __future__ import annotations

import io
import shutil
import socket
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from integration.vmlab.aptrepo import parse_depends, parse_stanzas
from integration.vmlab.cpio import CpioWriter, write_tree
from integration.vmlab.errors import LabUnavailable
from integration.vmlab.guest.bird import TcpAoState, parse_protocols, parse_tcp_ao
from integration.vmlab.guest.kernelstat import parse_snmp_pairs
from integration.vmlab.guest.runner import parse_cmdline
from integration.vmlab.guest.tcpao import tcp_ao_add
from integration.vmlab.kernel import select_modules
from integration.vmlab.labrun import LabRun, run_lab, scenario_names, scenario_timeout
from integration.vmlab.results import (
    CheckResult,
    ScenarioResult,
    decode_frames,
    encode_frame,
)
from integration.vmlab.scenarios.loss20 import (
    initiator_address,
    keyed_times,
    parse_netem,
    responder_address,
)
from integration.vmlab.scenarios.tcp_ao_rkmpd import bird_query, hex_endpoint
from integration.vmlab.scenarios.xfrm_ospfv3 import parse_xfrm_policies, parse_xfrm_states
from integration.vmlab.wheels import install_wheel


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabRun]:
    """One boot of the guest running the smoke scenario (built or cached image)."""
    run_dir = tmp_path_factory.mktemp("vmlab")
    try:
        run = run_lab(["smoke"], run_dir=run_dir)
    except LabUnavailable as exc:
        pytest.skip(f"VM lab unavailable: {exc}")
    print(
        f"vmlab: accel {run.accel.value}, base {run.base_key} "
        f"({'built' if run.base_built else 'cached'}), timings {dict(run.timings)}"
    )
    yield run


def _smoke(run: LabRun) -> ScenarioResult:
    return run.scenario("smoke")


def _passed(run: LabRun, name: str) -> CheckResult:
    scenario = _smoke(run)
    check = scenario.check(name)
    if not check.passed:
        logs = "\n".join(f"--- {k}\n{v[-3000:]}" for k, v in scenario.logs.items())
        pytest.fail(f"{scenario.summary()}\nlogs in {run.run_dir}\n{logs}")
    return check


# --- the guest -------------------------------------------------------------


def test_vmlab_guest_boots_backports_kernel(smoke_run: LabRun) -> None:
    facts = smoke_run.guest_facts
    assert str(facts["kernel"]).endswith("-cloud-amd64"), facts
    assert facts["modules"] == {m: "ok" for m in facts["modules"]}, facts["modules"]
    assert {"veth", "esp4", "xfrm_user", "sch_netem"} <= set(facts["modules"])
    assert _smoke(smoke_run).error is None, _smoke(smoke_run).summary()


def test_vmlab_kernel_has_tcp_ao(smoke_run: LabRun) -> None:
    check = _passed(smoke_run, "kernel")
    assert check.detail["tcp_ao"] is True


def test_vmlab_project_wheel_runs_in_guest(smoke_run: LabRun) -> None:
    check = _passed(smoke_run, "project_installed")
    assert check.detail["selfcheck"].endswith(" 0 failed")
    assert check.detail["version"]


def test_vmlab_tcp_ao_sockets(smoke_run: LabRun) -> None:
    detail = _passed(smoke_run, "tcp_ao_loopback").detail
    assert detail["echo"] == "hello over tcp-ao"
    assert detail["ao_good"] > 0
    assert detail["wrong_key_connected"] is False
    assert detail["ao_bad"] > 0


def test_vmlab_bird_bgp_established_with_tcp_ao(smoke_run: LabRun) -> None:
    detail = _passed(smoke_run, "bird_bgp_tcp_ao").detail
    assert detail["left_state"].startswith("Established")
    assert detail["route_received"] is True
    # Either BIRD may be the one that connects (both are active): one
    # session, to or from port 179.
    assert len(detail["connections"]) == 1 and ":179" in detail["connections"][0]
    assert (detail["bird_ao_current_key"], detail["bird_ao_rnext_key"]) == (1, 1)
    assert detail["ao_good"] > 0
    assert detail["ao_bad"] == 0


def test_vmlab_xfrm_esp_transport_sas(smoke_run: LabRun) -> None:
    detail = _passed(smoke_run, "xfrm_esp_transport").detail
    assert detail["ping_ok"] is True
    assert detail["left_out_packets"] >= 3
    assert detail["right_in_packets"] >= 3
    assert detail["spis"] == ["0x1001", "0x1002"]
    assert detail["ping_with_wrong_key_ok"] is False
    assert detail["proto_errors"] > 0


def test_vmlab_logs_come_back(smoke_run: LabRun) -> None:
    logs = _smoke(smoke_run).logs
    assert "bird-left.conf" in logs and "authentication ao" in logs["bird-left.conf"]
    assert (smoke_run.run_dir / "smoke" / "bird-left.log").is_file()


# --- the lab's parts, without a VM -----------------------------------------


def test_vmlab_frames_round_trip_and_reject_damage() -> None:
    result = ScenarioResult(
        name="s",
        checks=(CheckResult("c", True, 0.5, {"n": 1}), CheckResult("d", False, 1.0, {}, "boom")),
        seconds=2.0,
        facts={"k": "v"},
        logs={"x.log": "line\n"},
    )
    frame = encode_frame(result.to_json())
    noise = b"\r\n[ 1.0] kernel says hi\r\n"
    frames = list(decode_frames(noise + frame + noise + encode_frame({"kind": "done"})))
    assert [f["kind"] for f in frames] == ["scenario", "done"]
    assert ScenarioResult.from_json(frames[0]) == result
    assert not ScenarioResult.from_json(frames[0]).passed
    damaged = frame.replace(b'"c"', b'"C"')
    assert list(decode_frames(damaged)) == []
    assert list(decode_frames(frame[:-30])) == []  # cut short: guest died mid-report


def test_vmlab_cpio_is_read_by_cpio(tmp_path: Path) -> None:
    if shutil.which("cpio") is None:
        pytest.skip("cpio not installed")
    tree = tmp_path / "tree"
    (tree / "a" / "b").mkdir(parents=True)
    (tree / "a" / "b" / "file").write_bytes(b"x" * 1001)
    (tree / "a" / "link").symlink_to("b/file")
    archive = tmp_path / "out.cpio"
    size = write_tree(tree, archive)
    assert size == archive.stat().st_size and size % 512 == 0
    listing = subprocess.run(["cpio", "-t"], stdin=archive.open("rb"), capture_output=True,
                             text=True, check=True).stdout.split()  # fmt: skip
    assert listing == ["a", "a/b", "a/link", "a/b/file"]
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run(["cpio", "-id"], stdin=archive.open("rb"), cwd=out, capture_output=True,
                   check=True)  # fmt: skip
    assert (out / "a" / "b" / "file").read_bytes() == b"x" * 1001
    assert (out / "a" / "link").readlink() == Path("b/file")


def test_vmlab_cpio_entries_are_aligned() -> None:
    stream = io.BytesIO()
    writer = CpioWriter(stream)
    writer.add_bytes("init", b"#!/bin/sh\n", 0o755)
    writer.close()
    data = stream.getvalue()
    assert data.startswith(b"070701") and len(data) % 512 == 0
    name_at = 110
    assert data[name_at : name_at + 5] == b"init\0"
    body_at = 116  # header (110) + name (5) padded to a multiple of 4
    assert data[body_at : body_at + 10] == b"#!/bin/sh\n"
    assert b"TRAILER!!!\0" in data


def test_vmlab_kernel_metapackage_dependencies() -> None:
    stanzas = parse_stanzas(
        "Package: linux-image-cloud-amd64\nVersion: 7.3.4-1~bpo13+1\n"
        "Depends: linux-base-cloud-amd64 (= 7.3.4-1~bpo13+1), linux-image-7.3.4+deb13-cloud"
        "-amd64 (= 7.3.4-1~bpo13+1)\n dracut | initramfs-tools\n\nPackage: other\n"
        "Version: 1\n\n"
    )
    assert [s["Package"] for s in stanzas] == ["linux-image-cloud-amd64", "other"]
    fields = stanzas[0]
    assert fields["Version"] == "7.3.4-1~bpo13+1"
    groups = parse_depends(fields["Depends"].replace("\n", ", "))
    assert [(d.name, d.relation, d.version) for d in groups[1]] == [
        ("linux-image-7.3.4+deb13-cloud-amd64", "=", "7.3.4-1~bpo13+1")
    ]
    assert [d.name for d in groups[2]] == ["dracut", "initramfs-tools"]


def test_vmlab_module_selection_follows_dependencies() -> None:
    deps = {
        "kernel/net/xfrm/xfrm_user.ko.xz": ["kernel/net/xfrm/xfrm_algo.ko.xz"],
        "kernel/net/xfrm/xfrm_algo.ko.xz": [],
        "kernel/drivers/net/veth.ko.xz": [],
        "kernel/drivers/net/vxlan/vxlan.ko.xz": ["kernel/drivers/net/udp_tunnel.ko.xz"],
        "kernel/net/ipv4/esp4.ko.xz": ["kernel/drivers/misc/needed.ko.xz"],
        "kernel/drivers/misc/needed.ko.xz": [],
        "kernel/fs/unrelated.ko.xz": [],
    }
    chosen = select_modules(deps, deps, ["kernel/net"], ["kernel/drivers/net/*.ko*"])
    assert chosen == {
        "kernel/net/xfrm/xfrm_user.ko.xz",
        "kernel/net/xfrm/xfrm_algo.ko.xz",
        "kernel/drivers/net/veth.ko.xz",
        "kernel/net/ipv4/esp4.ko.xz",
        "kernel/drivers/misc/needed.ko.xz",
    }


def test_vmlab_guest_parsers() -> None:
    request = parse_cmdline("console=ttyS0 quiet rkmp.scenarios=smoke,other rkmp.timeout=90\n")
    assert request.scenarios == ("smoke", "other") and request.timeout == 90.0
    counters = parse_snmp_pairs(
        "TcpExt: SyncookiesSent TCPAOGood TCPAOBad\nTcpExt: 0 17 2\nIpExt: InNoRoutes\nIpExt: 5\n"
    )
    assert counters == {"TcpExt.SyncookiesSent": 0, "TcpExt.TCPAOGood": 17,
                        "TcpExt.TCPAOBad": 2, "IpExt.InNoRoutes": 5}  # fmt: skip
    rows = parse_protocols(
        "BIRD 2.17.6 ready.\n"
        "Name       Proto      Table      State  Since         Info\n"
        "peer       BGP        ---        up     2026-11-28 02:22:06    Established   \n"
        "device1    Device     ---        up     2026-11-28 02:22:05.123\n"
    )
    assert rows["peer"].info == "Established" and rows["peer"].since == "2026-11-28 02:22:06"
    assert rows["device1"].state == "up" and rows["device1"].info == ""
    ao = parse_tcp_ao(
        "  BGP state:          Established\n    TCP-AO:\n      Current key:    2\n"
        "      RNext key:      3\n      Good packets:   6\n      Bad packets:    0\n"
        "  Channel ipv4\n"
    )
    assert ao == TcpAoState(current_key=2, rnext_key=3, good_packets=6, bad_packets=0)
    assert parse_tcp_ao("  BGP state:          Established\n") is None


def test_vmlab_tcp_ao_add_layout() -> None:
    value = tcp_ao_add("192.0.2.1", b"k" * 20, send_id=3, recv_id=4)
    assert len(value) == 288  # sizeof(struct tcp_ao_add), aligned(8)
    assert value[0:2] == socket.AF_INET.to_bytes(2, sys.byteorder)
    assert value[4:8] == bytes([192, 0, 2, 1])  # sin_addr after family, port
    assert value[128:141] == b"hmac(sha256)\0"  # alg_name[64]
    assert value[192:202] == bytes(10)  # ifindex, flag bits, reserved2
    # prefix, sndid, rcvid, maclen, keyflags, keylen, then the key
    assert value[202:208] == bytes([32, 3, 4, 12, 0, 20])
    assert value[208:228] == b"k" * 20 and value[228:] == bytes(60)


def test_vmlab_install_wheel_writes_console_scripts(tmp_path: Path) -> None:
    wheel = tmp_path / "demo-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("demo/__init__.py", "def main():\n    return 0\n")
        archive.writestr("demo-1.0.dist-info/entry_points.txt",
                         "[console_scripts]\ndemo-cli = demo:main\n")  # fmt: skip
    site = tmp_path / "site"
    scripts = install_wheel(wheel, site, tmp_path / "bin", "/opt/rkmp/venv/bin/python3")
    assert scripts == ["demo-cli"]
    assert (site / "demo" / "__init__.py").is_file()
    text = (tmp_path / "bin" / "demo-cli").read_text()
    assert text.startswith("#!/opt/rkmp/venv/bin/python3\n") and "'demo'" in text


def test_vmlab_scenarios_are_listed() -> None:
    assert "smoke" in scenario_names()


def test_vmlab_scenario_timeout_is_read_without_import(tmp_path: Path) -> None:
    module = tmp_path / "s.py"
    module.write_text("import does_not_exist\nTIMEOUT: float = 600.0\n")
    assert scenario_timeout(module, 240.0) == 600.0
    module.write_text("TIMEOUT = compute()\n")
    assert scenario_timeout(module, 240.0) == 240.0


# --- TCP-AO keys from rkmpd in BIRD; 20 peers under loss (scenarios tcp_ao_rkmpd, loss20) ---


@pytest.fixture(scope="session")
def rkmpd_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabRun]:
    """One boot running tcp_ao_rkmpd and loss20: the installed `rkmpd
    --config` in guest namespaces, with BIRD 2.17 and netem."""
    run_dir = tmp_path_factory.mktemp("vmlab-rkmpd")
    try:
        run = run_lab(["tcp_ao_rkmpd", "loss20"], run_dir=run_dir)
    except LabUnavailable as exc:
        pytest.skip(f"VM lab unavailable: {exc}")
    print(f"vmlab rkmpd scenarios: timings {dict(run.timings)}")
    yield run


def _rkmpd_check(run: LabRun, scenario_name: str, name: str) -> CheckResult:
    scenario = run.scenario(scenario_name)
    check = scenario.check(name)
    if not check.passed:
        logs = "\n".join(f"--- {k}\n{v[-3000:]}" for k, v in scenario.logs.items())
        pytest.fail(f"{scenario.summary()}\nlogs in {run.run_dir}\n{logs}")
    return check


def test_vmlab_bird_bgp_tcp_ao_keys_from_rkmpd(rkmpd_run: LabRun) -> None:
    detail = _rkmpd_check(rkmpd_run, "tcp_ao_rkmpd", "established").detail
    send_a, send_b = detail["send_ids"]  # each side's SendID, from its key table
    assert detail["states"] == ["Established", "Established"]
    assert detail["authentication_ao"] == [True, True]
    assert detail["include_send_ids"] == [[send_a], [send_b]]
    assert detail["bird_current_keys"] == [send_a, send_b]
    assert detail["bird_rnext_keys"] == [send_b, send_a]  # each asks the peer for its key
    assert detail["tcp_ao_children"] == [{"b": 1}, {"a": 1}]
    assert len(detail["connections"]) == 1 and ":179" in detail["connections"][0]
    assert min(detail["ao_good"]) > 0 and detail["ao_bad"] == [0, 0]


def test_vmlab_tcp_ao_three_rekeys_keep_the_connection(rkmpd_run: LabRun) -> None:
    detail = _rkmpd_check(rkmpd_run, "tcp_ao_rkmpd", "three_rekeys").detail
    rounds = detail["rounds"]
    assert len(rounds) == 3
    for index in range(1, len(rounds)):  # each rekey starts from the previous one's keys
        assert rounds[index]["old"] == rounds[index - 1]["new"]
    for step in rounds:
        new_a, new_b = step["new"]
        assert new_a != step["old"][0] and new_b != step["old"][1]
        assert step["key_table_send_id"] == new_a
        assert step["include_send_ids"] == [[new_a], [new_b]]  # the old keys are gone
    sends = [rounds[0]["old"][0]] + [step["new"][0] for step in rounds]
    assert len(set(sends)) == 4  # the current key ID changed each time
    seen = detail["current_keys_seen"]
    assert seen[0] == rounds[0]["old"] and seen[-1] == rounds[-1]["new"]
    last_a, last_b = rounds[-1]["new"]
    assert detail["final_keys"] == {"current": [last_a, last_b], "rnext": [last_b, last_a]}
    # Polled every 0.5 s throughout (each rollover takes send delay + grace).
    assert detail["samples"] >= 20
    assert detail["non_established_samples"] == 0
    assert detail["connections_per_sample"] == [1] and len(detail["connections_seen"]) == 1
    assert len(detail["since_seen"]) == 1  # BIRD's "since" never moved
    assert detail["bird_restarts_during"] == [0, 0]
    assert detail["ao_bad_delta"] == [0, 0] and detail["ao_bad"] == [0, 0]
    assert min(detail["ao_good_delta"]) > 0


def test_vmlab_tcp_ao_revoke_withdraws_keys_from_bird(rkmpd_run: LabRun) -> None:
    detail = _rkmpd_check(rkmpd_run, "tcp_ao_rkmpd", "revoke").detail
    assert detail["b_rkmpd_exit"] == -9  # killed, no deletes sent
    events = detail["revoke_events"]
    assert len(events) == 1 and events[0].startswith("revoke peer=b reason=liveness-timeout")
    assert detail["a_rows_before"] >= 1 and detail["a_rows_after"] == 0
    assert detail["include_has_session"] is True and detail["include_has_keys"] is False
    assert detail["include_disabled"] is True  # fail closed: no keys, no session
    assert "Established" not in detail["bird_state_after"]
    assert detail["sink_results_ok"] is True


def test_vmlab_twenty_peers_keyed_under_30_percent_loss(rkmpd_run: LabRun) -> None:
    detail = _rkmpd_check(rkmpd_run, "loss20", "twenty_peers_keyed").detail
    names = [f"p{i}" for i in range(20)]
    assert "netem" in detail["qdisc"] and "loss 30%" in detail["qdisc"]
    assert all(side["dropped"] > 0 for side in detail["netem"].values())
    assert detail["peers_with_matching_keys"] == names  # same key both sides
    assert sorted(detail["keyed_after_s"]) == sorted(names)
    assert detail["peers_with_several_children"] == {}
    assert detail["problems"] == {"rkmpd-initiator": [], "rkmpd-responder": []}
    for status in detail["status"].values():
        assert status["rkmp_sas"] == 20 and status["child_sas"] == 20


def test_vmlab_tcp_ao_rkmpd_reads_bird_socket_and_proc_tcp(tmp_path: Path) -> None:
    path = tmp_path / "bird.ctl"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)

    def answer() -> None:  # BIRD's control protocol, as BIRD 2 speaks it
        connection, _ = server.accept()
        with connection:
            connection.sendall(b"0001 BIRD 2.17.6 ready.\n")
            assert connection.recv(100) == b"show protocols all p\n"
            connection.sendall(
                b"2002-Name       Proto      Table      State  Since         Info\n"
                b"1002-p          BGP        ---        up     2026-11-28 03:28:04  Established\n"
                b"1006-  BGP state:          Established\n"
                b"     TCP-AO:\n"
                b"0000 \n"
            )

    thread = threading.Thread(target=answer)
    thread.start()
    text = bird_query(path, "show protocols all p")
    thread.join(5)
    server.close()
    assert text == (
        "Name       Proto      Table      State  Since         Info\n"
        "p          BGP        ---        up     2026-11-28 03:28:04  Established\n"
        "  BGP state:          Established\n"
        "    TCP-AO:\n"
    )
    assert parse_protocols(text)["p"].info == "Established"
    assert hex_endpoint("0100FA0A:00B3") == "10.250.0.1:179"  # /proc/net/tcp, little-endian


def test_vmlab_loss20_log_and_tc_parsers(tmp_path: Path) -> None:
    assert (initiator_address(0), responder_address(19)) == ("10.253.0.1", "10.253.0.78")
    assert parse_netem(
        "qdisc netem 8001: root refcnt 3 limit 1000 loss 30%\n"
        " Sent 8200 bytes 82 pkt (dropped 34, overlimits 0 requeues 0)\n"
    ) == {"sent": 82, "dropped": 34, "loss": 0.293}
    assert parse_netem("qdisc noqueue 0: root refcnt 2\n") == {}
    log = tmp_path / "rkmpd.log"
    log.write_text(
        "2026-11-28 03:10:20,100 INFO x: netlink trigger: {'reason': 'static-peer'}\n"
        "2026-11-28 03:10:21,350 INFO x: tcp-ao key 7 (peer's 9) with p3 (10.253.0.14:500)"
        " created\n"
        "Traceback (most recent call last):\n"
        "2026-11-28 03:10:22,100 INFO x: tcp-ao key 8 (peer's 4) with p3 (10.253.0.14:500)"
        " created\n"
        "2026-11-28 03:10:22,600 INFO x: tcp-ao key 50 with p18 (10.253.0.74:500) created\n"
    )
    assert keyed_times(log) == {"p3": 1.25, "p18": 2.5}  # the first key of each peer


# --- OSPFv3 over IPsec keyed by rkmpd (scenario xfrm_ospfv3) -----------------


@pytest.fixture(scope="session")
def xfrm_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabRun]:
    """One boot running the xfrm_ospfv3 scenario: two rkmpd with a Protocol
    ID 207 child SA and [sinks.kernel], BIRD OSPFv3 across the SAs."""
    run_dir = tmp_path_factory.mktemp("vmlab-xfrm")
    try:
        run = run_lab(["xfrm_ospfv3"], run_dir=run_dir)
    except LabUnavailable as exc:
        pytest.skip(f"VM lab unavailable: {exc}")
    yield run


def _xfrm(run: LabRun, name: str) -> dict[str, Any]:
    scenario = run.scenario("xfrm_ospfv3")
    check = scenario.check(name)
    if not check.passed:
        logs = "\n".join(f"--- {k}\n{v[-3000:]}" for k, v in scenario.logs.items())
        pytest.fail(f"{scenario.summary()}\nlogs in {run.run_dir}\n{logs}")
    return dict(check.detail)


def test_vmlab_xfrm_sas_from_a_207_child_sa(xfrm_run: LabRun) -> None:
    detail = _xfrm(xfrm_run, "xfrm_sas_installed")
    spi = detail["spi"]
    assert detail["rows_agree"] is True  # both key tables: the same SPI and key
    assert detail["spis_left"] == detail["spis_right"] == [spi]
    assert detail["keys_identical"] is True and detail["keys_are_the_tables"] is True
    assert detail["multicast_identical"] is True
    assert detail["algorithms"] == ["esp hmac(sha256) 128 ecb(cipher_null)"]
    for side in ("left", "right"):
        dsts = detail[f"dsts_{side}"]
        assert dsts[-2:] == ["ff02::5", "ff02::6"] and dsts[0].startswith("fe80::")
    assert detail["dsts_left"][0] != detail["dsts_right"][0]  # each side's own link-local
    assert detail["out_spi"] == [spi, spi]
    assert detail["policies"] == [4, 4]  # out, and in for ff02::5, ff02::6, own link-local


def test_vmlab_ospf6_full_over_esp(xfrm_run: LabRun) -> None:
    detail = _xfrm(xfrm_run, "ospf6_full_over_esp")
    assert [s.startswith("Full") for s in detail["states"]] == [True, True]
    assert detail["routes"] == [True, True]
    assert all(p > 0 for p in detail["esp_packets"])
    assert detail["input_errors"] == [{}, {}]


def test_vmlab_xfrm_rekey_is_hitless(xfrm_run: LabRun) -> None:
    detail = _xfrm(xfrm_run, "xfrm_rekey")
    old, new = detail["old_spi"], detail["new_spi"]
    assert old != new
    first, last = detail["overlap_s"]  # old and new SAs both present on both sides
    assert detail["out_spis_seen"] == sorted([old, new])
    assert first <= detail["out_switched_at"] <= last < detail["old_gone_at"]
    assert detail["final"] == [[new], [new]] and detail["rows_after"] == [[new], [new]]
    assert detail["not_full"] == []  # OSPF Full at every poll
    assert all(p > 0 for p in detail["new_sa_packets"])


def test_vmlab_xfrm_revoke_removes_the_sas(xfrm_run: LabRun) -> None:
    detail = _xfrm(xfrm_run, "xfrm_revoke")
    assert detail["before"] == [3, 3]
    assert detail["left_rows"] == 0 and detail["revoked_logged"] is True
    assert detail["right_states_kept"] == 3
    assert not detail["right_ospf_after"].startswith("Full")
    assert detail["right_input_errors"]["XfrmInTmplMismatch"] > 0


def test_vmlab_xfrm_scenario_parsers() -> None:
    states = parse_xfrm_states(
        "src :: dst ff02::5\n"
        "\tproto esp spi 0x00001000(4096) reqid 1380666704(0x524b4d50) mode transport\n"
        "\treplay-window 0 seq 0x00000000 flag  (0x00000000)\n"
        "\tauth-trunc hmac(sha256) 0x" + "ab" * 32 + " (256 bits) 128\n"
        "\tenc ecb(cipher_null) \n"
        "\tsel src ::/0 dst ::/0 proto ospf uid 0\n"
        "src :: dst fe80::1\n"
        "\tproto ah spi 0x00002000 reqid 7 mode transport\n"
        "\tauth-trunc hmac(sha1) 0x" + "cd" * 20 + " 96\n"
    )
    assert [(s.dst, s.proto, s.spi, s.reqid, s.auth, s.auth_bits, s.enc) for s in states] == [
        ("ff02::5", "esp", 0x1000, 0x524B4D50, "hmac(sha256)", 128, "ecb(cipher_null)"),
        ("fe80::1", "ah", 0x2000, 7, "hmac(sha1)", 96, ""),
    ]
    assert states[0].key == "ab" * 32 and "ab" * 32 not in repr(states[0])
    policies = parse_xfrm_policies(  # ip xfrm policy, iproute2 6.1
        "src ::/0 dst ff02::5/128 proto ospf \n\tdir in priority 16384 ptype main \n"
        "\ttmpl src :: dst ::\n\t\tproto esp reqid 1380666704 mode transport\n"
        "src ::/0 dst ::/0 proto ospf dev lo \n\tdir out priority 16384 ptype main \n"
        "\ttmpl src :: dst ::\n\t\tproto esp spi 0x00001000 reqid 1380666704 mode transport\n"
        "src ::/0 dst fe80::1/128 proto ospf uid 0\n"  # ip -s xfrm policy
        "\tdir in action allow index 8 priority 16384 ptype main share any flag  (0x00000000)\n"
        "\ttmpl src :: dst ::\n"
        "\t\tproto ah spi 0x00000000(0) reqid 7(0x00000007) mode transport\n"
    )
    assert [(p.direction, p.spi, p.reqid) for p in policies] == [
        ("in", 0, 0x524B4D50),
        ("out", 0x1000, 0x524B4D50),
        ("in", 0, 7),
    ]


def test_vmlab_retries_only_a_crashed_guest_kernel() -> None:
    from integration.vmlab.labrun import _guest_kernel_crashed

    assert _guest_kernel_crashed("[ 3.1] Oops: int3: 0000 [#1] SMP\n")
    assert _guest_kernel_crashed("Kernel panic - not syncing: Fatal exception in interrupt")
    assert not _guest_kernel_crashed("RKMP-VMLAB scenario smoke failed: bird did not start")
