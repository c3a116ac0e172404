"""``[sinks.kernel]``: the kernel sink's settings, their errors, the warning
for OSPFv3-IPsec keys without it, and the sink rkmpd builds from it."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from daemon.test_config_support import BASE, setup_dir

from rkmp_frr.daemon.config import ConfigError, KernelSink, load_config
from rkmp_frr.daemon.config_model import KernelIpsecMode
from rkmp_frr.daemon.rkmpd import build_kernel_sink
from rkmp_frr.sinks.kernel_sink import XfrmApplier, XfrmSink, build_kernel_sinks
from rkmp_frr.sinks.xfrm_netlink import XfrmProto

IPSEC_PEER = """
  [[peer.protocol]]
  type = "ospfv3-ipsec"
  interface = "veth0"
  algorithm = "hmac-sha-256-128"
"""


def load(tmp_path: Path, extra: str) -> object:
    return load_config(setup_dir(tmp_path, BASE + IPSEC_PEER + extra))


def test_defaults(tmp_path: Path) -> None:
    config = load_config(setup_dir(tmp_path, BASE + "\n[sinks.kernel]\n"))
    assert config.sinks.kernel == KernelSink()
    assert config.sinks.kernel.enabled and config.sinks.kernel.mode is KernelIpsecMode.ESP
    assert dict(config.sinks.kernel.neighbours) == {}


def test_mode_and_neighbours(tmp_path: Path) -> None:
    config = load_config(
        setup_dir(
            tmp_path,
            BASE + IPSEC_PEER + '\n[sinks.kernel]\nmode = "ah"\n'
            'neighbours = { veth0 = "fe80::2", "eth1.10" = "FE80::A:1" }\n',
        )
    )
    kernel = config.sinks.kernel
    assert kernel is not None and kernel.mode is KernelIpsecMode.AH
    assert dict(kernel.neighbours) == {
        "veth0": ipaddress.IPv6Address("fe80::2"),
        "eth1.10": ipaddress.IPv6Address("fe80::a:1"),
    }
    assert config.warnings == ()
    [entry] = [p for p in config.peers[0].protocols if p.interface == "veth0"]
    assert entry.interfaces == frozenset({"veth0"})


@pytest.mark.parametrize(
    ("table", "key", "problem"),
    [
        ('mode = "tunnel"', "sinks.kernel.mode", 'expected "esp" or "ah"'),
        ("mode = 1", "sinks.kernel.mode", "expected a string"),
        ('neighbours = "fe80::2"', "sinks.kernel.neighbours", "expected a table"),
        ('neighbours = { veth0 = "2001:db8::2" }', "sinks.kernel.neighbours.veth0", "link-local"),
        ('neighbours = { veth0 = "fe80::2%veth0" }', "sinks.kernel.neighbours.veth0", "link-local"),
        ('neighbours = { veth0 = "nonsense" }', "sinks.kernel.neighbours.veth0", "link-local"),
        ("neighbours = { veth0 = 5 }", "sinks.kernel.neighbours.veth0", "expected a string"),
        (
            'neighbours = { "a-name-far-too-long" = "fe80::2" }',
            "sinks.kernel.neighbours.a-name-far-too-long",
            "not a network interface name",
        ),
        ("interfaces = []", "sinks.kernel.interfaces", "unknown key"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, table: str, key: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, f"\n[sinks.kernel]\n{table}\n")
    text = str(caught.value)
    assert f": {key}: " in text and problem in text, text


def test_ipsec_keys_without_the_kernel_sink_are_warned_about(tmp_path: Path) -> None:
    for extra in ("", "\n[sinks.kernel]\nenabled = false\n"):
        config = load_config(setup_dir(tmp_path, BASE + IPSEC_PEER + extra))
        [warning] = [w for w in config.warnings if "ospfv3-ipsec" in w.problem]
        assert warning.key == "peer[0].protocol[1]"
    config = load_config(setup_dir(tmp_path, BASE + IPSEC_PEER + "\n[sinks.kernel]\n"))
    assert not [w for w in config.warnings if "ospfv3-ipsec" in w.problem]


def test_an_ipsec_protocol_needs_an_interface(tmp_path: Path) -> None:
    text = BASE + IPSEC_PEER.replace('  interface = "veth0"\n', "") + "\n[sinks.kernel]\n"
    with pytest.raises(ConfigError) as caught:
        load_config(setup_dir(tmp_path, text))
    assert "peer[0].protocol[1].interface" in str(caught.value)


def test_rkmpd_builds_the_kernel_sink_and_keeps_it_on_reload(tmp_path: Path) -> None:
    config = load_config(setup_dir(tmp_path, BASE + IPSEC_PEER + "\n[sinks.kernel]\n"))
    [sink] = build_kernel_sink(config)
    assert isinstance(sink, XfrmSink) and sink.name == "kernel"
    assert isinstance(sink.batching.applier, XfrmApplier)
    assert sink.batching.applier.proto is XfrmProto.ESP
    assert build_kernel_sink(config, [sink]) == [sink]  # same table: the same sink
    info = sink.info()
    assert (info.name, info.daemon, info.applies, info.last_error) == (
        "kernel",
        "Linux XFRM",
        0,
        None,
    )
    assert "OSPFv3 over IPsec (esp)" in info.detected
    ah = load_config(setup_dir(tmp_path, BASE + IPSEC_PEER + '\n[sinks.kernel]\nmode = "ah"\n'))
    [other] = build_kernel_sink(ah, [sink])
    assert other is not sink and other.batching.applier.proto is XfrmProto.AH  # type: ignore[attr-defined]
    off = load_config(setup_dir(tmp_path, BASE + "\n[sinks.kernel]\nenabled = false\n"))
    assert build_kernel_sink(off, [sink]) == []
    assert build_kernel_sinks(None) == []
