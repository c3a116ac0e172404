"""Which rows each sink takes when both an FRR and a BIRD sink run."""

from __future__ import annotations

import dataclasses

from rkmp_frr.keytable.row import ALL_INTERFACES
from rkmp_frr.sinks.bird_render import (
    BirdBgpSession,
    BirdOspfArea,
    BirdOspfInstance,
    BirdOspfInterface,
    BirdRenderConfig,
    render_bird,
)
from rkmp_frr.sinks.features import Version, bird_features, frr_features
from rkmp_frr.sinks.frr_config import FrrBgpNeighbor, FrrRenderConfig
from rkmp_frr.sinks.frr_plan import frr_plan
from rkmp_frr.sinks.serving import Serving, servings
from rkmp_frr.wire.constants import ProtocolId

from .sink_rows import PEER, PEER6, PEER_B, T0, make_row, since

FRR = FrrRenderConfig(bgp_neighbors=(FrrBgpNeighbor(PEER, 65001),), ospf_interfaces=("eth0",))
BIRD = BirdRenderConfig(
    bgp=(BirdBgpSession("b", PEER_B, neighbor_as=65002, local_as=65001),),
    ospf=(BirdOspfInstance("o", 2, (BirdOspfArea("0", (BirdOspfInterface("eth1"),)),)),),
)
MD5_FRR = make_row(ProtocolId.TCP_MD5, 1, since(T0), peer=PEER)
MD5_BIRD = make_row(ProtocolId.TCP_MD5, 2, since(T0), peer=PEER_B)
MD5_NOBODY = make_row(ProtocolId.TCP_MD5, 3, since(T0), peer=PEER6)
OSPF_BOTH = make_row(ProtocolId.OSPFV2, 4, since(T0), interfaces=frozenset({"eth0", "eth1"}))
OSPF_ALL = make_row(ProtocolId.OSPFV2, 5, since(T0), interfaces=ALL_INTERFACES)
ROWS = (MD5_FRR, MD5_BIRD, MD5_NOBODY, OSPF_BOTH)


def test_a_single_sink_takes_every_row() -> None:
    assert Serving(FRR).rows(ROWS) == ROWS


def test_each_sink_takes_its_own_targets_and_those_nobody_serves() -> None:
    frr, bird = servings([FRR, BIRD])
    assert frr.others == (BIRD,) and bird.others == (FRR,)
    frr_rows = frr.rows([*ROWS, OSPF_ALL])
    assert frr_rows[:2] == (MD5_FRR, MD5_NOBODY)  # MD5_NOBODY: both report it
    assert frr_rows[2] == dataclasses.replace(OSPF_BOTH, interfaces=frozenset({"eth0"}))
    assert frr_rows[3] is OSPF_ALL  # no interface: each refuses it
    bird_rows = bird.rows(ROWS)
    assert bird_rows == (
        MD5_BIRD,
        MD5_NOBODY,
        dataclasses.replace(OSPF_BOTH, interfaces=frozenset({"eth1"})),
    )


def test_no_sink_refuses_the_other_sinks_rows() -> None:
    """What the sinks report with their shares: only the row nobody serves."""
    frr, bird = servings([FRR, BIRD])
    features = frr_features(Version(9, 1))
    plan = frr_plan(frr.rows(ROWS), FRR, features, T0)
    assert [str(e) for e in plan.refused] == [
        f"frr sink: TCP-MD5: no sink configuration for BGP neighbour {PEER6}"
    ]
    rendered = render_bird(bird.rows(ROWS), BIRD, bird_features(Version(2, 0, 12)), T0,
                           strict=False)  # fmt: skip
    assert [str(e) for e in rendered.refused] == [
        f"bird sink: TCP-MD5: no sink configuration for BGP neighbour {PEER6}"
    ]
    # Unfiltered, each also refuses the other's neighbour.
    assert len(frr_plan(ROWS, FRR, features, T0).refused) == 2
