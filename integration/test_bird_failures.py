"""BIRD refuses the rendered include file: the previous file is put back,
BIRD keeps running the previous configuration (the OSPF adjacency stays
Full with its key), and the apply result says why, without the key."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.harness.netns import Link
from integration.harness.routing import (
    BirdNode,
    RoutingLab,
    bird_base_config,
    bird_unavailable_reason,
)
from rkmp_frr.keytable.row import Direction, KeyRow
from rkmp_frr.keytable.utc import FOREVER
from rkmp_frr.sinks.batching import ApplyStatus
from rkmp_frr.sinks.bird_apply import BirdApplier, BirdApplierOptions, BirdcCommand
from rkmp_frr.sinks.bird_render import (
    BirdOspfArea,
    BirdOspfInstance,
    BirdOspfInterface,
    BirdRenderConfig,
)
from rkmp_frr.sinks.features import bird_features, parse_bird_version
from rkmp_frr.wire.constants import ProtocolId

KEY = "5a" * 32


@pytest.fixture
def lab(work_dir: Path) -> Iterator[RoutingLab]:
    reason = bird_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    routing = RoutingLab(work_dir)
    yield routing
    routing.close()


def ospf_row(peer: str, now: int) -> KeyRow:
    return KeyRow(
        admin_key_name=f"test/ospf/{peer}/7",
        local_key_name="07",
        peer_key_name="07",
        peers=frozenset({peer}),
        interfaces=frozenset({"veth0"}),
        protocol=ProtocolId.OSPFV2,
        protocol_specific_info="",
        kdf="none",
        alg_id="HMAC-SHA-256",
        key=KEY,
        direction=Direction.BOTH,
        send_lifetime_start=now - 60,
        send_lifetime_end=FOREVER,
        accept_lifetime_start=now - 60,
        accept_lifetime_end=FOREVER,
        spi=7,
    )


def render_config(dead: str) -> BirdRenderConfig:
    interface = BirdOspfInterface("veth0", ("type ptp;", "hello 1;", dead))
    return BirdRenderConfig(
        ospf=(
            BirdOspfInstance(
                "o1", 2, (BirdOspfArea("0", (interface,)),),
                options=("ipv4 { import none; export none; };",),
            ),
        )
    )  # fmt: skip


def applier(bird: BirdNode, include: Path, dead: str) -> BirdApplier:
    options = BirdApplierOptions(
        include_file=include,
        birdc=BirdcCommand(socket=bird.socket_path, wrapper=("ip", "netns", "exec", bird.ns.name)),
        render=render_config(dead),
        kernel_check=False,
    )
    version = parse_bird_version(bird.birdc("show", "status").stdout)
    return BirdApplier(options, bird_features(version))


def test_bird_refused_include_is_taken_back(
    two_nodes: Link, lab: RoutingLab, work_dir: Path
) -> None:
    nodes = []
    for name, end, address, peer in (
        ("a", two_nodes.left, "10.250.0.1", "10.250.0.2"),
        ("b", two_nodes.right, "10.250.0.2", "10.250.0.1"),
    ):
        include = work_dir / f"rkmp-{name}.conf"
        include.write_text("")
        bird = lab.bird(end.ns, name, bird_base_config(address, work_dir / f"{name}.log")
                        + f'include "{include}";\n')  # fmt: skip
        result = asyncio.run(
            applier(bird, include, "dead 4;").apply(
                [ospf_row(peer, int(time.time()))], int(time.time())
            )
        )
        assert result.status is ApplyStatus.APPLIED, result.describe()
        nodes.append((bird, include))
    (a, include_a), (b, _) = nodes
    a.wait_ospf_full("o1", "10.250.0.2")
    previous = include_a.read_text()
    # A sink configuration BIRD refuses (dead interval out of range).
    result = asyncio.run(
        applier(a, include_a, "dead 0;").apply(
            [ospf_row("10.250.0.2", int(time.time()))], int(time.time())
        )
    )
    assert result.status is ApplyStatus.FAILED_RESTORED, result.describe()
    assert "configure check" in (result.error or "")
    assert KEY not in result.describe()
    assert include_a.read_text() == previous
    assert a.birdc("configure", "check").returncode == 0  # what is in place parses
    for _ in range(10):
        assert a.ospf_neighbor_states("o1").get("10.250.0.2", "").startswith("Full")
        time.sleep(0.2)
    del b
