"""The FRR sink's configuration: the renderer's share of ``[sinks.frr]``
(which ``router bgp`` each secured BGP neighbour is in, the key chain
name prefix, the FRR daemons' time zone, the secured OSPF interfaces)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import UTC, tzinfo

from rkmp_frr.sinks.features import Daemon

# A name FRR takes as one word (VRF, interface, key chain prefix).
PLAIN_NAME = re.compile(r"[A-Za-z0-9_.:@+-]{1,64}")


def _check_name(what: str, name: str) -> None:
    if not PLAIN_NAME.fullmatch(name):
        raise ValueError(f"{what} {name!r} is not a plain FRR name")


def canonical_address(text: str) -> str:
    """An IP address in its canonical text form (ValueError otherwise)."""
    return str(ipaddress.ip_address(text))


@dataclass(frozen=True, order=True, slots=True)
class BgpRouter:
    """One ``router bgp <asn> [vrf <name>]`` block."""

    asn: int
    vrf: str = ""  # "" is the default VRF

    @property
    def header(self) -> str:
        return f"router bgp {self.asn}" + (f" vrf {self.vrf}" if self.vrf else "")


@dataclass(frozen=True, slots=True)
class FrrBgpNeighbor:
    """``[[sinks.frr.bgp_neighbor]]``: the ``router bgp`` a neighbour (by
    address; the operator configures it there) belongs to."""

    address: str
    asn: int
    vrf: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "address", canonical_address(self.address))
        if not 1 <= self.asn <= 0xFFFF_FFFF:
            raise ValueError(f"AS number {self.asn} outside 1..4294967295")
        if self.vrf is not None:
            _check_name("VRF", self.vrf)

    @property
    def router(self) -> BgpRouter:
        return BgpRouter(self.asn, self.vrf or "")


@dataclass(frozen=True, slots=True)
class FrrRenderConfig:
    """The renderer's share of ``[sinks.frr]``. Every BGP neighbour listed
    and every OSPF interface in ``ospf_interfaces`` / ``ospf6_interfaces``
    (the interfaces of the ``[[peer.protocol]]`` tables that no BIRD sink
    lists) is secured by rkmpd: once keyed, without a usable key it is
    shut (fail closed; see ``rkmp_frr.sinks.frr_plan``)."""

    bgp_neighbors: tuple[FrrBgpNeighbor, ...] = ()
    key_chain_prefix: str = "rkmp"
    timezone: tzinfo = UTC  # the FRR daemons' local time zone
    ospf_interfaces: tuple[str, ...] = ()
    ospf6_interfaces: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_name("key chain prefix", self.key_chain_prefix)
        for name in (*self.ospf_interfaces, *self.ospf6_interfaces):
            _check_name("interface", name)
        seen: set[str] = set()
        for neighbor in self.bgp_neighbors:
            if neighbor.address in seen:
                raise ValueError(f"BGP neighbour {neighbor.address} configured twice")
            seen.add(neighbor.address)

    def neighbor(self, address: str) -> FrrBgpNeighbor | None:
        try:
            wanted = canonical_address(address)
        except ValueError:
            return None
        return next((n for n in self.bgp_neighbors if n.address == wanted), None)

    def chain_name(self, daemon: Daemon, interface: str) -> str:
        kind = "ospf" if daemon is Daemon.OSPFD else "ospf6"
        return f"{self.key_chain_prefix}-{kind}-{interface}"
