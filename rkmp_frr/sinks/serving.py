"""Which key table rows each routing-daemon sink takes when there are two.

With both an FRR and a BIRD sink, every row reaches both; without this,
each refuses the other's BGP neighbours and OSPF interfaces ("no sink
configuration for BGP neighbour X") and reports itself failing. So each
sink is given only the rows for what it serves, cut down to those
targets:

- BGP (TCP-MD5, TCP-AO): the peers the sink has a neighbour or session for
  (FRR ``[[sinks.frr.bgp_neighbor]]``, BIRD ``[[sinks.bird.bgp]]``);
- OSPFv2/OSPFv3: the interfaces the sink has (BIRD: those of its
  ``[[sinks.bird.ospf]]`` areas; FRR: those of ``ospf_interfaces`` /
  ``ospf6_interfaces``, the peers' interfaces BIRD does not list).

A target no sink serves stays with every sink, so the configuration
problem is still reported (by each). Other protocols (IS-IS, BFD, OSPFv3
over IPsec) go to every sink as before. Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from rkmp_frr.keytable.row import ALL, KeyRow
from rkmp_frr.sinks.bird_render import BirdRenderConfig
from rkmp_frr.sinks.frr_config import FrrRenderConfig
from rkmp_frr.wire.constants import ProtocolId

RenderConfig = FrrRenderConfig | BirdRenderConfig
_BGP = frozenset({ProtocolId.TCP_MD5, ProtocolId.TCP_AO})
_OSPF = frozenset({ProtocolId.OSPFV2, ProtocolId.OSPFV3})


def serves_peer(config: RenderConfig, peer: str) -> bool:
    """Whether the sink has a BGP neighbour (session) for ``peer``."""
    if isinstance(config, FrrRenderConfig):
        return config.neighbor(peer) is not None
    return bool(config.sessions_for(peer))


def serves_interface(config: RenderConfig, protocol: ProtocolId, name: str) -> bool:
    """Whether the sink runs OSPF (v2 or v3 as ``protocol``) on ``name``."""
    if isinstance(config, BirdRenderConfig):
        return config.has_interface(protocol, name)
    names = config.ospf_interfaces if protocol is ProtocolId.OSPFV2 else config.ospf6_interfaces
    return name in names


@dataclass(frozen=True, slots=True)
class Serving:
    """One sink's share of the rows, given the other sinks' configurations."""

    own: RenderConfig
    others: tuple[RenderConfig, ...] = ()

    def rows(self, rows: Iterable[KeyRow]) -> tuple[KeyRow, ...]:
        """The rows for this sink, each cut down to the targets it serves."""
        if not self.others:
            return tuple(rows)
        kept = (self.row(row) for row in rows)
        return tuple(row for row in kept if row is not None)

    def row(self, row: KeyRow) -> KeyRow | None:
        if row.protocol in _BGP:
            peers = self._share(row.peers, serves_peer)
            if peers is None or peers == row.peers:
                return None if peers is None else row
            return dataclasses.replace(row, peers=peers)
        if row.protocol in _OSPF and ALL not in row.interfaces:
            protocol = row.protocol
            names = self._share(row.interfaces, lambda c, i: serves_interface(c, protocol, i))
            if names is None or names == row.interfaces:
                return None if names is None else row
            return dataclasses.replace(row, interfaces=names)
        return row

    def _share(
        self, targets: frozenset[str], serves: Callable[[RenderConfig, str], bool]
    ) -> frozenset[str] | None:
        """The targets this sink takes: its own and those nobody serves
        (None: none, the row is another sink's)."""
        mine = frozenset(t for t in targets if serves(self.own, t))
        nobody = frozenset(t for t in targets - mine if not any(serves(c, t) for c in self.others))
        return (mine | nobody) or None


def servings(configs: Sequence[RenderConfig]) -> list[Serving]:
    """Each sink's :class:`Serving`, in the order of ``configs``."""
    return [
        Serving(own, tuple(other for j, other in enumerate(configs) if j != i))
        for i, own in enumerate(configs)
    ]
